//! OpenAI chat-completions request → Gemini `GenerateContentRequest`.
//!
//! The body is parsed once into the shared [`openai`] types, borrowing
//! strings (`Cow<str>`) and passing client JSON that needs no change
//! (`temperature`, `seed`, tool `parameters` without rejected keys) through
//! as `&RawValue`. The model is not part of the body; it goes in the path
//! ([`super::request_path`]).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{tool_id, RequestInfo, TranslateError};
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
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "reasoning_effort",
];

/// `thinkingConfig.thinkingBudget` per OpenAI `reasoning_effort`.
const BUDGET_LOW_TOKENS: u32 = 1024;
const BUDGET_MEDIUM_TOKENS: u32 = 8192;
const BUDGET_HIGH_TOKENS: u32 = 24576;
const BUDGETS_TOKENS: [u32; 3] = [BUDGET_LOW_TOKENS, BUDGET_MEDIUM_TOKENS, BUDGET_HIGH_TOKENS];

/// JSON-Schema keywords that Gemini's `Schema` (an OpenAPI 3.0 subset,
/// <https://ai.google.dev/api/caching#Schema>) rejects with 400 "Unknown name".
/// OpenAI tools carry them routinely (`additionalProperties: false` is
/// required by OpenAI strict mode; Pydantic and Zod emit `$schema`), so they
/// are removed at every level of `parameters` and `response_format` schemas.
/// Property *names* inside `properties` are never touched.
const REJECTED_SCHEMA_KEYS: &[&str] = &["$schema", "additionalProperties"];

/// MIME type sent for an http(s) image whose extension says nothing.
const DEFAULT_IMAGE_MIME: &str = "image/jpeg";

// ---- Gemini side (output) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[Tools<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    generation_config: GenerationConfig<'a>,
}

#[derive(Serialize)]
struct Content<'a> {
    role: &'static str,
    parts: Vec<Part<'a>>,
}

#[derive(Serialize)]
struct SystemInstruction<'a> {
    parts: Vec<Part<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(flatten)]
    data: PartData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<String>,
}

/// The one field a Gemini `Part` sets (a protobuf `oneof`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
enum PartData<'a> {
    Text(Cow<'a, str>),
    InlineData {
        mime_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    FileData {
        mime_type: Cow<'static, str>,
        file_uri: Cow<'a, str>,
    },
    FunctionCall {
        name: Cow<'a, str>,
        args: Box<RawValue>,
    },
    FunctionResponse {
        name: Cow<'a, str>,
        response: FunctionResult<'a>,
    },
}

impl<'a> From<PartData<'a>> for Part<'a> {
    fn from(data: PartData<'a>) -> Self {
        Part {
            data,
            thought_signature: None,
        }
    }
}

/// `functionResponse.response` must be an object; the tool's output goes in
/// `result`.
#[derive(Serialize)]
struct FunctionResult<'a> {
    result: ToolOutput<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ToolOutput<'a> {
    /// Output that is JSON text is sent as that JSON.
    Json(Box<RawValue>),
    Text(Cow<'a, str>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tools<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
struct FunctionDeclaration<'a> {
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Schema<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Schema<'a> {
    /// The client's schema, which has no rejected key.
    Given(&'a RawValue),
    /// The client's schema with `REJECTED_SCHEMA_KEYS` removed.
    Sanitised(Value),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<[Cow<'a, str>; 1]>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Schema<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.max_output_tokens.is_none()
            && self.stop_sequences.is_empty()
            && self.candidate_count.is_none()
            && self.seed.is_none()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
            && self.response_mime_type.is_none()
            && self.response_schema.is_none()
            && self.thinking_config.is_none()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    thinking_budget: u32,
    include_thoughts: bool,
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn invalid(what: &str, e: serde_json::Error) -> TranslateError {
    TranslateError::BadRequest(format!("invalid {what}: {e}"))
}

/// Translates an OpenAI chat-completions request body into a Gemini
/// `generateContent` request body appended to `out`. The model is not in the
/// body: send it to [`super::request_path`]`(model, info.stream)`.
///
/// Fails with [`TranslateError::BadRequest`] when the body is not a chat
/// request, has no user or assistant content, asks for `n` other than 1, or
/// uses something Gemini cannot express (unknown content part, tool type,
/// `tool_choice`, `response_format` or `reasoning_effort`; tool arguments
/// that are not a JSON object; a `tool` message whose `tool_call_id` matches
/// no earlier tool call). `out` is unchanged on failure.
pub fn translate_request(
    openai_body: &[u8],
    out: &mut Vec<u8>,
) -> Result<RequestInfo, TranslateError> {
    let mut req: openai::ChatRequest<'_> =
        serde_json::from_slice(openai_body).map_err(|e| invalid("chat request", e))?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "chat", "gemini");

    let generation_config = generation_config(&req)?;
    let chat_messages = req.take_messages()?;
    let mut system: Vec<Part<'_>> = Vec::new();
    let mut contents: Vec<Content<'_>> = Vec::new();
    // (tool call id, function name) of every assistant tool call so far:
    // Gemini matches a functionResponse to its call by name, OpenAI by id.
    let mut calls: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for msg in chat_messages {
        match msg.role {
            Role::System | Role::Developer => push_content(msg.content, &mut system, true)?,
            Role::User => push_content(msg.content, open_turn(&mut contents, "user"), false)?,
            Role::Assistant => {
                let parts = open_turn(&mut contents, "model");
                push_content(msg.content, parts, false)?;
                for call in msg.tool_calls.unwrap_or_default() {
                    calls.push((call.id.clone(), call.function.name.clone()));
                    parts.push(function_call(call)?);
                }
            }
            Role::Tool => {
                let id = msg
                    .tool_call_id
                    .ok_or_else(|| bad_request("tool message without 'tool_call_id'"))?;
                let name = calls
                    .iter()
                    .rev()
                    .find(|(call_id, _)| *call_id == id)
                    .map(|(_, name)| name.clone())
                    .ok_or_else(|| {
                        bad_request(format!(
                            "tool message '{id}' answers no earlier assistant tool call"
                        ))
                    })?;
                let response = FunctionResult {
                    result: tool_output(msg.content)?,
                };
                open_turn(&mut contents, "user")
                    .push(PartData::FunctionResponse { name, response }.into());
            }
        }
    }
    // Gemini rejects a content without parts ("contents.parts must not be
    // empty"); an empty assistant turn carries nothing anyway.
    contents.retain(|c| !c.parts.is_empty());
    if contents.is_empty() {
        return Err(bad_request(
            "'messages' must contain at least one user or assistant message with content",
        ));
    }

    let declarations = req
        .tools
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(function_declaration)
        .collect::<Result<Vec<_>, _>>()?;
    let tool_config = tool_config(req.tool_choice, !declarations.is_empty())?;
    let tools = (!declarations.is_empty()).then_some([Tools {
        function_declarations: declarations,
    }]);

    let body = GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(SystemInstruction { parts: system }),
        tools,
        tool_config,
        generation_config,
    };
    openai::write_request_body(&body, out)?;
    Ok(RequestInfo {
        stream: req.is_stream(),
        include_usage: req.include_usage(),
    })
}

/// The parts of the last content if it has `role`, else of a new one: one
/// turn per role change keeps user and model turns alternating.
fn open_turn<'m, 'a>(
    contents: &'m mut Vec<Content<'a>>,
    role: &'static str,
) -> &'m mut Vec<Part<'a>> {
    if contents.last().is_none_or(|c| c.role != role) {
        contents.push(Content {
            role,
            parts: Vec::new(),
        });
    }
    let last = contents.len() - 1;
    &mut contents[last].parts
}

/// Appends the parts for an OpenAI `content` (string, parts or null). Empty
/// text is skipped: Gemini rejects a part with no data.
fn push_content<'a>(
    content: Option<&'a RawValue>,
    parts: &mut Vec<Part<'a>>,
    text_only: bool,
) -> Result<(), TranslateError> {
    match openai::Content::decode(content)? {
        Some(openai::Content::Text(text)) if !text.is_empty() => {
            parts.push(PartData::Text(text).into());
        }
        Some(openai::Content::Parts(chat_parts)) => {
            for part in chat_parts {
                if let Some(data) = part_data(part, text_only)? {
                    parts.push(data.into());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn part_data(
    part: openai::ContentPart<'_>,
    text_only: bool,
) -> Result<Option<PartData<'_>>, TranslateError> {
    match part.kind.as_ref() {
        "text" => {
            let text = part.into_text()?;
            Ok((!text.is_empty()).then_some(PartData::Text(text)))
        }
        "image_url" if !text_only => image(part.into_image_url()?.url).map(Some),
        other => Err(bad_request(format!(
            "content part type '{other}' is not supported {}for gemini models",
            if text_only { "in system messages " } else { "" }
        ))),
    }
}

/// `data:<mime>;base64,<data>` → `inlineData`; `http(s)://…` or `gs://…` →
/// `fileData` with the MIME type guessed from the extension.
fn image(url: Cow<'_, str>) -> Result<PartData<'_>, TranslateError> {
    if ["https://", "http://", "gs://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Ok(PartData::FileData {
            mime_type: Cow::Borrowed(mime_from_extension(&url)),
            file_uri: url,
        });
    }
    match openai::data_url(url) {
        Some(d) => Ok(PartData::InlineData {
            mime_type: d.mime,
            data: d.data,
        }),
        None => Err(bad_request(
            "image_url must be an http(s) or gs:// URL or a data:<mime>;base64, URL",
        )),
    }
}

/// Gemini requires `fileData.mimeType`; OpenAI image URLs carry none.
fn mime_from_extension(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = match path.rsplit_once('.') {
        Some((_, ext)) if !ext.contains('/') => ext.to_ascii_lowercase(),
        _ => return DEFAULT_IMAGE_MIME,
    };
    match ext.as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => DEFAULT_IMAGE_MIME,
    }
}

/// An assistant tool call → `functionCall` part (Gemini takes the arguments
/// as an object), with the thought signature its id carries (see `tool_id`).
fn function_call(call: openai::ToolCall<'_>) -> Result<Part<'_>, TranslateError> {
    let args = openai::arguments_object(call.function.arguments, &call.id)?;
    Ok(Part {
        thought_signature: tool_id::thought_signature(&call.id),
        data: PartData::FunctionCall {
            name: call.function.name,
            args,
        },
    })
}

/// A `tool` message's content: its text, sent as JSON if it is JSON text.
fn tool_output(content: Option<&RawValue>) -> Result<ToolOutput<'_>, TranslateError> {
    let text: Cow<'_, str> = match content {
        None => Cow::Borrowed(""),
        Some(raw) if raw.get().starts_with('"') => {
            openai::string(raw).map_err(|e| invalid("tool content", e))?
        }
        Some(raw) if raw.get() == "null" => Cow::Borrowed(""),
        Some(raw) => {
            let parts: Vec<openai::ContentPart<'_>> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("tool content", e))?;
            let mut joined = String::new();
            for part in parts {
                match (part.kind.as_ref(), part.text) {
                    ("text", Some(t)) => joined.push_str(&t),
                    (other, _) => {
                        return Err(bad_request(format!(
                            "tool message part type '{other}' is not supported for gemini models"
                        )))
                    }
                }
            }
            Cow::Owned(joined)
        }
    };
    let trimmed = text.trim();
    if !trimmed.is_empty() && serde_json::from_str::<IgnoredAny>(trimmed).is_ok() {
        if let Ok(json) = RawValue::from_string(trimmed.to_owned()) {
            return Ok(ToolOutput::Json(json));
        }
    }
    Ok(ToolOutput::Text(text))
}

fn function_declaration(t: openai::Tool<'_>) -> Result<FunctionDeclaration<'_>, TranslateError> {
    let f = t.into_function("gemini")?;
    Ok(FunctionDeclaration {
        name: f.name,
        description: f.description,
        parameters: f.parameters.map(schema).transpose()?,
    })
}

/// The client's schema, with `REJECTED_SCHEMA_KEYS` removed if it has any
/// (only then is it parsed into a `Value`).
fn schema(raw: &RawValue) -> Result<Schema<'_>, TranslateError> {
    if !REJECTED_SCHEMA_KEYS.iter().any(|k| raw.get().contains(k)) {
        return Ok(Schema::Given(raw));
    }
    let mut v: Value = serde_json::from_str(raw.get()).map_err(|e| invalid("schema", e))?;
    strip_rejected_keys(&mut v);
    Ok(Schema::Sanitised(v))
}

fn strip_rejected_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in REJECTED_SCHEMA_KEYS {
                map.remove(*key);
            }
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    // A map from property name to schema: keep the names.
                    ("properties", Value::Object(props)) => {
                        props.values_mut().for_each(strip_rejected_keys);
                    }
                    (_, child) => strip_rejected_keys(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_rejected_keys),
        _ => {}
    }
}

/// OpenAI `tool_choice` → `toolConfig.functionCallingConfig`; dropped when
/// there are no tools.
fn tool_config<'a>(
    raw: Option<&'a RawValue>,
    have_tools: bool,
) -> Result<Option<ToolConfig<'a>>, TranslateError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if !have_tools {
        tracing::debug!("dropping tool_choice: no tools in request");
        return Ok(None);
    }
    let config = |mode, name: Option<Cow<'a, str>>| {
        Some(ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode,
                allowed_function_names: name.map(|n| [n]),
            },
        })
    };
    let obj = match openai::ToolChoice::decode(raw)? {
        openai::ToolChoice::Mode(mode) => {
            return match mode.as_ref() {
                "auto" => Ok(config("AUTO", None)),
                "none" => Ok(config("NONE", None)),
                "required" => Ok(config("ANY", None)),
                other => Err(bad_request(format!("unknown tool_choice '{other}'"))),
            }
        }
        openai::ToolChoice::Object(obj) => obj,
    };
    match (obj.kind.as_ref(), obj.function_name()?) {
        ("function", Some(name)) => Ok(config("ANY", Some(name))),
        (kind, _) => Err(bad_request(format!(
            "tool_choice type '{kind}' is not supported for gemini models"
        ))),
    }
}

fn generation_config<'a>(
    req: &openai::ChatRequest<'a>,
) -> Result<GenerationConfig<'a>, TranslateError> {
    let n = req
        .n
        .map(Deferred::get)
        .transpose()
        .map_err(|e| invalid("chat request", e))?;
    let response_format = req
        .response_format
        .map(Deferred::get)
        .transpose()
        .map_err(|e| invalid("chat request", e))?;
    let candidate_count = match n {
        None | Some(1) => n,
        Some(n) => {
            return Err(bad_request(format!(
                "n={n} is not supported for gemini models (only n=1)"
            )))
        }
    };
    let (response_mime_type, response_schema) = match &response_format {
        None => (None, None),
        Some(f) => match f.kind.as_ref() {
            "text" => (None, None),
            "json_object" => (Some("application/json"), None),
            "json_schema" => (
                Some("application/json"),
                f.json_schema
                    .as_ref()
                    .and_then(|s| s.schema)
                    .map(schema)
                    .transpose()?,
            ),
            other => {
                return Err(bad_request(format!(
                    "response_format type '{other}' is not supported for gemini models"
                )))
            }
        },
    };
    Ok(GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_output_tokens(),
        stop_sequences: req.stop_sequences()?,
        candidate_count,
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type,
        response_schema,
        thinking_config: thinking_config(req.reasoning_effort.as_deref())?,
    })
}

/// `reasoning_effort` → a thinking budget, with thoughts streamed back as
/// `reasoning_content`. `none` and `minimal` send nothing and leave the
/// model's default: Gemini 2.5 Pro cannot turn thinking off (budget 0 is a 400).
fn thinking_config(effort: Option<&str>) -> Result<Option<ThinkingConfig>, TranslateError> {
    Ok(
        openai::reasoning_budget(effort, BUDGETS_TOKENS)?.map(|budget| ThinkingConfig {
            thinking_budget: budget,
            include_thoughts: true,
        }),
    )
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
