//! ConverseStream events → OpenAI `chat.completion.chunk` frames, one
//! decoded event-stream message at a time.
//!
//! The event name travels only in the `:event-type` header and the payload
//! is the bare inner object, e.g. `contentBlockDelta` with
//! `{"contentBlockIndex":0,"delta":{"text":"…"},"p":"abc"}`; the random `p`
//! padding is ignored. Order: `messageStart`, then per block an optional
//! `contentBlockStart` (only tool use has one), `contentBlockDelta`s and
//! `contentBlockStop`, then `messageStop` (stop reason) and `metadata`
//! (usage). <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>
//!
//! State is bounded: the chunk prefix, token counts and one small entry per
//! tool call (at most [`MAX_TOOL_CALLS`]). Text, reasoning and tool-input
//! fragments are spliced into the output as the JSON string tokens upstream
//! sent (`&RawValue`), never unescaped and re-escaped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{error_type_status, openai_error_type, UpstreamError};
use super::response::{completion_id, finish_reason, UpstreamUsage};
use super::{TranslateError, Usage};
use crate::providers::anthropic::TokenCounts;
use crate::providers::common::stream::{
    all_or_nothing, bad, json_string, ChunkStream, Phase, ToolCall,
};
use crate::schema::openai::{unix_now, ChunkWriter};

/// Tool calls one response may open; more is taken as a broken upstream.
pub const MAX_TOOL_CALLS: usize = 128;

/// One event payload. A flat struct covering every event type: the type is
/// known from the header, and the fields do not collide.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(default)]
    content_block_index: Option<u32>,
    #[serde(borrow, default)]
    start: Option<BlockStart<'a>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart<'a> {
    #[serde(borrow, default)]
    tool_use: Option<ToolUseStart<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseStart<'a> {
    #[serde(borrow)]
    tool_use_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delta<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<ReasoningDelta<'a>>,
    #[serde(borrow, default)]
    tool_use: Option<ToolUseDelta<'a>>,
}

/// `signature` and `redactedContent` are also possible; neither has an
/// OpenAI counterpart.
#[derive(Deserialize)]
struct ReasoningDelta<'a> {
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolUseDelta<'a> {
    /// A JSON string holding a fragment of the input's JSON text (unlike the
    /// non-stream response, where `input` is an object).
    #[serde(borrow)]
    input: &'a RawValue,
}

#[derive(Debug, Clone, Copy)]
struct ToolBlock {
    /// Bedrock's `contentBlockIndex`, shared with text and reasoning blocks.
    block_index: u32,
    call: ToolCall,
}

/// Translates one ConverseStream into OpenAI chunk frames.
#[derive(Debug)]
pub struct StreamTranslator {
    /// Bedrock never names the completion; the id is made up at the start.
    /// Its phases: nothing but exceptions before `messageStart`; after
    /// `messageStop` only `metadata` (usage) is still expected.
    stream: ChunkStream,
    tools: Vec<ToolBlock>,
    counts: TokenCounts,
}

impl StreamTranslator {
    /// A translator reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        let created = unix_now();
        StreamTranslator {
            stream: ChunkStream::named(
                ChunkWriter::new(&completion_id(created), created, model),
                include_usage,
            ),
            tools: Vec::new(),
            counts: TokenCounts::default(),
        }
    }

    /// Token counts seen so far (final once `metadata` has arrived).
    pub fn usage(&self) -> Usage {
        self.counts.usage()
    }

    /// Translates one decoded event-stream message: `message_type` from the
    /// `:message-type` header (`event`, `exception` or `error`), `event_type`
    /// from `:event-type` (or `:exception-type` / `:error-code`), `payload`
    /// its JSON. Appends zero or more complete `data: {json}\n\n` frames.
    ///
    /// An exception or error message becomes an OpenAI error frame and ends
    /// the stream (no `[DONE]`). A payload that is not valid JSON or breaks
    /// the stream order fails with [`TranslateError::BadResponse`]; nothing
    /// is appended for it, and [`finish`](Self::finish) will then end the
    /// stream with an error frame. Messages after the end are ignored.
    pub fn on_message(
        &mut self,
        message_type: &str,
        event_type: &str,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        match message_type {
            _ if self.stream.closed() => return Ok(()),
            "event" => {}
            "exception" | "error" => {
                self.on_exception(event_type, payload, out);
                return Ok(());
            }
            other => {
                tracing::debug!(message_type = other, "ignoring bedrock stream message");
                return Ok(());
            }
        }
        // serde would also accept a JSON array for a struct.
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(TranslateError::BadResponse(format!(
                "{event_type} event payload is not a JSON object"
            )));
        }
        let ev: Event<'_> = serde_json::from_slice(payload)
            .map_err(|e| TranslateError::BadResponse(format!("{event_type} event: {e}")))?;
        all_or_nothing(out, |out| self.dispatch(event_type, &ev, out))
    }

    fn on_exception(&mut self, exception_type: &str, payload: &[u8], out: &mut Vec<u8>) {
        let parsed = serde_json::from_slice::<UpstreamError<'_>>(payload).ok();
        let message = parsed
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .unwrap_or("upstream stream error");
        let kind = match error_type_status(exception_type) {
            Some(status) => openai_error_type(status),
            None => "upstream_error",
        };
        let code = if exception_type.is_empty() {
            kind
        } else {
            exception_type
        };
        self.stream.error(message, kind, code, out);
    }

    fn dispatch(
        &mut self,
        event_type: &str,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        match (self.stream.phase, event_type) {
            (Phase::AwaitingStart, "messageStart") => {
                self.stream.begin(out);
                Ok(())
            }
            (_, "messageStart") => Err(bad("second messageStart")),
            (Phase::Streaming | Phase::Stopped, "metadata") => {
                if let Some(u) = &ev.usage {
                    self.counts.update(&u.as_anthropic());
                }
                Ok(())
            }
            (Phase::Streaming, "contentBlockStart") => self.on_block_start(ev, out),
            (Phase::Streaming, "contentBlockDelta") => self.on_block_delta(ev, out),
            (Phase::Streaming, "contentBlockStop") => self.on_block_stop(ev, out),
            (Phase::Streaming, "messageStop") => {
                let stop = ev
                    .stop_reason
                    .as_deref()
                    .ok_or_else(|| bad("messageStop without stopReason"))?;
                self.stream.chunks.finish_reason(out, finish_reason(stop));
                self.stream.phase = Phase::Stopped;
                Ok(())
            }
            (
                _,
                "contentBlockStart" | "contentBlockDelta" | "contentBlockStop" | "messageStop"
                | "metadata",
            ) => Err(TranslateError::BadResponse(format!(
                "{event_type} out of order ({:?})",
                self.stream.phase
            ))),
            (_, other) => {
                tracing::debug!(event = other, "ignoring unknown bedrock stream event");
                Ok(())
            }
        }
    }

    fn block_index(ev: &Event<'_>) -> Result<u32, TranslateError> {
        ev.content_block_index
            .ok_or_else(|| bad("content block event without contentBlockIndex"))
    }

    fn tool(&self, block_index: u32) -> Option<usize> {
        self.tools.iter().position(|t| t.block_index == block_index)
    }

    fn on_block_start(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let block_index = Self::block_index(ev)?;
        let Some(tool) = ev.start.as_ref().and_then(|s| s.tool_use.as_ref()) else {
            tracing::debug!("bedrock contentBlockStart without toolUse not forwarded");
            return Ok(());
        };
        if self.tool(block_index).is_some() {
            return Err(bad("second contentBlockStart for one block"));
        }
        if self.tools.len() >= MAX_TOOL_CALLS {
            return Err(bad("too many tool calls in one response"));
        }
        let call = self
            .stream
            .open_tool_call(out, &tool.tool_use_id, &tool.name, "\"\"");
        self.tools.push(ToolBlock { block_index, call });
        Ok(())
    }

    fn on_block_delta(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let block_index = Self::block_index(ev)?;
        let delta = ev
            .delta
            .as_ref()
            .ok_or_else(|| bad("contentBlockDelta without delta"))?;
        if let Some(text) = delta.text {
            self.stream.text(out, "content", text)
        } else if let Some(r) = &delta.reasoning_content {
            match r.text {
                Some(text) => self.stream.text(out, "reasoning_content", text),
                // The signature closes a reasoning block; nothing to show.
                None => Ok(()),
            }
        } else if let Some(t) = &delta.tool_use {
            let i = self
                .tool(block_index)
                .ok_or_else(|| bad("toolUse delta for a block without contentBlockStart"))?;
            let fragment = json_string(t.input)?;
            self.tools[i]
                .call
                .arguments(&self.stream.chunks, out, fragment);
            Ok(())
        } else {
            // citation and future delta kinds have no OpenAI counterpart.
            tracing::debug!("ignoring bedrock delta");
            Ok(())
        }
    }

    fn on_block_stop(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let block_index = Self::block_index(ev)?;
        if let Some(i) = self.tool(block_index) {
            self.tools[i].call.close(&self.stream.chunks, out);
        }
        Ok(())
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean `messageStop`; an error frame and no `[DONE]` if upstream ended
    /// early; nothing more after an exception. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.stream
            .finish(out, "upstream stream ended before messageStop", || {
                self.counts.to_openai()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::stream::checks;

    fn feed(t: &mut StreamTranslator, events: &[(&str, &str)]) -> String {
        checks::feed(events, |(event, payload), out| {
            t.on_message("event", event, payload.as_bytes(), out)
        })
    }

    const START: (&str, &str) = ("messageStart", r#"{"role":"assistant","p":"abc"}"#);

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("bedrock/m", false);
        let out = feed(&mut t, &[START]);
        let id = &checks::role_chunk(&out, "bedrock/m")["id"];
        assert!(id.as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(checks::frames(&out).len(), 1);
    }

    #[test]
    fn tool_without_input_gets_empty_object_arguments() {
        let mut t = StreamTranslator::new("m", false);
        let out = feed(
            &mut t,
            &[
                START,
                (
                    "contentBlockStart",
                    r#"{"contentBlockIndex":3,"start":{"toolUse":{"toolUseId":"t1","name":"now"}}}"#,
                ),
                ("contentBlockStop", r#"{"contentBlockIndex":3}"#),
                ("messageStop", r#"{"stopReason":"tool_use"}"#),
            ],
        );
        assert!(
            out.contains(r#"{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"now","arguments":""}}]}"#),
            "{out}"
        );
        assert!(out.contains(r#""function":{"arguments":"{}"}"#), "{out}");
        assert!(out.contains(r#""finish_reason":"tool_calls""#));
    }

    #[test]
    fn garbage_payloads_are_errors_not_panics() {
        let garbage: &[(&str, &[u8])] = &[
            ("messageStart", b""),
            ("messageStart", b"not json"),
            ("messageStart", b"[]"),
            ("messageStart", b"\xff\xfe"),
            (
                "contentBlockDelta",
                br#"{"contentBlockIndex":0,"delta":{"text":"x"}}"#,
            ),
            ("messageStop", br#"{"stopReason":"end_turn"}"#),
            ("metadata", br#"{"usage":{"inputTokens":1}}"#),
        ];
        checks::garbage_is_rejected(
            garbage,
            || StreamTranslator::new("m", true),
            |t, (event, payload), out| t.on_message("event", event, payload, out),
            StreamTranslator::finish,
        );
    }

    #[test]
    fn malformed_block_events_are_errors_and_leave_no_partial_frame() {
        let cases: &[(&str, &str)] = &[
            ("contentBlockDelta", r#"{"delta":{"text":"x"}}"#),
            ("contentBlockDelta", r#"{"contentBlockIndex":0}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":5}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{}"}}}"#,
            ),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":{}}}}"#,
            ),
            (
                "contentBlockStart",
                r#"{"contentBlockIndex":1,"start":{"toolUse":{"name":"x"}}}"#,
            ),
            ("messageStop", r#"{}"#),
        ];
        for case in cases {
            let mut t = StreamTranslator::new("m", false);
            checks::last_event_is_rejected(&[START], case, |(event, payload), out| {
                t.on_message("event", event, payload.as_bytes(), out)
            });
        }
    }

    #[test]
    fn exception_message_ends_stream_with_error_frame_and_no_done() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(&mut t, &[START]).into_bytes();
        t.on_message(
            "exception",
            "throttlingException",
            br#"{"message":"Too many tokens, please wait before trying again."}"#,
            &mut out,
        )
        .unwrap();
        // Ignored once errored.
        t.on_message(
            "event",
            "messageStop",
            br#"{"stopReason":"end_turn"}"#,
            &mut out,
        )
        .unwrap();
        checks::ends_in_error_frame(out.clone(), |out| t.finish(out), "");
        let v = checks::last_frame(std::str::from_utf8(&out).unwrap());
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["code"], "throttlingException");
        assert_eq!(
            v["error"]["message"],
            "Too many tokens, please wait before trying again."
        );
    }

    #[test]
    fn stream_without_message_stop_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(&mut t, &[START]).into_bytes();
        checks::ends_in_error_frame(out, |out| t.finish(out), "messageStop");
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_metadata() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(
            &mut t,
            &[
                START,
                ("messageStop", r#"{"stopReason":"max_tokens","p":"x"}"#),
                (
                    "metadata",
                    r#"{"usage":{"inputTokens":3,"outputTokens":9,"cacheReadInputTokens":2,"totalTokens":14},"metrics":{"latencyMs":1}}"#,
                ),
            ],
        )
        .into_bytes();
        let text = checks::finishes_once(out, |out| t.finish(out));
        assert!(text.contains(r#""finish_reason":"length""#));
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":2}}}"#
        ));
        assert_eq!(t.usage(), Usage::new(5, 9).with_details(2, 0));
    }

    #[test]
    fn reasoning_signature_and_unknown_events_are_ignored() {
        let mut t = StreamTranslator::new("m", false);
        let out = feed(
            &mut t,
            &[
                START,
                (
                    "contentBlockDelta",
                    r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"sig"}}}"#,
                ),
                ("somethingNew", r#"{}"#),
            ],
        );
        assert_eq!(out.matches("data: ").count(), 1, "{out}");
    }
}
