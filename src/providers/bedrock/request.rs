//! OpenAI chat-completions request → Bedrock Converse / ConverseStream
//! request body (the model id goes in the path, see [`super::request_path`]).
//!
//! The body is parsed once into the shared [`openai`] types, borrowing
//! strings (`Cow<str>`) and passing client JSON that needs no change
//! (`parameters`, `temperature`, `top_p`) through as `&RawValue`. Converse is
//! the same body for both endpoints: streaming is chosen by the path, so
//! `stream` is returned, not sent.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use super::{RequestInfo, TranslateError};
use crate::schema::openai::{self, Role};

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
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "reasoning_effort",
    "n",
];

/// `thinking.budget_tokens` per OpenAI `reasoning_effort`, in the shape
/// Anthropic models on Bedrock take through `additionalModelRequestFields`
/// (<https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html>).
/// Other model families ignore or reject the field; send `reasoning_effort`
/// only to models that reason this way.
const BUDGET_LOW_TOKENS: u32 = 1024;
const BUDGET_MEDIUM_TOKENS: u32 = 4096;
const BUDGET_HIGH_TOKENS: u32 = 16384;
const BUDGETS_TOKENS: [u32; 3] = [BUDGET_LOW_TOKENS, BUDGET_MEDIUM_TOKENS, BUDGET_HIGH_TOKENS];

/// Room left for the answer when thinking is on and the client set no
/// `max_tokens`: Anthropic counts thinking inside `maxTokens`.
const ANSWER_TOKENS_WITH_THINKING: u32 = 4096;

// ---- Bedrock side (output) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConverseRequest<'a> {
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<SystemBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_model_request_fields: Option<AdditionalFields>,
}

#[derive(Serialize)]
struct SystemBlock<'a> {
    text: Cow<'a, str>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

/// A content block: a union, serialised as `{"<kind>": {...}}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Block<'a> {
    Text(Cow<'a, str>),
    Image(Image<'a>),
    ToolUse(ToolUse<'a>),
    ToolResult(ToolResult<'a>),
}

#[derive(Serialize)]
struct Image<'a> {
    format: &'static str,
    source: ImageSource<'a>,
}

#[derive(Serialize)]
struct ImageSource<'a> {
    /// Base64 text, as the JSON protocol carries blobs.
    bytes: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'a> {
    tool_use_id: Cow<'a, str>,
    name: Cow<'a, str>,
    input: Box<RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'a> {
    tool_use_id: Cow<'a, str>,
    content: Vec<ToolResultBlock<'a>>,
}

/// Tool output goes as text, never `{"json": …}`: OpenAI tool results are
/// strings, and several Bedrock model families accept only text here.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ToolResultBlock<'a> {
    Text(Cow<'a, str>),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Cow<'a, str>>,
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tool<'a> {
    tool_spec: ToolSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'a> {
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    input_schema: InputSchema<'a>,
}

#[derive(Serialize)]
struct InputSchema<'a> {
    json: Schema<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Schema<'a> {
    Given(&'a RawValue),
    /// `{"type":"object"}`: a function declared without `parameters`.
    AnyObject {
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum ToolChoice<'a> {
    Auto(Empty),
    Any(Empty),
    Tool { name: Cow<'a, str> },
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct AdditionalFields {
    thinking: Thinking,
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn invalid(what: &str, e: serde_json::Error) -> TranslateError {
    TranslateError::BadRequest(format!("invalid {what}: {e}"))
}

/// Translates an OpenAI chat-completions request body into a Converse
/// request body appended to `out` (the same body serves ConverseStream).
///
/// Fails with [`TranslateError::BadRequest`] when the body is not a chat
/// request, has no user or assistant message, or uses something Converse
/// cannot express (http(s) image URLs, unknown content part, tool type or
/// `tool_choice`, tool arguments that are not a JSON object). `out` is
/// unchanged on failure.
pub fn translate_request(
    openai_body: &[u8],
    out: &mut Vec<u8>,
) -> Result<RequestInfo, TranslateError> {
    let mut req: openai::ChatRequest<'_> =
        serde_json::from_slice(openai_body).map_err(|e| invalid("chat request", e))?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "chat", "bedrock");
    req.single_choice("bedrock")?;

    let chat_messages = req.take_messages()?;
    let mut system: Vec<SystemBlock<'_>> = Vec::new();
    let mut messages: Vec<Message<'_>> = Vec::new();
    for msg in chat_messages {
        match msg.role {
            Role::System | Role::Developer => {
                let mut blocks = Vec::new();
                push_content(msg.content, &mut blocks, true)?;
                system.extend(blocks.into_iter().filter_map(|b| match b {
                    Block::Text(text) => Some(SystemBlock { text }),
                    _ => None,
                }));
            }
            Role::User => push_content(msg.content, open_turn(&mut messages, "user"), false)?,
            Role::Assistant => {
                let blocks = open_turn(&mut messages, "assistant");
                push_content(msg.content, blocks, false)?;
                for call in msg.tool_calls.unwrap_or_default() {
                    blocks.push(tool_use(call)?);
                }
            }
            Role::Tool => {
                let tool_use_id = msg
                    .tool_call_id
                    .ok_or_else(|| bad_request("tool message without 'tool_call_id'"))?;
                let mut parts = Vec::new();
                push_content(msg.content, &mut parts, true)?;
                let content = parts
                    .into_iter()
                    .filter_map(|b| match b {
                        Block::Text(t) => Some(ToolResultBlock::Text(t)),
                        _ => None,
                    })
                    .collect();
                open_turn(&mut messages, "user").push(Block::ToolResult(ToolResult {
                    tool_use_id,
                    content,
                }));
            }
        }
    }
    // Converse rejects a message without content blocks.
    messages.retain(|m| !m.content.is_empty());
    if messages.is_empty() {
        return Err(bad_request(
            "'messages' must contain at least one user or assistant message with content",
        ));
    }

    let tool_config = tool_config(req.tools.take().unwrap_or_default(), req.tool_choice)?;

    let mut max_tokens = req.max_output_tokens();
    let thinking = thinking(req.reasoning_effort.as_deref())?;
    if let Some(t) = &thinking {
        // Anthropic requires maxTokens > budget_tokens; keep the client's
        // limit for the answer.
        let answer = max_tokens.unwrap_or(ANSWER_TOKENS_WITH_THINKING);
        if answer <= t.budget_tokens {
            max_tokens = Some(answer.saturating_add(t.budget_tokens));
        } else {
            max_tokens = Some(answer);
        }
    }

    let body = ConverseRequest {
        messages,
        system,
        inference_config: InferenceConfig {
            max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: req.stop_sequences()?,
        },
        tool_config,
        additional_model_request_fields: thinking.map(|thinking| AdditionalFields { thinking }),
    };
    openai::write_request_body(&body, out)?;
    Ok(RequestInfo {
        stream: req.is_stream(),
        include_usage: req.include_usage(),
    })
}

/// The blocks of the last message if it has `role`, else of a new one:
/// Converse requires user and assistant turns to alternate.
fn open_turn<'m, 'a>(
    messages: &'m mut Vec<Message<'a>>,
    role: &'static str,
) -> &'m mut Vec<Block<'a>> {
    if messages.last().is_none_or(|m| m.role != role) {
        messages.push(Message {
            role,
            content: Vec::new(),
        });
    }
    let last = messages.len() - 1;
    &mut messages[last].content
}

/// Appends the blocks for an OpenAI `content` (string, parts or null).
/// Empty text is skipped: Converse rejects blank text blocks.
fn push_content<'a>(
    content: Option<&'a RawValue>,
    blocks: &mut Vec<Block<'a>>,
    text_only: bool,
) -> Result<(), TranslateError> {
    match openai::Content::decode(content)? {
        Some(openai::Content::Text(text)) if !text.is_empty() => {
            blocks.push(Block::Text(text));
        }
        Some(openai::Content::Parts(parts)) => {
            for part in parts {
                if let Some(block) = part_block(part, text_only)? {
                    blocks.push(block);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn part_block(
    part: openai::ContentPart<'_>,
    text_only: bool,
) -> Result<Option<Block<'_>>, TranslateError> {
    match part.kind.as_ref() {
        "text" => {
            let text = part.into_text()?;
            Ok((!text.is_empty()).then_some(Block::Text(text)))
        }
        "image_url" if !text_only => Ok(Some(Block::Image(image(part.into_image_url()?.url)?))),
        other => Err(bad_request(format!(
            "content part type '{other}' is not supported {}for bedrock models",
            if text_only {
                "in system and tool messages "
            } else {
                ""
            }
        ))),
    }
}

/// `data:image/<fmt>;base64,<data>` → image block. Converse takes image
/// bytes (or S3 locations) only, so an http(s) URL is refused rather than
/// fetched.
fn image(url: Cow<'_, str>) -> Result<Image<'_>, TranslateError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Err(bad_request(
            "image URLs are not supported for bedrock models; send the image as a data:image/<format>;base64, URL",
        ));
    }
    let Some(data_url) = openai::data_url(url) else {
        return Err(bad_request(
            "image_url must be a data:image/<format>;base64, URL",
        ));
    };
    let format = match data_url.mime.as_ref() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(bad_request(format!(
                "image type '{other}' is not supported for bedrock models (png, jpeg, gif, webp)"
            )))
        }
    };
    Ok(Image {
        format,
        source: ImageSource {
            bytes: data_url.data,
        },
    })
}

/// Converse takes tool input as a JSON object.
fn tool_use(call: openai::ToolCall<'_>) -> Result<Block<'_>, TranslateError> {
    Ok(Block::ToolUse(ToolUse {
        input: openai::arguments_object(call.function.arguments, &call.id)?,
        tool_use_id: call.id,
        name: call.function.name,
    }))
}

fn tool_config<'a>(
    tools: Vec<openai::Tool<'a>>,
    raw_choice: Option<&'a RawValue>,
) -> Result<Option<ToolConfig<'a>>, TranslateError> {
    let choice = match raw_choice.map(openai::ToolChoice::decode).transpose()? {
        None => None,
        Some(openai::ToolChoice::Mode(mode)) => match mode.as_ref() {
            "auto" => Some(ToolChoice::Auto(Empty {})),
            "required" => Some(ToolChoice::Any(Empty {})),
            // Converse has no "none": leave the tools out instead.
            "none" => return Ok(None),
            other => return Err(bad_request(format!("unknown tool_choice '{other}'"))),
        },
        Some(openai::ToolChoice::Object(obj)) => match (obj.kind.as_ref(), obj.function_name()?) {
            ("function", Some(name)) => Some(ToolChoice::Tool { name }),
            (kind, _) => {
                return Err(bad_request(format!(
                    "tool_choice type '{kind}' is not supported for bedrock models"
                )))
            }
        },
    };
    if tools.is_empty() {
        if choice.is_some() {
            tracing::debug!("dropping tool_choice: no tools in request");
        }
        return Ok(None);
    }
    let tools = tools.into_iter().map(tool).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ToolConfig {
        tools,
        tool_choice: choice,
    }))
}

fn tool(t: openai::Tool<'_>) -> Result<Tool<'_>, TranslateError> {
    let f = t.into_function("bedrock")?;
    Ok(Tool {
        tool_spec: ToolSpec {
            name: f.name,
            description: f.description,
            input_schema: InputSchema {
                json: match f.parameters {
                    Some(p) => Schema::Given(p),
                    None => Schema::AnyObject { kind: "object" },
                },
            },
        },
    })
}

fn thinking(effort: Option<&str>) -> Result<Option<Thinking>, TranslateError> {
    Ok(
        openai::reasoning_budget(effort, BUDGETS_TOKENS)?.map(|budget| Thinking {
            kind: "enabled",
            budget_tokens: budget,
        }),
    )
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
