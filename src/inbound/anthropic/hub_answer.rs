//! What the answer side reads of the hub (a `chat.completion` or one
//! `chat.completion.chunk`) and the Anthropic pieces both answers share:
//! stop reasons, usage, in-band errors.
//!
//! The hub comes from the gateway's own translators or, as sent, from any
//! OpenAI-compatible server, so reading is lenient where servers differ:
//! reasoning text as `reasoning_content` (DeepSeek, the gateway) or
//! `reasoning` (OpenRouter, Groq); `content` as a string or, from Mistral's
//! reasoning models, an array of `text` and `thinking` parts; tool calls
//! without `index` (Mistral) or with `arguments` as an object; usage with
//! extra fields or none.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::inbound::BadAnswer;

/// A whole completion or one chunk: the fields either may carry.
#[derive(Deserialize)]
pub(super) struct Answer<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) choices: Option<Vec<Choice<'a>>>,
    /// Read by [`TokenUsage::read`], which ignores shapes it does not know.
    #[serde(borrow, default)]
    pub(super) usage: Option<&'a RawValue>,
    /// An in-band error (OpenRouter, Groq, the gateway's own error frame).
    #[serde(borrow, default)]
    pub(super) error: Option<&'a RawValue>,
}

impl<'a> Answer<'a> {
    pub(super) fn parse(body: &'a [u8], what: &str) -> Result<Self, BadAnswer> {
        // serde would also fill the struct from an array, by position.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(BadAnswer(format!("hub {what}: not a JSON object")));
        }
        serde_json::from_slice(body).map_err(|e| BadAnswer(format!("hub {what}: {e}")))
    }

    /// The first choice (`index` 0 or absent): the hub request never asks
    /// for more than one.
    pub(super) fn first_choice(&mut self) -> Option<Choice<'a>> {
        let choices = self.choices.take()?;
        choices.into_iter().find(|c| c.index.unwrap_or(0) == 0)
    }
}

#[derive(Deserialize)]
pub(super) struct Choice<'a> {
    #[serde(default)]
    index: Option<u32>,
    /// A chunk's.
    #[serde(borrow, default)]
    pub(super) delta: Option<Delta<'a>>,
    /// A completion's.
    #[serde(borrow, default)]
    pub(super) message: Option<Delta<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) finish_reason: Option<Cow<'a, str>>,
}

/// A chunk's `delta` or a completion's `message`.
#[derive(Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    reasoning: Option<Cow<'a, str>>,
    /// OpenAI's refusal text, shown to the client as text.
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) tool_calls: Option<Vec<ToolCallPiece<'a>>>,
}

/// Which Anthropic block a piece of hub text belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece {
    Text,
    Thinking,
}

impl<'a> Delta<'a> {
    /// Calls `f` with each non-empty piece of text in order: reasoning
    /// first, then content (whose parts may themselves be thinking), then a
    /// refusal.
    pub(super) fn pieces(&self, mut f: impl FnMut(Piece, Cow<'a, str>)) -> Result<(), BadAnswer> {
        let reasoning = self.reasoning_content.as_ref().or(self.reasoning.as_ref());
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            f(Piece::Thinking, text.clone());
        }
        if let Some(raw) = self.content {
            content_pieces(raw, Piece::Text, &mut f)?;
        }
        if let Some(text) = self.refusal.as_ref().filter(|t| !t.is_empty()) {
            f(Piece::Text, text.clone());
        }
        Ok(())
    }
}

/// A `content` value: a string, null, or an array of parts where `text`
/// parts are `kind` and `thinking` parts (Mistral: a string or an array of
/// text parts) are thinking. Other part types carry no text for the client.
fn content_pieces<'a>(
    raw: &'a RawValue,
    kind: Piece,
    f: &mut impl FnMut(Piece, Cow<'a, str>),
) -> Result<(), BadAnswer> {
    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type", default, deserialize_with = "lenient_str")]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow, default, deserialize_with = "lenient_str")]
        text: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        thinking: Option<&'a RawValue>,
    }
    match raw.get().as_bytes().first() {
        Some(b'"') => {
            let text = string(raw).map_err(|e| BadAnswer(format!("hub content: {e}")))?;
            if !text.is_empty() {
                f(kind, text);
            }
        }
        Some(b'[') => {
            let parts: Vec<Part<'a>> = serde_json::from_str(raw.get())
                .map_err(|e| BadAnswer(format!("hub content parts: {e}")))?;
            for part in parts {
                match part.kind.as_deref() {
                    Some("text") => {
                        if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                            f(kind, text);
                        }
                    }
                    // One level only: thinking inside thinking is not a shape anyone sends.
                    Some("thinking") if kind == Piece::Text => {
                        if let Some(inner) = part.thinking {
                            content_pieces(inner, Piece::Thinking, f)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One tool call of a message, or one piece of it in a chunk.
#[derive(Deserialize)]
pub(super) struct ToolCallPiece<'a> {
    #[serde(default)]
    pub(super) index: Option<u32>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) function: Option<FunctionPiece<'a>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionPiece<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) name: Option<Cow<'a, str>>,
    /// JSON text in a string; some servers send the object itself.
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

impl<'a> FunctionPiece<'a> {
    /// The arguments text: the string's content, an object's JSON text, or
    /// empty for none or null.
    pub(super) fn arguments(&self) -> Result<Cow<'a, str>, BadAnswer> {
        match self.arguments {
            None => Ok(Cow::Borrowed("")),
            Some(raw) => match raw.get().as_bytes().first() {
                Some(b'"') => {
                    string(raw).map_err(|e| BadAnswer(format!("hub tool call arguments: {e}")))
                }
                Some(b'n') => Ok(Cow::Borrowed("")),
                _ => Ok(Cow::Borrowed(raw.get())),
            },
        }
    }
}

/// A `tool_use` block's `input`: always a JSON object, as Anthropic's is.
#[derive(Debug)]
pub(super) enum ToolInput {
    Object(Box<RawValue>),
    Empty,
}

impl ToolInput {
    /// The arguments when they are a JSON object, else `{}`: a model's
    /// malformed arguments must not fail the whole answer.
    pub(super) fn from_arguments(arguments: &str) -> Self {
        match RawValue::from_string(arguments.to_owned()) {
            Ok(raw) if raw.get().starts_with('{') => ToolInput::Object(raw),
            _ => ToolInput::Empty,
        }
    }
}

impl Serialize for ToolInput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ToolInput::Object(raw) => raw.serialize(serializer),
            ToolInput::Empty => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// Anthropic's `stop_reason` for a hub `finish_reason`. Anthropic ends every
/// turn that calls tools with `tool_use`, so a plain stop (or none) after
/// tool calls is `tool_use` too; OpenAI cannot say which stop sequence
/// matched, so `stop_sequence` is never produced.
pub(super) fn stop_reason(finish_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls" | "function_call") => "tool_use",
        _ if called_tools => "tool_use",
        _ => "end_turn",
    }
}

/// Token counts in Anthropic's terms: `input` excludes cache reads, which
/// OpenAI counts inside `prompt_tokens`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct TokenUsage {
    pub(super) input: u64,
    pub(super) cache_read: u64,
    pub(super) output: u64,
}

impl TokenUsage {
    /// Reads a hub `usage`; `None` when it is null or not a usage object.
    pub(super) fn read(raw: Option<&RawValue>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Usage {
            #[serde(default)]
            prompt_tokens: Option<u64>,
            #[serde(default)]
            completion_tokens: Option<u64>,
            #[serde(default)]
            prompt_tokens_details: Option<Details>,
        }
        #[derive(Deserialize)]
        struct Details {
            #[serde(default)]
            cached_tokens: Option<u64>,
        }
        let usage: Usage = serde_json::from_str(raw?.get()).ok()?;
        let prompt = usage.prompt_tokens.unwrap_or(0);
        let cached = usage
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
            .min(prompt);
        Some(TokenUsage {
            input: prompt - cached,
            cache_read: cached,
            output: usage.completion_tokens.unwrap_or(0),
        })
    }

    /// A message's `usage`, with Anthropic's fields in its order. Nothing
    /// is ever written to Anthropic's prompt cache through the hub, so the
    /// cache-creation counts are 0.
    pub(super) fn message_usage(self) -> MessageUsage {
        MessageUsage {
            input_tokens: self.input,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: self.cache_read,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: 0,
                ephemeral_1h_input_tokens: 0,
            },
            output_tokens: self.output,
        }
    }

    /// A `message_delta`'s `usage`: final counts, input included, since the
    /// hub reports usage only at the end of a stream.
    pub(super) fn delta_usage(self) -> DeltaUsage {
        DeltaUsage {
            input_tokens: self.input,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: self.cache_read,
            output_tokens: self.output,
        }
    }
}

#[derive(Serialize)]
pub(super) struct MessageUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
    output_tokens: u64,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct DeltaUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

/// An in-band hub error (`{"error": …}` in a chunk), as Anthropic's error
/// `type` and message.
pub(super) struct InBandError<'a> {
    pub(super) kind: &'static str,
    pub(super) message: Cow<'a, str>,
}

/// The error types Anthropic's API and SDKs know.
const ANTHROPIC_ERROR_TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
];

impl<'a> InBandError<'a> {
    /// The error's `type` when it is one of Anthropic's, else the Anthropic
    /// type of its numeric `status_code` or `code` (Groq, OpenRouter), else
    /// `api_error`. A bare string error is its own message.
    pub(super) fn read(raw: &'a RawValue) -> Self {
        #[derive(Deserialize)]
        struct Error<'a> {
            #[serde(borrow, default, deserialize_with = "lenient_str")]
            message: Option<Cow<'a, str>>,
            #[serde(borrow, rename = "type", default, deserialize_with = "lenient_str")]
            kind: Option<Cow<'a, str>>,
            #[serde(default, deserialize_with = "lenient_u16")]
            status_code: Option<u16>,
            #[serde(default, deserialize_with = "lenient_u16")]
            code: Option<u16>,
        }
        if raw.get().starts_with('"') {
            return InBandError {
                kind: "api_error",
                message: string(raw).unwrap_or(Cow::Borrowed("upstream error")),
            };
        }
        let Ok(e) = serde_json::from_str::<Error<'a>>(raw.get()) else {
            return InBandError {
                kind: "api_error",
                message: Cow::Borrowed("upstream error"),
            };
        };
        let named = e
            .kind
            .as_deref()
            .and_then(|k| ANTHROPIC_ERROR_TYPES.iter().find(|t| **t == k).copied());
        let kind = named
            .or_else(|| {
                e.status_code
                    .or(e.code)
                    .filter(|s| (400..=599).contains(s))
                    .map(super::error_type)
            })
            .unwrap_or("api_error");
        InBandError {
            kind,
            message: e.message.unwrap_or(Cow::Borrowed("upstream error")),
        }
    }
}

/// A JSON string, borrowed unless escaped.
fn string(raw: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    crate::schema::openai::string(raw)
}

/// A string field that is `None` when absent, null or of another type:
/// servers put numbers or objects where OpenAI has strings, and those
/// fields are never worth failing an answer for.
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    Ok(raw
        .get()
        .starts_with('"')
        .then(|| string(raw).ok())
        .flatten())
}

/// A status-like number, `None` for anything else (OpenAI's `code` is a string).
fn lenient_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    Ok(serde_json::from_str::<u16>(raw.get()).ok())
}
