//! The Anthropic Messages request as read: borrowing types (`Cow<str>`,
//! `&RawValue`) and the reading helpers shared by the conversion and the
//! token estimate. Every failure names the offending field by its path,
//! dotted the way Anthropic's own errors are (`messages.2.content.0.source: …`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::inbound::Invalid;

/// `POST /v1/messages` (<https://docs.anthropic.com/en/api/messages>),
/// with the fields the conversion reads; others (`cache_control`, `top_k`,
/// `service_tier`, …) are ignored, as `to_chat`'s doc lists.
#[derive(Deserialize)]
pub(super) struct Request<'a> {
    #[serde(borrow, default)]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) max_tokens: Option<u64>,
    #[serde(borrow, default)]
    pub(super) messages: Option<Vec<InMessage<'a>>>,
    /// A string or an array of text blocks.
    #[serde(borrow, default)]
    pub(super) system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    pub(super) stream: Option<bool>,
    #[serde(default)]
    pub(super) temperature: Option<f64>,
    #[serde(default)]
    pub(super) top_p: Option<f64>,
    #[serde(borrow, default)]
    pub(super) metadata: Option<Metadata<'a>>,
    /// Each read as a custom tool at its own path.
    #[serde(borrow, default)]
    pub(super) tools: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    pub(super) tool_choice: Option<InToolChoice<'a>>,
    #[serde(borrow, default)]
    pub(super) thinking: Option<InThinking<'a>>,
    #[serde(borrow, default)]
    pub(super) output_config: Option<OutputConfig<'a>>,
    /// The structured-outputs beta's name for `output_config.format`.
    #[serde(borrow, default)]
    pub(super) output_format: Option<OutputFormat<'a>>,
    #[serde(default)]
    pub(super) mcp_servers: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(borrow, default)]
    pub(super) container: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct InMessage<'a> {
    #[serde(borrow, default)]
    pub(super) role: Option<Cow<'a, str>>,
    /// A string or an array of content blocks: see [`Content::read`].
    #[serde(borrow, default)]
    pub(super) content: Option<&'a RawValue>,
}

/// Every content block type's fields in one flat struct (serde's tagged
/// enums cannot borrow `&RawValue`); each type reads its own.
#[derive(Deserialize)]
pub(super) struct Block<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) source: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) tool_use_id: Option<Cow<'a, str>>,
    /// A `tool_result`'s: absent, a string, or an array of blocks.
    #[serde(borrow, default)]
    pub(super) content: Option<&'a RawValue>,
    #[serde(default)]
    pub(super) is_error: Option<bool>,
}

impl<'a> Block<'a> {
    pub(super) fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or_default()
    }
}

#[derive(Deserialize)]
pub(super) struct ImageSource<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) media_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Metadata<'a> {
    #[serde(borrow, default)]
    pub(super) user_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct InTool<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) description: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) input_schema: Option<&'a RawValue>,
    #[serde(default)]
    pub(super) strict: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct InToolChoice<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct InThinking<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) budget_tokens: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct OutputConfig<'a> {
    #[serde(borrow, default)]
    pub(super) effort: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) format: Option<OutputFormat<'a>>,
}

#[derive(Deserialize)]
pub(super) struct OutputFormat<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) schema: Option<&'a RawValue>,
}

/// A JSON string, borrowed unless escaped (serde borrows a `Cow` only
/// behind `#[serde(borrow)]`).
#[derive(Deserialize)]
pub(super) struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// A message's or tool result's `content`.
pub(super) enum Content<'a> {
    Text(Cow<'a, str>),
    /// Each block with its path, read by [`Block`] when used.
    Blocks(Vec<(&'a RawValue, String)>),
}

impl<'a> Content<'a> {
    /// Reads a required `content` at `at`: a string or an array.
    pub(super) fn read(raw: Option<&'a RawValue>, at: &str) -> Result<Self, Invalid> {
        let raw = raw.ok_or_else(|| required(at))?;
        match raw.get().as_bytes().first() {
            Some(b'"') => {
                let text: Str<'_> = parse_at(raw.get().as_bytes(), at)?;
                Ok(Content::Text(text.0))
            }
            Some(b'[') => {
                let blocks: Vec<&RawValue> = parse_at(raw.get().as_bytes(), at)?;
                Ok(Content::Blocks(
                    blocks
                        .into_iter()
                        .enumerate()
                        .map(|(j, b)| (b, format!("{at}.{j}")))
                        .collect(),
                ))
            }
            _ => Err(Invalid(format!(
                "{at}: Input should be a valid string or a list of content blocks"
            ))),
        }
    }
}

/// [`parse_at`] for a struct, which must be a JSON object: serde would
/// also fill a struct from an array, by position.
pub(super) fn object_at<'a, T: Deserialize<'a>>(json: &'a [u8], at: &str) -> Result<T, Invalid> {
    if json.trim_ascii_start().first() == Some(&b'{') {
        return parse_at(json, at);
    }
    Err(if at.is_empty() {
        Invalid(
            "the request body is not a valid Messages request: expected a JSON object".to_owned(),
        )
    } else {
        Invalid(format!("{at}: Input should be an object"))
    })
}

/// Parses `json` as `T`; a failure names where, as `<at>.<path inside>:
/// <what is wrong>` (Anthropic's own error style).
pub(super) fn parse_at<'a, T: Deserialize<'a>>(json: &'a [u8], at: &str) -> Result<T, Invalid> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut path = at.to_owned();
        for segment in e.path().iter() {
            use serde_path_to_error::Segment;
            let name = match segment {
                Segment::Seq { index } => index.to_string(),
                Segment::Map { key } => key.clone(),
                Segment::Enum { variant } => variant.clone(),
                // Where a key could not be read: the object around it is named.
                Segment::Unknown => continue,
            };
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&name);
        }
        located(&path, e.inner())
    })?;
    de.end().map_err(|e| located(at, &e))?;
    Ok(value)
}

/// `<path>: <serde's message without its line and column>`; a body that is
/// not JSON at all is said so.
fn located(path: &str, e: &serde_json::Error) -> Invalid {
    let text = e.to_string();
    let text = text.rfind(" at line ").map_or(&*text, |cut| &text[..cut]);
    if path.is_empty() {
        Invalid(format!(
            "the request body is not a valid Messages request: {text}"
        ))
    } else {
        Invalid(format!("{path}: {text}"))
    }
}

/// Anthropic's message for a missing field.
pub(super) fn required(path: &str) -> Invalid {
    Invalid(format!("{path}: Field required"))
}
