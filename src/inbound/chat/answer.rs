//! The hub's answers as every dialect reads them: a whole `chat.completion`
//! or one `chat.completion.chunk`, borrowed from the answer's bytes.
//!
//! The hub comes from the gateway's own translators or, as sent, from any
//! OpenAI-compatible server, so reading is lenient where servers differ, and
//! what one server's quirk needs is read for every dialect:
//! - reasoning text as `reasoning_content` (DeepSeek, the gateway) or
//!   `reasoning` (OpenRouter, Groq);
//! - `content` as a string or, from Mistral's reasoning models, an array of
//!   `text` and `thinking` parts;
//! - OpenAI's `refusal`, which is text for the client;
//! - tool calls without `index` (Mistral) or with `arguments` as an object;
//! - usage with extra fields, other shapes or none;
//! - errors inside a 200 answer (`{"error": …}`: OpenRouter, Groq, the
//!   gateway's own error frame).
//!
//! A field of the wrong type where OpenAI has a string (an id, a finish
//! reason, a content that is neither text nor parts) reads as absent: such
//! fields are never worth failing an answer for.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::lenient;
use super::usage::lenient_usage;
pub(crate) use super::usage::Usage;
use crate::inbound::BadAnswer;

/// A whole completion or one chunk: the fields either may carry. Its parts
/// are lent out rather than moved: a choice is some 200 bytes.
#[derive(Deserialize)]
pub(crate) struct ChatAnswer<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::string")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default, deserialize_with = "lenient_usage")]
    usage: Option<Usage>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

impl<'a> ChatAnswer<'a> {
    /// Reads a whole `chat.completion`.
    pub(crate) fn parse_completion(body: &'a [u8]) -> Result<Self, BadAnswer> {
        Self::parse(body, "chat completion")
    }

    /// Reads one `chat.completion.chunk` of a stream.
    pub(crate) fn parse_chunk(body: &'a [u8]) -> Result<Self, BadAnswer> {
        Self::parse(body, "chat chunk")
    }

    fn parse(body: &'a [u8], what: &str) -> Result<Self, BadAnswer> {
        // serde would also fill the struct from an array, by position.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(BadAnswer(format!("{what} is not a JSON object")));
        }
        serde_json::from_slice(body).map_err(|e| BadAnswer(format!("{what}: {e}")))
    }

    /// The answer's usage, if it has a usage object.
    pub(crate) fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The error the upstream reported in the answer, if any.
    pub(crate) fn error(&self) -> Option<UpstreamError<'a>> {
        self.error.map(UpstreamError::read)
    }

    /// A whole completion's message and finish reason; fails for a
    /// completion without either a choice or its message.
    pub(crate) fn completion_message(&self) -> Result<(&Delta<'a>, Option<&str>), BadAnswer> {
        let choice = self
            .completion_choice()
            .ok_or_else(|| BadAnswer("chat completion has no choices".to_owned()))?;
        let message = choice
            .message
            .as_ref()
            .ok_or_else(|| BadAnswer("chat completion choice has no message".to_owned()))?;
        Ok((message, choice.finish_reason()))
    }

    /// A completion's choice: the one with `index` 0 (or none), else the
    /// first. The hub request never asks for more than one.
    fn completion_choice(&self) -> Option<&Choice<'a>> {
        let choices = self.choices.as_deref()?;
        choices
            .iter()
            .find(|c| c.is_first())
            .or_else(|| choices.first())
    }

    /// A chunk's choice: the one with `index` 0 (or none). A chunk with
    /// only other choices carries nothing of this answer.
    pub(crate) fn chunk_choice(&self) -> Option<&Choice<'a>> {
        self.choices.as_deref()?.iter().find(|c| c.is_first())
    }
}

#[derive(Deserialize)]
pub(crate) struct Choice<'a> {
    #[serde(default)]
    index: Option<u32>,
    /// A chunk's.
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    /// A completion's.
    #[serde(borrow, default)]
    message: Option<Delta<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient::string")]
    finish_reason: Option<Cow<'a, str>>,
}

impl<'a> Choice<'a> {
    fn is_first(&self) -> bool {
        self.index.unwrap_or(0) == 0
    }

    /// A chunk's `delta`, or a `message` (some servers send one in chunks).
    pub(crate) fn delta(&self) -> Option<&Delta<'a>> {
        self.delta.as_ref().or(self.message.as_ref())
    }

    pub(crate) fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }
}

/// A chunk's `delta` or a completion's `message`: the same fields.
#[derive(Deserialize)]
pub(crate) struct Delta<'a> {
    /// A string, null, or (Mistral) an array of typed parts.
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolCallPiece<'a>>>,
}

/// A piece of text of a message or delta, in the order it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// The model's thinking.
    Reasoning(JsonString<'a>),
    /// The answer (or a refusal of it).
    Text(JsonString<'a>),
}

impl<'a> Delta<'a> {
    /// Its tool calls, or pieces of them in a chunk.
    pub(crate) fn tool_calls(&self) -> &[ToolCallPiece<'a>] {
        self.tool_calls.as_deref().unwrap_or_default()
    }

    /// Calls `each` with every non-empty piece of text: the reasoning field
    /// first, then the content (whose parts may be thinking), then a
    /// refusal, which a client shows as the answer's text.
    pub(crate) fn pieces(
        &self,
        mut each: impl FnMut(Piece<'a>) -> Result<(), BadAnswer>,
    ) -> Result<(), BadAnswer> {
        // Servers that send both names send the same text under each.
        let reasoning = JsonString::non_empty(self.reasoning_content)
            .or_else(|| JsonString::non_empty(self.reasoning));
        if let Some(reasoning) = reasoning {
            each(Piece::Reasoning(reasoning))?;
        }
        if let Some(content) = self.content {
            content_pieces(content, &mut each)?;
        }
        if let Some(refusal) = JsonString::non_empty(self.refusal) {
            each(Piece::Text(refusal))?;
        }
        Ok(())
    }
}

/// `content`: a string, or parts where `text` parts (typed or not) are text
/// and Mistral's `thinking` parts are reasoning. Other part types (images,
/// references) carry no text for the client.
fn content_pieces<'a>(
    content: &'a RawValue,
    each: &mut impl FnMut(Piece<'a>) -> Result<(), BadAnswer>,
) -> Result<(), BadAnswer> {
    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type", default, deserialize_with = "lenient::string")]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        text: Option<&'a RawValue>,
        #[serde(borrow, default)]
        thinking: Option<&'a RawValue>,
    }
    if !content.get().starts_with('[') {
        return match JsonString::non_empty(Some(content)) {
            Some(text) => each(Piece::Text(text)),
            None => Ok(()),
        };
    }
    let parts: Vec<Part<'a>> = serde_json::from_str(content.get())
        .map_err(|e| BadAnswer(format!("hub content parts: {e}")))?;
    for part in parts {
        match part.kind.as_deref() {
            Some("text") | None => {
                if let Some(text) = JsonString::non_empty(part.text) {
                    each(Piece::Text(text))?;
                }
            }
            Some("thinking") => {
                if let Some(thinking) = part.thinking {
                    thinking_pieces(thinking, each)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A Mistral `thinking` part's `thinking`: a string, or parts whose `text`
/// is the reasoning.
fn thinking_pieces<'a>(
    thinking: &'a RawValue,
    each: &mut impl FnMut(Piece<'a>) -> Result<(), BadAnswer>,
) -> Result<(), BadAnswer> {
    #[derive(Deserialize)]
    struct TextPart<'a> {
        #[serde(borrow, default)]
        text: Option<&'a RawValue>,
    }
    if !thinking.get().starts_with('[') {
        return match JsonString::non_empty(Some(thinking)) {
            Some(text) => each(Piece::Reasoning(text)),
            None => Ok(()),
        };
    }
    let parts: Vec<TextPart<'a>> = serde_json::from_str(thinking.get())
        .map_err(|e| BadAnswer(format!("hub thinking parts: {e}")))?;
    for text in parts
        .into_iter()
        .filter_map(|p| JsonString::non_empty(p.text))
    {
        each(Piece::Reasoning(text))?;
    }
    Ok(())
}

/// A non-empty JSON string as the hub sent it, quotes and escapes included:
/// a dialect whose answer holds the same string writes it back unchanged,
/// never unescaped and escaped again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonString<'a>(&'a RawValue);

impl<'a> JsonString<'a> {
    /// `raw` if it is a JSON string other than `""`.
    fn non_empty(raw: Option<&'a RawValue>) -> Option<Self> {
        raw.filter(|r| r.get().starts_with('"') && r.get() != "\"\"")
            .map(JsonString)
    }

    /// The JSON token, e.g. `"a\nb"`.
    pub(crate) fn raw(self) -> &'a RawValue {
        self.0
    }

    /// The text, borrowed unless it has escapes. Fails only for an escape
    /// that is no character (a lone surrogate).
    pub(crate) fn text(self) -> Result<Cow<'a, str>, BadAnswer> {
        string(self.0).map_err(|e| BadAnswer(format!("hub text: {e}")))
    }
}

impl PartialEq for JsonString<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for JsonString<'_> {}

/// One tool call of a message, or a piece of one in a chunk.
#[derive(Deserialize)]
pub(crate) struct ToolCallPiece<'a> {
    #[serde(default)]
    pub(crate) index: Option<u32>,
    #[serde(borrow, default, deserialize_with = "lenient::string")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) function: Option<FunctionPiece<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionPiece<'a> {
    #[serde(borrow, default, deserialize_with = "lenient::string")]
    name: Option<Cow<'a, str>>,
    /// JSON text in a string; some servers send the object itself.
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

impl<'a> ToolCallPiece<'a> {
    /// The function's name, if the piece has one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.function.as_ref()?.name.as_deref()
    }

    /// The arguments' JSON text (or a piece of it): a string's content, an
    /// object's JSON text, or empty for none or null.
    pub(crate) fn arguments(&self) -> Result<Cow<'a, str>, BadAnswer> {
        match self.function.as_ref().and_then(|f| f.arguments) {
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

/// A tool call's whole arguments as a JSON object, for dialects whose calls
/// carry one (Anthropic's `input`, Gemini's `args`): the arguments when they
/// are an object, else `{}`. Models call tools without parameters with `""`,
/// and a model's malformed arguments must not fail the whole answer.
#[derive(Debug)]
pub(crate) enum ArgumentsObject {
    Object(Box<RawValue>),
    Empty,
}

impl ArgumentsObject {
    pub(crate) fn parse(arguments: &str) -> Self {
        match serde_json::from_str::<Box<RawValue>>(arguments) {
            Ok(raw) if raw.get().starts_with('{') => ArgumentsObject::Object(raw),
            _ => ArgumentsObject::Empty,
        }
    }
}

impl Serialize for ArgumentsObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ArgumentsObject::Object(raw) => raw.serialize(serializer),
            ArgumentsObject::Empty => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// An error reported inside an answer or stream, as far as it can be read.
pub(crate) struct UpstreamError<'a> {
    /// The `error` value as sent.
    pub(crate) raw: &'a RawValue,
    /// Its `message`, or the error itself when it is a bare string.
    pub(crate) message: Option<Cow<'a, str>>,
    /// Its `type`.
    pub(crate) kind: Option<Cow<'a, str>>,
    /// Its numeric `status_code`, else its numeric `code` (Groq, OpenRouter;
    /// OpenAI's `code` is a string).
    pub(crate) status: Option<u16>,
}

impl<'a> UpstreamError<'a> {
    fn read(raw: &'a RawValue) -> Self {
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow, default, deserialize_with = "lenient::string")]
            message: Option<Cow<'a, str>>,
            #[serde(borrow, rename = "type", default, deserialize_with = "lenient::string")]
            kind: Option<Cow<'a, str>>,
            #[serde(default, deserialize_with = "lenient::status")]
            status_code: Option<u16>,
            #[serde(default, deserialize_with = "lenient::status")]
            code: Option<u16>,
        }
        let mut error = UpstreamError {
            raw,
            message: None,
            kind: None,
            status: None,
        };
        if raw.get().starts_with('"') {
            error.message = string(raw).ok();
        } else if let Ok(fields) = serde_json::from_str::<Fields<'a>>(raw.get()) {
            error.message = fields.message;
            error.kind = fields.kind;
            error.status = fields.status_code.or(fields.code);
        }
        error
    }
}

/// The text of `raw`, a JSON string: the bytes between the quotes when
/// there is no escape (most strings, and no second parse for them), else
/// decoded, borrowed where serde can.
fn string(raw: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    let token = raw.get();
    match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Ok(Cow::Borrowed(inner)),
        _ => crate::schema::openai::string(raw),
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
