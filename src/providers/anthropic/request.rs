//! OpenAI chat-completions request → Anthropic Messages request.
//!
//! The body is parsed once, borrowing strings (`Cow<str>`) and passing
//! client JSON that needs no change (`parameters`, `thinking`, `temperature`,
//! `cache_control`) through as `&RawValue`.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{RequestInfo, TranslateError, DEFAULT_MAX_TOKENS};

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
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "thinking",
];

/// `thinking.budget_tokens` per OpenAI `reasoning_effort`.
const BUDGET_LOW_TOKENS: u32 = 1024;
const BUDGET_MEDIUM_TOKENS: u32 = 4096;
const BUDGET_HIGH_TOKENS: u32 = 16384;

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
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tools: Option<Vec<ChatTool<'a>>>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(borrow, default)]
    reasoning_effort: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
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
    #[serde(borrow, default)]
    cache_control: Option<&'a RawValue>,
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

#[derive(Deserialize)]
struct ThinkingBudget {
    #[serde(default)]
    budget_tokens: Option<u32>,
}

// ---- Anthropic side (output) ----

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<System<'a>>,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum System<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a RawValue>,
    },
    Image {
        source: ImageSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a RawValue>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: ToolResultContent<'a>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: Cow<'a, str>,
    },
}

#[derive(Serialize)]
struct Metadata<'a> {
    user_id: Cow<'a, str>,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    input_schema: InputSchema<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum InputSchema<'a> {
    Given(&'a RawValue),
    /// `{"type":"object"}`: a function declared without `parameters`.
    AnyObject {
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

#[derive(Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Thinking<'a> {
    /// The client's own Anthropic `thinking` object.
    Given(&'a RawValue),
    Enabled {
        #[serde(rename = "type")]
        kind: &'static str,
        budget_tokens: u32,
    },
}

fn bad_request(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadRequest(msg.into())
}

fn invalid(what: &str, e: serde_json::Error) -> TranslateError {
    TranslateError::BadRequest(format!("invalid {what}: {e}"))
}

/// Translates an OpenAI chat-completions request body into an Anthropic
/// Messages request body for upstream model `model`, appended to `out`.
///
/// Fails with [`TranslateError::BadRequest`] when the body is not a chat
/// request, has no user or assistant message, or uses something Anthropic
/// cannot express (unknown content part, tool type or `tool_choice`, tool
/// arguments that are not a JSON object). `out` is unchanged on failure.
pub fn translate_request(
    openai_body: &[u8],
    model: &str,
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
    let mut system: Vec<Block<'_>> = Vec::new();
    let mut messages: Vec<Message<'_>> = Vec::new();
    for msg in chat_messages {
        match msg.role {
            Role::System | Role::Developer => push_content(msg.content, &mut system, true)?,
            Role::User => {
                let blocks = open_turn(&mut messages, "user");
                push_content(msg.content, blocks, false)?;
            }
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
                let content = tool_result_content(msg.content)?;
                open_turn(&mut messages, "user").push(Block::ToolResult {
                    tool_use_id,
                    content,
                });
            }
        }
    }
    // Anthropic rejects messages without content; an empty assistant turn
    // (content "" and no tool calls) carries nothing anyway.
    messages.retain(|m| !m.content.is_empty());
    if messages.is_empty() {
        return Err(bad_request(
            "'messages' must contain at least one user or assistant message with content",
        ));
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(tool)
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = tool_choice(req.tool_choice, req.parallel_tool_calls, !tools.is_empty())?;

    let mut max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let (thinking, budget) = thinking(req.thinking, req.reasoning_effort.as_deref())?;
    if let Some(budget) = budget {
        // Anthropic counts thinking inside max_tokens and requires
        // max_tokens > budget_tokens; keep the client's limit for the answer.
        if max_tokens <= budget {
            max_tokens = max_tokens.saturating_add(budget);
        }
    }

    let body = MessagesRequest {
        model,
        max_tokens,
        system: system_field(system),
        messages,
        temperature: req.temperature,
        top_p: req.top_p,
        stop_sequences: stop_sequences(req.stop)?,
        stream: req.stream.unwrap_or(false),
        metadata: req.user.map(|user_id| Metadata { user_id }),
        tools,
        tool_choice,
        thinking,
    };
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, &body) {
        out.truncate(mark);
        return Err(bad_request(format!("cannot encode request: {e}")));
    }
    Ok(RequestInfo {
        stream: body.stream,
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
            tracing::debug!(field = %key, "dropping chat field anthropic does not take");
        }
    }
}

/// The blocks of the last message if it has `role`, else of a new one:
/// Anthropic requires user and assistant turns to alternate.
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
/// Empty text is skipped: Anthropic rejects empty text blocks.
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
                blocks.push(Block::Text {
                    text,
                    cache_control: None,
                });
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
            Ok((!text.is_empty()).then_some(Block::Text {
                text,
                cache_control: part.cache_control,
            }))
        }
        "image_url" if !text_only => {
            let url = part
                .image_url
                .ok_or_else(|| bad_request("image_url content part without 'image_url'"))?
                .url;
            Ok(Some(Block::Image {
                source: image_source(url)?,
                cache_control: part.cache_control,
            }))
        }
        other => Err(bad_request(format!(
            "content part type '{other}' is not supported {}for anthropic models",
            if text_only { "in system messages " } else { "" }
        ))),
    }
}

/// `data:<mime>;base64,<data>` → base64 source; `http(s)://…` → url source.
fn image_source(url: Cow<'_, str>) -> Result<ImageSource<'_>, TranslateError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url { url });
    }
    let split = |s: &str| -> Option<(usize, usize)> {
        let rest = s.strip_prefix("data:")?;
        let sep = rest.find(";base64,")?;
        Some((5 + sep, 5 + sep + ";base64,".len()))
    };
    let Some((mime_end, data_start)) = split(&url) else {
        return Err(bad_request(
            "image_url must be an http(s) URL or a data:<mime>;base64, URL",
        ));
    };
    Ok(match url {
        Cow::Borrowed(s) => ImageSource::Base64 {
            media_type: Cow::Borrowed(&s[5..mime_end]),
            data: Cow::Borrowed(&s[data_start..]),
        },
        Cow::Owned(s) => ImageSource::Base64 {
            media_type: Cow::Owned(s[5..mime_end].to_owned()),
            data: Cow::Owned(s[data_start..].to_owned()),
        },
    })
}

fn tool_use(call: ChatToolCall<'_>) -> Result<Block<'_>, TranslateError> {
    let args = call.function.arguments.unwrap_or_default();
    // Models often call parameterless tools with "" as arguments; Anthropic
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
    Ok(Block::ToolUse {
        id: call.id,
        name: call.function.name,
        input,
    })
}

fn tool_result_content(
    content: Option<&RawValue>,
) -> Result<ToolResultContent<'_>, TranslateError> {
    match content {
        Some(raw) if raw.get().starts_with('"') => Ok(ToolResultContent::Text(
            serde_json::from_str(raw.get()).map_err(|e| invalid("tool content", e))?,
        )),
        other => {
            let mut blocks = Vec::new();
            push_content(other, &mut blocks, false)?;
            Ok(ToolResultContent::Blocks(blocks))
        }
    }
}

fn tool(t: ChatTool<'_>) -> Result<Tool<'_>, TranslateError> {
    if t.kind != "function" {
        return Err(bad_request(format!(
            "tool type '{}' is not supported for anthropic models",
            t.kind
        )));
    }
    let f = t
        .function
        .ok_or_else(|| bad_request("function tool without 'function'"))?;
    Ok(Tool {
        name: f.name,
        description: f.description,
        input_schema: match f.parameters {
            Some(p) => InputSchema::Given(p),
            None => InputSchema::AnyObject { kind: "object" },
        },
    })
}

fn tool_choice<'a>(
    raw: Option<&'a RawValue>,
    parallel_tool_calls: Option<bool>,
    have_tools: bool,
) -> Result<Option<ToolChoice<'a>>, TranslateError> {
    if !have_tools {
        if raw.is_some() {
            tracing::debug!("dropping tool_choice: no tools in request");
        }
        return Ok(None);
    }
    let disable_parallel = (parallel_tool_calls == Some(false)).then_some(true);
    let choice = |kind, name| ToolChoice {
        kind,
        name,
        disable_parallel_tool_use: disable_parallel,
    };
    let Some(raw) = raw else {
        return Ok(disable_parallel.map(|_| choice("auto", None)));
    };
    if raw.get().starts_with('"') {
        let s: Cow<'_, str> =
            serde_json::from_str(raw.get()).map_err(|e| invalid("tool_choice", e))?;
        return match s.as_ref() {
            "auto" => Ok(Some(choice("auto", None))),
            "required" => Ok(Some(choice("any", None))),
            // Anthropic's "none" takes no other field.
            "none" => Ok(Some(ToolChoice {
                kind: "none",
                name: None,
                disable_parallel_tool_use: None,
            })),
            other => Err(bad_request(format!("unknown tool_choice '{other}'"))),
        };
    }
    let obj: ChatToolChoiceObject<'a> =
        serde_json::from_str(raw.get()).map_err(|e| invalid("tool_choice", e))?;
    match (obj.kind.as_ref(), obj.function) {
        ("function", Some(f)) => Ok(Some(choice("tool", Some(f.name)))),
        (kind, _) => Err(bad_request(format!(
            "tool_choice type '{kind}' is not supported for anthropic models"
        ))),
    }
}

/// The `thinking` field and its token budget: the client's own object wins,
/// else `reasoning_effort` picks a budget.
fn thinking<'a>(
    given: Option<&'a RawValue>,
    effort: Option<&str>,
) -> Result<(Option<Thinking<'a>>, Option<u32>), TranslateError> {
    if let Some(raw) = given {
        let budget = serde_json::from_str::<ThinkingBudget>(raw.get())
            .map_err(|e| invalid("thinking", e))?
            .budget_tokens;
        return Ok((Some(Thinking::Given(raw)), budget));
    }
    let budget = match effort {
        None | Some("none" | "minimal") => return Ok((None, None)),
        Some("low") => BUDGET_LOW_TOKENS,
        Some("medium") => BUDGET_MEDIUM_TOKENS,
        Some("high") => BUDGET_HIGH_TOKENS,
        Some(other) => {
            return Err(bad_request(format!(
                "unknown reasoning_effort '{other}' (expected low, medium or high)"
            )))
        }
    };
    Ok((
        Some(Thinking::Enabled {
            kind: "enabled",
            budget_tokens: budget,
        }),
        Some(budget),
    ))
}

fn stop_sequences(raw: Option<&RawValue>) -> Result<Vec<Cow<'_, str>>, TranslateError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if raw.get().starts_with('"') {
        let s: Cow<'_, str> = serde_json::from_str(raw.get()).map_err(|e| invalid("stop", e))?;
        Ok(vec![s])
    } else {
        serde_json::from_str(raw.get()).map_err(|e| invalid("stop", e))
    }
}

/// One plain system text goes as a string; several, or any with
/// `cache_control`, as text blocks.
fn system_field(mut blocks: Vec<Block<'_>>) -> Option<System<'_>> {
    match blocks.as_slice() {
        [] => None,
        [Block::Text {
            cache_control: None,
            ..
        }] => match blocks.pop() {
            Some(Block::Text { text, .. }) => Some(System::Text(text)),
            _ => None,
        },
        _ => Some(System::Blocks(blocks)),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
