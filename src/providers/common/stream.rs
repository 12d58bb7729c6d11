//! What the chunk-stream translators share on the OpenAI side: where the
//! stream is, the chunk envelope (built once the upstream names the
//! completion), tool calls counted from 0, and how a stream ends (usage chunk
//! and `[DONE]`, or an error frame).
//!
//! Everything here runs per event: plain fields and generic closures, no
//! allocation and no dynamic dispatch.

use serde_json::value::RawValue;

use super::TranslateError;
use crate::schema::openai::{write_error_event, ChunkWriter, CompletionUsage};

/// The JSON string token of an empty string, as upstream sends it.
const EMPTY_JSON_STRING: &str = "\"\"";

/// A [`TranslateError::BadResponse`] with a fixed message.
pub(crate) fn bad(msg: &str) -> TranslateError {
    TranslateError::BadResponse(msg.to_owned())
}

/// A `&RawValue` that must be a JSON string, to be spliced as one.
pub(crate) fn json_string(raw: &RawValue) -> Result<&str, TranslateError> {
    let s = raw.get();
    if s.starts_with('"') {
        Ok(s)
    } else {
        Err(bad("expected a JSON string in delta"))
    }
}

/// The stream event's JSON, or a `BadResponse` naming the parse error.
pub(crate) fn parse_event<'a, T: serde::Deserialize<'a>>(
    data: &'a [u8],
) -> Result<T, TranslateError> {
    serde_json::from_slice(data)
        .map_err(|e| TranslateError::BadResponse(format!("stream event: {e}")))
}

/// An event's type: the data's `type` wins over the SSE `event:` name.
pub(crate) fn event_kind<'a>(
    data_type: Option<&'a str>,
    event: &'a str,
) -> Result<&'a str, TranslateError> {
    match data_type {
        Some(k) => Ok(k),
        None if !event.is_empty() => Ok(event),
        None => Err(bad("stream event without a type")),
    }
}

/// Runs `write`; if it fails, drops what it appended, so that no half frame
/// is ever left behind for the client.
pub(crate) fn all_or_nothing(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), TranslateError>,
) -> Result<(), TranslateError> {
    let mark = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

/// Where a translated stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The upstream has not yet named the completion.
    AwaitingStart,
    Streaming,
    /// The upstream's end (stop reason) was seen: the stream ended well.
    /// Some upstreams still send usage after it. (Bedrock names the phase
    /// in an error message, so the variant names stay as they were.)
    Stopped,
    /// An event could not be translated and later ones are not read
    /// (Gemini, whose chunks each stand alone); `finish` writes an error frame.
    Broken,
    /// An error frame went out; no `[DONE]` follows.
    Errored,
    /// `finish` has run.
    Finished,
}

/// The OpenAI side of one translated stream.
#[derive(Debug)]
pub(crate) struct ChunkStream {
    model: String,
    created: u64,
    include_usage: bool,
    /// Built once the upstream names the completion.
    pub(crate) chunks: ChunkWriter,
    pub(crate) phase: Phase,
    next_tool_index: u32,
}

impl ChunkStream {
    /// A stream reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`; [`start`](Self::start) names it.
    pub(crate) fn new(model: &str, created: u64, include_usage: bool) -> Self {
        ChunkStream {
            model: model.to_owned(),
            created,
            include_usage,
            chunks: ChunkWriter::default(),
            phase: Phase::AwaitingStart,
            next_tool_index: 0,
        }
    }

    /// A stream whose chunks are already named, for upstreams that never name
    /// the completion; [`begin`](Self::begin) starts it.
    pub(crate) fn named(chunks: ChunkWriter, include_usage: bool) -> Self {
        ChunkStream {
            model: String::new(),
            created: 0,
            include_usage,
            chunks,
            phase: Phase::AwaitingStart,
            next_tool_index: 0,
        }
    }

    /// Names the completion `chatcmpl-<upstream_id>` and writes the role chunk.
    pub(crate) fn start(&mut self, upstream_id: &str, out: &mut Vec<u8>) {
        self.chunks = ChunkWriter::new(
            &format!("chatcmpl-{upstream_id}"),
            self.created,
            &self.model,
        );
        self.begin(out);
    }

    /// Writes the role chunk of an already named stream.
    pub(crate) fn begin(&mut self, out: &mut Vec<u8>) {
        self.phase = Phase::Streaming;
        self.chunks.role(out);
    }

    /// No more events are read: an error frame went out, the stream could not
    /// be translated, or `finish` ran.
    pub(crate) fn closed(&self) -> bool {
        matches!(self.phase, Phase::Broken | Phase::Errored | Phase::Finished)
    }

    /// Client tool calls opened so far.
    pub(crate) fn tool_calls(&self) -> u32 {
        self.next_tool_index
    }

    /// The index of the next client tool call.
    pub(crate) fn next_tool_index(&mut self) -> u32 {
        let i = self.next_tool_index;
        self.next_tool_index += 1;
        i
    }

    /// Opens the next client tool call; `arguments` is a JSON string token
    /// (`""` when the arguments follow in fragments).
    pub(crate) fn open_tool_call(
        &mut self,
        out: &mut Vec<u8>,
        id: &str,
        name: &str,
        arguments: &str,
    ) -> ToolCall {
        let tool_index = self.next_tool_index();
        self.chunks.tool_call(out, tool_index, id, name, arguments);
        ToolCall {
            tool_index,
            sent_arguments: arguments != EMPTY_JSON_STRING,
        }
    }

    /// A chunk whose delta is `{"<field>": <raw JSON string>}`; empty strings
    /// send nothing.
    pub(crate) fn text(
        &self,
        out: &mut Vec<u8>,
        field: &str,
        raw: &RawValue,
    ) -> Result<(), TranslateError> {
        self.chunks.text(out, field, json_string(raw)?);
        Ok(())
    }

    /// Ends the stream with an error frame; no `[DONE]` follows.
    pub(crate) fn error(&mut self, message: &str, kind: &str, code: &str, out: &mut Vec<u8>) {
        write_error_event(message, kind, code, out);
        self.phase = Phase::Errored;
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean end; an error frame saying `unfinished` and no `[DONE]` if
    /// upstream ended early or broke; nothing more after an error frame.
    /// Runs once.
    pub(crate) fn finish(
        &mut self,
        out: &mut Vec<u8>,
        unfinished: &str,
        usage: impl FnOnce() -> CompletionUsage,
    ) {
        match self.phase {
            Phase::Finished | Phase::Errored => {}
            Phase::Stopped => {
                let usage = self.include_usage.then(usage);
                self.chunks.done(out, usage.as_ref());
            }
            Phase::AwaitingStart | Phase::Streaming | Phase::Broken => {
                write_error_event(unfinished, "upstream_error", "upstream_error", out)
            }
        }
        self.phase = Phase::Finished;
    }
}

/// One client tool call being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToolCall {
    /// OpenAI `tool_calls[].index`: client tool calls counted from 0.
    pub(crate) tool_index: u32,
    pub(crate) sent_arguments: bool,
}

impl ToolCall {
    /// Sends an argument fragment (a JSON string token); empty ones send
    /// nothing.
    pub(crate) fn arguments(&mut self, chunks: &ChunkWriter, out: &mut Vec<u8>, fragment: &str) {
        if fragment == EMPTY_JSON_STRING {
            return;
        }
        chunks.arguments(out, self.tool_index, fragment);
        self.sent_arguments = true;
    }

    /// Ends the call. A tool without parameters streams no (or only empty)
    /// fragments; OpenAI clients parse `arguments` as JSON, so "" would fail
    /// where {} works.
    pub(crate) fn close(&mut self, chunks: &ChunkWriter, out: &mut Vec<u8>) {
        if !self.sent_arguments {
            chunks.arguments(out, self.tool_index, "\"{}\"");
            self.sent_arguments = true;
        }
    }
}

/// The one content block open in an upstream that streams blocks one after
/// the other (Anthropic, Cohere), so that a delta for any other index is
/// rejected rather than guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenBlock {
    None,
    Text {
        index: u32,
    },
    Thinking {
        index: u32,
    },
    /// A client tool call.
    Tool {
        index: u32,
        call: ToolCall,
    },
    /// A block the client does not see.
    Hidden {
        index: u32,
    },
}

impl OpenBlock {
    /// The upstream index of the open block.
    pub(crate) fn index(self) -> Option<u32> {
        match self {
            OpenBlock::None => None,
            OpenBlock::Text { index }
            | OpenBlock::Thinking { index }
            | OpenBlock::Tool { index, .. }
            | OpenBlock::Hidden { index } => Some(index),
        }
    }
}

#[cfg(test)]
pub(crate) mod checks;
