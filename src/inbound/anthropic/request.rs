//! An Anthropic Messages request -> a hub (OpenAI chat completions) request.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::read::{
    object_at, required, Block, Content, ImageSource, InThinking, InTool, InToolChoice,
    OutputFormat, Request,
};
use crate::inbound::chat::request::{self as hub, ChatRequest, Number};
use crate::inbound::{Converted, Invalid};

/// An Anthropic Messages request body -> a hub chat completions body
/// appended to `out` (left as it was on failure).
///
/// - `model` as is; `max_tokens` (required) as is, the name every
///   chat server knows (the chat leg renames it `max_completion_tokens` for
///   OpenAI and Azure, whose reasoning models require that); 0 (Anthropic's
///   cache pre-warming) is refused.
/// - `system` (string or text blocks, joined by a blank line) -> one
///   `system` message.
/// - User messages: `text` and `image` blocks (base64 -> a `data:` URL, url
///   -> the URL) -> the parts of one `user` message (a lone text as a
///   string); each `tool_result` -> a `tool` message (its text, text blocks
///   joined by newlines, `Error: ` first when `is_error`), placed before that
///   user message; a tool result's images follow in that user message.
/// - Assistant messages: text blocks joined by a blank line -> `content`
///   (null when none), `tool_use` -> `tool_calls` whose `arguments` is the
///   JSON text of `input`.
/// - `thinking` and `redacted_thinking` blocks are dropped (the hub cannot
///   carry their signatures); `document`, `search_result`,
///   `container_upload`, server-tool blocks and any other type are refused,
///   named with their path; so are `file` image sources.
/// - `tools`: custom tools (`type` absent or `custom`) -> function tools
///   with `parameters` = `input_schema`; Anthropic-defined tools
///   (`web_search_…`, `bash_…`, `text_editor_…`, `computer_…`, …) are
///   refused, as they need an Anthropic provider.
/// - `tool_choice` `auto`/`any`/`tool`/`none` -> `"auto"`/`"required"`/
///   `{type: function, …}`/`"none"`, `disable_parallel_tool_use: true` ->
///   `parallel_tool_calls: false`; both only when there are tools (OpenAI
///   refuses them without).
/// - `thinking` is not passed on (OpenAI-compatible servers may refuse a
///   field they do not know; the gateway's own translators turn
///   `reasoning_effort` back into a thinking budget): `enabled` sets
///   `reasoning_effort` from `budget_tokens` (< 4096 `low`, < 16384
///   `medium`, else `high`), `adaptive` from `output_config.effort` (`xhigh`
///   and `max` -> `high`) if given, `disabled` sets nothing, and neither does
///   `output_config.effort` without thinking.
/// - `output_config.format` (or the beta `output_format`) `json_schema` ->
///   `response_format` `json_schema` named `output`, `strict: true`
///   (Anthropic guarantees the schema).
/// - `stop_sequences` -> `stop`; `temperature`, `top_p` as is;
///   `metadata.user_id` -> `user` (ids over 64 bytes, like Claude Code's,
///   as a 32-hex-digit SHA-256 prefix: OpenAI and OpenRouter cap `user`);
///   `stream: true` -> `stream: true` and `stream_options.include_usage:
///   true` (the Anthropic stream reports usage at its end).
/// - Dropped, as they change cost, placement or caching but not the
///   answer: `cache_control` anywhere (prompt caching is Anthropic's own),
///   `top_k` (OpenAI has none), `service_tier`, `inference_geo`,
///   `context_management` (Anthropic trimming old tool results and thinking
///   server-side; Claude Code sends it). Refused: `container` and non-empty
///   `mcp_servers`, which name Anthropic-hosted tools.
///
/// Fails with a message naming the field, in Anthropic's style
/// (`messages.1.content.0.id: Field required`), for a body that is not a
/// valid Messages request or asks for what the hub cannot carry.
pub fn to_chat(body: &[u8], out: &mut Vec<u8>) -> Result<Converted, Invalid> {
    let req: Request<'_> = object_at(body, "")?;
    let model = req.model.ok_or_else(|| required("model"))?;
    let max_tokens = req.max_tokens.ok_or_else(|| required("max_tokens"))?;
    if max_tokens == 0 {
        return Err(Invalid(
            "max_tokens: 0 (prompt-cache pre-warming) needs an Anthropic provider; use at least 1"
                .to_owned(),
        ));
    }
    let in_messages = req.messages.ok_or_else(|| required("messages"))?;
    if in_messages.is_empty() {
        return Err(Invalid(
            "messages: at least one message is required".to_owned(),
        ));
    }
    if req.mcp_servers.is_some_and(|s| !s.is_empty()) {
        return Err(needs_anthropic("mcp_servers", "MCP connector servers"));
    }
    if req.container.is_some() {
        return Err(needs_anthropic("container", "code-execution containers"));
    }

    let mut messages = Vec::with_capacity(in_messages.len() + 1);
    if let Some(raw) = req.system {
        let text = system_text(raw, "system")?;
        if !text.is_empty() {
            messages.push(hub::Message::new("system", hub::Content::Text(text)));
        }
    }
    for (i, message) in in_messages.into_iter().enumerate() {
        let at = format!("messages.{i}.content");
        match message.role.as_deref() {
            Some("user") => user_turn(Content::read(message.content, &at)?, &mut messages)?,
            Some("assistant") => {
                assistant_turn(Content::read(message.content, &at)?, &mut messages)?
            }
            // Instructions between turns (Claude Code's reminders): text only.
            Some("system") => {
                let raw = message.content.ok_or_else(|| required(&at))?;
                let text = system_text(raw, &at)?;
                if !text.is_empty() {
                    messages.push(hub::Message::new("system", hub::Content::Text(text)));
                }
            }
            None => return Err(required(&format!("messages.{i}.role"))),
            Some(_) => {
                return Err(Invalid(format!(
                    "messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
                )))
            }
        }
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, raw)| custom_tool(raw, &format!("tools.{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let (tool_choice, parallel_tool_calls) = match req.tool_choice {
        Some(choice) if !tools.is_empty() => tool_choice(choice)?,
        _ => (None, None),
    };
    let effort = req.output_config.as_ref().and_then(|c| c.effort.as_deref());
    let reasoning_effort = reasoning_effort(req.thinking.as_ref(), effort)?;
    let format = match req.output_config.and_then(|c| c.format) {
        Some(format) => Some((format, "output_config.format")),
        None => req.output_format.map(|f| (f, "output_format")),
    };
    let response_format = format
        .map(|(format, at)| response_format(format, at))
        .transpose()?;
    let stream = req.stream.unwrap_or(false);

    let chat = ChatRequest {
        max_tokens: Some(max_tokens),
        temperature: req.temperature.map(Number::Parsed),
        top_p: req.top_p.map(Number::Parsed),
        stop: req.stop_sequences.unwrap_or_default(),
        tools,
        tool_choice,
        parallel_tool_calls,
        reasoning_effort,
        response_format,
        user: req.metadata.and_then(|m| m.user_id).map(hub_user),
        ..ChatRequest::new(model, messages, stream)
    };
    chat.write(out)?;
    Ok(Converted { stream })
}

/// A user message. Its tool results become `tool` messages placed before
/// the rest of the turn: OpenAI requires tool answers to follow the
/// assistant's calls directly.
fn user_turn<'a>(
    content: Content<'a>,
    messages: &mut Vec<hub::Message<'a>>,
) -> Result<(), Invalid> {
    let blocks = match content {
        Content::Text(text) => {
            messages.push(hub::Message::new("user", hub::Content::Text(text)));
            return Ok(());
        }
        Content::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    let mut tool_results = 0;
    for (raw, at) in blocks {
        let block: Block<'_> = object_at(raw.get().as_bytes(), &at)?;
        match block.kind() {
            "text" => parts.push(hub::Part::Text {
                text: block.text.ok_or_else(|| required(&format!("{at}.text")))?,
            }),
            "image" => parts.push(image_part(block.source, &at)?),
            "tool_result" => {
                let (message, images) = tool_result(block, &at)?;
                messages.push(message);
                parts.extend(images);
                tool_results += 1;
            }
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(unsupported_block(
                    &at,
                    other,
                    "user",
                    "text, image, tool_result, thinking",
                ))
            }
        }
    }
    if parts.is_empty() && tool_results > 0 {
        return Ok(());
    }
    messages.push(hub::Message::new("user", hub::Content::from_parts(parts)));
    Ok(())
}

/// The longest `user` OpenAI-compatible servers take: OpenAI refuses more
/// than 64 characters, OpenRouter more than 128.
const MAX_USER_LEN: usize = 64;

/// `metadata.user_id` as the hub's `user`: as is up to `MAX_USER_LEN`
/// bytes, else the hex of the first 16 bytes of its SHA-256, so the id
/// stays stable and distinct. Claude Code's ids run to about 150 characters.
fn hub_user(user_id: Cow<'_, str>) -> Cow<'_, str> {
    if user_id.len() <= MAX_USER_LEN {
        return user_id;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, user_id.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest.as_ref().iter().take(16) {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    Cow::Owned(hex)
}

/// A `tool_result` -> a `tool` message whose content is its text (a string,
/// or its text blocks joined by newlines), prefixed `Error: ` when
/// `is_error`. OpenAI tool messages carry no images, so a result's images go
/// to the user message after it, and its text says so.
fn tool_result<'a>(
    block: Block<'a>,
    at: &str,
) -> Result<(hub::Message<'a>, Vec<hub::Part<'a>>), Invalid> {
    let id = block
        .tool_use_id
        .ok_or_else(|| required(&format!("{at}.tool_use_id")))?;
    let mut images = Vec::new();
    let mut text: Cow<'a, str> = Cow::Borrowed("");
    if block.content.is_some() {
        match Content::read(block.content, &format!("{at}.content"))? {
            Content::Text(t) => text = t,
            Content::Blocks(inner) => {
                for (raw, inner_at) in inner {
                    let inner_block: Block<'_> = object_at(raw.get().as_bytes(), &inner_at)?;
                    match inner_block.kind() {
                        "text" => {
                            let t = inner_block
                                .text
                                .ok_or_else(|| required(&format!("{inner_at}.text")))?;
                            join(&mut text, t, "\n");
                        }
                        "image" => images.push(image_part(inner_block.source, &inner_at)?),
                        other => {
                            return Err(Invalid(format!(
                            "{inner_at}: '{other}' blocks in a tool_result are not supported by \
                                 this model's provider (it does not speak Anthropic's API); \
                                 supported: text, image"
                        )))
                        }
                    }
                }
            }
        }
    }
    if !images.is_empty() {
        join(
            &mut text,
            Cow::Borrowed("(the image output of this tool follows in the next user message)"),
            "\n",
        );
    }
    if block.is_error == Some(true) {
        text = Cow::Owned(if text.is_empty() {
            "Error".to_owned()
        } else {
            format!("Error: {text}")
        });
    }
    Ok((hub::Message::tool(id, text), images))
}

/// An assistant message; one left with nothing (only thinking) is skipped.
fn assistant_turn<'a>(
    content: Content<'a>,
    messages: &mut Vec<hub::Message<'a>>,
) -> Result<(), Invalid> {
    let blocks = match content {
        Content::Text(text) => {
            if !text.is_empty() {
                messages.push(hub::Message::new("assistant", hub::Content::Text(text)));
            }
            return Ok(());
        }
        Content::Blocks(blocks) => blocks,
    };
    let mut text: Cow<'a, str> = Cow::Borrowed("");
    let mut tool_calls = Vec::new();
    for (raw, at) in blocks {
        let block: Block<'_> = object_at(raw.get().as_bytes(), &at)?;
        match block.kind() {
            "text" => {
                let t = block.text.ok_or_else(|| required(&format!("{at}.text")))?;
                join(&mut text, t, "\n\n");
            }
            "tool_use" => {
                let input = block
                    .input
                    .ok_or_else(|| required(&format!("{at}.input")))?;
                if !input.get().starts_with('{') {
                    return Err(Invalid(format!("{at}.input: Input should be an object")));
                }
                tool_calls.push(hub::ToolCall::function(
                    block.id.ok_or_else(|| required(&format!("{at}.id")))?,
                    block.name.ok_or_else(|| required(&format!("{at}.name")))?,
                    Cow::Borrowed(input.get()),
                ));
            }
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(unsupported_block(
                    &at,
                    other,
                    "assistant",
                    "text, tool_use, thinking",
                ))
            }
        }
    }
    if text.is_empty() && tool_calls.is_empty() {
        return Ok(());
    }
    let text = (!text.is_empty()).then_some(text);
    messages.push(hub::Message::assistant(text, tool_calls));
    Ok(())
}

/// An `image` block's `source`: `base64` -> a `data:<media_type>;base64,`
/// URL, `url` -> the URL. `file` sources (Anthropic's Files API) are refused.
fn image_part<'a>(source: Option<&'a RawValue>, at: &str) -> Result<hub::Part<'a>, Invalid> {
    let at = format!("{at}.source");
    let source: ImageSource<'_> =
        object_at(source.ok_or_else(|| required(&at))?.get().as_bytes(), &at)?;
    let url = match source.kind.as_deref() {
        Some("base64") => {
            let media_type = source
                .media_type
                .ok_or_else(|| required(&format!("{at}.media_type")))?;
            let data = source.data.ok_or_else(|| required(&format!("{at}.data")))?;
            Cow::Owned(format!("data:{media_type};base64,{data}"))
        }
        Some("url") => source.url.ok_or_else(|| required(&format!("{at}.url")))?,
        Some("file") => return Err(needs_anthropic(&at, "Files API images")),
        Some(other) => {
            return Err(Invalid(format!(
                "{at}.type: unknown image source type '{other}' (expected base64 or url)"
            )))
        }
        None => return Err(required(&format!("{at}.type"))),
    };
    Ok(hub::Part::image(url))
}

/// `system`: a string, or text blocks joined by a blank line.
fn system_text<'a>(raw: &'a RawValue, at: &str) -> Result<Cow<'a, str>, Invalid> {
    match Content::read(Some(raw), at)? {
        Content::Text(text) => Ok(text),
        Content::Blocks(blocks) => {
            let mut text = Cow::Borrowed("");
            for (raw, at) in blocks {
                let block: Block<'_> = object_at(raw.get().as_bytes(), &at)?;
                match block.kind() {
                    "text" => join(
                        &mut text,
                        block.text.ok_or_else(|| required(&format!("{at}.text")))?,
                        "\n\n",
                    ),
                    other => {
                        return Err(Invalid(format!(
                            "{at}.type: system blocks must be text blocks, not '{other}'"
                        )))
                    }
                }
            }
            Ok(text)
        }
    }
}

/// A custom tool (`type` absent or `custom`) -> a function tool with
/// `parameters` = `input_schema` (and `strict` when given). Anthropic's
/// server and versioned tools (`web_search_…`, `bash_…`, `text_editor_…`,
/// `computer_…`, `code_execution_…`, …) are refused: the model behind
/// another provider has neither their definitions nor their servers.
fn custom_tool<'a>(raw: &'a RawValue, at: &str) -> Result<hub::Tool<'a>, Invalid> {
    let tool: InTool<'_> = object_at(raw.get().as_bytes(), at)?;
    match tool.kind.as_deref() {
        None | Some("custom") => {}
        Some(kind) => {
            return Err(Invalid(format!(
                "{at}.type: '{kind}' is an Anthropic-defined tool; it needs a model served by an \
                 Anthropic provider (only custom tools with an input_schema can be sent to this one)"
            )))
        }
    }
    let name = tool.name.ok_or_else(|| required(&format!("{at}.name")))?;
    let schema = tool
        .input_schema
        .ok_or_else(|| required(&format!("{at}.input_schema")))?;
    if !schema.get().starts_with('{') {
        return Err(Invalid(format!(
            "{at}.input_schema: Input should be an object"
        )));
    }
    Ok(hub::Tool::function(hub::Function {
        name,
        description: tool.description,
        parameters: Some(hub::Schema::AsSent(schema)),
        strict: tool.strict,
    }))
}

fn tool_choice(
    choice: InToolChoice<'_>,
) -> Result<(Option<hub::ToolChoice<'_>>, Option<bool>), Invalid> {
    let parallel = (choice.disable_parallel_tool_use == Some(true)).then_some(false);
    let mode = match choice.kind.as_deref() {
        Some("auto") => hub::ToolChoice::Mode("auto"),
        Some("any") => hub::ToolChoice::Mode("required"),
        Some("none") => return Ok((Some(hub::ToolChoice::Mode("none")), None)),
        Some("tool") => hub::ToolChoice::function(
            choice.name.ok_or_else(|| required("tool_choice.name"))?,
        ),
        Some(other) => {
            return Err(Invalid(format!(
                "tool_choice.type: unknown tool_choice type '{other}' (expected auto, any, tool or none)"
            )))
        }
        None => return Err(required("tool_choice.type")),
    };
    Ok((Some(mode), parallel))
}

/// `reasoning_effort` for Anthropic's `thinking` and `output_config.effort`
/// (the rules are in [`to_chat`]'s doc).
fn reasoning_effort(
    thinking: Option<&InThinking<'_>>,
    effort: Option<&str>,
) -> Result<Option<&'static str>, Invalid> {
    let effort = match effort {
        None => None,
        Some("low") => Some("low"),
        Some("medium") => Some("medium"),
        Some("high" | "xhigh" | "max") => Some("high"),
        Some(other) => {
            return Err(Invalid(format!(
                "output_config.effort: unknown effort '{other}' (expected low, medium, high, xhigh or max)"
            )))
        }
    };
    let Some(thinking) = thinking else {
        return Ok(None);
    };
    match thinking.kind.as_deref() {
        Some("enabled") => {
            let budget = thinking
                .budget_tokens
                .ok_or_else(|| required("thinking.budget_tokens"))?;
            Ok(Some(match budget {
                0..4096 => "low",
                4096..16384 => "medium",
                _ => "high",
            }))
        }
        Some("adaptive") => Ok(effort),
        Some("disabled") => Ok(None),
        Some(other) => Err(Invalid(format!(
            "thinking.type: unknown thinking type '{other}' (expected enabled, adaptive or disabled)"
        ))),
        None => Err(required("thinking.type")),
    }
}

fn response_format<'a>(
    format: OutputFormat<'a>,
    at: &str,
) -> Result<hub::ResponseFormat<'a>, Invalid> {
    match format.kind.as_deref() {
        Some("json_schema") => {}
        Some(other) => {
            return Err(Invalid(format!(
                "{at}.type: unknown output format '{other}' (expected json_schema)"
            )))
        }
        None => return Err(required(&format!("{at}.type"))),
    }
    let schema = format
        .schema
        .ok_or_else(|| required(&format!("{at}.schema")))?;
    Ok(hub::ResponseFormat::JsonSchema {
        json_schema: hub::JsonSchema {
            name: Cow::Borrowed("output"),
            description: None,
            schema: hub::Schema::AsSent(schema),
            strict: Some(true),
        },
    })
}

// ---- helpers ----

/// Appends `piece` to `acc` with `separator` between, copying only when
/// there is more than one piece.
fn join<'a>(acc: &mut Cow<'a, str>, piece: Cow<'a, str>, separator: &str) {
    if acc.is_empty() {
        *acc = piece;
    } else {
        let acc = acc.to_mut();
        acc.push_str(separator);
        acc.push_str(&piece);
    }
}

fn needs_anthropic(at: &str, what: &str) -> Invalid {
    Invalid(format!(
        "{at}: {what} are Anthropic's own; they need a model served by an Anthropic provider"
    ))
}

/// A content block type the hub cannot carry; `supported` lists what can.
fn unsupported_block(at: &str, kind: &str, role: &str, supported: &str) -> Invalid {
    Invalid(format!(
        "{at}.type: '{kind}' blocks in {role} messages are not supported by this model's provider \
         (it does not speak Anthropic's API); supported: {supported}"
    ))
}
