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

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::inbound::BadAnswer;
use crate::schema::openai::string;

/// A whole completion or one chunk: the fields either may carry.
#[derive(Deserialize)]
pub(crate) struct ChatAnswer<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    /// Read by [`Usage::read`], which ignores shapes it does not know.
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
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

    /// The answer's usage, if it has one of a shape [`Usage::read`] knows.
    pub(crate) fn usage(&self) -> Option<Usage> {
        Usage::read(self.usage)
    }

    /// The error the upstream reported in the answer, if any.
    pub(crate) fn error(&self) -> Option<UpstreamError<'a>> {
        self.error.map(UpstreamError::read)
    }

    /// A whole completion's message and finish reason; fails for a
    /// completion without either a choice or its message.
    pub(crate) fn take_completion_message(
        &mut self,
    ) -> Result<(Delta<'a>, Option<Cow<'a, str>>), BadAnswer> {
        let choice = self
            .take_completion_choice()
            .ok_or_else(|| BadAnswer("chat completion has no choices".to_owned()))?;
        let message = choice
            .message
            .ok_or_else(|| BadAnswer("chat completion choice has no message".to_owned()))?;
        Ok((message, choice.finish_reason))
    }

    /// A completion's choice: the one with `index` 0 (or none), else the
    /// first. The hub request never asks for more than one.
    fn take_completion_choice(&mut self) -> Option<Choice<'a>> {
        let mut choices = self.choices.take()?;
        let ours = choices.iter().position(Choice::is_first).unwrap_or(0);
        (ours < choices.len()).then(|| choices.swap_remove(ours))
    }

    /// A chunk's choice: the one with `index` 0 (or none). A chunk with
    /// only other choices carries nothing of this answer.
    pub(crate) fn take_chunk_choice(&mut self) -> Option<Choice<'a>> {
        self.choices.take()?.into_iter().find(Choice::is_first)
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
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(crate) finish_reason: Option<Cow<'a, str>>,
}

impl<'a> Choice<'a> {
    fn is_first(&self) -> bool {
        self.index.unwrap_or(0) == 0
    }

    /// A chunk's `delta`, or a `message` (some servers send one in chunks).
    pub(crate) fn take_delta(&mut self) -> Option<Delta<'a>> {
        self.delta.take().or_else(|| self.message.take())
    }
}

/// A chunk's `delta` or a completion's `message`: the same fields.
#[derive(Deserialize, Default)]
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
    pub(crate) tool_calls: Option<Vec<ToolCallPiece<'a>>>,
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
        #[serde(borrow, rename = "type", default, deserialize_with = "lenient_str")]
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
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) function: Option<FunctionPiece<'a>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct FunctionPiece<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(crate) name: Option<Cow<'a, str>>,
    /// JSON text in a string; some servers send the object itself.
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

impl<'a> FunctionPiece<'a> {
    /// The arguments' JSON text (or a piece of it): a string's content, an
    /// object's JSON text, or empty for none or null.
    pub(crate) fn arguments(&self) -> Result<Cow<'a, str>, BadAnswer> {
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

/// A hub `usage`'s counts, 0 for any the server left out. Cached tokens are
/// counted inside the prompt, reasoning tokens inside the completion.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    /// As sent, else prompt plus completion.
    pub(crate) total_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub(crate) cached_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`.
    pub(crate) reasoning_tokens: u64,
}

impl Usage {
    /// Reads a hub `usage`; `None` when it is absent, null or not a usage
    /// object (a count is never worth failing an answer for).
    pub(crate) fn read(raw: Option<&RawValue>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Counts {
            #[serde(default)]
            prompt_tokens: Option<u64>,
            #[serde(default)]
            completion_tokens: Option<u64>,
            #[serde(default)]
            total_tokens: Option<u64>,
            #[serde(default)]
            prompt_tokens_details: Option<PromptDetails>,
            #[serde(default)]
            completion_tokens_details: Option<CompletionDetails>,
        }
        #[derive(Deserialize)]
        struct PromptDetails {
            #[serde(default)]
            cached_tokens: Option<u64>,
        }
        #[derive(Deserialize)]
        struct CompletionDetails {
            #[serde(default)]
            reasoning_tokens: Option<u64>,
        }
        let counts: Counts = serde_json::from_str(raw?.get()).ok()?;
        let prompt_tokens = counts.prompt_tokens.unwrap_or(0);
        let completion_tokens = counts.completion_tokens.unwrap_or(0);
        Some(Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: counts
                .total_tokens
                .unwrap_or_else(|| prompt_tokens.saturating_add(completion_tokens)),
            cached_tokens: counts
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: counts
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        })
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
            #[serde(borrow, default, deserialize_with = "lenient_str")]
            message: Option<Cow<'a, str>>,
            #[serde(borrow, rename = "type", default, deserialize_with = "lenient_str")]
            kind: Option<Cow<'a, str>>,
            #[serde(default, deserialize_with = "lenient_u16")]
            status_code: Option<u16>,
            #[serde(default, deserialize_with = "lenient_u16")]
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

/// A string field that is `None` when absent, null or of another type.
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    Ok(raw
        .get()
        .starts_with('"')
        .then(|| string(raw).ok())
        .flatten())
}

/// A status-like number, `None` for anything else.
fn lenient_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    Ok(serde_json::from_str::<u16>(raw.get()).ok())
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
