//! Converse non-stream response → OpenAI `chat.completion`, plus the pieces
//! the stream translator shares with it (usage, finish reasons, ids).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{TranslateError, Usage};
use crate::providers::anthropic::{self, TokenCounts};
use crate::schema::openai::{unix_now, AssistantMessage, ChatCompletion, ResponseToolCall};

/// Bedrock `usage` (Converse body and the stream's `metadata` event). Every
/// field may be absent.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpstreamUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_write_input_tokens: Option<u64>,
}

impl UpstreamUsage {
    /// The same four counts as Anthropic's `usage`: Bedrock's `inputTokens`
    /// also excludes prompt-cache reads and writes (its `totalTokens` adds
    /// them), so the Anthropic arithmetic applies (`TokenCounts`).
    pub(super) fn as_anthropic(&self) -> anthropic::UpstreamUsage {
        anthropic::UpstreamUsage {
            input_tokens: self.input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_write_input_tokens,
            output_tokens: self.output_tokens,
        }
    }
}

/// Bedrock `stopReason` → OpenAI `finish_reason`.
pub(super) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        other => {
            tracing::debug!(
                stop_reason = other,
                "unknown bedrock stopReason, reporting stop"
            );
            "stop"
        }
    }
}

/// A `chatcmpl-…` id. Converse responses carry no id in the body (the
/// request id is only in the `x-amzn-requestid` header), so one is made from
/// the time and a process-wide counter: unique within a process.
pub(super) fn completion_id(created: u64) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("chatcmpl-bedrock-{created:x}-{n:x}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse<'a> {
    #[serde(borrow)]
    output: ConverseOutput<'a>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: UpstreamUsage,
}

#[derive(Deserialize)]
struct ConverseOutput<'a> {
    #[serde(borrow)]
    message: ConverseMessage<'a>,
}

#[derive(Deserialize)]
struct ConverseMessage<'a> {
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
}

/// A content block: exactly one of these fields is set (a union in the API).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<ReasoningContent<'a>>,
    #[serde(borrow, default)]
    tool_use: Option<ToolUse<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningContent<'a> {
    /// Absent for `redactedContent`, which has no readable text.
    #[serde(borrow, default)]
    reasoning_text: Option<ReasoningText<'a>>,
}

#[derive(Deserialize)]
struct ReasoningText<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'a> {
    #[serde(borrow)]
    tool_use_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// Translates a Converse response body into an OpenAI `chat.completion`
/// body appended to `out`; `model` is reported as given.
///
/// Fails with [`TranslateError::BadResponse`] if the body is not a Converse
/// response (`out` is then left as it was).
pub fn translate_response(
    body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let resp: ConverseResponse<'_> = serde_json::from_slice(body)
        .map_err(|e| TranslateError::BadResponse(format!("converse body: {e}")))?;

    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in &resp.output.message.content {
        if let Some(text) = &block.text {
            content.get_or_insert_with(String::new).push_str(text);
        } else if let Some(r) = &block.reasoning_content {
            if let Some(text) = r.reasoning_text.as_ref().and_then(|t| t.text.as_deref()) {
                reasoning.get_or_insert_with(String::new).push_str(text);
            }
        } else if let Some(t) = &block.tool_use {
            tool_calls.push(ResponseToolCall::function(
                t.tool_use_id.clone(),
                t.name.clone(),
                Cow::Borrowed(t.input.map_or("{}", RawValue::get)),
            ));
        } else {
            // image, document, guardContent, citations…: nothing an OpenAI
            // chat message can carry.
            tracing::debug!("bedrock content block not forwarded");
        }
    }

    let mut counts = TokenCounts::default();
    counts.update(&resp.usage.as_anthropic());
    let created = unix_now();
    let completion = ChatCompletion {
        id: completion_id(created),
        created,
        model,
        message: AssistantMessage {
            content,
            reasoning_content: reasoning,
            refusal: None,
            tool_calls,
        },
        finish_reason: resp.stop_reason.as_deref().map(finish_reason),
        usage: counts.to_openai(),
    };
    let mark = out.len();
    serde_json::to_writer(&mut *out, &completion).map_err(|e| {
        out.truncate(mark);
        TranslateError::BadResponse(format!("writing completion: {e}"))
    })?;
    Ok(counts.usage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn translate(body: &str) -> (Value, Usage) {
        let mut out = Vec::new();
        let usage = translate_response(body.as_bytes(), "bedrock/m", &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), usage)
    }

    #[test]
    fn stop_reasons_map_to_openai_finish_reasons() {
        for (from, to) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
        ] {
            assert_eq!(finish_reason(from), to, "{from}");
        }
    }

    #[test]
    fn cache_reads_count_as_prompt_and_cached_tokens() {
        let (v, usage) = translate(
            r#"{"output":{"message":{"role":"assistant","content":[{"text":"a"},{"text":"b"}]}},
            "stopReason":"max_tokens","usage":{"inputTokens":10,"outputTokens":3,
            "cacheReadInputTokens":100,"cacheWriteInputTokens":1000,"totalTokens":1113}}"#,
        );
        assert_eq!(v["choices"][0]["message"]["content"], "ab");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["prompt_tokens"], 1110);
        assert_eq!(v["usage"]["total_tokens"], 1113);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(usage, Usage::new(1110, 3).with_details(100, 0));
    }

    #[test]
    fn ids_are_unique_per_response() {
        let (a, _) = translate(r#"{"output":{"message":{"content":[]}}}"#);
        let (b, _) = translate(r#"{"output":{"message":{"content":[]}}}"#);
        assert_ne!(a["id"], b["id"]);
        assert!(a["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(a["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn non_converse_body_is_bad_response() {
        let mut out = Vec::new();
        for body in [
            &b"not json"[..],
            b"{}",
            b"[1]",
            b"",
            br#"{"output":{"message":{"content":[{"toolUse":{"name":"x"}}]}}}"#,
            br#"{"output":{"message":{"content":"text"}}}"#,
        ] {
            let err = translate_response(body, "m", &mut out).unwrap_err();
            assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
        }
        assert!(out.is_empty());
    }
}
