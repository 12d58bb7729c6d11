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
use crate::schema::openai::{unix_now, ChunkWriter};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing but pings (or errors) may arrive before `message_start`.
    AwaitingStart,
    Streaming,
    /// `message_stop` seen: the stream ended well.
    Stopped,
    /// An error frame went out; no `[DONE]` follows.
    Errored,
    /// `finish` has run.
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    None,
    Text {
        index: u32,
    },
    Thinking {
        index: u32,
    },
    /// A client tool call; `tool_index` counts client tool calls from 0.
    Tool {
        index: u32,
        tool_index: u32,
        sent_arguments: bool,
    },
    /// Blocks the client does not see: `redacted_thinking` and server-side
    /// tools (`server_tool_use`, `*_tool_result`), which share Anthropic's
    /// index space but get no tool index.
    Hidden {
        index: u32,
    },
}

impl OpenBlock {
    fn index(self) -> Option<u32> {
        match self {
            OpenBlock::None => None,
            OpenBlock::Text { index }
            | OpenBlock::Thinking { index }
            | OpenBlock::Tool { index, .. }
            | OpenBlock::Hidden { index } => Some(index),
        }
    }
}

/// Translates one Anthropic Messages stream into OpenAI chunk frames.
#[derive(Debug)]
pub struct StreamTranslator {
    model: String,
    created: u64,
    include_usage: bool,
    /// Built once at `message_start`, which names the completion.
    chunks: ChunkWriter,
    phase: Phase,
    block: OpenBlock,
    next_tool_index: u32,
    counts: TokenCounts,
}

fn bad(msg: &str) -> TranslateError {
    TranslateError::BadResponse(msg.to_owned())
}

/// A `&RawValue` that must be a JSON string, to be spliced as one.
fn json_string(raw: &RawValue) -> Result<&str, TranslateError> {
    let s = raw.get();
    if s.starts_with('"') {
        Ok(s)
    } else {
        Err(bad("expected a JSON string in delta"))
    }
}

impl StreamTranslator {
    /// A translator reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        StreamTranslator {
            model: model.to_owned(),
            created: unix_now(),
            include_usage,
            chunks: ChunkWriter::default(),
            phase: Phase::AwaitingStart,
            block: OpenBlock::None,
            next_tool_index: 0,
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
        if matches!(
            self.phase,
            Phase::Stopped | Phase::Errored | Phase::Finished
        ) {
            return Ok(());
        }
        let ev: Event<'_> = serde_json::from_slice(data)
            .map_err(|e| TranslateError::BadResponse(format!("stream event: {e}")))?;
        let kind = match ev.kind.as_deref() {
            Some(k) => k,
            None if !event.is_empty() => event,
            None => return Err(bad("stream event without a type")),
        };
        let mark = out.len();
        let result = self.dispatch(kind, &ev, out);
        if result.is_err() {
            // Never leave half a frame behind.
            out.truncate(mark);
        }
        result
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
                write_error_frame(
                    e.and_then(|e| e.message.as_deref())
                        .unwrap_or("upstream stream error"),
                    e.and_then(|e| e.kind.as_deref())
                        .unwrap_or("upstream_error"),
                    out,
                );
                self.phase = Phase::Errored;
                Ok(())
            }
            "message_start" => self.on_message_start(ev, out),
            _ if self.phase != Phase::Streaming => Err(bad("stream event before message_start")),
            "content_block_start" => self.on_block_start(ev, out),
            "content_block_delta" => self.on_block_delta(ev, out),
            "content_block_stop" => self.on_block_stop(ev, out),
            "message_delta" => self.on_message_delta(ev, out),
            "message_stop" => {
                self.phase = Phase::Stopped;
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
        if self.phase != Phase::AwaitingStart {
            return Err(bad("second message_start"));
        }
        let msg = ev
            .message
            .as_ref()
            .ok_or_else(|| bad("message_start without message"))?;
        if let Some(u) = &msg.usage {
            self.counts.update(u);
        }
        self.chunks = ChunkWriter::new(&format!("chatcmpl-{}", msg.id), self.created, &self.model);
        self.phase = Phase::Streaming;
        self.chunks.role(out);
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
                    self.write_text(out, "content", text)?;
                }
            }
            "thinking" => {
                self.block = OpenBlock::Thinking { index };
                if let Some(thinking) = block.thinking {
                    self.write_text(out, "reasoning_content", thinking)?;
                }
            }
            "tool_use" => {
                let (Some(id), Some(name)) = (&block.id, &block.name) else {
                    return Err(bad("tool_use block without id or name"));
                };
                let tool_index = self.next_tool_index;
                self.next_tool_index += 1;
                self.block = OpenBlock::Tool {
                    index,
                    tool_index,
                    sent_arguments: false,
                };
                self.chunks.tool_call(out, tool_index, id, name, "\"\"");
            }
            other => {
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
        match (self.block, delta.kind.as_deref()) {
            (OpenBlock::Hidden { .. }, _) => Ok(()),
            (_, Some("text_delta")) => match delta.text {
                Some(text) => self.write_text(out, "content", text),
                None => Err(bad("text_delta without text")),
            },
            (_, Some("thinking_delta")) => match delta.thinking {
                Some(thinking) => self.write_text(out, "reasoning_content", thinking),
                None => Err(bad("thinking_delta without thinking")),
            },
            (
                OpenBlock::Tool {
                    index, tool_index, ..
                },
                Some("input_json_delta"),
            ) => {
                let fragment = json_string(
                    delta
                        .partial_json
                        .ok_or_else(|| bad("input_json_delta without partial_json"))?,
                )?;
                if fragment == "\"\"" {
                    return Ok(());
                }
                self.chunks.arguments(out, tool_index, fragment);
                self.block = OpenBlock::Tool {
                    index,
                    tool_index,
                    sent_arguments: true,
                };
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
        if let OpenBlock::Tool {
            tool_index,
            sent_arguments: false,
            ..
        } = self.block
        {
            // A tool without parameters streams only empty fragments; OpenAI
            // clients parse `arguments` as JSON, so "" would fail where {} works.
            self.chunks.arguments(out, tool_index, "\"{}\"");
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
            self.chunks.finish_reason(out, finish_reason(stop));
        }
        Ok(())
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean `message_stop`; an error frame and no `[DONE]` if upstream ended
    /// early; nothing more after an upstream error frame. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.phase {
            Phase::Finished | Phase::Errored => {}
            Phase::Stopped => {
                let usage = self.include_usage.then(|| self.counts.to_openai());
                self.chunks.done(out, usage.as_ref());
            }
            Phase::AwaitingStart | Phase::Streaming => write_error_frame(
                "upstream stream ended before message_stop",
                "upstream_error",
                out,
            ),
        }
        self.phase = Phase::Finished;
    }

    /// A chunk whose delta is `{"<field>": <raw JSON string>}`; empty strings
    /// send nothing.
    fn write_text(
        &self,
        out: &mut Vec<u8>,
        field: &str,
        raw: &RawValue,
    ) -> Result<(), TranslateError> {
        self.chunks.text(out, field, json_string(raw)?);
        Ok(())
    }
}

fn write_error_frame(message: &str, kind: &str, out: &mut Vec<u8>) {
    crate::schema::openai::write_error_event(message, kind, kind, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;

    fn feed(t: &mut StreamTranslator, events: &[&str]) -> String {
        let mut out = Vec::new();
        for e in events {
            t.on_event("", e.as_bytes(), &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("anthropic/m", false);
        let out = feed(&mut t, &[START]);
        let json = out
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["id"], "chatcmpl-msg_1");
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "anthropic/m");
        assert_eq!(
            v["choices"],
            serde_json::json!([{"index":0,"delta":{"role":"assistant","content":""},
                "finish_reason":null,"logprobs":null}])
        );
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
        for data in garbage {
            let mut t = StreamTranslator::new("m", true);
            let mut out = Vec::new();
            assert!(t.on_event("", data, &mut out).is_err(), "{data:?}");
            assert!(out.is_empty());
            t.finish(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with("data: {\"error\":"), "{text}");
            assert!(!text.contains("[DONE]"));
        }
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
            let mut out = Vec::new();
            t.on_event("message_start", START.as_bytes(), &mut out)
                .unwrap();
            let (last, init) = events.split_last().unwrap();
            for e in init {
                t.on_event("", e.as_bytes(), &mut out).unwrap();
            }
            let before = out.len();
            assert!(t.on_event("", last.as_bytes(), &mut out).is_err(), "{last}");
            assert_eq!(out.len(), before, "partial frame left behind");
        }
    }

    #[test]
    fn upstream_error_event_ends_stream_without_done() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ],
        )
        .into_bytes();
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "Overloaded");
        assert!(!text.contains("[DONE]"));
    }

    #[test]
    fn stream_without_message_stop_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(&mut t, &[START]).into_bytes();
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("\n\n") && text.contains("message_stop"),
            "{text}"
        );
        assert!(!text.contains("[DONE]"));
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_message_stop() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        )
        .into_bytes();
        t.finish(&mut out);
        let len = out.len();
        t.finish(&mut out);
        assert_eq!(out.len(), len);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""finish_reason":"length""#));
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}}}"#
        ));
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            t.usage(),
            Usage {
                prompt_tokens: 3,
                completion_tokens: 9
            }
        );
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
        t.finish(&mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("data: [DONE]\n\n"));
    }
}
