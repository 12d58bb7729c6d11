//! Gemini `streamGenerateContent?alt=sse` chunks → OpenAI
//! `chat.completion.chunk` frames, one SSE event at a time.
//!
//! Each Gemini chunk is a whole `GenerateContentResponse`: new parts, the
//! running `usageMetadata` (repeated on every chunk; the last wins), and on
//! the last chunk a `finishReason`. There is no `event:` line and no end
//! marker, so a stream that stops before a `finishReason` is an error.
//! A `functionCall` arrives whole in one part, so each becomes one complete
//! tool-call delta with a synthesised id (see `tool_id`).
//!
//! State is bounded: the chunk prefix (id, created, model), the response id
//! for tool-call ids, the tool-call count and the last usage. Text is spliced
//! into the output as the JSON string token upstream sent (`&RawValue`),
//! never unescaped and re-escaped.

use serde_json::value::RawValue;

use super::response::{
    compact_json, finish_reason, response_id, GenerateContentResponse, Part, UsageMetadata,
};
use super::{tool_id, TranslateError, Usage};
use crate::providers::common::stream::{all_or_nothing, bad, ChunkStream, Phase};
use crate::schema::openai::{unix_now, write_json_str};

/// Translates one Gemini SSE stream; create one per response.
#[derive(Debug)]
pub struct StreamTranslator {
    /// Named at the first chunk (no chunk yet: the prefix and role chunk come
    /// with the first one). Once a `finishReason` (or a blocked prompt) was
    /// seen, later chunks may still update usage.
    stream: ChunkStream,
    /// `responseId` of the first chunk (or a made-up one), seeding tool ids.
    response_id: String,
    usage: UsageMetadata,
}

/// A `&RawValue` that must be a JSON string, to be spliced as one.
fn json_string(raw: &RawValue) -> Result<&str, TranslateError> {
    let s = raw.get();
    if s.starts_with('"') {
        Ok(s)
    } else {
        Err(bad("expected a JSON string as part text"))
    }
}

impl StreamTranslator {
    /// A translator reporting `model` in every chunk, and a usage-only chunk at
    /// the end if `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        StreamTranslator {
            stream: ChunkStream::new(model, unix_now(), include_usage),
            response_id: String::new(),
            usage: UsageMetadata::default(),
        }
    }

    /// Token counts from the last `usageMetadata` seen (final once the chunk
    /// with `finishReason` has arrived).
    pub fn usage(&self) -> Usage {
        self.usage.usage()
    }

    /// Translates one SSE event: `event` is the `event:` name (Gemini sends
    /// none; ignored), `data` the joined `data:` payload, one
    /// `GenerateContentResponse`. Appends zero or more complete
    /// `data: {json}\n\n` frames to `out`. A chunk carrying `error` becomes an
    /// OpenAI error frame and ends the stream.
    ///
    /// A chunk that is not valid JSON or not a `GenerateContentResponse` fails
    /// with [`TranslateError::BadResponse`]; nothing is appended for it, later
    /// events are ignored, and [`finish`](Self::finish) ends the stream with an
    /// error frame.
    pub fn on_event(
        &mut self,
        _event: &str,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if self.stream.closed() {
            return Ok(());
        }
        // serde also reads a struct from an array; a chunk is an object.
        let result = all_or_nothing(out, |out| {
            match data.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => serde_json::from_slice::<GenerateContentResponse<'_>>(data)
                    .map_err(|e| TranslateError::BadResponse(format!("stream chunk: {e}")))
                    .and_then(|chunk| self.on_chunk(&chunk, out)),
                _ => Err(bad("stream chunk is not a JSON object")),
            }
        });
        if result.is_err() {
            self.stream.phase = Phase::Broken;
        }
        result
    }

    fn on_chunk(
        &mut self,
        chunk: &GenerateContentResponse<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        if let Some(e) = &chunk.error {
            // An upstream `google.rpc.Status` inside the stream.
            let kind = e.openai_type(e.code.unwrap_or(500));
            self.stream.error(
                e.message.as_deref().unwrap_or("upstream stream error"),
                kind,
                e.status.as_deref().unwrap_or(kind),
                out,
            );
            return Ok(());
        }
        if let Some(u) = chunk.usage_metadata {
            self.usage = u;
        }
        match self.stream.phase {
            Phase::Stopped => return Ok(()),
            Phase::AwaitingStart => {
                self.response_id = response_id(chunk.response_id.as_deref()).into_owned();
                self.stream.start(&self.response_id, out);
            }
            _ => {}
        }
        let Some(candidate) = chunk.candidates.first() else {
            if let Some(reason) = chunk
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_deref())
            {
                tracing::debug!(block_reason = reason, "gemini blocked the prompt");
                self.write_finish(out, "content_filter");
            }
            // Otherwise a usage-only chunk.
            return Ok(());
        };
        for part in candidate.content.iter().flat_map(|c| &c.parts) {
            self.on_part(part, out)?;
        }
        if let Some(reason) = candidate.finish_reason.as_deref() {
            self.write_finish(out, finish_reason(reason, self.stream.tool_calls() > 0));
        }
        Ok(())
    }

    fn on_part(&mut self, part: &Part<'_>, out: &mut Vec<u8>) -> Result<(), TranslateError> {
        if let Some(call) = &part.function_call {
            let args = compact_json(call.args.map_or("{}", RawValue::get));
            let tool_index = self.stream.next_tool_index();
            let id = tool_id::synthesize(
                &self.response_id,
                tool_index,
                &call.name,
                &args,
                part.thought_signature.as_deref(),
            );
            self.stream
                .chunks
                .tool_call_with(out, tool_index, &id, &call.name, |o| {
                    write_json_str(o, &args);
                });
            return Ok(());
        }
        let Some(text) = part.text else {
            // inlineData, executableCode and other parts have no chat
            // counterpart; a bare thoughtSignature part carries nothing.
            return Ok(());
        };
        let field = if part.thought == Some(true) {
            "reasoning_content"
        } else {
            "content"
        };
        // Empty text sends nothing: Gemini 3 ends with an empty text part
        // carrying only a thoughtSignature, and text signatures are not
        // needed back.
        self.stream.chunks.text(out, field, json_string(text)?);
        Ok(())
    }

    fn write_finish(&mut self, out: &mut Vec<u8>, reason: &str) {
        self.stream.phase = Phase::Stopped;
        self.stream.chunks.finish_reason(out, reason);
    }

    /// Ends the stream: the usage chunk (if asked for) and `[DONE]` after a
    /// `finishReason`; an error frame and no `[DONE]` if upstream ended
    /// without one or sent an untranslatable chunk; nothing more after an
    /// upstream error frame. Runs once.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let unfinished = if self.stream.phase == Phase::Broken {
            "upstream sent a stream chunk that could not be translated"
        } else {
            "upstream stream ended before a finishReason"
        };
        self.stream
            .finish(out, unfinished, || self.usage.to_openai());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::stream::checks;
    use checks::frames;
    use serde_json::json;

    const FIRST: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3},"responseId":"r1"}"#;
    const LAST: &str = r#"{"candidates":[{"content":{"parts":[{"text":"!"}],"role":"model"},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":9,"totalTokenCount":12},"responseId":"r1"}"#;

    fn feed(t: &mut StreamTranslator, events: &[&str]) -> String {
        checks::feed(events, |e, out| t.on_event("", e.as_bytes(), out))
    }

    #[test]
    fn first_chunk_carries_role_and_envelope() {
        let mut t = StreamTranslator::new("gemini/m", false);
        let out = feed(&mut t, &[FIRST]);
        assert_eq!(checks::role_chunk(&out, "gemini/m")["id"], "chatcmpl-r1");
        let f = frames(&out);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1]["choices"][0]["delta"], json!({"content":"Hi"}));
        assert_eq!(f[1]["id"], "chatcmpl-r1");
    }

    #[test]
    fn finish_runs_once_and_usage_chunk_follows_finish_reason() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(&mut t, &[FIRST, LAST]).into_bytes();
        let text = checks::finishes_once(out, |out| t.finish(out));
        assert!(
            text.contains(r#""delta":{},"finish_reason":"length""#),
            "{text}"
        );
        assert!(text.contains(
            r#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#
        ), "{text}");
        assert_eq!(t.usage(), Usage::new(3, 9));
    }

    #[test]
    fn stream_without_finish_reason_ends_in_error_frame() {
        let mut t = StreamTranslator::new("m", true);
        let out = feed(&mut t, &[FIRST]).into_bytes();
        checks::ends_in_error_frame(out, |out| t.finish(out), "finishReason");

        let mut t = StreamTranslator::new("m", true);
        let mut out = Vec::new();
        t.finish(&mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("data: {\"error\":"));
    }

    #[test]
    fn in_band_error_chunk_ends_stream_without_done() {
        let mut t = StreamTranslator::new("m", true);
        let mut out = feed(
            &mut t,
            &[
                FIRST,
                r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
                LAST,
            ],
        )
        .into_bytes();
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let f = frames(&text);
        let last = f.last().unwrap();
        assert_eq!(last["error"]["type"], "server_error");
        assert_eq!(last["error"]["code"], "UNAVAILABLE");
        assert_eq!(last["error"]["message"], "The model is overloaded.");
        assert!(!text.contains("[DONE]") && !text.contains("length"));
    }

    #[test]
    fn blocked_prompt_finishes_with_content_filter() {
        let mut t = StreamTranslator::new("m", false);
        let mut out = feed(
            &mut t,
            &[r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":4}}"#],
        )
        .into_bytes();
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let f = frames(&text);
        assert_eq!(f.len(), 2);
        assert_eq!(f[1]["choices"][0]["finish_reason"], "content_filter");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn usage_after_finish_reason_still_counts() {
        let mut t = StreamTranslator::new("m", false);
        feed(
            &mut t,
            &[
                LAST,
                r#"{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":10,"thoughtsTokenCount":2}}"#,
            ],
        );
        assert_eq!(t.usage(), Usage::new(3, 12).with_details(0, 2));
    }

    #[test]
    fn garbage_events_are_errors_not_panics() {
        let garbage: &[&[u8]] = &[
            b"",
            b"not json",
            b"{",
            b"[]",
            b"\xff\xfe",
            br#"{"candidates":5}"#,
            br#"{"candidates":[{"content":{"parts":[{"text":5}]}}]}"#,
            br#"{"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}"#,
            br#"{"usageMetadata":{"promptTokenCount":"x"}}"#,
        ];
        checks::garbage_is_rejected(
            garbage,
            || StreamTranslator::new("m", true),
            |t, data, out| t.on_event("", data, out),
            |t, out| {
                assert!(t.on_event("", FIRST.as_bytes(), out).is_ok());
                assert!(out.is_empty(), "events after a broken one are ignored");
                t.finish(out);
            },
        );
    }

    #[test]
    fn bad_part_after_good_ones_leaves_no_partial_frame() {
        let mut t = StreamTranslator::new("m", false);
        let mut out = feed(&mut t, &[FIRST]).into_bytes();
        let before = out.len();
        let bad = r#"{"candidates":[{"content":{"parts":[{"text":"ok"},{"text":7}]}}]}"#;
        assert!(t.on_event("", bad.as_bytes(), &mut out).is_err());
        assert_eq!(out.len(), before);
    }
}
