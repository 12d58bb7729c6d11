//! A Responses request -> a chat completions request (the hub).
//!
//! Mapped: `model` (as sent), `input` (a string is one user message; items
//! become messages, see [`Conversation`]), `instructions` (a system message
//! first), function `tools`, `tool_choice`, `text.format` (`response_format`),
//! `reasoning.effort` (`reasoning_effort`), `max_output_tokens`
//! (`max_tokens`), `temperature`, `top_p`, `frequency_penalty`,
//! `presence_penalty`, `parallel_tool_calls`, `user` (or else
//! `safety_identifier`), `stream` (with `stream_options.include_usage`, so
//! the answer has usage).
//!
//! Ignored, as they do not change the answer's content: `metadata`, `store`
//! (nothing is stored off OpenAI and Azure; the answer says `store: false`),
//! `include`, `truncation`, `service_tier`, `prompt_cache_key`,
//! `prompt_cache_retention`, `prompt_cache_options`, `stream_options`,
//! `max_tool_calls` (it counts built-in tool calls, which are refused),
//! `top_logprobs` (answers carry empty `logprobs`), `context_management`,
//! `text.verbosity`, `reasoning.summary`, and fields this converter does not
//! know.
//!
//! Refused, as they need OpenAI's stored state or tools: `previous_response_id`,
//! `conversation`, `prompt`, `background: true`, `moderation`, built-in
//! tools, `item_reference` (but to a reasoning item, dropped as the item
//! would be) and other non-message items, `input_file` parts,
//! images by `file_id`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::input::Conversation;
use super::options::{reasoning_effort, response_format, tool_choice, tools};
use crate::inbound::chat::request::{ChatRequest, Number, ToolChoice};
use crate::inbound::{Converted, Invalid};
use crate::schema::openai::string;

/// The request's top level, each field kept raw and decoded where it is
/// read, so a wrong type is reported by name.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_output_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    frequency_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    presence_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parallel_tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    safety_identifier: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
    #[serde(borrow, default)]
    background: Option<&'a RawValue>,
    #[serde(borrow, default)]
    previous_response_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    conversation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow, default)]
    moderation: Option<&'a RawValue>,
}

/// Decodes field `name` as `T`, or says which field is wrong.
pub(super) fn decode<'a, T: Deserialize<'a>>(raw: &'a RawValue, name: &str) -> Result<T, Invalid> {
    serde_json::from_str(raw.get()).map_err(|e| Invalid(format!("invalid `{name}`: {e}")))
}

/// Decodes a field that must be a string.
pub(super) fn text_field<'a>(raw: &'a RawValue, name: &str) -> Result<Cow<'a, str>, Invalid> {
    string(raw).map_err(|_| Invalid(format!("`{name}` must be a string")))
}

/// A field that must be a JSON number, passed on as sent.
fn number_field<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Option<Number<'a>>, Invalid> {
    match raw {
        Some(raw) if serde_json::from_str::<f64>(raw.get()).is_err() => {
            Err(Invalid(format!("`{name}` must be a number")))
        }
        raw => Ok(raw.map(Number::AsSent)),
    }
}

/// The Responses request `body` -> a chat completions body appended to
/// `out` (left as it was on failure).
pub fn to_chat(body: &[u8], out: &mut Vec<u8>) -> Result<Converted, Invalid> {
    // serde reads a struct from an array too; a request is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Invalid(
            "invalid request body: expected a JSON object".to_owned(),
        ));
    }
    let req: Request<'_> =
        serde_json::from_slice(body).map_err(|e| Invalid(format!("invalid request body: {e}")))?;
    refuse_stored_state(&req)?;

    let model = match req.model {
        Some(model) => text_field(model, "model")?,
        None => return Err(Invalid("`model` is required".to_owned())),
    };
    let stream = match req.stream {
        Some(raw) => decode::<bool>(raw, "stream")?,
        None => false,
    };

    let mut conversation = Conversation::default();
    if let Some(raw) = req.instructions {
        conversation.instructions(text_field(raw, "instructions")?);
    }
    match req.input {
        None => return Err(Invalid("`input` is required".to_owned())),
        Some(raw) if raw.get().starts_with('"') => {
            conversation.user_text(text_field(raw, "input")?);
        }
        Some(raw) if raw.get().starts_with('[') => {
            let items: Vec<&RawValue> = decode(raw, "input")?;
            if items.is_empty() {
                return Err(Invalid("`input` must not be an empty array".to_owned()));
            }
            let before = conversation.len();
            for (i, item) in items.into_iter().enumerate() {
                conversation
                    .item(item)
                    .map_err(|e| Invalid(format!("input[{i}]: {}", e.0)))?;
            }
            if conversation.len() == before {
                return Err(Invalid(
                    "`input` has only reasoning items, which are dropped: nothing to answer"
                        .to_owned(),
                ));
            }
        }
        Some(_) => {
            return Err(Invalid(
                "`input` must be a string or an array of input items".to_owned(),
            ))
        }
    }

    let tools = match req.tools {
        Some(raw) => tools(raw)?,
        None => Vec::new(),
    };
    let mut tool_choice = req.tool_choice.map(tool_choice).transpose()?;
    let mut parallel_tool_calls = req
        .parallel_tool_calls
        .map(|raw| decode::<bool>(raw, "parallel_tool_calls"))
        .transpose()?;
    if tools.is_empty() {
        // Chat APIs refuse these without tools; without tools they say nothing.
        parallel_tool_calls = None;
        if matches!(tool_choice, Some(ToolChoice::Mode("auto" | "none"))) {
            tool_choice = None;
        }
    }

    let user = match (req.user, req.safety_identifier) {
        (Some(raw), _) => Some(text_field(raw, "user")?),
        (None, Some(raw)) => Some(text_field(raw, "safety_identifier")?),
        (None, None) => None,
    };

    let chat = ChatRequest {
        max_tokens: req
            .max_output_tokens
            .map(|raw| decode::<u64>(raw, "max_output_tokens"))
            .transpose()?,
        temperature: number_field(req.temperature, "temperature")?,
        top_p: number_field(req.top_p, "top_p")?,
        frequency_penalty: number_field(req.frequency_penalty, "frequency_penalty")?,
        presence_penalty: number_field(req.presence_penalty, "presence_penalty")?,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format: req.text.map(response_format).transpose()?.flatten(),
        reasoning_effort: req.reasoning.map(reasoning_effort).transpose()?.flatten(),
        user,
        ..ChatRequest::new(model, conversation.messages, stream)
    };
    chat.write(out)?;
    Ok(Converted { stream })
}

/// Refuses what only a provider that keeps responses can serve.
fn refuse_stored_state(req: &Request<'_>) -> Result<(), Invalid> {
    const SEND_INPUT: &str = "send the conversation in `input` instead";
    if req.previous_response_id.is_some() {
        return Err(Invalid(format!(
            "`previous_response_id` needs a provider that stores responses (openai or azure); {SEND_INPUT}"
        )));
    }
    if req.conversation.is_some() {
        return Err(Invalid(format!(
            "`conversation` needs a provider that stores conversations (openai or azure); {SEND_INPUT}"
        )));
    }
    if req.prompt.is_some() {
        return Err(Invalid(
            "`prompt` (a stored prompt template) needs an openai or azure provider; \
             send `instructions` and `input` instead"
                .to_owned(),
        ));
    }
    if let Some(raw) = req.background {
        if decode::<bool>(raw, "background")? {
            return Err(Invalid(
                "`background: true` needs a provider that stores responses (openai or azure); \
                 send the request without it"
                    .to_owned(),
            ));
        }
    }
    if req.moderation.is_some() {
        return Err(Invalid(
            "`moderation` needs an openai or azure provider; send the request without it"
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
