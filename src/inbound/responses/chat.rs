//! The hub's answers as this dialect reads them: a whole `chat.completion`
//! and its chunks, borrowed from the answer's bytes, read leniently enough
//! for every OpenAI-compatible server the gateway relays (reasoning as
//! `reasoning_content` or `reasoning`, Mistral's typed content parts, tool
//! call fragments without `index` or `id`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::response::Usage;
use crate::inbound::BadAnswer;
use crate::schema::openai::string;

/// Reads a hub answer or chunk as `T`, naming `what` in the failure.
pub(super) fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, BadAnswer> {
    serde_json::from_slice(bytes).map_err(|e| BadAnswer(format!("invalid {what}: {e}")))
}

#[derive(Deserialize)]
pub(super) struct Completion<'a> {
    /// Null is read as none.
    #[serde(borrow, default)]
    pub(super) choices: Option<Vec<CompletionChoice<'a>>>,
    #[serde(default)]
    pub(super) usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
pub(super) struct CompletionChoice<'a> {
    #[serde(borrow)]
    pub(super) message: AssistantMessage<'a>,
    #[serde(borrow, default)]
    pub(super) finish_reason: Option<Cow<'a, str>>,
}

/// A completion's message, or a chunk's `delta`: the same fields.
#[derive(Deserialize, Default)]
pub(super) struct AssistantMessage<'a> {
    /// A string, null, or (Mistral) an array of typed parts.
    #[serde(borrow, default)]
    pub(super) content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) reasoning_content: Option<&'a RawValue>,
    /// OpenRouter's and Groq's name for `reasoning_content`.
    #[serde(borrow, default)]
    pub(super) reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) tool_calls: Option<Vec<ToolCall<'a>>>,
}

/// A whole tool call, or a fragment of one in a chunk.
#[derive(Deserialize)]
pub(super) struct ToolCall<'a> {
    #[serde(default)]
    pub(super) index: Option<u32>,
    #[serde(borrow, default)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) function: Option<FunctionCall<'a>>,
}

#[derive(Deserialize, Default)]
pub(super) struct FunctionCall<'a> {
    #[serde(borrow, default)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) arguments: Option<Cow<'a, str>>,
}

/// One `data:` payload of a chat stream.
#[derive(Deserialize)]
pub(super) struct Chunk<'a> {
    /// Empty or null in usage-only chunks.
    #[serde(borrow, default)]
    pub(super) choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    pub(super) usage: Option<ChatUsage>,
    /// An error reported inside a 200 stream (OpenRouter, Groq).
    #[serde(borrow, default)]
    pub(super) error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct ChunkChoice<'a> {
    #[serde(default)]
    pub(super) index: u32,
    #[serde(borrow, default)]
    pub(super) delta: Option<AssistantMessage<'a>>,
    #[serde(borrow, default)]
    pub(super) finish_reason: Option<Cow<'a, str>>,
}

/// The upstream's message for an in-band stream error, for the client.
pub(super) fn in_band_error(error: &RawValue) -> BadAnswer {
    #[derive(Deserialize)]
    struct Error<'a> {
        #[serde(borrow, default)]
        message: Option<Cow<'a, str>>,
    }
    match serde_json::from_str::<Error<'_>>(error.get()) {
        Ok(Error {
            message: Some(message),
        }) => BadAnswer(format!("upstream stream error: {message}")),
        _ => BadAnswer("upstream stream error".to_owned()),
    }
}

/// `usage` of a completion or of a stream's last chunk; every count may be
/// missing (Mistral sends no details).
#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct ChatUsage {
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

#[derive(Deserialize, Default, Clone, Copy)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl ChatUsage {
    /// The Responses usage: the same counts under the names it uses.
    pub(super) fn to_usage(self) -> Usage {
        let input = self.prompt_tokens.unwrap_or(0);
        let output = self.completion_tokens.unwrap_or(0);
        Usage::new(
            input,
            self.prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            output,
            self.completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            self.total_tokens
                .unwrap_or_else(|| input.saturating_add(output)),
        )
    }
}

/// A piece of an assistant message or delta, in the order it came.
#[derive(Debug, PartialEq)]
pub(super) enum Piece<'a> {
    Reasoning(Cow<'a, str>),
    Text(Cow<'a, str>),
}

impl<'a> AssistantMessage<'a> {
    /// Calls `each` with the reasoning, then the text (the refusal counts
    /// as text: see `response.rs`), skipping empty strings.
    pub(super) fn pieces(
        &self,
        mut each: impl FnMut(Piece<'a>) -> Result<(), BadAnswer>,
    ) -> Result<(), BadAnswer> {
        // Servers that send both names send the same text under each.
        let reasoning = match optional_string(self.reasoning_content, "reasoning_content")? {
            Some(r) if !r.is_empty() => Some(r),
            _ => optional_string(self.reasoning, "reasoning")?,
        };
        if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
            each(Piece::Reasoning(r))?;
        }
        if let Some(content) = self.content {
            content_pieces(content, &mut each)?;
        }
        if let Some(refusal) = self.refusal.clone().filter(|r| !r.is_empty()) {
            each(Piece::Text(refusal))?;
        }
        Ok(())
    }
}

/// A JSON string or null; another type is not a string the field can hold.
fn optional_string<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
) -> Result<Option<Cow<'a, str>>, BadAnswer> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => string(raw)
            .map(Some)
            .map_err(|e| BadAnswer(format!("invalid `{field}` in answer: {e}"))),
    }
}

/// `content` as a string, or Mistral's parts: `{type: text, text}` and
/// `{type: thinking, thinking: [{type: text, text}]}`; other part types
/// (nothing the Responses message can hold) are skipped.
fn content_pieces<'a>(
    content: &'a RawValue,
    each: &mut impl FnMut(Piece<'a>) -> Result<(), BadAnswer>,
) -> Result<(), BadAnswer> {
    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type", default)]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        text: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        thinking: Option<Vec<Part<'a>>>,
    }
    let raw = content.get();
    if !raw.starts_with('[') {
        return match optional_string(Some(content), "content")? {
            Some(text) if !text.is_empty() => each(Piece::Text(text)),
            _ => Ok(()),
        };
    }
    let parts: Vec<Part<'a>> = serde_json::from_str(raw)
        .map_err(|e| BadAnswer(format!("invalid `content` parts in answer: {e}")))?;
    for part in parts {
        match (part.kind.as_deref(), part.text, part.thinking) {
            (Some("text") | None, Some(text), _) if !text.is_empty() => each(Piece::Text(text))?,
            (Some("thinking"), _, Some(thinking)) => {
                for text in thinking.into_iter().filter_map(|t| t.text) {
                    if !text.is_empty() {
                        each(Piece::Reasoning(text))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(json: &str) -> Result<Vec<Piece<'_>>, BadAnswer> {
        let msg: AssistantMessage<'_> = serde_json::from_str(json).unwrap();
        let mut all = Vec::new();
        msg.pieces(|p| {
            all.push(p);
            Ok(())
        })?;
        Ok(all)
    }

    #[test]
    fn reasoning_comes_before_text_and_empty_strings_are_skipped() {
        assert_eq!(
            pieces(r#"{"content":"b","reasoning_content":"a","refusal":null}"#).unwrap(),
            [Piece::Reasoning("a".into()), Piece::Text("b".into())]
        );
        assert_eq!(
            pieces(r#"{"content":"","reasoning_content":""}"#).unwrap(),
            []
        );
        assert_eq!(pieces(r#"{"content":null}"#).unwrap(), []);
    }

    #[test]
    fn reasoning_is_read_under_either_name_once() {
        assert_eq!(
            pieces(r#"{"reasoning":"r"}"#).unwrap(),
            [Piece::Reasoning("r".into())]
        );
        assert_eq!(
            pieces(r#"{"reasoning_content":"r","reasoning":"r"}"#).unwrap(),
            [Piece::Reasoning("r".into())]
        );
        // OpenRouter sends `reasoning: null` beside its details.
        assert_eq!(
            pieces(r#"{"reasoning":null,"content":"x"}"#).unwrap(),
            [Piece::Text("x".into())]
        );
    }

    #[test]
    fn mistral_parts_split_into_thinking_and_text() {
        let json = r#"{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]},
            {"type":"text","text":"ok"},{"type":"image_url","image_url":{"url":"x"}}]}"#;
        assert_eq!(
            pieces(json).unwrap(),
            [Piece::Reasoning("hm".into()), Piece::Text("ok".into())]
        );
    }

    #[test]
    fn refusal_is_text_and_wrong_types_are_bad_answers() {
        assert_eq!(
            pieces(r#"{"content":null,"refusal":"no"}"#).unwrap(),
            [Piece::Text("no".into())]
        );
        assert!(pieces(r#"{"content":5}"#)
            .unwrap_err()
            .0
            .contains("`content`"));
        assert!(pieces(r#"{"reasoning":{"a":1}}"#)
            .unwrap_err()
            .0
            .contains("`reasoning`"));
    }

    #[test]
    fn usage_maps_counts_and_defaults_missing_ones() {
        let u: ChatUsage = serde_json::from_str(
            r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
            "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(u.to_usage(), Usage::new(10, 4, 5, 2, 15));
        let u: ChatUsage = serde_json::from_str(
            r#"{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":null}"#,
        )
        .unwrap();
        assert_eq!(u.to_usage(), Usage::new(3, 0, 4, 0, 7));
    }

    #[test]
    fn in_band_errors_carry_the_upstream_message() {
        let raw: &RawValue =
            serde_json::from_str(r#"{"code":400,"message":"Token limit"}"#).unwrap();
        assert_eq!(in_band_error(raw).0, "upstream stream error: Token limit");
        let raw: &RawValue = serde_json::from_str(r#""broken""#).unwrap();
        assert_eq!(in_band_error(raw).0, "upstream stream error");
    }
}
