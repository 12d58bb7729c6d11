//! The OpenAI dialect as the provider translations read and write it: chat
//! completion and embeddings requests, typed and borrowed from the request
//! buffer, and the chat completion (whole or as a stream of chunks) they
//! answer with.
//!
//! One set of types serves every `openai → <provider>` translation, so it
//! accepts the union of what they accept: unknown fields are ignored, strings
//! are `Cow<str>` (borrowed unless the JSON escapes them), and values passed
//! on unchanged stay `&RawValue`. A field that only some providers read is a
//! [`Deferred`] value, typed when read: a provider that ignores `n` must not
//! reject `"n": "2"`. Tool definitions, which every provider reads but Cohere
//! forwards as sent, are a type parameter instead, so the others parse them
//! in the same pass. Shapes that one field may take (`content`, `stop`,
//! `tool_choice`) are kept raw and decoded by the helpers here, which is also
//! where the client-facing messages for malformed values live.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

mod response;
pub use response::*;

/// Why a request body cannot be read; the text is for the client (a 400).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRequest(pub String);

impl InvalidRequest {
    /// `invalid <what>: <serde error>`.
    pub fn json(what: &str, e: serde_json::Error) -> Self {
        InvalidRequest(format!("invalid {what}: {e}"))
    }
}

/// A JSON value kept as its text and deserialised into `T` only when read.
pub struct Deferred<'a, T> {
    raw: &'a RawValue,
    _type: PhantomData<fn() -> T>,
}

impl<'a, T: Deserialize<'a>> Deferred<'a, T> {
    /// The value as `T`; fails if it is another JSON type or shape.
    pub fn get(self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.raw.get())
    }
}

// By hand: derives would ask `T: Clone`.
impl<T> Clone for Deferred<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Deferred<'_, T> {}

impl<T> fmt::Debug for Deferred<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Deferred").field(&self.raw.get()).finish()
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Deferred<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Deferred {
            raw,
            _type: PhantomData,
        })
    }
}

/// A JSON string, borrowed from `raw` unless it has escapes.
/// `serde_json::from_str::<Cow<str>>` would always copy: serde's `Cow` impl
/// borrows only for a field marked `#[serde(borrow)]`.
pub fn string(raw: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Str<'a>(#[serde(borrow)] Cow<'a, str>);
    serde_json::from_str::<Str<'_>>(raw.get()).map(|s| s.0)
}

/// Logs (at debug level) each top-level field of `body` that is not in
/// `handled`, i.e. what a translation to `provider` drops. `what` names the
/// request kind (`chat`, `embeddings`).
pub fn log_dropped_fields(body: &[u8], handled: &[&str], what: &str, provider: &str) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    if let Ok(map) =
        serde_json::from_slice::<std::collections::BTreeMap<Cow<'_, str>, IgnoredAny>>(body)
    {
        for key in map.keys().filter(|k| !handled.contains(&k.as_ref())) {
            tracing::debug!(field = %key, "dropping {what} field {provider} does not take");
        }
    }
}

// ---- chat completions ----

/// `POST /v1/chat/completions` (<https://platform.openai.com/docs/api-reference/chat/create>).
///
/// `F` is how each tool's `function` is read: as a [`Function`], or as sent
/// (`&RawValue`) by a provider that forwards OpenAI's shape as is (Cohere)
/// and so must not reject what it does not parse.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "F: Deserialize<'de>"))]
pub struct ChatRequest<'a, F = Function<'a>> {
    #[serde(borrow, default)]
    pub messages: Option<Vec<Message<'a>>>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(borrow, default)]
    pub temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub top_p: Option<&'a RawValue>,
    /// A string or an array of strings: see [`ChatRequest::stop_sequences`].
    #[serde(borrow, default)]
    pub stop: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub n: Option<Deferred<'a, u32>>,
    #[serde(borrow, default)]
    pub seed: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub presence_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub frequency_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_format: Option<Deferred<'a, ResponseFormat<'a>>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(borrow, default)]
    pub user: Option<Deferred<'a, Cow<'a, str>>>,
    #[serde(borrow, default)]
    pub tools: Option<Vec<Tool<'a, F>>>,
    /// A mode string or an object: see [`ToolChoice::decode`].
    #[serde(borrow, default)]
    pub tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub parallel_tool_calls: Option<Deferred<'a, bool>>,
    #[serde(borrow, default)]
    pub reasoning_effort: Option<Cow<'a, str>>,
    /// Anthropic's own `thinking` object, which clients send through this API.
    #[serde(borrow, default)]
    pub thinking: Option<&'a RawValue>,
}

impl<'a, F> ChatRequest<'a, F> {
    /// Refuses `n` other than 1: the translated providers return one choice,
    /// and answering `n: 2` with one would be a silent surprise.
    pub fn single_choice(&self, provider: &str) -> Result<(), InvalidRequest> {
        match self.n.map(Deferred::get).transpose() {
            Ok(None | Some(1)) => Ok(()),
            Ok(Some(n)) => Err(InvalidRequest(format!(
                "n={n} is not supported for {provider} models (only n=1)"
            ))),
            Err(e) => Err(InvalidRequest::json("chat request", e)),
        }
    }

    /// The messages; fails when there are none.
    pub fn take_messages(&mut self) -> Result<Vec<Message<'a>>, InvalidRequest> {
        match self.messages.take() {
            Some(messages) if !messages.is_empty() => Ok(messages),
            _ => Err(InvalidRequest(
                "'messages' must be a non-empty array of chat messages".to_owned(),
            )),
        }
    }

    /// `max_completion_tokens`, else the older `max_tokens`.
    pub fn max_output_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// `stream: true`.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// `stream_options.include_usage: true`.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// `stop` as a list: one string, or each string of an array.
    pub fn stop_sequences(&self) -> Result<Vec<Cow<'a, str>>, InvalidRequest> {
        let Some(raw) = self.stop else {
            return Ok(Vec::new());
        };
        let invalid = |e| InvalidRequest::json("stop", e);
        if raw.get().starts_with('"') {
            Ok(vec![string(raw).map_err(invalid)?])
        } else {
            serde_json::from_str(raw.get()).map_err(invalid)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ResponseFormat<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub json_schema: Option<JsonSchemaFormat<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct JsonSchemaFormat<'a> {
    #[serde(borrow, default)]
    pub schema: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Deserialize)]
pub struct Message<'a> {
    pub role: Role,
    /// A string, an array of parts, or null: see [`Content::decode`].
    #[serde(borrow, default)]
    pub content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
    #[serde(borrow, default)]
    pub tool_call_id: Option<Cow<'a, str>>,
    /// Not OpenAI's: what a gateway like this one returned as
    /// `reasoning_content` for an earlier turn.
    #[serde(borrow, default)]
    pub reasoning_content: Option<Deferred<'a, Cow<'a, str>>>,
}

/// A message's `content` once decoded.
#[derive(Debug)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<ContentPart<'a>>),
}

impl<'a> Content<'a> {
    /// Decodes a message's `content`: `None` when it is absent or null.
    pub fn decode(raw: Option<&'a RawValue>) -> Result<Option<Self>, InvalidRequest> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        match raw.get().as_bytes().first() {
            Some(b'"') => string(raw)
                .map(|text| Some(Content::Text(text)))
                .map_err(|e| InvalidRequest::json("content", e)),
            Some(b'[') => serde_json::from_str(raw.get())
                .map(|parts| Some(Content::Parts(parts)))
                .map_err(|e| InvalidRequest::json("content parts", e)),
            Some(b'n') => Ok(None),
            _ => Err(InvalidRequest(
                "'content' must be a string, an array or null".to_owned(),
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ContentPart<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub image_url: Option<ImageUrl<'a>>,
    /// Anthropic's prompt-caching marker, which clients send through this API.
    #[serde(borrow, default)]
    pub cache_control: Option<&'a RawValue>,
}

impl<'a> ContentPart<'a> {
    /// The `text` of a `"type": "text"` part; fails when it has none.
    pub fn into_text(self) -> Result<Cow<'a, str>, InvalidRequest> {
        self.text
            .ok_or_else(|| InvalidRequest("text content part without 'text'".to_owned()))
    }

    /// The `image_url` of a `"type": "image_url"` part; fails when it has none.
    pub fn into_image_url(self) -> Result<ImageUrl<'a>, InvalidRequest> {
        self.image_url
            .ok_or_else(|| InvalidRequest("image_url content part without 'image_url'".to_owned()))
    }
}

#[derive(Debug, Deserialize)]
pub struct ImageUrl<'a> {
    /// An http(s) URL or a `data:<mime>;base64,<data>` URL: see [`data_url`].
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    /// `auto`, `low` or `high`.
    #[serde(borrow, default)]
    pub detail: Option<Deferred<'a, Cow<'a, str>>>,
}

/// The parts of a `data:<mime>;base64,<data>` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct DataUrl<'a> {
    pub mime: Cow<'a, str>,
    /// Base64 text.
    pub data: Cow<'a, str>,
}

/// Splits a `data:<mime>;base64,<data>` URL, borrowing from `url` when it
/// is borrowed; `None` for any other URL.
pub fn data_url(url: Cow<'_, str>) -> Option<DataUrl<'_>> {
    const SCHEME: &str = "data:";
    const BASE64: &str = ";base64,";
    let mime_end = SCHEME.len() + url.strip_prefix(SCHEME)?.find(BASE64)?;
    let (mime, data) = (SCHEME.len()..mime_end, mime_end + BASE64.len()..);
    Some(match url {
        Cow::Borrowed(s) => DataUrl {
            mime: Cow::Borrowed(&s[mime]),
            data: Cow::Borrowed(&s[data]),
        },
        Cow::Owned(s) => DataUrl {
            mime: Cow::Owned(s[mime].to_owned()),
            data: Cow::Owned(s[data].to_owned()),
        },
    })
}

/// An assistant message's tool call.
#[derive(Debug, Deserialize)]
pub struct ToolCall<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub function: FunctionCall<'a>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// JSON text inside a JSON string.
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

/// A tool call's `arguments`, with missing or blank ones as `{}`: models
/// often call parameterless tools with `""`, and providers parse the
/// arguments as JSON.
pub fn arguments_or_empty_object(arguments: Option<Cow<'_, str>>) -> Cow<'_, str> {
    let arguments = arguments.unwrap_or_default();
    if arguments.trim().is_empty() {
        Cow::Borrowed("{}")
    } else {
        arguments
    }
}

/// A tool call's `arguments` as a JSON object, for providers that take tool
/// input as JSON rather than text; `call_id` names the call in errors.
pub fn arguments_object(
    arguments: Option<Cow<'_, str>>,
    call_id: &str,
) -> Result<Box<RawValue>, InvalidRequest> {
    let input =
        RawValue::from_string(arguments_or_empty_object(arguments).into_owned()).map_err(|e| {
            InvalidRequest(format!(
                "tool call '{call_id}' arguments are not valid JSON: {e}"
            ))
        })?;
    // `from_string` trims surrounding white space, so the first byte tells.
    if !input.get().starts_with('{') {
        return Err(InvalidRequest(format!(
            "tool call '{call_id}' arguments must be a JSON object"
        )));
    }
    Ok(input)
}

/// An entry of `tools`; `F` as in [`ChatRequest`].
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "F: Deserialize<'de>"))]
pub struct Tool<'a, F = Function<'a>> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(default)]
    pub function: Option<F>,
}

impl<F> Tool<'_, F> {
    /// The `function` of a function tool; fails for other tool types, which
    /// `provider` does not take, or when it is missing.
    pub fn into_function(self, provider: &str) -> Result<F, InvalidRequest> {
        if self.kind != "function" {
            return Err(InvalidRequest(format!(
                "tool type '{}' is not supported for {provider} models",
                self.kind
            )));
        }
        self.function
            .ok_or_else(|| InvalidRequest("function tool without 'function'".to_owned()))
    }
}

/// A function tool's definition.
#[derive(Debug, Deserialize)]
pub struct Function<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub description: Option<Cow<'a, str>>,
    /// A JSON Schema object.
    #[serde(borrow, default)]
    pub parameters: Option<&'a RawValue>,
}

/// `tool_choice` once decoded.
#[derive(Debug)]
pub enum ToolChoice<'a> {
    /// `"auto"`, `"none"`, `"required"`, or a string the caller rejects.
    Mode(Cow<'a, str>),
    /// `{"type": "function", "function": {"name": …}}` or another type.
    Object(ToolChoiceObject<'a>),
}

impl<'a> ToolChoice<'a> {
    /// Decodes a `tool_choice`: a string or an object with a `type`.
    pub fn decode(raw: &'a RawValue) -> Result<Self, InvalidRequest> {
        let choice = if raw.get().starts_with('"') {
            string(raw).map(ToolChoice::Mode)
        } else {
            serde_json::from_str(raw.get()).map(ToolChoice::Object)
        };
        choice.map_err(|e| InvalidRequest::json("tool_choice", e))
    }
}

#[derive(Debug, Deserialize)]
pub struct ToolChoiceObject<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    /// Deferred: Cohere refuses every object without reading it.
    #[serde(borrow, default)]
    pub function: Option<Deferred<'a, NamedFunction<'a>>>,
}

impl<'a> ToolChoiceObject<'a> {
    /// The name of the function it forces, if it names one.
    pub fn function_name(&self) -> Result<Option<Cow<'a, str>>, InvalidRequest> {
        self.function
            .map(|f| f.get().map(|f| f.name))
            .transpose()
            .map_err(|e| InvalidRequest::json("tool_choice", e))
    }
}

#[derive(Debug, Deserialize)]
pub struct NamedFunction<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
}

/// The thinking-token budget `reasoning_effort` asks for, from a provider's
/// budgets for `[low, medium, high]`; none for `none`, `minimal` or no
/// effort.
pub fn reasoning_budget(
    effort: Option<&str>,
    [low, medium, high]: [u32; 3],
) -> Result<Option<u32>, InvalidRequest> {
    match effort {
        None | Some("none" | "minimal") => Ok(None),
        Some("low") => Ok(Some(low)),
        Some("medium") => Ok(Some(medium)),
        Some("high") => Ok(Some(high)),
        Some(other) => Err(InvalidRequest(format!(
            "unknown reasoning_effort '{other}' (expected low, medium or high)"
        ))),
    }
}

// ---- embeddings ----

/// `POST /v1/embeddings` (<https://platform.openai.com/docs/api-reference/embeddings/create>).
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest<'a> {
    /// A string, an array of strings, or token arrays (which no translated
    /// provider takes). `None` when absent; `null` is kept, as Gemini calls
    /// it a wrong type and Cohere a missing input.
    #[serde(borrow, default, deserialize_with = "keep_null")]
    pub input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub encoding_format: Option<Cow<'a, str>>,
    #[serde(default)]
    pub dimensions: Option<u32>,
    /// Not OpenAI's: Cohere's `input_type`, which clients send through this API.
    #[serde(borrow, default)]
    pub input_type: Option<Deferred<'a, Cow<'a, str>>>,
}

/// A present value, `null` included, as `Some`.
fn keep_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

impl EmbeddingsRequest<'_> {
    /// `encoding_format: "base64"`; `float` or none is `false`.
    pub fn base64(&self) -> Result<bool, InvalidRequest> {
        match self.encoding_format.as_deref() {
            None | Some("float") => Ok(false),
            Some("base64") => Ok(true),
            Some(other) => Err(InvalidRequest(format!(
                "unknown encoding_format '{other}' (expected float or base64)"
            ))),
        }
    }
}

// ---- upstream request bodies ----

/// Appends `body` (a translated upstream request) as JSON; `out` is left as
/// it was on failure.
pub fn write_request_body(body: &impl Serialize, out: &mut Vec<u8>) -> Result<(), InvalidRequest> {
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, body) {
        out.truncate(mark);
        return Err(InvalidRequest(format!("cannot encode request: {e}")));
    }
    Ok(())
}

// ---- errors ----

/// Appends an OpenAI error body, `{"error":{"message","type","param":null,"code"}}`.
pub fn write_error(message: &str, kind: &str, code: &str, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct Envelope<'a> {
        error: Body<'a>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        message: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        param: Option<()>,
        code: &'a str,
    }
    let body = Envelope {
        error: Body {
            message,
            kind,
            param: None,
            code,
        },
    };
    // Serialising plain strings into a Vec cannot fail.
    if let Err(e) = serde_json::to_writer(&mut *out, &body) {
        tracing::error!(error = %e, "writing error body");
    }
}

/// The same error as the final SSE event of a broken stream: `data: {…}\n\n`.
pub fn write_error_event(message: &str, kind: &str, code: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    write_error(message, kind, code, out);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_fields_accept_any_json_until_read() {
        let req: ChatRequest<'_> =
            serde_json::from_str(r#"{"n":"2","user":5,"parallel_tool_calls":{}}"#).unwrap();
        assert!(req.n.unwrap().get().is_err());
        assert!(req.user.unwrap().get().is_err());
        assert!(req.parallel_tool_calls.unwrap().get().is_err());
        let req: ChatRequest<'_> = serde_json::from_str(r#"{"n":2,"user":"u"}"#).unwrap();
        assert_eq!(req.n.unwrap().get().unwrap(), 2);
        assert_eq!(req.user.unwrap().get().unwrap(), "u");
    }

    #[test]
    fn null_fields_are_absent() {
        let req: ChatRequest<'_> =
            serde_json::from_str(r#"{"stop":null,"n":null,"tool_choice":null}"#).unwrap();
        assert!(req.stop.is_none() && req.n.is_none() && req.tool_choice.is_none());
        assert!(req.stop_sequences().unwrap().is_empty());
    }

    #[test]
    fn content_decodes_string_parts_and_null() {
        let msg: Message<'_> = serde_json::from_str(r#"{"role":"user","content":"hi"}"#).unwrap();
        assert!(matches!(
            Content::decode(msg.content).unwrap(),
            Some(Content::Text(t)) if t == "hi"
        ));
        let msg: Message<'_> =
            serde_json::from_str(r#"{"role":"user","content":[{"type":"text","text":"a"}]}"#)
                .unwrap();
        assert!(matches!(
            Content::decode(msg.content).unwrap(),
            Some(Content::Parts(p)) if p.len() == 1
        ));
        let msg: Message<'_> = serde_json::from_str(r#"{"role":"user","content":5}"#).unwrap();
        assert_eq!(
            Content::decode(msg.content).unwrap_err().0,
            "'content' must be a string, an array or null"
        );
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let raw: &RawValue = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(string(raw).unwrap(), Cow::Borrowed("plain")));
        let raw: &RawValue = serde_json::from_str(r#""a\nb""#).unwrap();
        assert!(matches!(string(raw).unwrap(), Cow::Owned(s) if s == "a\nb"));
        let raw: &RawValue = serde_json::from_str("5").unwrap();
        assert_eq!(
            string(raw).unwrap_err().to_string(),
            "invalid type: integer `5`, expected a string at line 1 column 1"
        );
    }

    #[test]
    fn data_url_splits_borrowed_and_owned() {
        let want = DataUrl {
            mime: Cow::Borrowed("image/png"),
            data: Cow::Borrowed("AAAA"),
        };
        assert_eq!(
            data_url(Cow::Borrowed("data:image/png;base64,AAAA")),
            Some(want)
        );
        let owned = data_url(Cow::Owned("data:image/png;base64,AAAA".to_owned())).unwrap();
        assert_eq!(
            (owned.mime.as_ref(), owned.data.as_ref()),
            ("image/png", "AAAA")
        );
        assert_eq!(data_url(Cow::Borrowed("https://x/y.png")), None);
        assert_eq!(data_url(Cow::Borrowed("data:image/png,AAAA")), None);
    }

    #[test]
    fn arguments_become_an_object_or_fail_naming_the_call() {
        assert_eq!(arguments_object(None, "c").unwrap().get(), "{}");
        assert_eq!(
            arguments_object(Some(" \n".into()), "c").unwrap().get(),
            "{}"
        );
        assert_eq!(
            arguments_object(Some(r#" {"a":1} "#.into()), "c")
                .unwrap()
                .get(),
            r#"{"a":1}"#
        );
        assert!(arguments_object(Some("[1]".into()), "c")
            .unwrap_err()
            .0
            .contains("tool call 'c' arguments must be a JSON object"));
        assert!(arguments_object(Some("{".into()), "c")
            .unwrap_err()
            .0
            .contains("not valid JSON"));
    }

    #[test]
    fn tool_choice_decodes_modes_and_objects() {
        let raw: &RawValue = serde_json::from_str(r#""required""#).unwrap();
        assert!(matches!(ToolChoice::decode(raw).unwrap(), ToolChoice::Mode(m) if m == "required"));
        let raw: &RawValue =
            serde_json::from_str(r#"{"type":"function","function":{"name":"f"}}"#).unwrap();
        let ToolChoice::Object(obj) = ToolChoice::decode(raw).unwrap() else {
            panic!("expected an object");
        };
        assert_eq!(obj.kind, "function");
        assert_eq!(obj.function_name().unwrap().as_deref(), Some("f"));
    }
}
