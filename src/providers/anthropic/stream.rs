//! Anthropic Messages SSE events → OpenAI `chat.completion.chunk` frames, one
//! event at a time.
//!
//! State is bounded: the chunk prefix (id, created, model), token counts and
//! the one content block that is open. Anthropic streams blocks one after the
//! other (`content_block_start`, deltas, `content_block_stop`), so a delta for
//! any other index is rejected rather than guessed at.
//!
//! Text, thinking and tool-argument fragments are spliced into the output as
//! the JSON string tokens upstream sent (`&RawValue`), never unescaped and
//! re-escaped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::UpstreamError;
use super::response::{finish_reason, TokenCounts, UpstreamUsage};
use super::{TranslateError, Usage};
use crate::providers::common::stream::{
    all_or_nothing, bad, event_kind, json_string, parse_event, ChunkStream, OpenBlock, Phase,
};
use crate::schema::openai::unix_now;

/// One Anthropic stream event's `data`. A flat struct rather than a tagged
/// enum: serde's internally tagged enums buffer their content and cannot hold
/// `&RawValue`.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<StartMessage<'a>>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(borrow, default)]
    content_block: Option<StartBlock<'a>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
    #[serde(borrow, default)]
    error: Option<UpstreamError<'a>>,
}

#[derive(Deserialize)]
struct StartMessage<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
}

#[derive(Deserialize)]
struct StartBlock<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
}

/// `content_block_delta.delta` and `message_delta.delta` share this shape.
#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    partial_json: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

/// Translates one Anthropic Messages stream into OpenAI chunk frames.
#[derive(Debug)]
pub struct StreamTranslator {
    stream: ChunkStream,
    block: OpenBlock,
    counts: TokenCounts,
}

impl StreamTranslator {
    /// A translator reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        StreamTranslator {
            stream: ChunkStream::new(model, unix_now(), include_usage),
            block: OpenBlock::None,
            counts: TokenCounts::default(),
        }
    }

    /// Token counts seen so far (final once `message_delta` has arrived).
    pub fn usage(&self) -> Usage {
        self.counts.usage()
    }

    /// Translates one SSE event: `event` is the `event:` name (may be empty;
    /// the data's `type` wins), `data` the joined `data:` payload. Appends
    /// zero or more complete `data: {json}\n\n` frames to `out`.
    ///
    /// An event that is not valid JSON or breaks the Messages stream order
    /// fails with [`TranslateError::BadResponse`]; nothing is appended for
    /// it, and [`finish`](Self::finish) will then end the stream with an
    /// error frame. Events after the end of the stream are ignored.
    pub fn on_event(
        &mut self,
        event: &str,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if self.stream.closed() || self.stream.phase == Phase::Stopped {
            return Ok(());
        }
        let ev: Event<'_> = parse_event(data)?;
        let kind = event_kind(ev.kind.as_deref(), event)?;
        all_or_nothing(out, |out| self.dispatch(kind, &ev, out))
    }

    fn dispatch(
        &mut self,
        kind: &str,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        match kind {
            "ping" => Ok(()),
            "error" => {
                let e = ev.error.as_ref();
                let kind = e
                    .and_then(|e| e.kind.as_deref())
                    .unwrap_or("upstream_error");
                let message = e
                    .and_then(|e| e.message.as_deref())
                    .unwrap_or("upstream stream error");
                self.stream.error(message, kind, kind, out);
                Ok(())
            }
            "message_start" => self.on_message_start(ev, out),
            _ if self.stream.phase != Phase::Streaming => {
                Err(bad("stream event before message_start"))
            }
            "content_block_start" => self.on_block_start(ev, out),
            "content_block_delta" => self.on_block_delta(ev, out),
            "content_block_stop" => self.on_block_stop(ev, out),
            "message_delta" => self.on_message_delta(ev, out),
            "message_stop" => {
                self.stream.phase = Phase::Stopped;
                Ok(())
            }
            other => {
                // Anthropic documents that new event types may appear.
                tracing::debug!(event = other, "ignoring unknown anthropic stream event");
                Ok(())
            }
        }
    }

    fn on_message_start(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if self.stream.phase != Phase::AwaitingStart {
            return Err(bad("second message_start"));
        }
        let msg = ev
            .message
            .as_ref()
            .ok_or_else(|| bad("message_start without message"))?;
        if let Some(u) = &msg.usage {
            self.counts.update(u);
        }
        self.stream.start(&msg.id, out);
        Ok(())
    }

    fn on_block_start(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        if self.block != OpenBlock::None {
            return Err(bad("content_block_start while another block is open"));
        }
        let index = ev
            .index
            .ok_or_else(|| bad("content_block_start without index"))?;
        let block = ev
            .content_block
            .as_ref()
            .ok_or_else(|| bad("content_block_start without content_block"))?;
        match block.kind.as_ref() {
            "text" => {
                self.block = OpenBlock::Text { index };
                if let Some(text) = block.text {
                    self.stream.text(out, "content", text)?;
                }
            }
            "thinking" => {
                self.block = OpenBlock::Thinking { index };
                if let Some(thinking) = block.thinking {
                    self.stream.text(out, "reasoning_content", thinking)?;
                }
            }
            "tool_use" => {
                let (Some(id), Some(name)) = (&block.id, &block.name) else {
                    return Err(bad("tool_use block without id or name"));
                };
                let call = self.stream.open_tool_call(out, id, name, "\"\"");
                self.block = OpenBlock::Tool { index, call };
            }
            other => {
                // redacted_thinking and server-side tools (server_tool_use,
                // *_tool_result) share Anthropic's index space but get no
                // tool index.
                tracing::debug!(block = other, "anthropic content block not forwarded");
                self.block = OpenBlock::Hidden { index };
            }
        }
        Ok(())
    }

    fn on_block_delta(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        if ev.index.is_none() || ev.index != self.block.index() {
            return Err(bad("content_block_delta for a block that is not open"));
        }
        let delta = ev
            .delta
            .as_ref()
            .ok_or_else(|| bad("content_block_delta without delta"))?;
        match (&mut self.block, delta.kind.as_deref()) {
            (OpenBlock::Hidden { .. }, _) => Ok(()),
            (_, Some("text_delta")) => match delta.text {
                Some(text) => self.stream.text(out, "content", text),
                None => Err(bad("text_delta without text")),
            },
            (_, Some("thinking_delta")) => match delta.thinking {
                Some(thinking) => self.stream.text(out, "reasoning_content", thinking),
                None => Err(bad("thinking_delta without thinking")),
            },
            (OpenBlock::Tool { call, .. }, Some("input_json_delta")) => {
                let fragment = json_string(
                    delta
                        .partial_json
                        .ok_or_else(|| bad("input_json_delta without partial_json"))?,
                )?;
                call.arguments(&self.stream.chunks, out, fragment);
                Ok(())
            }
            // signature_delta (thinking signature), citations_delta and future
            // delta types have no OpenAI counterpart.
            (_, other) => {
                tracing::debug!(delta = ?other, "ignoring anthropic delta");
                Ok(())
            }
        }
    }

    fn on_block_stop(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        if ev.index.is_none() || ev.index != self.block.index() {
            return Err(bad("content_block_stop for a block that is not open"));
        }
        if let OpenBlock::Tool { call, .. } = &mut self.block {
            call.close(&self.stream.chunks, out);
        }
        self.block = OpenBlock::None;
        Ok(())
    }

    fn on_message_delta(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if let Some(u) = &ev.usage {
            self.counts.update(u);
        }
        if let Some(stop) = ev.delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
            self.stream.chunks.finish_reason(out, finish_reason(stop));
        }
        Ok(())
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean `message_stop`; an error frame and no `[DONE]` if upstream ended
    /// early; nothing more after an upstream error frame. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.stream
            .finish(out, "upstream stream ended before message_stop", || {
                self.counts.to_openai()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::stream::checks;

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;

    fn feed(t: &mut StreamTranslator, events: &[&str]) -> String {
        checks::feed(events, |e, out| t.on_event("", e.as_bytes(), out))
    }

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("anthropic/m", false);
        let out = feed(&mut t, &[START]);
        assert_eq!(
            checks::role_chunk(&out, "anthropic/m")["id"],
            "chatcmpl-msg_1"
        );
        assert_eq!(checks::frames(&out).len(), 1);
    }

    #[test]
    fn garbage_events_are_errors_not_panics() {
        let garbage: &[&[u8]] = &[
            b"",
            b"not json",
            b"{",
            b"[]",
            b"{}",
            b"\xff\xfe",
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#,
            br#"{"type":"message_start"}"#,
            br#"{"type":"message_start","message":{"id":5}}"#,
        ];
        checks::garbage_is_rejected(
            garbage,
            || StreamTranslator::new("m", true),
            |t, data, out| t.on_event("", data, out),
            StreamTranslator::finish,
        );
    }

    #[test]
    fn out_of_order_blocks_are_errors() {
        let cases: &[&[&str]] = &[
            // delta for a block that was never started
            &[
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#,
            ],
            // delta for another index than the open block
            &[
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"x"}}"#,
            ],
            // text delta that is not a string
            &[
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":5}}"#,
            ],
            // tool_use without a name
            &[
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t"}}"#,
            ],
        ];
        for events in cases {
            let mut t = StreamTranslator::new("m", false);
            let (last, init) = events.split_last().unwrap();
            let init = [&[START][..], init].concat();
            checks::last_event_is_rejected(&init, last, |e, out| t.on_event("", e.as_bytes(), out));
        }
    }

    #[test]
    fn upstream_error_event_ends_stream_without_done() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ],
        );
        checks::ends_in_error_frame(out.clone().into_bytes(), |out| t.finish(out), "");
        let v = checks::last_frame(&out);
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "Overloaded");
    }

    #[test]
    fn stream_without_message_stop_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(&mut t, &[START]).into_bytes();
        checks::ends_in_error_frame(out, |out| t.finish(out), "message_stop");
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_message_stop() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        let text = checks::finishes_once(out.into_bytes(), |out| t.finish(out));
        assert!(text.contains(r#""finish_reason":"length""#));
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}}}"#
        ));
        assert_eq!(t.usage(), Usage::new(3, 9));
    }

    #[test]
    fn event_name_is_used_when_data_has_no_type() {
        let mut t = StreamTranslator::new("m", false);
        let mut out = Vec::new();
        t.on_event("message_start", START.as_bytes(), &mut out)
            .unwrap();
        t.on_event("ping", b"{}", &mut out).unwrap();
        t.on_event("message_stop", b"{}", &mut out).unwrap();
        assert!(
            t.on_event("", b"{}", &mut Vec::new()).is_ok(),
            "ignored after stop"
        );
        checks::finishes_once(out, |out| t.finish(out));
    }
}
