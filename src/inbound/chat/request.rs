//! The hub request: an OpenAI chat completions body as every dialect's
//! `to_chat` writes it, borrowing from the client's body wherever the text
//! passes unchanged. It holds what any dialect sets; a field the client's
//! request did not set is left out of the JSON.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::inbound::Invalid;

/// A chat completions request. Build it with [`ChatRequest::new`] and
/// struct update syntax for the fields the dialect has.
#[derive(Default, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub(crate) model: Cow<'a, str>,
    pub(crate) messages: Vec<Message<'a>>,
    /// The name every chat server knows; the chat leg renames it
    /// `max_completion_tokens` where a provider requires that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) temperature: Option<Number<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) top_p: Option<Number<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) stop: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frequency_penalty: Option<Number<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) presence_penalty: Option<Number<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<Cow<'a, str>>,
}

impl<'a> ChatRequest<'a> {
    /// A request for `model` with `messages`; a stream asks for usage in
    /// its last chunk, which every dialect's stream reports at its end.
    pub(crate) fn new(model: Cow<'a, str>, messages: Vec<Message<'a>>, stream: bool) -> Self {
        ChatRequest {
            model,
            messages,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            ..ChatRequest::default()
        }
    }

    /// Appends the request's JSON to `out`, which is left as it was on failure.
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), Invalid> {
        let mark = out.len();
        serde_json::to_writer(&mut *out, self).map_err(|e| {
            out.truncate(mark);
            Invalid(format!("cannot encode the chat request: {e}"))
        })
    }
}

#[derive(Serialize)]
pub(crate) struct StreamOptions {
    include_usage: bool,
}

/// A sampling number: parsed by the dialect's reader, or passed on as the
/// client wrote it (`1` stays `1`, not `1.0`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub(crate) enum Number<'a> {
    Parsed(f64),
    AsSent(&'a RawValue),
}

#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub(crate) role: &'static str,
    /// Null only for an assistant message made of tool calls.
    pub(crate) content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_call_id: Option<Cow<'a, str>>,
}

impl<'a> Message<'a> {
    pub(crate) fn new(role: &'static str, content: Content<'a>) -> Self {
        Message {
            role,
            content: Some(content),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// An assistant turn: its text, if any, and the tools it called.
    pub(crate) fn assistant(text: Option<Cow<'a, str>>, tool_calls: Vec<ToolCall<'a>>) -> Self {
        Message {
            role: "assistant",
            content: text.map(Content::Text),
            tool_calls,
            tool_call_id: None,
        }
    }

    /// The answer to tool call `call_id`.
    pub(crate) fn tool(call_id: Cow<'a, str>, output: Cow<'a, str>) -> Self {
        Message {
            tool_call_id: Some(call_id),
            ..Message::new("tool", Content::Text(output))
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

impl<'a> Content<'a> {
    /// `parts` as content: a lone text part (or none) as a plain string,
    /// which every chat server reads, else the parts.
    pub(crate) fn from_parts(parts: Vec<Part<'a>>) -> Self {
        match <[_; 1]>::try_from(parts) {
            Ok([Part::Text { text }]) => Content::Text(text),
            Ok(one) => Content::Parts(one.into()),
            Err(parts) if parts.is_empty() => Content::Text(Cow::Borrowed("")),
            Err(parts) => Content::Parts(parts),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: ImageUrl<'a> },
}

impl<'a> Part<'a> {
    /// An image by URL (`data:` or http), at the server's default detail.
    pub(crate) fn image(url: Cow<'a, str>) -> Self {
        Part::ImageUrl {
            image_url: ImageUrl { url, detail: None },
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ImageUrl<'a> {
    pub(crate) url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolCall<'a> {
    pub(crate) id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    pub(crate) function: FunctionCall<'a>,
}

impl<'a> ToolCall<'a> {
    /// A function call; `arguments` is the JSON text of the arguments.
    pub(crate) fn function(id: Cow<'a, str>, name: Cow<'a, str>, arguments: Cow<'a, str>) -> Self {
        ToolCall {
            id,
            kind: "function",
            function: FunctionCall { name, arguments },
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionCall<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) arguments: Cow<'a, str>,
}

#[derive(Serialize)]
pub(crate) struct Tool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    pub(crate) function: Function<'a>,
}

impl<'a> Tool<'a> {
    pub(crate) fn function(function: Function<'a>) -> Self {
        Tool {
            kind: "function",
            function,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Function<'a> {
    pub(crate) name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parameters: Option<Schema<'a>>,
    /// Only when the client set it: chat's default is not strict, as some
    /// providers cannot be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) strict: Option<bool>,
}

/// A JSON Schema.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Schema<'a> {
    /// As the client sent it.
    AsSent(&'a RawValue),
    /// Converted from the dialect's own schema language (Gemini's `Schema`).
    Converted(Value),
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum ToolChoice<'a> {
    /// `auto`, `none` or `required`.
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: NamedFunction<'a>,
    },
}

impl<'a> ToolChoice<'a> {
    /// Call the function `name`.
    pub(crate) fn function(name: Cow<'a, str>) -> Self {
        ToolChoice::Function {
            kind: "function",
            function: NamedFunction { name },
        }
    }
}

#[derive(Serialize)]
pub(crate) struct NamedFunction<'a> {
    name: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: JsonSchema<'a> },
}

#[derive(Serialize)]
pub(crate) struct JsonSchema<'a> {
    pub(crate) name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<Cow<'a, str>>,
    pub(crate) schema: Schema<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) strict: Option<bool>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn written(request: &ChatRequest<'_>) -> serde_json::Value {
        let mut out = Vec::new();
        request.write(&mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn unset_fields_are_left_out_and_a_stream_asks_for_usage() {
        let messages = vec![Message::new("user", Content::Text("hi".into()))];
        assert_eq!(
            written(&ChatRequest::new("m".into(), messages, false)),
            json!({"model":"m","messages":[{"role":"user","content":"hi"}]})
        );
        let streamed = written(&ChatRequest::new("m".into(), Vec::new(), true));
        assert_eq!(streamed["stream"], true);
        assert_eq!(streamed["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn numbers_as_sent_keep_their_spelling() {
        let one: &RawValue = serde_json::from_str("1").unwrap();
        let request = ChatRequest {
            temperature: Some(Number::Parsed(1.0)),
            top_p: Some(Number::AsSent(one)),
            ..ChatRequest::default()
        };
        let mut out = Vec::new();
        request.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""temperature":1.0,"top_p":1"#), "{text}");
    }

    #[test]
    fn a_tool_call_turn_has_null_content_and_tool_answers_name_their_call() {
        let call = ToolCall::function("c1".into(), "f".into(), "{}".into());
        let messages = vec![
            Message::assistant(None, vec![call]),
            Message::tool("c1".into(), "out".into()),
        ];
        assert_eq!(
            written(&ChatRequest::new("m".into(), messages, false))["messages"],
            json!([
                {"role":"assistant","content":null,"tool_calls":[
                    {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","content":"out","tool_call_id":"c1"},
            ])
        );
    }

    #[test]
    fn a_lone_text_part_is_a_string_and_anything_else_stays_parts() {
        let text = |t: &'static str| Part::Text { text: t.into() };
        let json = |c: Content<'_>| serde_json::to_value(c).unwrap();
        assert_eq!(json(Content::from_parts(vec![text("a")])), json!("a"));
        assert_eq!(json(Content::from_parts(Vec::new())), json!(""));
        assert_eq!(
            json(Content::from_parts(vec![Part::image("u".into())])),
            json!([{"type":"image_url","image_url":{"url":"u"}}])
        );
        assert_eq!(
            json(Content::from_parts(vec![text("a"), text("b")])),
            json!([{"type":"text","text":"a"},{"type":"text","text":"b"}])
        );
    }

    #[test]
    fn tool_choice_and_response_format_take_the_chat_shapes() {
        fn json(v: impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).unwrap()
        }
        assert_eq!(json(ToolChoice::Mode("required")), json!("required"));
        assert_eq!(
            json(ToolChoice::function("f".into())),
            json!({"type":"function","function":{"name":"f"}})
        );
        assert_eq!(
            json(ResponseFormat::JsonObject),
            json!({"type":"json_object"})
        );
        let schema: &RawValue = serde_json::from_str(r#"{"type":"object"}"#).unwrap();
        let format = ResponseFormat::JsonSchema {
            json_schema: JsonSchema {
                name: "output".into(),
                description: None,
                schema: Schema::AsSent(schema),
                strict: Some(true),
            },
        };
        assert_eq!(
            json(format),
            json!({"type":"json_schema","json_schema":{"name":"output",
                "schema":{"type":"object"},"strict":true}})
        );
    }
}
