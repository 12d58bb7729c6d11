//! Cohere v2 chat stream events → OpenAI `chat.completion.chunk` frames, one
//! event at a time.
//!
//! Cohere types each event in its JSON `type` field (`message-start`,
//! `content-start/delta/end`, `tool-plan-delta`, `tool-call-start/delta/end`,
//! `citation-start/end`, `message-end`); see
//! <https://docs.cohere.com/reference/chat-stream>. `message-end` is the last
//! event and carries the finish reason and usage.
//!
//! State is bounded: the chunk prefix (id, created, model), the usage, and the
//! one content block or tool call that is open. Cohere streams them one after
//! the other, so a delta for any other index is rejected rather than guessed
//! at. Tool calls get OpenAI indexes by order of arrival, from 0.
//!
//! Text, plan and tool-argument fragments are spliced into the output as the
//! JSON string tokens upstream sent (`&RawValue`), never unescaped and
//! re-escaped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::response::{finish_reason, UpstreamUsage};
use super::{TranslateError, Usage};
use crate::providers::common::stream::{
    all_or_nothing, bad, event_kind, json_string, parse_event, ChunkStream, OpenBlock, Phase,
};
use crate::schema::openai::unix_now;

/// One Cohere stream event's `data`. A flat struct rather than a tagged enum:
/// serde's internally tagged enums buffer their content and cannot hold
/// `&RawValue`.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    /// Only on `message-start`.
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    message: Option<DeltaMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

/// `delta.message`: `content` and `tool_calls` are arrays in `message-start`
/// but single objects in the block events, so they stay raw until the event
/// type says which.
#[derive(Deserialize)]
struct DeltaMessage<'a> {
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_plan: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ContentDelta<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

/// Translates one Cohere v2 chat stream into OpenAI chunk frames.
#[derive(Debug)]
pub struct StreamTranslator {
    stream: ChunkStream,
    block: OpenBlock,
    usage: UpstreamUsage,
}

/// `delta.message.<field>` of an event, parsed as `T`.
fn message_field<'a, T: Deserialize<'a>>(
    ev: &Event<'a>,
    field: fn(&DeltaMessage<'a>) -> Option<&'a RawValue>,
    what: &str,
) -> Result<T, TranslateError> {
    let raw = ev
        .delta
        .as_ref()
        .and_then(|d| d.message.as_ref())
        .and_then(field)
        .ok_or_else(|| TranslateError::BadResponse(format!("{what} without delta.message")))?;
    serde_json::from_str(raw.get()).map_err(|e| TranslateError::BadResponse(format!("{what}: {e}")))
}

impl StreamTranslator {
    /// A translator reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        StreamTranslator {
            stream: ChunkStream::new(model, unix_now(), include_usage),
            block: OpenBlock::None,
            usage: UpstreamUsage::default(),
        }
    }

    /// Token counts (zero until `message-end` has arrived).
    pub fn usage(&self) -> Usage {
        self.usage.usage()
    }

    /// Translates one SSE event: `event` is the `event:` name (may be empty;
    /// the data's `type` wins), `data` the joined `data:` payload. Appends
    /// zero or more complete `data: {json}\n\n` frames to `out`.
    ///
    /// An event that is not valid JSON or breaks the stream order fails with
    /// [`TranslateError::BadResponse`]; nothing is appended for it, and
    /// [`finish`](Self::finish) will then end the stream with an error frame.
    /// Events after `message-end` are ignored.
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
            "message-start" => self.on_message_start(ev, out),
            _ if self.stream.phase != Phase::Streaming => {
                Err(bad("stream event before message-start"))
            }
            "content-start" => self.on_content_start(ev, out),
            "content-delta" => self.on_content_delta(ev, out),
            "content-end" => self.on_block_end(ev, out, false),
            "tool-plan-delta" => {
                let plan = ev
                    .delta
                    .as_ref()
                    .and_then(|d| d.message.as_ref())
                    .and_then(|m| m.tool_plan)
                    .ok_or_else(|| bad("tool-plan-delta without delta.message.tool_plan"))?;
                self.stream.text(out, "reasoning_content", plan)
            }
            "tool-call-start" => self.on_tool_call_start(ev, out),
            "tool-call-delta" => self.on_tool_call_delta(ev, out),
            "tool-call-end" => self.on_block_end(ev, out, true),
            "message-end" => self.on_message_end(ev, out),
            // Citations point into the text already sent; OpenAI chat has no
            // place for them. `debug` events carry nothing for the client.
            other => {
                tracing::debug!(event = other, "ignoring cohere stream event");
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
            return Err(bad("second message-start"));
        }
        let id = ev
            .id
            .as_deref()
            .ok_or_else(|| bad("message-start without id"))?;
        self.stream.start(id, out);
        Ok(())
    }

    fn on_content_start(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if self.block != OpenBlock::None {
            return Err(bad("content-start while another block is open"));
        }
        let index = ev.index.ok_or_else(|| bad("content-start without index"))?;
        let content: ContentDelta<'_> = message_field(ev, |m| m.content, "content-start content")?;
        match content.kind.as_deref() {
            Some("text") => {
                self.block = OpenBlock::Text { index };
                if let Some(text) = content.text {
                    self.stream.text(out, "content", text)?;
                }
            }
            Some("thinking") => {
                self.block = OpenBlock::Thinking { index };
                if let Some(thinking) = content.thinking {
                    self.stream.text(out, "reasoning_content", thinking)?;
                }
            }
            other => {
                tracing::debug!(content = ?other, "cohere content block not forwarded");
                self.block = OpenBlock::Hidden { index };
            }
        }
        Ok(())
    }

    fn on_content_delta(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        let content: ContentDelta<'_> = message_field(ev, |m| m.content, "content-delta content")?;
        match (self.block, ev.index) {
            (OpenBlock::Hidden { index }, Some(i)) if i == index => Ok(()),
            (OpenBlock::Text { index } | OpenBlock::Thinking { index }, Some(i)) if i == index => {
                match (content.text, content.thinking) {
                    (Some(text), _) => self.stream.text(out, "content", text),
                    (None, Some(thinking)) => self.stream.text(out, "reasoning_content", thinking),
                    (None, None) => Err(bad("content-delta without text or thinking")),
                }
            }
            _ => Err(bad("content-delta for a block that is not open")),
        }
    }

    fn on_tool_call_start(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if self.block != OpenBlock::None {
            return Err(bad("tool-call-start while another block is open"));
        }
        let index = ev
            .index
            .ok_or_else(|| bad("tool-call-start without index"))?;
        let call: ToolCallDelta<'_> =
            message_field(ev, |m| m.tool_calls, "tool-call-start tool_calls")?;
        let function = call.function.as_ref();
        let (Some(id), Some(name)) = (&call.id, function.and_then(|f| f.name.as_ref())) else {
            return Err(bad("tool-call-start without id or function name"));
        };
        let arguments = match function.and_then(|f| f.arguments) {
            Some(raw) => json_string(raw)?,
            None => "\"\"",
        };
        let call = self.stream.open_tool_call(out, id, name, arguments);
        self.block = OpenBlock::Tool { index, call };
        Ok(())
    }

    fn on_tool_call_delta(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        let OpenBlock::Tool { index, .. } = self.block else {
            return Err(bad("tool-call-delta without an open tool call"));
        };
        if ev.index != Some(index) {
            return Err(bad("tool-call-delta for a tool call that is not open"));
        }
        let delta: ToolCallDelta<'_> =
            message_field(ev, |m| m.tool_calls, "tool-call-delta tool_calls")?;
        let fragment = json_string(
            delta
                .function
                .and_then(|f| f.arguments)
                .ok_or_else(|| bad("tool-call-delta without function.arguments"))?,
        )?;
        if let OpenBlock::Tool { call, .. } = &mut self.block {
            call.arguments(&self.stream.chunks, out, fragment);
        }
        Ok(())
    }

    /// `content-end` (`tool == false`) or `tool-call-end` (`tool == true`).
    fn on_block_end(
        &mut self,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
        tool: bool,
    ) -> Result<(), TranslateError> {
        match (&mut self.block, tool) {
            (OpenBlock::Tool { index, call }, true) if ev.index == Some(*index) => {
                call.close(&self.stream.chunks, out);
            }
            (
                OpenBlock::Text { index }
                | OpenBlock::Thinking { index }
                | OpenBlock::Hidden { index },
                false,
            ) if ev.index == Some(*index) => {}
            _ => return Err(bad("end event for a block that is not open")),
        }
        self.block = OpenBlock::None;
        Ok(())
    }

    fn on_message_end(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let delta = ev.delta.as_ref();
        if let Some(u) = delta.and_then(|d| d.usage) {
            self.usage = u;
        }
        let reason = delta.and_then(|d| d.finish_reason.as_deref());
        match reason.map(finish_reason) {
            Some(None) => {
                // ERROR or TIMEOUT: the answer is cut short; say so instead of
                // letting the client take it for a complete one.
                let message = match delta.and_then(|d| d.error.as_deref()) {
                    Some(e) => format!("upstream stream ended with {}: {e}", reason.unwrap_or("")),
                    None => format!("upstream stream ended with {}", reason.unwrap_or("")),
                };
                self.stream
                    .error(&message, "upstream_error", "upstream_error", out);
            }
            Some(Some(finish)) => {
                self.stream.chunks.finish_reason(out, finish);
                self.stream.phase = Phase::Stopped;
            }
            None => {
                tracing::debug!("cohere message-end without finish_reason, reporting stop");
                self.stream.chunks.finish_reason(out, "stop");
                self.stream.phase = Phase::Stopped;
            }
        }
        Ok(())
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean `message-end`; an error frame and no `[DONE]` if upstream ended
    /// early; nothing more after an error frame. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.stream
            .finish(out, "upstream stream ended before message-end", || {
                self.usage.to_openai()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::stream::checks;
    use checks::last_frame;

    const START: &str = r#"{"id":"c1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#;
    const TEXT_START: &str = r#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}"#;
    const END_COMPLETE: &str = r#"{"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"tokens":{"input_tokens":3,"output_tokens":9},"cached_tokens":1}}}"#;

    fn feed(t: &mut StreamTranslator, events: &[&str]) -> String {
        checks::feed(events, |e, out| t.on_event("", e.as_bytes(), out))
    }

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("cohere/m", false);
        let out = feed(&mut t, &[START]);
        assert_eq!(checks::role_chunk(&out, "cohere/m")["id"], "chatcmpl-c1");
        assert_eq!(checks::frames(&out).len(), 1);
    }

    #[test]
    fn thinking_content_streams_as_reasoning_content() {
        let mut t = StreamTranslator::new("m", false);
        let out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"thinking","thinking":""}}}}"#,
                r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"thinking":"hm\"m"}}}}"#,
            ],
        );
        assert_eq!(
            last_frame(&out)["choices"][0]["delta"],
            serde_json::json!({"reasoning_content":"hm\"m"})
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
            br#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"x"}}}}"#,
            br#"{"type":"message-start"}"#,
            br#"{"type":"message-start","id":5}"#,
            br#"{"type":"message-end","delta":{"finish_reason":"COMPLETE"}}"#,
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
            &[r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"x"}}}}"#],
            // delta for another index than the open block
            &[
                TEXT_START,
                r#"{"type":"content-delta","index":1,"delta":{"message":{"content":{"text":"x"}}}}"#,
            ],
            // text that is not a string
            &[
                TEXT_START,
                r#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":5}}}}"#,
            ],
            // tool call while text is open
            &[
                TEXT_START,
                r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"t","type":"function","function":{"name":"f","arguments":""}}}}}"#,
            ],
            // tool call without a name
            &[
                r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"t","function":{}}}}}"#,
            ],
            // argument fragment with no open tool call
            &[
                r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{"}}}}}"#,
            ],
            // tool-call-end closing a text block
            &[TEXT_START, r#"{"type":"tool-call-end","index":0}"#],
        ];
        for events in cases {
            let mut t = StreamTranslator::new("m", false);
            let (last, init) = events.split_last().unwrap();
            let init = [&[START][..], init].concat();
            checks::last_event_is_rejected(&init, last, |e, out| t.on_event("", e.as_bytes(), out));
        }
    }

    #[test]
    fn tool_without_argument_fragments_gets_empty_object() {
        let mut t = StreamTranslator::new("m", false);
        let out = feed(
            &mut t,
            &[
                START,
                r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"t","type":"function","function":{"name":"now","arguments":""}}}}}"#,
                r#"{"type":"tool-call-end","index":0}"#,
            ],
        );
        assert_eq!(
            last_frame(&out)["choices"][0]["delta"],
            serde_json::json!({"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]})
        );
    }

    #[test]
    fn error_finish_reason_ends_stream_with_error_frame_and_no_done() {
        for reason in ["ERROR", "TIMEOUT"] {
            let mut t = StreamTranslator::new("m", true);
            let end = format!(
                r#"{{"type":"message-end","delta":{{"finish_reason":"{reason}","error":"boom"}}}}"#
            );
            let mut out = feed(&mut t, &[START, TEXT_START, &end]).into_bytes();
            t.finish(&mut out);
            let text = String::from_utf8(out).unwrap();
            let v = last_frame(&text);
            assert_eq!(v["error"]["type"], "upstream_error");
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.contains(reason) && msg.contains("boom"), "{msg}");
            assert!(!text.contains("[DONE]"));
        }
    }

    #[test]
    fn stream_without_message_end_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(&mut t, &[START, TEXT_START]).into_bytes();
        checks::ends_in_error_frame(out, |out| t.finish(out), "message-end");
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_message_end() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(&mut t, &[START, END_COMPLETE]).into_bytes();
        assert!(
            t.on_event("", b"not json after the end", &mut out).is_ok(),
            "ignored after message-end"
        );
        let text = checks::finishes_once(out, |out| t.finish(out));
        assert!(text.contains(r#""finish_reason":"stop""#));
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":1}}}"#
        ));
        assert_eq!(t.usage(), Usage::new(3, 9).with_details(1, 0));
    }

    #[test]
    fn event_name_is_used_when_data_has_no_type() {
        let mut t = StreamTranslator::new("m", false);
        let mut out = Vec::new();
        t.on_event("message-start", br#"{"id":"c1"}"#, &mut out)
            .unwrap();
        t.on_event("citation-start", b"{}", &mut out).unwrap();
        t.on_event(
            "message-end",
            br#"{"delta":{"finish_reason":"MAX_TOKENS"}}"#,
            &mut out,
        )
        .unwrap();
        let text = checks::finishes_once(out, |out| t.finish(out));
        assert!(text.contains(r#""finish_reason":"length""#), "{text}");
    }
}
