//! Hub chat chunks -> Anthropic's Messages stream.
//!
//! Anthropic's grammar (what its SDKs' accumulators expect): `message_start`
//! once and first; then per content block, in index order from 0,
//! `content_block_start`, deltas of the block's kind, `content_block_stop`
//! (one block open at a time); then `message_delta` (stop reason, usage) and
//! `message_stop`. Each event is `event: <type>\ndata: <json>\n\n`. A broken
//! stream ends with an `error` event instead.

use std::borrow::Cow;

use serde::Serialize;

use super::answer::{stop_reason, DeltaUsage, InBandError, TokenUsage};
use super::response::{ContentBlock, Message};
use super::{error_type, made_up_id, message_id, write_json, ErrorBody};
use crate::inbound::chat::answer::{ArgumentsObject, ChatAnswer, Piece, ToolCallPiece};
use crate::inbound::BadAnswer;

/// Where the Anthropic stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing written yet.
    Idle,
    /// `message_start` is out.
    Open,
    /// A chunk could not be read; later chunks are ignored and the stream
    /// ends with an `error` event (what was written stays).
    Broken,
    /// `message_stop` is out: the answer is complete, later input is ignored.
    Stopped,
    /// An `error` event is out; nothing follows it.
    Failed,
}

/// The content block being written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpenBlock {
    None,
    Text,
    Thinking,
    /// A tool call, known by its hub `index` (absent from Mistral's) and id.
    Tool {
        hub_index: Option<u32>,
        id: String,
    },
}

/// Writes one Anthropic Messages stream from the hub's chat chunks.
///
/// A new block starts whenever the kind of content changes (reasoning text
/// -> `thinking`, content -> `text`, a new tool call -> `tool_use`); the open
/// block is closed first. The hub's `finish_reason` comes before its usage
/// chunk, so `message_delta` (with the final `input_tokens`,
/// `cache_read_input_tokens` and `output_tokens`; `message_start` says 0)
/// waits for a chunk with usage once a finish reason is known, or for
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct StreamEncoder {
    model: String,
    phase: Phase,
    block: OpenBlock,
    /// Blocks started so far, i.e. the next block's index.
    blocks: u32,
    called_tools: bool,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
    /// Why the stream is [`Phase::Broken`].
    broken: Option<String>,
}

impl StreamEncoder {
    /// A stream naming `model` (the client's) in `message_start`.
    pub fn new(model: &str) -> Self {
        StreamEncoder {
            model: model.to_owned(),
            phase: Phase::Idle,
            block: OpenBlock::None,
            blocks: 0,
            called_tools: false,
            finish_reason: None,
            usage: None,
            broken: None,
        }
    }

    /// `text/event-stream`.
    pub fn content_type(&self) -> &'static [u8] {
        b"text/event-stream"
    }

    /// One hub chunk (the JSON of one `data:` payload). Writes
    /// `message_start` at the first chunk with a choice or usage (the
    /// message id derived from the chunk's), then the events its delta
    /// makes; a chunk with an `error` object (OpenRouter's and Groq's
    /// in-band errors, the gateway's own error frame) ends the stream with an
    /// `error` event. Chunks after the stream ended are ignored.
    ///
    /// Fails, writing nothing for the chunk, when it is not a chat chunk or
    /// a tool call piece cannot be placed: one for a call that is not the
    /// open one and has no function name (the first piece of a call names
    /// it; Anthropic cannot reopen a closed block). The stream is then
    /// broken: later chunks are ignored, and [`finish`](Self::finish) or
    /// [`fail`](Self::fail) ends it with an `error` event.
    pub fn on_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        if matches!(self.phase, Phase::Broken | Phase::Stopped | Phase::Failed) {
            return Ok(());
        }
        let mark = out.len();
        let result = self.chunk(data, out);
        if let Err(e) = &result {
            out.truncate(mark);
            self.phase = Phase::Broken;
            self.broken = Some(e.0.clone());
        }
        result
    }

    fn chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        let chunk = ChatAnswer::parse_chunk(data)?;
        if let Some(error) = chunk.error() {
            let error = InBandError::from_chat(error);
            self.write_error(error.kind, &error.message, out);
            return Ok(());
        }
        let usage = chunk.usage().map(TokenUsage::from_chat);
        let choice = chunk.chunk_choice();
        if choice.is_none() && usage.is_none() {
            // Azure's leading content-filter chunk: no choice, no id worth keeping.
            return Ok(());
        }
        self.start(chunk.id.as_deref(), out);
        if let Some(choice) = choice {
            if let Some(delta) = choice.delta() {
                delta.pieces(|piece| {
                    match piece {
                        Piece::Reasoning(text) => {
                            self.text(OpenBlock::Thinking, &text.text()?, out)
                        }
                        Piece::Text(text) => self.text(OpenBlock::Text, &text.text()?, out),
                    }
                    Ok(())
                })?;
                for piece in delta.tool_calls() {
                    self.tool_call(piece, out)?;
                }
            }
            if let Some(reason) = choice.finish_reason() {
                self.finish_reason.get_or_insert_with(|| reason.to_owned());
            }
        }
        if let Some(usage) = usage {
            self.usage = Some(usage);
            if self.finish_reason.is_some() {
                self.end(out);
            }
        }
        Ok(())
    }

    /// The hub stream ended well: closes the open block and writes
    /// `message_delta` and `message_stop` unless they are out (a stream that
    /// carried nothing still gets `message_start` first). The stop reason is
    /// the hub's, or `end_turn` (`tool_use` after tool calls) if it sent none.
    /// A broken stream (a chunk failed) ends with an `api_error` event
    /// instead. Nothing after an `error` event.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.phase {
            Phase::Stopped | Phase::Failed => {}
            Phase::Broken => {
                let message = self.broken.take().unwrap_or_default();
                self.write_error(
                    "api_error",
                    &format!("the upstream answer could not be read: {message}"),
                    out,
                );
            }
            Phase::Idle | Phase::Open => {
                self.start(None, out);
                self.end(out);
            }
        }
    }

    /// The stream broke off: writes an `error` event whose `type` is
    /// Anthropic's for `status` ([`error_type`]) and closes nothing (an SDK
    /// raises on the event). Nothing once `message_stop` or an error is out.
    pub fn fail(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if matches!(self.phase, Phase::Stopped | Phase::Failed) {
            return;
        }
        self.write_error(error_type(status), message, out);
    }

    fn write_error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        event(out, "error", &ErrorBody::new(kind, message));
        self.phase = Phase::Failed;
    }

    /// Writes `message_start` if it is not out yet.
    fn start(&mut self, chat_id: Option<&str>, out: &mut Vec<u8>) {
        if self.phase != Phase::Idle {
            return;
        }
        let id = message_id(chat_id);
        let message = Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &self.model,
            content: &[] as &[ContentBlock<'_>],
            stop_reason: None,
            stop_sequence: None,
            usage: TokenUsage::default().message_usage(),
        };
        event(
            out,
            "message_start",
            &MessageStart {
                kind: "message_start",
                message,
            },
        );
        self.phase = Phase::Open;
    }

    /// Text for a `text` block, or for a `thinking` one.
    fn text(&mut self, block: OpenBlock, text: &str, out: &mut Vec<u8>) {
        let (start, delta) = if block == OpenBlock::Thinking {
            (
                StartBlock::Thinking {
                    thinking: "",
                    signature: "",
                },
                Delta::Thinking { thinking: text },
            )
        } else {
            (StartBlock::Text { text: "" }, Delta::Text { text })
        };
        if self.block != block {
            self.open(block, &start, out);
        }
        self.delta(delta, out);
    }

    fn tool_call(&mut self, piece: &ToolCallPiece<'_>, out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        let piece_id = piece.id.as_deref().filter(|id| !id.is_empty());
        let continues = match &self.block {
            OpenBlock::Tool { hub_index, id } => match (piece.index, piece_id) {
                (Some(index), _) => *hub_index == Some(index),
                (None, Some(piece_id)) => piece_id == id,
                (None, None) => true,
            },
            _ => false,
        };
        if !continues {
            let name = piece
                .name()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    BadAnswer(format!(
                        "hub tool call piece (index {:?}) has no function name and is not for the open call",
                        piece.index
                    ))
                })?;
            let id: Cow<'_, str> = match piece_id {
                Some(id) => Cow::Borrowed(id),
                None => Cow::Owned(made_up_id("toolu_")),
            };
            let start = StartBlock::ToolUse {
                id: &id,
                name,
                input: ArgumentsObject::Empty,
            };
            let block = OpenBlock::Tool {
                hub_index: piece.index,
                id: id.to_string(),
            };
            self.open(block, &start, out);
            self.called_tools = true;
        }
        let arguments = piece.arguments()?;
        if !arguments.is_empty() {
            self.delta(
                Delta::InputJson {
                    partial_json: &arguments,
                },
                out,
            );
        }
        Ok(())
    }

    /// Closes the open block and starts `block` as the next index.
    fn open(&mut self, block: OpenBlock, start: &StartBlock<'_>, out: &mut Vec<u8>) {
        self.close(out);
        event(
            out,
            "content_block_start",
            &BlockStart {
                kind: "content_block_start",
                index: self.blocks,
                content_block: start,
            },
        );
        self.block = block;
        self.blocks += 1;
    }

    fn delta(&self, delta: Delta<'_>, out: &mut Vec<u8>) {
        event(
            out,
            "content_block_delta",
            &BlockDelta {
                kind: "content_block_delta",
                index: self.blocks.saturating_sub(1),
                delta,
            },
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.block == OpenBlock::None {
            return;
        }
        event(
            out,
            "content_block_stop",
            &BlockStop {
                kind: "content_block_stop",
                index: self.blocks.saturating_sub(1),
            },
        );
        self.block = OpenBlock::None;
    }

    /// Closes the open block, then `message_delta` and `message_stop`.
    fn end(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        let usage = self.usage.unwrap_or_default();
        event(
            out,
            "message_delta",
            &MessageDelta {
                kind: "message_delta",
                delta: StopDelta {
                    stop_reason: stop_reason(self.finish_reason.as_deref(), self.called_tools),
                    stop_sequence: None,
                },
                usage: usage.delta_usage(),
            },
        );
        event(
            out,
            "message_stop",
            &MessageStop {
                kind: "message_stop",
            },
        );
        self.phase = Phase::Stopped;
    }
}

/// `event: <name>\ndata: <json>\n\n`.
fn event(out: &mut Vec<u8>, name: &str, data: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    write_json(data, out);
    out.extend_from_slice(b"\n\n");
}

#[derive(Serialize)]
struct MessageStart<'s, 'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: Message<'s, 'a>,
}

#[derive(Serialize)]
struct BlockStart<'s, 'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    content_block: &'s StartBlock<'a>,
}

/// A block as `content_block_start` announces it: empty, filled by deltas.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: ArgumentsObject,
    },
}

#[derive(Serialize)]
struct BlockDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
    delta: Delta<'a>,
}

/// A `content_block_delta`'s `delta`, typed `text_delta`, `thinking_delta`
/// or `input_json_delta`.
#[derive(Serialize)]
#[serde(tag = "type")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct BlockStop {
    #[serde(rename = "type")]
    kind: &'static str,
    index: u32,
}

#[derive(Serialize)]
struct MessageDelta {
    #[serde(rename = "type")]
    kind: &'static str,
    delta: StopDelta,
    usage: DeltaUsage,
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

#[derive(Serialize)]
struct MessageStop {
    #[serde(rename = "type")]
    kind: &'static str,
}
