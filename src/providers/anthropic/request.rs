//! OpenAI chat-completions request → Anthropic Messages request.
//!
//! The body is parsed once into the shared [`openai`] types, borrowing
//! strings (`Cow<str>`) and passing client JSON that needs no change
//! (`parameters`, `thinking`, `temperature`, `cache_control`) through as
//! `&RawValue`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{RequestInfo, TranslateError, DEFAULT_MAX_TOKENS};
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
    "stream",
    "stream_options",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "thinking",
    "n",
];

/// `thinking.budget_tokens` per OpenAI `reasoning_effort`.
const BUDGET_LOW_TOKENS: u32 = 1024;
const BUDGET_MEDIUM_TOKENS: u32 = 4096;
const BUDGET_HIGH_TOKENS: u32 = 16384;
const BUDGETS_TOKENS: [u32; 3] = [BUDGET_LOW_TOKENS, BUDGET_MEDIUM_TOKENS, BUDGET_HIGH_TOKENS];

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
    let mut req: openai::ChatRequest<'_> =
        serde_json::from_slice(openai_body).map_err(|e| invalid("chat request", e))?;
    openai::log_dropped_fields(openai_body, HANDLED_FIELDS, "chat", "anthropic");
    req.single_choice("anthropic")?;

    let chat_messages = req.take_messages()?;
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
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(tool)
        .collect::<Result<Vec<_>, _>>()?;
    let parallel_tool_calls = req
        .parallel_tool_calls
        .map(Deferred::get)
        .transpose()
        .map_err(|e| invalid("chat request", e))?;
    let tool_choice = tool_choice(req.tool_choice, parallel_tool_calls, !tools.is_empty())?;

    let mut max_tokens = req.max_output_tokens().unwrap_or(DEFAULT_MAX_TOKENS);
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
        stop_sequences: req.stop_sequences()?,
        stream: req.is_stream(),
        metadata: req
            .user
            .map(Deferred::get)
            .transpose()
            .map_err(|e| invalid("chat request", e))?
            .map(|user_id| Metadata { user_id }),
        tools,
        tool_choice,
        thinking,
    };
    openai::write_request_body(&body, out)?;
    Ok(RequestInfo {
        stream: body.stream,
        include_usage: req.include_usage(),
    })
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
    match openai::Content::decode(content)? {
        Some(openai::Content::Text(text)) if !text.is_empty() => {
            blocks.push(Block::Text {
                text,
                cache_control: None,
            });
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
    let cache_control = part.cache_control;
    match part.kind.as_ref() {
        "text" => {
            let text = part.into_text()?;
            Ok((!text.is_empty()).then_some(Block::Text {
                text,
                cache_control,
            }))
        }
        "image_url" if !text_only => Ok(Some(Block::Image {
            source: image_source(part.into_image_url()?.url)?,
            cache_control,
        })),
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
    match openai::data_url(url) {
        Some(d) => Ok(ImageSource::Base64 {
            media_type: d.mime,
            data: d.data,
        }),
        None => Err(bad_request(
            "image_url must be an http(s) URL or a data:<mime>;base64, URL",
        )),
    }
}

/// Anthropic takes tool input as a JSON object.
fn tool_use(call: openai::ToolCall<'_>) -> Result<Block<'_>, TranslateError> {
    Ok(Block::ToolUse {
        input: openai::arguments_object(call.function.arguments, &call.id)?,
        id: call.id,
        name: call.function.name,
    })
}

fn tool_result_content(
    content: Option<&RawValue>,
) -> Result<ToolResultContent<'_>, TranslateError> {
    match content {
        Some(raw) if raw.get().starts_with('"') => Ok(ToolResultContent::Text(
            openai::string(raw).map_err(|e| invalid("tool content", e))?,
        )),
        other => {
            let mut blocks = Vec::new();
            push_content(other, &mut blocks, false)?;
            Ok(ToolResultContent::Blocks(blocks))
        }
    }
}

fn tool(t: openai::Tool<'_>) -> Result<Tool<'_>, TranslateError> {
    let f = t.into_function("anthropic")?;
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
    let obj = match openai::ToolChoice::decode(raw)? {
        openai::ToolChoice::Mode(mode) => {
            return match mode.as_ref() {
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
        openai::ToolChoice::Object(obj) => obj,
    };
    match (obj.kind.as_ref(), obj.function_name()?) {
        ("function", Some(name)) => Ok(Some(choice("tool", Some(name)))),
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
    let Some(budget) = openai::reasoning_budget(effort, BUDGETS_TOKENS)? else {
        return Ok((None, None));
    };
    Ok((
        Some(Thinking::Enabled {
            kind: "enabled",
            budget_tokens: budget,
        }),
        Some(budget),
    ))
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
