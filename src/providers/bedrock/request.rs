//! OpenAI chat-completions request → Bedrock Converse / ConverseStream
//! request body (the model id goes in the path, see [`super::request_path`]).
//!
//! The body is parsed once, borrowing strings (`Cow<str>`) and passing client
//! JSON that needs no change (`parameters`, `temperature`, `top_p`) through
//! as `&RawValue`. Converse is the same body for both endpoints: streaming is
//! chosen by the path, so `stream` is returned, not sent.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{RequestInfo, TranslateError};

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
];

/// `thinking.budget_tokens` per OpenAI `reasoning_effort`, in the shape
/// Anthropic models on Bedrock take through `additionalModelRequestFields`
/// (<https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html>).
/// Other model families ignore or reject the field; send `reasoning_effort`
/// only to models that reason this way.
const BUDGET_LOW_TOKENS: u32 = 1024;
const BUDGET_MEDIUM_TOKENS: u32 = 4096;
const BUDGET_HIGH_TOKENS: u32 = 16384;

/// Room left for the answer when thinking is on and the client set no
/// `max_tokens`: Anthropic counts thinking inside `maxTokens`.
const ANSWER_TOKENS_WITH_THINKING: u32 = 4096;

// ---- OpenAI side (input) ----

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow, default)]
    messages: Option<Vec<ChatMessage<'a>>>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(borrow, default)]
    tools: Option<Vec<ChatTool<'a>>>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_effort: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Deserialize)]
struct ChatMessage<'a> {
    role: Role,
    /// A string, an array of parts, or null.
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ChatToolCall<'a>>>,
    #[serde(borrow, default)]
    tool_call_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChatPart<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_url: Option<ImageUrl<'a>>,
}

#[derive(Deserialize)]
struct ImageUrl<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ChatToolCall<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    function: ChatFunctionCall<'a>,
}

#[derive(Deserialize)]
struct ChatFunctionCall<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    /// JSON text inside a JSON string.
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChatTool<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    function: Option<ChatFunction<'a>>,
}

#[derive(Deserialize)]
struct ChatFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChatToolChoiceObject<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    function: Option<ChatToolChoiceFunction<'a>>,
}

#[derive(Deserialize)]
struct ChatToolChoiceFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

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
    let req: ChatRequest<'_> =
        serde_json::from_slice(openai_body).map_err(|e| invalid("chat request", e))?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        log_dropped_fields(openai_body);
    }

    let chat_messages = req.messages.unwrap_or_default();
    if chat_messages.is_empty() {
        return Err(bad_request(
            "'messages' must be a non-empty array of chat messages",
        ));
    }
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

    let tool_config = tool_config(req.tools.unwrap_or_default(), req.tool_choice)?;

    let mut max_tokens = req.max_completion_tokens.or(req.max_tokens);
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
            stop_sequences: stop_sequences(req.stop)?,
        },
        tool_config,
        additional_model_request_fields: thinking.map(|thinking| AdditionalFields { thinking }),
    };
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, &body) {
        out.truncate(mark);
        return Err(bad_request(format!("cannot encode request: {e}")));
    }
    Ok(RequestInfo {
        stream: req.stream.unwrap_or(false),
        include_usage: req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
    })
}

fn log_dropped_fields(body: &[u8]) {
    if let Ok(map) =
        serde_json::from_slice::<std::collections::BTreeMap<Cow<'_, str>, IgnoredAny>>(body)
    {
        for key in map.keys().filter(|k| !HANDLED_FIELDS.contains(&k.as_ref())) {
            tracing::debug!(field = %key, "dropping chat field bedrock does not take");
        }
    }
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
    let Some(raw) = content else {
        return Ok(());
    };
    match raw.get().as_bytes().first() {
        Some(b'"') => {
            let text: Cow<'a, str> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("content", e))?;
            if !text.is_empty() {
                blocks.push(Block::Text(text));
            }
        }
        Some(b'[') => {
            let parts: Vec<ChatPart<'a>> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("content parts", e))?;
            for part in parts {
                if let Some(block) = part_block(part, text_only)? {
                    blocks.push(block);
                }
            }
        }
        Some(b'n') => {}
        _ => return Err(bad_request("'content' must be a string, an array or null")),
    }
    Ok(())
}

fn part_block(part: ChatPart<'_>, text_only: bool) -> Result<Option<Block<'_>>, TranslateError> {
    match part.kind.as_ref() {
        "text" => {
            let text = part
                .text
                .ok_or_else(|| bad_request("text content part without 'text'"))?;
            Ok((!text.is_empty()).then_some(Block::Text(text)))
        }
        "image_url" if !text_only => {
            let url = part
                .image_url
                .ok_or_else(|| bad_request("image_url content part without 'image_url'"))?
                .url;
            Ok(Some(Block::Image(image(url)?)))
        }
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
    let split = |s: &str| -> Option<(usize, usize)> {
        let rest = s.strip_prefix("data:")?;
        let sep = rest.find(";base64,")?;
        Some((5 + sep, 5 + sep + ";base64,".len()))
    };
    let Some((mime_end, data_start)) = split(&url) else {
        return Err(bad_request(
            "image_url must be a data:image/<format>;base64, URL",
        ));
    };
    let format = match &url[5..mime_end] {
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
    let bytes = match url {
        Cow::Borrowed(s) => Cow::Borrowed(&s[data_start..]),
        Cow::Owned(s) => Cow::Owned(s[data_start..].to_owned()),
    };
    Ok(Image {
        format,
        source: ImageSource { bytes },
    })
}

fn tool_use(call: ChatToolCall<'_>) -> Result<Block<'_>, TranslateError> {
    let args = call.function.arguments.unwrap_or_default();
    // Models often call parameterless tools with "" as arguments; Converse
    // needs an object.
    let input = if args.trim().is_empty() {
        RawValue::from_string("{}".to_owned())
    } else {
        RawValue::from_string(args.into_owned())
    }
    .map_err(|e| {
        bad_request(format!(
            "tool call '{}' arguments are not valid JSON: {e}",
            call.id
        ))
    })?;
    if !input.get().starts_with('{') {
        return Err(bad_request(format!(
            "tool call '{}' arguments must be a JSON object",
            call.id
        )));
    }
    Ok(Block::ToolUse(ToolUse {
        tool_use_id: call.id,
        name: call.function.name,
        input,
    }))
}

fn tool_config<'a>(
    tools: Vec<ChatTool<'a>>,
    raw_choice: Option<&'a RawValue>,
) -> Result<Option<ToolConfig<'a>>, TranslateError> {
    let choice = match raw_choice {
        None => None,
        Some(raw) if raw.get().starts_with('"') => {
            let s: Cow<'_, str> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("tool_choice", e))?;
            match s.as_ref() {
                "auto" => Some(ToolChoice::Auto(Empty {})),
                "required" => Some(ToolChoice::Any(Empty {})),
                // Converse has no "none": leave the tools out instead.
                "none" => return Ok(None),
                other => return Err(bad_request(format!("unknown tool_choice '{other}'"))),
            }
        }
        Some(raw) => {
            let obj: ChatToolChoiceObject<'a> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("tool_choice", e))?;
            match (obj.kind.as_ref(), obj.function) {
                ("function", Some(f)) => Some(ToolChoice::Tool { name: f.name }),
                (kind, _) => {
                    return Err(bad_request(format!(
                        "tool_choice type '{kind}' is not supported for bedrock models"
                    )))
                }
            }
        }
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

fn tool(t: ChatTool<'_>) -> Result<Tool<'_>, TranslateError> {
    if t.kind != "function" {
        return Err(bad_request(format!(
            "tool type '{}' is not supported for bedrock models",
            t.kind
        )));
    }
    let f = t
        .function
        .ok_or_else(|| bad_request("function tool without 'function'"))?;
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
    let budget = match effort {
        None | Some("none" | "minimal") => return Ok(None),
        Some("low") => BUDGET_LOW_TOKENS,
        Some("medium") => BUDGET_MEDIUM_TOKENS,
        Some("high") => BUDGET_HIGH_TOKENS,
        Some(other) => {
            return Err(bad_request(format!(
                "unknown reasoning_effort '{other}' (expected low, medium or high)"
            )))
        }
    };
    Ok(Some(Thinking {
        kind: "enabled",
        budget_tokens: budget,
    }))
}

fn stop_sequences(raw: Option<&RawValue>) -> Result<Vec<Cow<'_, str>>, TranslateError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    match raw.get().as_bytes().first() {
        Some(b'"') => {
            let s: Cow<'_, str> =
                serde_json::from_str(raw.get()).map_err(|e| invalid("stop", e))?;
            Ok(vec![s])
        }
        Some(b'n') => Ok(Vec::new()),
        _ => serde_json::from_str(raw.get()).map_err(|e| invalid("stop", e)),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
