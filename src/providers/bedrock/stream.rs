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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing but exceptions may arrive before `messageStart`.
    AwaitingStart,
    Streaming,
    /// `messageStop` seen; only `metadata` (usage) is still expected.
    Stopped,
    /// An error frame went out; no `[DONE]` follows.
    Errored,
    /// `finish` has run.
    Finished,
}

#[derive(Debug, Clone, Copy)]
struct ToolBlock {
    /// Bedrock's `contentBlockIndex`, shared with text and reasoning blocks.
    block_index: u32,
    /// OpenAI `tool_calls[].index`: client tool calls counted from 0.
    tool_index: u32,
    sent_arguments: bool,
}

/// Translates one ConverseStream into OpenAI chunk frames.
#[derive(Debug)]
pub struct StreamTranslator {
    include_usage: bool,
    chunks: ChunkWriter,
    phase: Phase,
    tools: Vec<ToolBlock>,
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
        let created = unix_now();
        StreamTranslator {
            include_usage,
            chunks: ChunkWriter::new(&completion_id(created), created, model),
            phase: Phase::AwaitingStart,
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
        if matches!(self.phase, Phase::Errored | Phase::Finished) {
            return Ok(());
        }
        match message_type {
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
        let mark = out.len();
        let result = self.dispatch(event_type, &ev, out);
        if result.is_err() {
            // Never leave half a frame behind.
            out.truncate(mark);
        }
        result
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
        write_error_frame(message, kind, code, out);
        self.phase = Phase::Errored;
    }

    fn dispatch(
        &mut self,
        event_type: &str,
        ev: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        match (self.phase, event_type) {
            (Phase::AwaitingStart, "messageStart") => {
                self.phase = Phase::Streaming;
                self.chunks.role(out);
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
                self.chunks.finish_reason(out, finish_reason(stop));
                self.phase = Phase::Stopped;
                Ok(())
            }
            (
                _,
                "contentBlockStart" | "contentBlockDelta" | "contentBlockStop" | "messageStop"
                | "metadata",
            ) => Err(TranslateError::BadResponse(format!(
                "{event_type} out of order ({:?})",
                self.phase
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
        let tool_index = self.tools.len() as u32;
        self.tools.push(ToolBlock {
            block_index,
            tool_index,
            sent_arguments: false,
        });
        self.chunks
            .tool_call(out, tool_index, &tool.tool_use_id, &tool.name, "\"\"");
        Ok(())
    }

    fn on_block_delta(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        let block_index = Self::block_index(ev)?;
        let delta = ev
            .delta
            .as_ref()
            .ok_or_else(|| bad("contentBlockDelta without delta"))?;
        if let Some(text) = delta.text {
            self.write_text(out, "content", text)
        } else if let Some(r) = &delta.reasoning_content {
            match r.text {
                Some(text) => self.write_text(out, "reasoning_content", text),
                // The signature closes a reasoning block; nothing to show.
                None => Ok(()),
            }
        } else if let Some(t) = &delta.tool_use {
            let i = self
                .tool(block_index)
                .ok_or_else(|| bad("toolUse delta for a block without contentBlockStart"))?;
            let fragment = json_string(t.input)?;
            if fragment == "\"\"" {
                return Ok(());
            }
            let tool_index = self.tools[i].tool_index;
            self.chunks.arguments(out, tool_index, fragment);
            self.tools[i].sent_arguments = true;
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
            let tool = self.tools[i];
            if !tool.sent_arguments {
                // A tool called without input streams no input fragments;
                // OpenAI clients parse `arguments` as JSON, so "" would fail
                // where {} works.
                self.chunks.arguments(out, tool.tool_index, "\"{}\"");
                self.tools[i].sent_arguments = true;
            }
        }
        Ok(())
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// clean `messageStop`; an error frame and no `[DONE]` if upstream ended
    /// early; nothing more after an exception. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.phase {
            Phase::Finished | Phase::Errored => {}
            Phase::Stopped => {
                let usage = self.include_usage.then(|| self.counts.to_openai());
                self.chunks.done(out, usage.as_ref());
            }
            Phase::AwaitingStart | Phase::Streaming => write_error_frame(
                "upstream stream ended before messageStop",
                "upstream_error",
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

fn write_error_frame(message: &str, kind: &str, code: &str, out: &mut Vec<u8>) {
    crate::schema::openai::write_error_event(message, kind, code, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut StreamTranslator, events: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        for (event, payload) in events {
            t.on_message("event", event, payload.as_bytes(), &mut out)
                .unwrap_or_else(|e| panic!("{event}: {e}"));
        }
        String::from_utf8(out).unwrap()
    }

    const START: (&str, &str) = ("messageStart", r#"{"role":"assistant","p":"abc"}"#);

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("bedrock/m", false);
        let out = feed(&mut t, &[START]);
        let json = out
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "bedrock/m");
        assert_eq!(
            v["choices"],
            serde_json::json!([{"index":0,"delta":{"role":"assistant","content":""},
                "finish_reason":null,"logprobs":null}])
        );
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
        for (event, payload) in garbage {
            let mut t = StreamTranslator::new("m", true);
            let mut out = Vec::new();
            assert!(
                t.on_message("event", event, payload, &mut out).is_err(),
                "{event} {payload:?}"
            );
            assert!(out.is_empty());
            t.finish(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with("data: {\"error\":"), "{text}");
            assert!(!text.contains("[DONE]"));
        }
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
        for (event, payload) in cases {
            let mut t = StreamTranslator::new("m", false);
            let mut out = feed(&mut t, &[START]).into_bytes();
            let before = out.len();
            assert!(
                t.on_message("event", event, payload.as_bytes(), &mut out)
                    .is_err(),
                "{event} {payload}"
            );
            assert_eq!(out.len(), before, "partial frame left behind");
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
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["code"], "throttlingException");
        assert_eq!(
            v["error"]["message"],
            "Too many tokens, please wait before trying again."
        );
        assert!(!text.contains("[DONE]"));
    }

    #[test]
    fn stream_without_message_stop_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(&mut t, &[START]).into_bytes();
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("\n\n") && text.contains("messageStop"),
            "{text}"
        );
        assert!(!text.contains("[DONE]"));
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_metadata() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(
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
        t.finish(&mut out);
        let len = out.len();
        t.finish(&mut out);
        assert_eq!(out.len(), len);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""finish_reason":"length""#));
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":2}}}"#
        ));
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            t.usage(),
            Usage {
                prompt_tokens: 5,
                completion_tokens: 9
            }
        );
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
