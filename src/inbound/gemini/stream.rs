//! Chat completion chunks → the pieces of a Gemini `streamGenerateContent`
//! answer, each a whole `GenerateContentResponse`.
//!
//! Framing: with `?alt=sse`, each piece is `data: <json>\r\n\r\n` (Google
//! ends events with CRLF CRLF; no `event:` line, no end marker). Without
//! it, the answer is one JSON array sent as it grows: `[` before the first
//! piece, `\n,\r\n` between pieces and `\n]` at the end, each piece
//! pretty-printed with two-space indents, byte for byte Google's framing
//! (clients that split on `}\n,\r\n{\n` rather than parse exist).
//!
//! Pieces: each text or reasoning delta becomes a piece at once, its parts
//! holding the delta (reasoning as a `thought` part). Gemini sends a
//! function call whole, so tool-call fragments are buffered and their
//! `functionCall` parts go in the last piece, with `finishReason` and
//! `usageMetadata`. The hub sends usage in a chunk after `finish_reason`,
//! so the last piece waits for it (or for [`StreamEncoder::finish`]).
//!
//! State is bounded by the answer: the buffered tool calls and whatever
//! text arrives with or after `finish_reason`.

use std::borrow::Cow;

use serde::Serialize;

use super::error::ErrorBody;
use super::response::{
    empty_string_token, finish_reason, made_up_call_id, response_id, GenerateContentResponse,
    HubText, Part, UsageMetadata,
};
use crate::inbound::chat::answer::{ChatAnswer, ToolCallPiece};
use crate::inbound::BadAnswer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Sse,
    JsonArray,
}

/// A tool call being streamed, by its hub `index`.
#[derive(Debug)]
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// Encodes one hub chunk stream as a Gemini stream; create one per answer.
#[derive(Debug)]
pub struct StreamEncoder {
    framing: Framing,
    model: String,
    /// The first chunk id seen (Azure opens with an empty one), or one made
    /// up for the first piece if none came; every piece's `responseId`.
    response_id: Option<String>,
    pieces_written: usize,
    calls: Vec<PendingCall>,
    /// Text that came with or after `finish_reason`, for the last piece.
    held_parts: Vec<Part<'static>>,
    finish_reason: Option<&'static str>,
    usage: Option<UsageMetadata>,
    /// The last piece (or an error) is written; later input is ignored.
    closed: bool,
}

impl StreamEncoder {
    /// An encoder for `?alt=sse`, reporting `model` as every piece's
    /// `modelVersion`.
    pub fn new(model: &str) -> Self {
        StreamEncoder::with_framing(model, Framing::Sse)
    }

    /// An encoder for `streamGenerateContent` without `alt=sse`: one JSON
    /// array, its elements written as they come.
    pub fn new_json_array(model: &str) -> Self {
        StreamEncoder::with_framing(model, Framing::JsonArray)
    }

    fn with_framing(model: &str, framing: Framing) -> Self {
        StreamEncoder {
            framing,
            model: model.to_owned(),
            response_id: None,
            pieces_written: 0,
            calls: Vec::new(),
            held_parts: Vec::new(),
            finish_reason: None,
            usage: None,
            closed: false,
        }
    }

    /// `Content-Type` of the stream.
    pub fn content_type(&self) -> &'static [u8] {
        match self.framing {
            Framing::Sse => b"text/event-stream",
            Framing::JsonArray => b"application/json",
        }
    }

    /// Encodes one chunk (the JSON of one `data:` payload of a chat stream),
    /// appending zero or one piece to `out`.
    ///
    /// Fails, appending nothing, for a chunk that is not a
    /// `chat.completion.chunk`, carries an `error`, or finishes with a tool
    /// call that has no name; the stream should then end with
    /// [`fail`](Self::fail). Chunks after the last piece are ignored.
    pub fn on_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        if self.closed {
            return Ok(());
        }
        let chunk = ChatAnswer::parse_chunk(data)?;
        if let Some(error) = chunk.error() {
            return Err(BadAnswer(format!(
                "upstream stream error: {}",
                error.raw.get()
            )));
        }
        if self.response_id.is_none() {
            self.response_id = chunk
                .id
                .as_deref()
                .filter(|id| !id.is_empty())
                .map(str::to_owned);
        }
        let mut parts = Vec::new();
        let mut finish = None;
        if let Some(choice) = chunk.chunk_choice() {
            if let Some(delta) = choice.delta() {
                let texts = HubText::read(delta)?;
                if let Some(reasoning) = texts.reasoning {
                    parts.push(Part::text(reasoning, true));
                }
                if let Some(text) = texts.text {
                    parts.push(Part::text(text, false));
                }
                for fragment in delta.tool_calls() {
                    self.add_fragment(fragment)?;
                }
            }
            if let Some(reason) = choice.finish_reason() {
                finish = Some(finish_reason(reason));
            }
        }
        if finish.is_some() {
            if let Some(call) = self.calls.iter().find(|c| c.name.is_empty()) {
                return Err(BadAnswer(format!(
                    "tool call {} finished without a name",
                    call.index
                )));
            }
        }
        if self.finish_reason.is_none() && finish.is_none() {
            if !parts.is_empty() {
                self.write_piece(&parts, out);
            }
        } else {
            self.finish_reason = self.finish_reason.or(finish);
            self.held_parts
                .extend(parts.into_iter().map(Part::into_owned));
        }
        if let Some(usage) = chunk.usage() {
            self.usage = Some(usage.into());
        }
        if self.finish_reason.is_some() && self.usage.is_some() {
            self.write_last(out);
        }
        Ok(())
    }

    /// Adds a tool-call fragment: the first of an index opens the call (id,
    /// name), later ones add to its arguments. A fragment without an index
    /// (some OpenAI-compatible servers) opens a call if it has an id, else
    /// continues the last one.
    fn add_fragment(&mut self, fragment: &ToolCallPiece<'_>) -> Result<(), BadAnswer> {
        let arguments = fragment.arguments()?;
        let index = fragment.index.unwrap_or_else(|| {
            let last = self.calls.last().map(|c| c.index);
            match (fragment.id.is_some(), last) {
                (false, Some(last)) => last,
                (_, last) => last.map_or(0, |i| i.saturating_add(1)),
            }
        });
        let position = match self.calls.iter().position(|c| c.index == index) {
            Some(position) => position,
            None => {
                self.calls.push(PendingCall {
                    index,
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                self.calls.len() - 1
            }
        };
        let Some(call) = self.calls.get_mut(position) else {
            return Ok(());
        };
        if let Some(id) = fragment.id.as_deref().filter(|id| !id.is_empty()) {
            if call.id.is_empty() {
                call.id = id.to_owned();
            }
        }
        // Some servers repeat the name on every fragment: the first counts.
        if let Some(name) = fragment.name().filter(|n| !n.is_empty()) {
            if call.name.is_empty() {
                call.name = name.to_owned();
            }
        }
        call.arguments.push_str(&arguments);
        Ok(())
    }

    /// The hub stream ended well: writes the last piece if it is still
    /// waiting (for usage that will not come, or for a `finish_reason` an
    /// upstream never sent: `STOP` then), and closes the JSON array.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.closed {
            self.write_last(out);
        }
    }

    /// The stream broke off: writes a Gemini error piece (`google-genai`
    /// raises it as an `APIError`) and closes the JSON array. What was held
    /// for the last piece is dropped: the answer is incomplete.
    pub fn fail(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let error = ErrorBody::new(status, "", message);
        write_framed(self.framing, self.pieces_written == 0, &error, out);
        self.pieces_written += 1;
        if self.framing == Framing::JsonArray {
            out.extend_from_slice(b"\n]");
        }
    }

    /// Makes up the `responseId` if no chunk had an id before the first piece.
    fn ensure_response_id(&mut self) {
        if self.response_id.is_none() {
            self.response_id = Some(response_id(None).into_owned());
        }
    }

    /// A piece that is not the last: `parts` and no finish reason.
    fn write_piece(&mut self, parts: &[Part<'_>], out: &mut Vec<u8>) {
        self.ensure_response_id();
        let piece = GenerateContentResponse::new(
            parts,
            None,
            None,
            &self.model,
            self.response_id.as_deref().unwrap_or_default(),
        );
        write_framed(self.framing, self.pieces_written == 0, &piece, out);
        self.pieces_written += 1;
    }

    /// The last piece: held text, then the finished function calls, with
    /// `finishReason` and usage; closes the stream.
    fn write_last(&mut self, out: &mut Vec<u8>) {
        self.closed = true;
        self.ensure_response_id();
        let mut parts: Vec<Part<'_>> = std::mem::take(&mut self.held_parts);
        let mut calls = std::mem::take(&mut self.calls);
        calls.sort_by_key(|c| c.index);
        for (position, call) in calls.iter().enumerate() {
            let id = if call.id.is_empty() {
                Cow::Owned(made_up_call_id(position))
            } else {
                Cow::Borrowed(call.id.as_str())
            };
            parts.push(Part::function_call(
                id,
                Cow::Borrowed(call.name.as_str()),
                &call.arguments,
            ));
        }
        if parts.is_empty() {
            // As Gemini 3 ends its streams: an empty text part keeps the
            // SDK's `chunk.text` a string rather than None.
            parts.push(Part::text(empty_string_token(), false));
        }
        let piece = GenerateContentResponse::new(
            &parts,
            Some(self.finish_reason.unwrap_or("STOP")),
            self.usage,
            &self.model,
            self.response_id.as_deref().unwrap_or_default(),
        );
        write_framed(self.framing, self.pieces_written == 0, &piece, out);
        self.pieces_written += 1;
        if self.framing == Framing::JsonArray {
            out.extend_from_slice(b"\n]");
        }
    }
}

/// Appends `value` framed as a piece of the stream; `first` opens the
/// JSON array.
fn write_framed(framing: Framing, first: bool, value: &impl Serialize, out: &mut Vec<u8>) {
    let mark = out.len();
    let written = match framing {
        Framing::Sse => {
            out.extend_from_slice(b"data: ");
            let written = serde_json::to_writer(&mut *out, value);
            out.extend_from_slice(b"\r\n\r\n");
            written
        }
        Framing::JsonArray => {
            out.extend_from_slice(if first { b"[" } else { b"\n,\r\n" });
            serde_json::to_writer_pretty(&mut *out, value)
        }
    };
    // Serialising these shapes into a Vec cannot fail; if it ever did, a
    // half-written piece would break the client's parser.
    if let Err(e) = written {
        out.truncate(mark);
        tracing::error!(error = %e, "writing a gemini stream piece");
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
