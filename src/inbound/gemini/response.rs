//! A whole `chat.completion` → a Gemini `GenerateContentResponse`, and the
//! shapes both it and [`super::StreamEncoder`] use: the hub's text as one
//! reasoning and one answer part, Gemini's response as written.
//!
//! Text is kept as the JSON string token the hub sent (`&RawValue`) and
//! written back unchanged, never unescaped and escaped again, unless a
//! message has several pieces of one kind (Mistral's parts) to join.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::inbound::chat::answer::{
    ArgumentsObject, ChatAnswer, Delta, JsonString, Piece, Usage as ChatUsage,
};
use crate::inbound::BadAnswer;

// ---- hub side (input) ----

/// The answer text and reasoning text of a hub message or delta, each one
/// JSON string token; `None` when it has none.
#[derive(Debug, Default)]
pub(super) struct HubText<'a> {
    pub(super) text: Option<Cow<'a, RawValue>>,
    pub(super) reasoning: Option<Cow<'a, RawValue>>,
}

impl<'a> HubText<'a> {
    /// Reads the pieces of `delta` (see [`Delta::pieces`]) into one text and
    /// one reasoning text.
    pub(super) fn read(delta: &Delta<'a>) -> Result<Self, BadAnswer> {
        let (mut text, mut reasoning) = (JoinedText::default(), JoinedText::default());
        delta.pieces(|piece| match piece {
            Piece::Text(piece) => text.push(piece),
            Piece::Reasoning(piece) => reasoning.push(piece),
        })?;
        Ok(HubText {
            text: text.into_token()?,
            reasoning: reasoning.into_token()?,
        })
    }
}

/// Pieces of text joined into one JSON string token: a lone piece (the
/// usual case) is the hub's token as sent, several are unescaped, joined
/// and encoded again.
#[derive(Default)]
struct JoinedText<'a> {
    lone: Option<JsonString<'a>>,
    joined: String,
}

impl<'a> JoinedText<'a> {
    fn push(&mut self, piece: JsonString<'a>) -> Result<(), BadAnswer> {
        if self.lone.is_none() && self.joined.is_empty() {
            self.lone = Some(piece);
            return Ok(());
        }
        if let Some(lone) = self.lone.take() {
            self.joined.push_str(&lone.text()?);
        }
        self.joined.push_str(&piece.text()?);
        Ok(())
    }

    fn into_token(self) -> Result<Option<Cow<'a, RawValue>>, BadAnswer> {
        if let Some(lone) = self.lone {
            return Ok(Some(Cow::Borrowed(lone.raw())));
        }
        if self.joined.is_empty() {
            return Ok(None);
        }
        serde_json::value::to_raw_value(&self.joined)
            .map(|raw| Some(Cow::Owned(raw)))
            .map_err(|e| BadAnswer(format!("encoding text: {e}")))
    }
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
                args: ArgumentsObject::parse(arguments),
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
/// is matched exactly; one that does not is matched by name. `args` is a
/// protobuf `Struct`: always an object.
#[derive(Debug, Serialize)]
pub(super) struct FunctionCall<'a> {
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    args: ArgumentsObject,
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

impl From<ChatUsage> for UsageMetadata {
    fn from(usage: ChatUsage) -> Self {
        UsageMetadata {
            prompt_token_count: usage.prompt_tokens,
            candidates_token_count: usage
                .completion_tokens
                .saturating_sub(usage.reasoning_tokens),
            total_token_count: usage.total_tokens,
            cached_content_token_count: usage.cached_tokens,
            thoughts_token_count: usage.reasoning_tokens,
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
    let completion = ChatAnswer::parse_completion(chat)?;
    let (message, hub_finish_reason) = completion.completion_message()?;
    let texts = HubText::read(message)?;
    let calls = message.tool_calls();

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
    for (position, call) in calls.iter().enumerate() {
        if call.function.is_none() {
            return Err(BadAnswer(format!("tool call {position} has no function")));
        }
        let name = call
            .name()
            .ok_or_else(|| BadAnswer(format!("tool call {position} has no name")))?;
        let id = match call.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(made_up_call_id(position)),
        };
        parts.push(Part::function_call(
            id,
            Cow::Borrowed(name),
            &call.arguments()?,
        ));
    }

    let response_id = response_id(completion.id.as_deref());
    let response = GenerateContentResponse::new(
        &parts,
        hub_finish_reason.map(finish_reason),
        completion.usage().map(UsageMetadata::from),
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
