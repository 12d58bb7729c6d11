//! A whole `chat.completion` → a Gemini `GenerateContentResponse`, and the
//! shapes both it and [`super::StreamEncoder`] use: the hub's message
//! content and usage as read, Gemini's response as written.
//!
//! Text is kept as the JSON string token the hub sent (`&RawValue`) and
//! written back unchanged, never unescaped and escaped again.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::inbound::BadAnswer;

// ---- hub side (input) ----

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    usage: Option<HubUsage>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    message: Option<HubMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HubMessage<'a> {
    /// A string, null, or (Mistral) an array of typed chunks.
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    /// OpenRouter's name for `reasoning_content`.
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<HubToolCall<'a>>>,
}

#[derive(Deserialize)]
struct HubToolCall<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<HubFunction<'a>>,
}

#[derive(Deserialize)]
struct HubFunction<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    /// JSON text in a JSON string.
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

/// The hub's `usage`; every count optional (servers differ in what they send).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(super) struct HubUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionTokensDetails>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct CompletionTokensDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

/// One chunk of a Mistral-style array `content`.
#[derive(Deserialize)]
struct ContentChunk<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    /// A `thinking` chunk's text chunks.
    #[serde(borrow, default)]
    thinking: Option<Vec<ContentChunk<'a>>>,
}

/// The answer text and reasoning text of a hub message or delta, each a
/// JSON string token; `None` when absent or empty.
#[derive(Debug, Default)]
pub(super) struct HubText<'a> {
    pub(super) text: Option<Cow<'a, RawValue>>,
    pub(super) reasoning: Option<Cow<'a, RawValue>>,
}

impl<'a> HubText<'a> {
    /// Reads `content` (a string, null, or an array of `text` and
    /// `thinking` chunks as Mistral sends) and the reasoning fields
    /// (`reasoning_content`, else OpenRouter's `reasoning`; a non-string is
    /// ignored, as no gateway translator sends one).
    pub(super) fn read(
        content: Option<&'a RawValue>,
        reasoning_content: Option<&'a RawValue>,
        reasoning: Option<&'a RawValue>,
    ) -> Result<Self, BadAnswer> {
        let mut texts = HubText {
            text: None,
            reasoning: string_token(reasoning_content)
                .or_else(|| string_token(reasoning))
                .map(Cow::Borrowed),
        };
        let Some(content) = content else {
            return Ok(texts);
        };
        match content.get().as_bytes().first() {
            Some(b'"') => texts.text = string_token(Some(content)).map(Cow::Borrowed),
            Some(b'n') => {}
            Some(b'[') => {
                let chunks: Vec<ContentChunk<'_>> = serde_json::from_str(content.get())
                    .map_err(|e| BadAnswer(format!("content chunks: {e}")))?;
                let (mut text, mut thinking) = (String::new(), String::new());
                for chunk in &chunks {
                    match (chunk.kind.as_ref(), &chunk.text, &chunk.thinking) {
                        ("text", Some(t), _) => text.push_str(t),
                        ("thinking", _, Some(inner)) => {
                            for t in inner.iter().filter(|c| c.kind == "text") {
                                thinking.push_str(t.text.as_deref().unwrap_or(""));
                            }
                        }
                        // References and other annotations carry no text.
                        _ => {}
                    }
                }
                texts.text = owned_token(&text)?;
                if texts.reasoning.is_none() {
                    texts.reasoning = owned_token(&thinking)?;
                }
            }
            _ => {
                return Err(BadAnswer(
                    "message content must be a string, an array or null".to_owned(),
                ))
            }
        }
        Ok(texts)
    }
}

/// `raw` if it is a non-empty JSON string.
fn string_token(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get().starts_with('"') && r.get() != "\"\"")
}

/// `text` as a JSON string token; `None` when empty.
fn owned_token(text: &str) -> Result<Option<Cow<'static, RawValue>>, BadAnswer> {
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::value::to_raw_value(text)
        .map(|raw| Some(Cow::Owned(raw)))
        .map_err(|e| BadAnswer(format!("encoding text: {e}")))
}

// ---- Gemini side (output) ----

/// A `GenerateContentResponse` with its one candidate.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentResponse<'a> {
    pub(super) candidates: [Candidate<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage_metadata: Option<UsageMetadata>,
    pub(super) model_version: &'a str,
    pub(super) response_id: &'a str,
}

impl<'a> GenerateContentResponse<'a> {
    pub(super) fn new(
        parts: &'a [Part<'a>],
        finish_reason: Option<&'static str>,
        usage_metadata: Option<UsageMetadata>,
        model_version: &'a str,
        response_id: &'a str,
    ) -> Self {
        GenerateContentResponse {
            candidates: [Candidate {
                content: CandidateContent {
                    parts,
                    role: "model",
                },
                finish_reason,
                index: 0,
            }],
            usage_metadata,
            model_version,
            response_id,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate<'a> {
    content: CandidateContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<&'static str>,
    index: u32,
}

#[derive(Serialize)]
struct CandidateContent<'a> {
    /// Left out when empty, as protobuf JSON leaves out empty lists.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    parts: &'a [Part<'a>],
    role: &'static str,
}

/// A part of the answer: text (a thought when `thought`) or a function call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<Cow<'a, RawValue>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) thought: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) function_call: Option<FunctionCall<'a>>,
}

impl<'a> Part<'a> {
    /// Answer text (`thought: false`) or reasoning text.
    pub(super) fn text(text: Cow<'a, RawValue>, thought: bool) -> Self {
        Part {
            text: Some(text),
            thought,
            function_call: None,
        }
    }

    pub(super) fn function_call(id: Cow<'a, str>, name: Cow<'a, str>, arguments: &str) -> Self {
        Part {
            text: None,
            thought: false,
            function_call: Some(FunctionCall {
                id,
                name,
                args: Args::from_arguments(arguments),
            }),
        }
    }

    /// The part with everything it borrows copied, to outlive its chunk.
    pub(super) fn into_owned(self) -> Part<'static> {
        Part {
            text: self.text.map(|t| Cow::Owned(t.into_owned())),
            thought: self.thought,
            function_call: self.function_call.map(|c| FunctionCall {
                id: Cow::Owned(c.id.into_owned()),
                name: Cow::Owned(c.name.into_owned()),
                args: c.args,
            }),
        }
    }
}

/// `functionCall`. The hub's call id goes in `id` (a field Gemini defines
/// and Vertex fills), so a client that echoes it in its `functionResponse`
/// is matched exactly; one that does not is matched by name.
#[derive(Debug, Serialize)]
pub(super) struct FunctionCall<'a> {
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    args: Args,
}

/// `functionCall.args`: the call's arguments if they are a JSON object,
/// else `{}` (Gemini's `args` is a `Struct`; models call parameterless
/// tools with `""`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Args {
    Object(Box<RawValue>),
    Empty(EmptyObject),
}

#[derive(Debug, Serialize)]
struct EmptyObject {}

impl Args {
    fn from_arguments(arguments: &str) -> Self {
        match serde_json::from_str::<Box<RawValue>>(arguments) {
            Ok(raw) if raw.get().starts_with('{') => Args::Object(raw),
            _ => Args::Empty(EmptyObject {}),
        }
    }
}

/// `usageMetadata`. Gemini counts thinking apart from the answer
/// (`thoughtsTokenCount` beside `candidatesTokenCount`), OpenAI inside
/// `completion_tokens`; cached tokens are inside the prompt count in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    prompt_token_count: u64,
    candidates_token_count: u64,
    total_token_count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    cached_content_token_count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    thoughts_token_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<HubUsage> for UsageMetadata {
    fn from(usage: HubUsage) -> Self {
        let prompt = usage.prompt_tokens.unwrap_or(0);
        let completion = usage.completion_tokens.unwrap_or(0);
        let thoughts = usage
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        UsageMetadata {
            prompt_token_count: prompt,
            candidates_token_count: completion.saturating_sub(thoughts),
            total_token_count: usage
                .total_tokens
                .unwrap_or_else(|| prompt.saturating_add(completion)),
            cached_content_token_count: usage
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            thoughts_token_count: thoughts,
        }
    }
}

/// The hub's `finish_reason` as Gemini's `finishReason`. Gemini says `STOP`
/// after function calls too.
pub(super) fn finish_reason(hub: &str) -> &'static str {
    match hub {
        "stop" | "tool_calls" | "function_call" => "STOP",
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "OTHER",
    }
}

/// The hub completion's id as `responseId`, or one made up (time and a
/// process-wide counter) for an upstream that sent none.
pub(super) fn response_id(given: Option<&str>) -> Cow<'_, str> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    match given {
        Some(id) if !id.is_empty() => Cow::Borrowed(id),
        _ => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            Cow::Owned(format!("ringbridge-{nanos:x}-{n}"))
        }
    }
}

/// The id a tool call without one gets: its position, counted from 1.
pub(super) fn made_up_call_id(position: usize) -> String {
    format!("call_{}", position + 1)
}

// ---- conversion ----

/// Converts a whole `chat.completion` into a Gemini `GenerateContentResponse`
/// appended to `out`, with `model` (the model the client asked for) as
/// `modelVersion` and the completion's id as `responseId`.
///
/// The one candidate's parts are the reasoning (a `thought` part), the text
/// (when there is some, or when there is nothing else: `""` keeps the
/// SDK's `response.text` a string) and one `functionCall` per tool call.
/// Fails when the body is not a completion with a message; `out` is
/// unchanged then.
pub fn from_chat(chat: &[u8], model: &str, out: &mut Vec<u8>) -> Result<(), BadAnswer> {
    // serde also reads a struct from a JSON array; a completion is an object.
    if chat.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(BadAnswer("chat completion is not a JSON object".to_owned()));
    }
    let completion: Completion<'_> =
        serde_json::from_slice(chat).map_err(|e| BadAnswer(format!("chat completion: {e}")))?;
    let choice = completion
        .choices
        .and_then(|choices| choices.into_iter().next())
        .ok_or_else(|| BadAnswer("chat completion has no choices".to_owned()))?;
    let message = choice
        .message
        .ok_or_else(|| BadAnswer("chat completion choice has no message".to_owned()))?;
    let texts = HubText::read(
        message.content,
        message.reasoning_content,
        message.reasoning,
    )?;
    let calls = message.tool_calls.unwrap_or_default();

    let mut parts = Vec::with_capacity(2 + calls.len());
    if let Some(reasoning) = texts.reasoning {
        parts.push(Part::text(reasoning, true));
    }
    match texts.text {
        Some(text) => parts.push(Part::text(text, false)),
        None if calls.is_empty() => {
            parts.push(Part::text(empty_string_token(), false));
        }
        None => {}
    }
    for (position, call) in calls.into_iter().enumerate() {
        let function = call
            .function
            .ok_or_else(|| BadAnswer(format!("tool call {position} has no function")))?;
        let name = function
            .name
            .ok_or_else(|| BadAnswer(format!("tool call {position} has no name")))?;
        let id = call
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| Cow::Owned(made_up_call_id(position)));
        parts.push(Part::function_call(
            id,
            name,
            function.arguments.as_deref().unwrap_or(""),
        ));
    }

    let response_id = response_id(completion.id.as_deref());
    let response = GenerateContentResponse::new(
        &parts,
        choice.finish_reason.as_deref().map(finish_reason),
        completion.usage.map(UsageMetadata::from),
        model,
        &response_id,
    );
    let mark = out.len();
    serde_json::to_writer(&mut *out, &response).map_err(|e| {
        out.truncate(mark);
        BadAnswer(format!("encoding the Gemini response: {e}"))
    })
}

/// `""` as a JSON string token.
pub(super) fn empty_string_token() -> Cow<'static, RawValue> {
    // Parsing a literal cannot fail; the fallback only keeps this panic-free.
    serde_json::from_str::<&'static RawValue>("\"\"")
        .map_or_else(|_| Cow::Owned(Box::default()), Cow::Borrowed)
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
