//! OpenAI chat-completions request → Cohere `POST /v2/chat` request.
//!
//! Cohere v2 messages are close to OpenAI's (roles system/user/assistant/tool,
//! `tool_calls` with string `arguments`, `tool_call_id`), so messages map one
//! to one. The body is parsed once into the shared [`openai`] types,
//! borrowing strings (`Cow<str>`) and passing client JSON that needs no
//! change (`function` of a tool, sampling numbers) through as `&RawValue`.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use super::{RequestInfo, TranslateError};
use crate::schema::openai::{self, Deferred, Role};

/// Top-level request fields this module reads; anything else is dropped
/// (logged at debug level).
const HANDLED_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "reasoning_effort",
    "n",
];

// ---- Cohere side (output) ----

#[derive(Serialize)]
struct CohereChatRequest<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_plan: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

impl Content<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Content::Text(t) => t.is_empty(),
            Content::Parts(p) => p.is_empty(),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: ImageUrl<'a> },
}

/// OpenAI's `image_url` shape, which Cohere takes as is.
#[derive(Serialize)]
struct ImageUrl<'a> {
    url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: Cow<'a, str>,
    arguments: Cow<'a, str>,
}

/// Cohere v2 takes OpenAI's function tool shape as is.
#[derive(Serialize)]
struct Tool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: &'a RawValue,
}

#[derive(Serialize)]
struct ResponseFormat<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    json_schema: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn invalid(what: &str, e: serde_json::Error) -> TranslateError {
    TranslateError::BadRequest(format!("invalid {what}: {e}"))
}

/// Translates an OpenAI chat-completions request body into a Cohere
/// `POST /v2/chat` body for upstream model `model`, appended to `out`.
///
/// Fails with [`TranslateError::BadRequest`] when the body is not a chat
/// request, has no messages, or uses something Cohere cannot express (unknown
/// content part or tool type, a named-function `tool_choice`, a
/// `response_format` other than text/json_object/json_schema). `out` is
/// unchanged on failure.
pub fn translate_request(
    openai_body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<RequestInfo, TranslateError> {
    // Tool functions are forwarded as sent.
    let mut req: openai::ChatRequest<'_, &RawValue> =
        serde_json::from_slice(openai_body).map_err(|e| invalid("chat request", e))?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "chat", "cohere");
    req.single_choice("cohere")?;

    let chat_messages = req.take_messages()?;
    let messages = chat_messages
        .into_iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;

    let tools = req
        .tools
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(tool)
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = tool_choice(req.tool_choice, !tools.is_empty())?;

    let body = CohereChatRequest {
        model,
        messages,
        tools,
        tool_choice,
        stream: req.is_stream(),
        max_tokens: req.max_output_tokens(),
        temperature: req.temperature,
        p: req.top_p,
        stop_sequences: req.stop_sequences()?,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        response_format: req
            .response_format
            .map(Deferred::get)
            .transpose()
            .map_err(|e| invalid("chat request", e))?
            .map(response_format)
            .transpose()?,
        thinking: thinking(req.reasoning_effort.as_deref())?,
    };
    openai::write_request_body(&body, out)?;
    Ok(RequestInfo {
        stream: body.stream,
        include_usage: req.include_usage(),
    })
}

fn message(msg: openai::Message<'_>) -> Result<Message<'_>, TranslateError> {
    let mut out = Message {
        role: "user",
        content: None,
        tool_plan: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    let reasoning_content = msg
        .reasoning_content
        .map(Deferred::get)
        .transpose()
        .map_err(|e| invalid("chat request", e))?;
    match msg.role {
        Role::System | Role::Developer => {
            out.role = "system";
            out.content = content(msg.content, true)?;
        }
        Role::User => out.content = content(msg.content, false)?,
        Role::Assistant => {
            out.role = "assistant";
            // An assistant turn that only calls tools has content null or "";
            // Cohere rejects empty content, and it carries nothing anyway.
            out.content = content(msg.content, true)?.filter(|c| !c.is_empty());
            out.tool_calls = msg
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .map(tool_call)
                .collect();
            if !out.tool_calls.is_empty() {
                out.tool_plan = reasoning_content.filter(|p| !p.is_empty());
            }
        }
        Role::Tool => {
            out.role = "tool";
            out.tool_call_id = Some(
                msg.tool_call_id
                    .ok_or_else(|| bad_request("tool message without 'tool_call_id'"))?,
            );
            out.content = Some(content(msg.content, true)?.unwrap_or(Content::Text("".into())));
        }
    }
    Ok(out)
}

/// An OpenAI `content` (string, parts or null) as Cohere content.
/// `text_only`: system, assistant and tool messages take no images.
fn content(
    content: Option<&RawValue>,
    text_only: bool,
) -> Result<Option<Content<'_>>, TranslateError> {
    Ok(match openai::Content::decode(content)? {
        None => None,
        Some(openai::Content::Text(text)) => Some(Content::Text(text)),
        Some(openai::Content::Parts(parts)) => Some(Content::Parts(
            parts
                .into_iter()
                .map(|p| part(p, text_only))
                .collect::<Result<Vec<_>, _>>()?,
        )),
    })
}

fn part(part: openai::ContentPart<'_>, text_only: bool) -> Result<Part<'_>, TranslateError> {
    match part.kind.as_ref() {
        "text" => Ok(Part::Text {
            text: part.into_text()?,
        }),
        "image_url" if !text_only => {
            let image_url = part.into_image_url()?;
            Ok(Part::ImageUrl {
                image_url: ImageUrl {
                    url: image_url.url,
                    detail: image_url
                        .detail
                        .map(Deferred::get)
                        .transpose()
                        .map_err(|e| invalid("content parts", e))?,
                },
            })
        }
        other => Err(bad_request(format!(
            "content part type '{other}' is not supported {}for cohere models",
            if text_only {
                "in system, assistant or tool messages "
            } else {
                ""
            }
        ))),
    }
}

/// Cohere takes `arguments` as JSON text, as OpenAI does.
fn tool_call(call: openai::ToolCall<'_>) -> ToolCall<'_> {
    ToolCall {
        id: call.id,
        kind: "function",
        function: FunctionCall {
            name: call.function.name,
            arguments: openai::arguments_or_empty_object(call.function.arguments),
        },
    }
}

fn tool<'a>(t: openai::Tool<'a, &'a RawValue>) -> Result<Tool<'a>, TranslateError> {
    Ok(Tool {
        kind: "function",
        function: t.into_function("cohere")?,
    })
}

/// OpenAI `tool_choice` → Cohere's: `"auto"` is Cohere's default (omitted),
/// `"required"` → `"REQUIRED"`, `"none"` → `"NONE"`. Cohere cannot force a
/// named function.
fn tool_choice(
    raw: Option<&RawValue>,
    have_tools: bool,
) -> Result<Option<&'static str>, TranslateError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if !have_tools {
        tracing::debug!("dropping tool_choice: no tools in request");
        return Ok(None);
    }
    let obj = match openai::ToolChoice::decode(raw)? {
        openai::ToolChoice::Mode(mode) => {
            return match mode.as_ref() {
                "auto" => Ok(None),
                "required" => Ok(Some("REQUIRED")),
                "none" => Ok(Some("NONE")),
                other => Err(bad_request(format!("unknown tool_choice '{other}'"))),
            }
        }
        openai::ToolChoice::Object(obj) => obj,
    };
    Err(bad_request(format!(
        "tool_choice type '{}' is not supported for cohere models: Cohere cannot force a \
         named function; use \"required\" with only that tool in 'tools'",
        obj.kind
    )))
}

/// `json_object` as is; `json_schema` becomes `json_object` with the schema
/// (<https://docs.cohere.com/docs/structured-outputs>).
fn response_format(f: openai::ResponseFormat<'_>) -> Result<ResponseFormat<'_>, TranslateError> {
    match f.kind.as_ref() {
        "text" => Ok(ResponseFormat {
            kind: "text",
            json_schema: None,
        }),
        "json_object" => Ok(ResponseFormat {
            kind: "json_object",
            json_schema: None,
        }),
        "json_schema" => Ok(ResponseFormat {
            kind: "json_object",
            json_schema: Some(
                f.json_schema
                    .and_then(|s| s.schema)
                    .ok_or_else(|| bad_request("response_format json_schema without 'schema'"))?,
            ),
        }),
        other => Err(bad_request(format!(
            "response_format type '{other}' is not supported for cohere models"
        ))),
    }
}

/// Cohere's reasoning models take `thinking: {type: enabled|disabled}`; there
/// is no effort level, so any effort enables thinking and `"none"` disables it.
fn thinking(effort: Option<&str>) -> Result<Option<Thinking>, TranslateError> {
    let kind = match effort {
        None => return Ok(None),
        Some("none") => "disabled",
        Some("minimal" | "low" | "medium" | "high") => "enabled",
        Some(other) => {
            return Err(bad_request(format!(
                "unknown reasoning_effort '{other}' (expected none, minimal, low, medium or high)"
            )))
        }
    };
    Ok(Some(Thinking { kind }))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
