//! The Response object (`"object": "response"`): the output items, usage,
//! the envelope every answer and stream snapshot shares, and `from_chat`,
//! which builds one from a whole chat completion.
//!
//! The envelope carries every field the real service always sends (checked
//! against the recordings in `../shared/fixtures/{azure,openai}/responses-*`).
//! The request is not known here, so the echoes are the API's defaults:
//! `instructions`, `max_output_tokens`, `temperature` and `top_p` are null,
//! `tools` is empty, `tool_choice` is `"auto"`, `parallel_tool_calls` is
//! true, `text.format` is `text`; `store` is false, as nothing is stored.
//!
//! A chat `refusal` becomes `output_text`: strict clients (the Vercel AI
//! SDK) accept no other content part in a message.

use serde::{Serialize, Serializer};

use super::new_id;
use crate::inbound::chat::answer::{ChatAnswer, Piece, Usage as ChatUsage};
use crate::inbound::BadAnswer;
use crate::schema::openai::unix_now;

/// `status` of a message or function call item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

/// An output item, with its text or arguments so far.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item {
    /// The model's thinking, as one summary text.
    Reasoning { id: String, text: String },
    /// The answer's text, as one `output_text` part.
    Message {
        id: String,
        text: String,
        status: ItemStatus,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: ItemStatus,
    },
}

impl Item {
    pub(super) fn message(text: String) -> Self {
        Item::Message {
            id: new_id("msg"),
            text,
            status: ItemStatus::InProgress,
        }
    }

    /// Sets the status of a message or function call; reasoning items have none.
    pub(super) fn set_status(&mut self, new: ItemStatus) {
        if let Item::Message { status, .. } | Item::FunctionCall { status, .. } = self {
            *status = new;
        }
    }

    /// The item as `response.output_item.added` shows it: no text yet.
    pub(super) fn as_added(&self) -> ItemView<'_> {
        ItemView {
            item: self,
            added: true,
        }
    }
}

/// An item as written: whole, or as it is when just added.
pub(super) struct ItemView<'a> {
    item: &'a Item,
    added: bool,
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ItemView {
            item: self,
            added: false,
        }
        .serialize(s)
    }
}

/// An `output_text` content part.
#[derive(Serialize)]
pub(super) struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    annotations: [(); 0],
    logprobs: [(); 0],
    text: &'a str,
}

impl<'a> OutputText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        OutputText {
            kind: "output_text",
            annotations: [],
            logprobs: [],
            text,
        }
    }
}

/// A `summary_text` part of a reasoning item.
#[derive(Serialize)]
pub(super) struct SummaryText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

impl<'a> SummaryText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        SummaryText {
            kind: "summary_text",
            text,
        }
    }
}

impl Serialize for ItemView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Reasoning<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            summary: &'a [SummaryText<'a>],
        }
        #[derive(Serialize)]
        struct Message<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            status: ItemStatus,
            content: &'a [OutputText<'a>],
            role: &'static str,
        }
        #[derive(Serialize)]
        struct FunctionCall<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            status: ItemStatus,
            arguments: &'a str,
            call_id: &'a str,
            name: &'a str,
        }
        match self.item {
            Item::Reasoning { id, text } => {
                let whole = [SummaryText::new(text)];
                Reasoning {
                    id,
                    kind: "reasoning",
                    summary: if self.added { &[] } else { &whole },
                }
                .serialize(s)
            }
            Item::Message { id, text, status } => {
                let whole = [OutputText::new(text)];
                Message {
                    id,
                    kind: "message",
                    status: *status,
                    content: if self.added { &[] } else { &whole },
                    role: "assistant",
                }
                .serialize(s)
            }
            Item::FunctionCall {
                id,
                call_id,
                name,
                arguments,
                status,
            } => FunctionCall {
                id,
                kind: "function_call",
                status: *status,
                arguments: if self.added { "" } else { arguments },
                call_id,
                name,
            }
            .serialize(s),
        }
    }
}

/// `usage` of a finished response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(super) struct Usage {
    input_tokens: u64,
    input_tokens_details: InputTokensDetails,
    output_tokens: u64,
    output_tokens_details: OutputTokensDetails,
    total_tokens: u64,
}

/// `cache_write_tokens` is not in the recordings, but the current API
/// reference (and the openai SDK's types) require it; chat usage does not
/// report cache writes, so it is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct InputTokensDetails {
    cached_tokens: u64,
    cache_write_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct OutputTokensDetails {
    reasoning_tokens: u64,
}

impl Usage {
    /// The same counts under the names Responses uses: cached tokens are
    /// counted inside the input, reasoning tokens inside the output, as in
    /// chat completions.
    pub(super) fn from_chat(usage: ChatUsage) -> Self {
        Usage {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: InputTokensDetails {
                cached_tokens: usage.cached_tokens,
                cache_write_tokens: 0,
            },
            output_tokens: usage.completion_tokens,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: usage.reasoning_tokens,
            },
            total_tokens: usage.total_tokens,
        }
    }
}

/// How a response ended, from the chat `finish_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Completed,
    /// `incomplete_details.reason`: `max_output_tokens` or `content_filter`.
    Incomplete(&'static str),
}

impl Outcome {
    /// `length` and `content_filter` cut the answer short; every other
    /// reason (`stop`, `tool_calls`, or none) finished it.
    pub(super) fn of(finish_reason: Option<&str>) -> Self {
        match finish_reason {
            Some("length") => Outcome::Incomplete("max_output_tokens"),
            Some("content_filter") => Outcome::Incomplete("content_filter"),
            _ => Outcome::Completed,
        }
    }

    /// The status of the item the answer ended in.
    pub(super) fn last_item_status(self) -> ItemStatus {
        match self {
            Outcome::Completed => ItemStatus::Completed,
            Outcome::Incomplete(_) => ItemStatus::Incomplete,
        }
    }
}

/// `status` of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    InProgress,
    Done(Outcome),
    /// With `error.code` and `error.message`.
    Failed,
}

/// A response's `error` when it failed: `{code, message}` as in
/// `response.failed` events.
#[derive(Serialize)]
pub(super) struct ResponseError<'a> {
    pub(super) code: &'a str,
    pub(super) message: &'a str,
}

/// One Response object: the answer or a stream's snapshot of it.
pub(super) struct ResponseObject<'a> {
    pub(super) id: &'a str,
    pub(super) created_at: u64,
    pub(super) model: &'a str,
    pub(super) status: Status,
    pub(super) output: &'a [Item],
    /// Null until the response is done.
    pub(super) usage: Option<&'a Usage>,
    pub(super) error: Option<ResponseError<'a>>,
}

impl Serialize for ResponseObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Reason {
            reason: &'static str,
        }
        #[derive(Serialize)]
        struct Reasoning {
            effort: Option<()>,
            summary: Option<()>,
        }
        #[derive(Serialize)]
        struct TextConfig {
            format: Format,
            verbosity: &'static str,
        }
        #[derive(Serialize)]
        struct Format {
            #[serde(rename = "type")]
            kind: &'static str,
        }
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct Wire<'s, 'a> {
            id: &'a str,
            object: &'static str,
            created_at: u64,
            status: &'static str,
            background: bool,
            completed_at: Option<u64>,
            error: &'s Option<ResponseError<'a>>,
            incomplete_details: Option<Reason>,
            instructions: Option<()>,
            max_output_tokens: Option<()>,
            max_tool_calls: Option<()>,
            model: &'a str,
            output: &'a [Item],
            parallel_tool_calls: bool,
            previous_response_id: Option<()>,
            prompt_cache_key: Option<()>,
            prompt_cache_retention: Option<()>,
            reasoning: Reasoning,
            safety_identifier: Option<()>,
            service_tier: &'static str,
            store: bool,
            temperature: Option<()>,
            text: TextConfig,
            tool_choice: &'static str,
            tools: [(); 0],
            top_logprobs: u32,
            top_p: Option<()>,
            truncation: &'static str,
            usage: Option<&'a Usage>,
            user: Option<()>,
            metadata: Empty,
        }
        let (status, incomplete_details) = match self.status {
            Status::InProgress => ("in_progress", None),
            Status::Done(Outcome::Completed) => ("completed", None),
            Status::Done(Outcome::Incomplete(reason)) => ("incomplete", Some(Reason { reason })),
            Status::Failed => ("failed", None),
        };
        Wire {
            id: self.id,
            object: "response",
            created_at: self.created_at,
            status,
            background: false,
            completed_at: matches!(self.status, Status::Done(_)).then(unix_now),
            error: &self.error,
            incomplete_details,
            instructions: None,
            max_output_tokens: None,
            max_tool_calls: None,
            model: self.model,
            output: self.output,
            parallel_tool_calls: true,
            previous_response_id: None,
            prompt_cache_key: None,
            prompt_cache_retention: None,
            reasoning: Reasoning {
                effort: None,
                summary: None,
            },
            safety_identifier: None,
            service_tier: "default",
            store: false,
            temperature: None,
            text: TextConfig {
                format: Format { kind: "text" },
                verbosity: "medium",
            },
            tool_choice: "auto",
            tools: [],
            top_logprobs: 0,
            top_p: None,
            truncation: "disabled",
            usage: self.usage,
            user: None,
            metadata: Empty {},
        }
        .serialize(s)
    }
}

/// Closes a finished answer's output: an answer with no item at all gets an
/// empty message (clients look for one), and the last item takes the
/// outcome's status.
pub(super) fn finish_output(items: &mut Vec<Item>, outcome: Outcome) {
    if items.is_empty() {
        items.push(Item::message(String::new()));
    }
    if let Some(last) = items.last_mut() {
        last.set_status(outcome.last_item_status());
    }
}

/// A whole `chat.completion` -> a Response: a reasoning item when the
/// message has reasoning text, a message item when it has text, then one
/// `function_call` item per tool call. `model` is the model the client
/// asked for.
pub fn from_chat(chat: &[u8], model: &str, out: &mut Vec<u8>) -> Result<(), BadAnswer> {
    let completion = ChatAnswer::parse_completion(chat)?;
    let (message, finish_reason) = completion.completion_message()?;
    let mut items = Vec::new();
    let (mut reasoning, mut text) = (String::new(), String::new());
    message.pieces(|piece| {
        match piece {
            Piece::Reasoning(r) => reasoning.push_str(&r.text()?),
            Piece::Text(t) => text.push_str(&t.text()?),
        }
        Ok(())
    })?;
    if !reasoning.is_empty() {
        items.push(Item::Reasoning {
            id: new_id("rs"),
            text: reasoning,
        });
    }
    if !text.is_empty() {
        let mut message = Item::message(text);
        message.set_status(ItemStatus::Completed);
        items.push(message);
    }
    for call in message.tool_calls() {
        let name = call
            .name()
            .ok_or_else(|| BadAnswer("tool call without a function name".to_owned()))?;
        items.push(Item::FunctionCall {
            id: new_id("fc"),
            call_id: call
                .id
                .as_deref()
                .map_or_else(|| new_id("call"), str::to_owned),
            name: name.to_owned(),
            arguments: call.arguments()?.into_owned(),
            status: ItemStatus::Completed,
        });
    }
    let outcome = Outcome::of(finish_reason);
    finish_output(&mut items, outcome);
    let usage = completion.usage().map(Usage::from_chat).unwrap_or_default();
    let response = ResponseObject {
        id: &new_id("resp"),
        created_at: unix_now(),
        model,
        status: Status::Done(outcome),
        output: &items,
        usage: Some(&usage),
        error: None,
    };
    serde_json::to_writer(&mut *out, &response)
        .map_err(|e| BadAnswer(format!("cannot write response: {e}")))
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
