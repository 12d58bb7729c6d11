//! Chat chunks in, Responses stream events out
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>).
//!
//! Every event is `event: <type>\ndata: <json>\n\n`, its JSON carrying the
//! same `type` and a `sequence_number` counting from 0. The stream opens
//! with `response.created` and `response.in_progress`; then each output item
//! in turn is added, streamed and done (one item open at a time, as the real
//! service does): reasoning as a summary part, text as an `output_text`
//! part, a tool call as a `function_call` with its argument deltas. The last
//! event is `response.completed` (or `response.incomplete`) with the whole
//! Response, or `error` then `response.failed`.
//!
//! Usage comes after `finish_reason` in chat streams, so the terminal event
//! waits for the usage chunk (or `finish`); everything after it is ignored.

use super::events::{
    ArgumentsDelta, ArgumentsDone, ErrorBody, ErrorDetail, Events, ItemBody, PartBody,
    ResponseBody, SummaryDelta, SummaryDone, SummaryPartBody, TextDelta, TextDone,
};
use super::new_id;
use super::response::{
    finish_output, Item, ItemStatus, Outcome, OutputText, ResponseError, ResponseObject, Status,
    SummaryText, Usage,
};
use crate::inbound::chat::answer::{ChatAnswer, Piece, ToolCallPiece, UpstreamError};
use crate::inbound::BadAnswer;
use crate::schema::openai::unix_now;

/// Where a tool call of the chat stream went: the key upstream names it by
/// and its output item.
struct ToolSlot {
    index: Option<u32>,
    upstream_id: Option<String>,
    item: usize,
}

/// Encodes one Responses stream.
pub struct StreamEncoder {
    model: String,
    response_id: String,
    created_at: u64,
    events: Events,
    started: bool,
    /// The terminal event is written; nothing more is.
    ended: bool,
    items: Vec<Item>,
    /// The item being streamed: always the last one.
    open: Option<usize>,
    tools: Vec<ToolSlot>,
    /// `finish_reason` has come (and closed the open item).
    finish: Option<Outcome>,
    usage: Option<Usage>,
}

/// The upstream's message for an error inside its stream, for the client.
fn in_band_error(error: UpstreamError<'_>) -> BadAnswer {
    match error.message {
        Some(message) => BadAnswer(format!("upstream stream error: {message}")),
        None => BadAnswer("upstream stream error".to_owned()),
    }
}

/// The Responses `error.code` and OpenAI `error.type` of a stream that
/// broke with `status`. Codes are from the API's list for response errors.
fn failure_code(status: u16) -> (&'static str, &'static str) {
    match status {
        429 => ("rate_limit_error", "rate_limit_exceeded"),
        400..=499 => ("invalid_request_error", "server_error"),
        _ => ("server_error", "server_error"),
    }
}

impl StreamEncoder {
    /// A stream for the model the client asked for.
    pub fn new(model: &str) -> Self {
        StreamEncoder {
            model: model.to_owned(),
            response_id: new_id("resp"),
            created_at: unix_now(),
            events: Events::default(),
            started: false,
            ended: false,
            items: Vec::new(),
            open: None,
            tools: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    pub fn content_type(&self) -> &'static [u8] {
        b"text/event-stream"
    }

    /// One chat chunk. A chunk that is not JSON, or reports an upstream
    /// error in the stream, is a `BadAnswer` and writes nothing; one that is
    /// wrong inside (a `content` that is not text, a tool call without a
    /// name, arguments for a call already done) is a `BadAnswer` after whole
    /// events for what came before it. Either way the driver then ends the
    /// stream with [`fail`](Self::fail), which leaves it well formed.
    pub fn on_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        if self.ended {
            return Ok(());
        }
        let chunk = ChatAnswer::parse_chunk(data)?;
        if let Some(error) = chunk.error() {
            return Err(in_band_error(error));
        }
        self.start(out);
        if let Some(choice) = chunk.chunk_choice() {
            if let Some(delta) = choice.delta() {
                delta.pieces(|piece| {
                    match piece {
                        Piece::Reasoning(r) => self.reasoning(out, &r.text()?),
                        Piece::Text(t) => self.text(out, &t.text()?),
                    }
                    Ok(())
                })?;
                for call in delta.tool_calls() {
                    self.tool_call(out, call)?;
                }
            }
            if let Some(reason) = choice.finish_reason() {
                let outcome = Outcome::of(Some(reason));
                self.close_open(out, outcome.last_item_status());
                self.finish = Some(outcome);
            }
        }
        if let Some(usage) = chunk.usage() {
            self.usage = Some(Usage::from_chat(usage));
        }
        if self.finish.is_some() && self.usage.is_some() {
            self.complete(out);
        }
        Ok(())
    }

    /// The chat stream ended well: the open item is closed and the response
    /// completed (with zero usage if none came).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.complete(out);
    }

    /// The stream broke: an `error` event, then `response.failed` with the
    /// output so far (an open item is left `in_progress`).
    pub fn fail(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        let (kind, code) = failure_code(status);
        self.events.write(
            out,
            "error",
            ErrorBody {
                error: ErrorDetail {
                    kind,
                    code,
                    message,
                    param: None,
                },
            },
        );
        let response = ResponseObject {
            id: &self.response_id,
            created_at: self.created_at,
            model: &self.model,
            status: Status::Failed,
            output: &self.items,
            usage: self.usage.as_ref(),
            error: Some(ResponseError { code, message }),
        };
        self.events
            .write(out, "response.failed", ResponseBody { response });
        self.ended = true;
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        for kind in ["response.created", "response.in_progress"] {
            let response = ResponseObject {
                id: &self.response_id,
                created_at: self.created_at,
                model: &self.model,
                status: Status::InProgress,
                output: &[],
                usage: None,
                error: None,
            };
            self.events.write(out, kind, ResponseBody { response });
        }
    }

    /// Closes the open item and writes the terminal event.
    fn complete(&mut self, out: &mut Vec<u8>) {
        let outcome = self.finish.unwrap_or(Outcome::Completed);
        self.close_open(out, outcome.last_item_status());
        if self.items.is_empty() {
            // The same empty message `from_chat` gives, streamed.
            self.add(out, Item::message(String::new()));
            self.close_open(out, outcome.last_item_status());
        }
        finish_output(&mut self.items, outcome);
        let usage = self.usage.unwrap_or_default();
        let response = ResponseObject {
            id: &self.response_id,
            created_at: self.created_at,
            model: &self.model,
            status: Status::Done(outcome),
            output: &self.items,
            usage: Some(&usage),
            error: None,
        };
        let kind = match outcome {
            Outcome::Completed => "response.completed",
            Outcome::Incomplete(_) => "response.incomplete",
        };
        self.events.write(out, kind, ResponseBody { response });
        self.ended = true;
    }

    /// Adds `item` as the open one and writes its opening events.
    fn add(&mut self, out: &mut Vec<u8>, item: Item) -> usize {
        let index = self.items.len();
        self.events.write(
            out,
            "response.output_item.added",
            ItemBody {
                output_index: index,
                item: item.as_added(),
            },
        );
        match &item {
            Item::Message { id, .. } => self.events.write(
                out,
                "response.content_part.added",
                PartBody {
                    item_id: id,
                    output_index: index,
                    content_index: 0,
                    part: OutputText::new(""),
                },
            ),
            Item::Reasoning { id, .. } => self.events.write(
                out,
                "response.reasoning_summary_part.added",
                SummaryPartBody {
                    item_id: id,
                    output_index: index,
                    summary_index: 0,
                    part: SummaryText::new(""),
                },
            ),
            Item::FunctionCall { .. } => {}
        }
        self.items.push(item);
        self.open = Some(index);
        index
    }

    /// Writes the closing events of the open item, if any, with `status`.
    fn close_open(&mut self, out: &mut Vec<u8>, status: ItemStatus) {
        let Some(index) = self.open.take() else {
            return;
        };
        let Some(item) = self.items.get_mut(index) else {
            return;
        };
        item.set_status(status);
        let events = &mut self.events;
        match &*item {
            Item::Reasoning { id, text } => {
                events.write(
                    out,
                    "response.reasoning_summary_text.done",
                    SummaryDone {
                        item_id: id,
                        output_index: index,
                        summary_index: 0,
                        text,
                    },
                );
                events.write(
                    out,
                    "response.reasoning_summary_part.done",
                    SummaryPartBody {
                        item_id: id,
                        output_index: index,
                        summary_index: 0,
                        part: SummaryText::new(text),
                    },
                );
            }
            Item::Message { id, text, .. } => {
                events.write(
                    out,
                    "response.output_text.done",
                    TextDone {
                        item_id: id,
                        output_index: index,
                        content_index: 0,
                        text,
                        logprobs: [],
                    },
                );
                events.write(
                    out,
                    "response.content_part.done",
                    PartBody {
                        item_id: id,
                        output_index: index,
                        content_index: 0,
                        part: OutputText::new(text),
                    },
                );
            }
            Item::FunctionCall {
                id,
                name,
                arguments,
                ..
            } => events.write(
                out,
                "response.function_call_arguments.done",
                ArgumentsDone {
                    item_id: id,
                    name,
                    output_index: index,
                    arguments,
                },
            ),
        }
        events.write(
            out,
            "response.output_item.done",
            ItemBody {
                output_index: index,
                item: &*item,
            },
        );
    }

    /// The open item if it is of the kind `is_kind` accepts; else the open
    /// item is closed and `new()` is added.
    fn open_or_add(
        &mut self,
        out: &mut Vec<u8>,
        is_kind: fn(&Item) -> bool,
        new: impl FnOnce() -> Item,
    ) -> usize {
        match self.open {
            Some(index) if self.items.get(index).is_some_and(is_kind) => index,
            _ => {
                self.close_open(out, ItemStatus::Completed);
                self.add(out, new())
            }
        }
    }

    fn reasoning(&mut self, out: &mut Vec<u8>, delta: &str) {
        let index = self.open_or_add(
            out,
            |item| matches!(item, Item::Reasoning { .. }),
            || Item::Reasoning {
                id: new_id("rs"),
                text: String::new(),
            },
        );
        if let Some(Item::Reasoning { id, text }) = self.items.get_mut(index) {
            text.push_str(delta);
            self.events.write(
                out,
                "response.reasoning_summary_text.delta",
                SummaryDelta {
                    item_id: id,
                    output_index: index,
                    summary_index: 0,
                    delta,
                },
            );
        }
    }

    fn text(&mut self, out: &mut Vec<u8>, delta: &str) {
        let index = self.open_or_add(
            out,
            |item| matches!(item, Item::Message { .. }),
            || Item::message(String::new()),
        );
        if let Some(Item::Message { id, text, .. }) = self.items.get_mut(index) {
            text.push_str(delta);
            self.events.write(
                out,
                "response.output_text.delta",
                TextDelta {
                    item_id: id,
                    output_index: index,
                    content_index: 0,
                    delta,
                    logprobs: [],
                },
            );
        }
    }

    /// A tool call's first piece (with its name) adds a `function_call`
    /// item; later pieces, found by `index` (or by `id`, or as the latest
    /// call when upstream sends neither), add to its arguments. A piece for
    /// a call whose item is already done is refused: its arguments could no
    /// longer reach the client.
    fn tool_call(&mut self, out: &mut Vec<u8>, call: &ToolCallPiece<'_>) -> Result<(), BadAnswer> {
        let known = match (call.index, call.id.as_deref()) {
            (Some(index), _) => self.tools.iter().position(|t| t.index == Some(index)),
            (None, Some(id)) => self
                .tools
                .iter()
                .position(|t| t.upstream_id.as_deref() == Some(id)),
            (None, None) => match self.tools.len() {
                0 => {
                    return Err(BadAnswer(
                        "tool call fragment without index or id before any tool call".to_owned(),
                    ))
                }
                n => Some(n - 1),
            },
        };
        let index = match known {
            Some(slot) => {
                let index = self.tools[slot].item;
                if self.open != Some(index) {
                    return Err(BadAnswer(format!(
                        "arguments for tool call {slot} came after its output item was done"
                    )));
                }
                index
            }
            None => {
                let Some(name) = call.name() else {
                    return Err(BadAnswer("tool call without a function name".to_owned()));
                };
                self.close_open(out, ItemStatus::Completed);
                let upstream_id = call.id.as_deref().map(str::to_owned);
                let item = Item::FunctionCall {
                    id: new_id("fc"),
                    call_id: upstream_id.clone().unwrap_or_else(|| new_id("call")),
                    name: name.to_owned(),
                    arguments: String::new(),
                    status: ItemStatus::InProgress,
                };
                let index = self.add(out, item);
                self.tools.push(ToolSlot {
                    index: call.index,
                    upstream_id,
                    item: index,
                });
                index
            }
        };
        let fragment = call.arguments()?;
        if fragment.is_empty() {
            return Ok(());
        }
        if let Some(Item::FunctionCall { id, arguments, .. }) = self.items.get_mut(index) {
            arguments.push_str(&fragment);
            self.events.write(
                out,
                "response.function_call_arguments.delta",
                ArgumentsDelta {
                    item_id: id,
                    output_index: index,
                    delta: &fragment,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "stream_golden_tests.rs"]
mod golden_tests;
