//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`, plus the
//! pieces the stream translator shares with it (wire types, usage, finish
//! reasons, ids).
//!
//! Reference: <https://ai.google.dev/api/generate-content#generatecontentresponse>.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::Status;
use super::{tool_id, TranslateError, Usage};
use crate::schema::openai::{
    unix_now, AssistantMessage, ChatCompletion, CompletionUsage, ResponseToolCall,
};

/// One `generateContent` response, or one chunk of a stream (same shape).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentResponse<'a> {
    #[serde(borrow, default)]
    pub(super) candidates: Vec<Candidate<'a>>,
    #[serde(borrow, default)]
    pub(super) prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    pub(super) usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    pub(super) response_id: Option<Cow<'a, str>>,
    /// An error delivered in a 200 stream instead of a chunk.
    #[serde(borrow, default)]
    pub(super) error: Option<Status<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate<'a> {
    #[serde(borrow, default)]
    pub(super) content: Option<Content<'a>>,
    #[serde(borrow, default)]
    pub(super) finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct Content<'a> {
    #[serde(borrow, default)]
    pub(super) parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part<'a> {
    /// Kept as the JSON string token so streams can splice it unchanged.
    #[serde(borrow, default)]
    pub(super) text: Option<&'a RawValue>,
    #[serde(default)]
    pub(super) thought: Option<bool>,
    #[serde(borrow, default)]
    pub(super) function_call: Option<FunctionCall<'a>>,
    #[serde(borrow, default)]
    pub(super) thought_signature: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionCall<'a> {
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(super) args: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    pub(super) block_reason: Option<Cow<'a, str>>,
}

/// `usageMetadata`. Each stream chunk repeats the running totals, so the
/// last one seen wins whole.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
    #[serde(default)]
    tool_use_prompt_token_count: Option<u64>,
}

impl UsageMetadata {
    /// `promptTokenCount` already includes cached tokens. Tokens of built-in
    /// tool results (`toolUsePromptTokenCount`, e.g. URL context) are billed
    /// as input and reported beside it, so they count as prompt tokens; then
    /// `total_tokens` equals Gemini's `totalTokenCount`. Thinking counts as
    /// completion, as OpenAI counts reasoning tokens (`candidatesTokenCount`
    /// leaves thoughts out), and is the reasoning part of it;
    /// `cachedContentTokenCount` is the cached part of the prompt.
    pub(super) fn usage(&self) -> Usage {
        let n = |v: Option<u64>| v.unwrap_or(0);
        Usage::new(
            n(self.prompt_token_count).saturating_add(n(self.tool_use_prompt_token_count)),
            n(self.candidates_token_count).saturating_add(n(self.thoughts_token_count)),
        )
        .with_details(
            n(self.cached_content_token_count),
            n(self.thoughts_token_count),
        )
    }

    pub(super) fn to_openai(self) -> CompletionUsage {
        let u = self.usage();
        CompletionUsage::new(u.prompt_tokens, u.completion_tokens, u.cached_tokens)
            .with_reasoning_tokens(u.reasoning_tokens)
    }
}

/// Gemini `finishReason` → OpenAI `finish_reason`. Gemini says `STOP` after
/// function calls too; OpenAI clients expect `tool_calls` then.
pub(super) fn finish_reason(reason: &str, has_tool_calls: bool) -> &'static str {
    match reason {
        "STOP" if has_tool_calls => "tool_calls",
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT" => "content_filter",
        other => {
            tracing::debug!(
                finish_reason = other,
                "unmapped gemini finishReason, reporting stop"
            );
            "stop"
        }
    }
}

/// `responseId`, or one made up (time and a process-wide counter) for an
/// upstream that sent none; it names the completion and seeds tool-call ids.
pub(super) fn response_id(given: Option<&str>) -> Cow<'_, str> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    match given {
        Some(id) if !id.is_empty() => Cow::Borrowed(id),
        _ => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            Cow::Owned(format!("gemini-{nanos:x}-{n}"))
        }
    }
}

/// `raw` JSON without whitespace outside strings (Gemini pretty-prints
/// non-stream bodies and puts `": "` in stream chunks); borrowed when
/// already compact. `raw` must be valid JSON.
pub(super) fn compact_json(raw: &str) -> Cow<'_, str> {
    let is_ws = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    let (mut in_string, mut escaped) = (false, false);
    let mut needs_work = false;
    for b in raw.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if is_ws(b) {
            needs_work = true;
            break;
        }
    }
    if !needs_work {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii() && is_ws(c as u8) {
            continue;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

fn bad(msg: impl Into<String>) -> TranslateError {
    TranslateError::BadResponse(msg.into())
}

/// A text part's string.
fn part_text(raw: &RawValue) -> Result<Cow<'_, str>, TranslateError> {
    serde_json::from_str(raw.get()).map_err(|e| bad(format!("part text: {e}")))
}

/// Translates a Gemini non-stream response body into an OpenAI
/// `chat.completion` body appended to `out`; `model` is reported as given.
///
/// Only the first candidate is read (requests ask for one). A prompt blocked
/// before generation (`promptFeedback.blockReason`, no candidates) becomes an
/// empty answer with `finish_reason: "content_filter"`. Thought signatures on
/// text parts are dropped; those on function calls go into the tool-call id.
///
/// Fails with [`TranslateError::BadResponse`] if the body is not a
/// `GenerateContentResponse` (`out` is then left as it was).
pub fn translate_response(
    body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    // serde also reads a struct from an array; a response is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad("response body is not a JSON object"));
    }
    let resp: GenerateContentResponse<'_> =
        serde_json::from_slice(body).map_err(|e| bad(format!("response body: {e}")))?;
    if let Some(e) = &resp.error {
        return Err(bad(format!(
            "error in a success response: {}",
            e.message.as_deref().unwrap_or("no message")
        )));
    }
    let response_id = response_id(resp.response_id.as_deref());
    let counts = resp.usage_metadata.unwrap_or_default();

    let (message, finish) = match resp.candidates.first() {
        Some(candidate) => {
            let mut content: Option<String> = None;
            let mut reasoning: Option<String> = None;
            let mut tool_calls = Vec::new();
            let parts = candidate.content.as_ref().map_or(&[][..], |c| &c.parts);
            for part in parts {
                if let Some(call) = &part.function_call {
                    let args = compact_json(call.args.map_or("{}", RawValue::get));
                    let index = u32::try_from(tool_calls.len()).unwrap_or(u32::MAX);
                    let id = tool_id::synthesize(
                        &response_id,
                        index,
                        &call.name,
                        &args,
                        part.thought_signature.as_deref(),
                    );
                    tool_calls.push(ResponseToolCall::function(
                        Cow::Owned(id),
                        Cow::Borrowed(&call.name),
                        args,
                    ));
                } else if let Some(text) = part.text {
                    let target = if part.thought == Some(true) {
                        &mut reasoning
                    } else {
                        &mut content
                    };
                    target
                        .get_or_insert_with(String::new)
                        .push_str(&part_text(text)?);
                }
            }
            let finish = candidate
                .finish_reason
                .as_deref()
                .map(|r| finish_reason(r, !tool_calls.is_empty()));
            let message = AssistantMessage {
                content,
                reasoning_content: reasoning,
                refusal: None,
                tool_calls,
            };
            (message, finish)
        }
        None => {
            let blocked = resp
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_deref())
                .ok_or_else(|| bad("response has no candidates and no promptFeedback"))?;
            tracing::debug!(block_reason = blocked, "gemini blocked the prompt");
            let message = AssistantMessage {
                content: Some(String::new()),
                reasoning_content: None,
                refusal: None,
                tool_calls: Vec::new(),
            };
            (message, Some("content_filter"))
        }
    };

    let completion = ChatCompletion {
        id: format!("chatcmpl-{response_id}"),
        created: unix_now(),
        model,
        message,
        finish_reason: finish,
        usage: counts.to_openai(),
    };
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, &completion) {
        out.truncate(mark);
        return Err(bad(format!("writing completion: {e}")));
    }
    Ok(counts.usage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn translate(body: &str) -> (Value, Usage) {
        let mut out = Vec::new();
        let usage = translate_response(body.as_bytes(), "gemini/m", &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), usage)
    }

    #[test]
    fn thoughts_text_and_function_calls_are_separated() {
        let (v, _) = translate(
            r#"{"candidates":[{"content":{"role":"model","parts":[
            {"text":"hmm","thought":true},{"text":"a"},{"text":"b","thoughtSignature":"c2ln"},
            {"functionCall":{"name":"get","args":{"a": [1, 2]}}},
            {"functionCall":{"name":"now"}}]},"finishReason":"STOP"}],
            "responseId":"r1"}"#,
        );
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["content"], "ab");
        assert_eq!(msg["reasoning_content"], "hmm");
        let calls = msg["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_0_"));
        assert!(calls[1]["id"].as_str().unwrap().starts_with("call_1_"));
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get");
        assert_eq!(calls[0]["function"]["arguments"], r#"{"a":[1,2]}"#);
        assert_eq!(calls[1]["function"]["arguments"], "{}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["id"], "chatcmpl-r1");
    }

    #[test]
    fn finish_reasons_map_to_openai() {
        for (from, tools, to) in [
            ("STOP", false, "stop"),
            ("STOP", true, "tool_calls"),
            ("MAX_TOKENS", false, "length"),
            ("SAFETY", false, "content_filter"),
            ("RECITATION", false, "content_filter"),
            ("BLOCKLIST", false, "content_filter"),
            ("PROHIBITED_CONTENT", false, "content_filter"),
            ("SPII", false, "content_filter"),
            ("MALFORMED_FUNCTION_CALL", false, "stop"),
            ("OTHER", false, "stop"),
        ] {
            assert_eq!(finish_reason(from, tools), to, "{from}");
        }
    }

    #[test]
    fn blocked_prompt_is_empty_content_filter_answer() {
        let (v, usage) = translate(
            r#"{"promptFeedback":{"blockReason":"SAFETY"},
            "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}"#,
        );
        let choice = &v["choices"][0];
        assert_eq!(choice["message"]["content"], "");
        assert_eq!(choice["finish_reason"], "content_filter");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-gemini-"));
        assert_eq!(usage, Usage::new(7, 0));
    }

    #[test]
    fn safety_stop_without_parts_has_null_content() {
        let (v, _) = translate(
            r#"{"candidates":[{"content":{"role":"model"},"finishReason":"SAFETY"}],"responseId":"r"}"#,
        );
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    }

    #[test]
    fn usage_counts_thoughts_as_completion_and_cache_as_cached_prompt() {
        let (v, usage) = translate(
            r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":5,"thoughtsTokenCount":20,
            "cachedContentTokenCount":60,"totalTokenCount":125}}"#,
        );
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens":100,"completion_tokens":25,"total_tokens":125,
                "prompt_tokens_details":{"cached_tokens":60},
                "completion_tokens_details":{"reasoning_tokens":20}})
        );
        assert_eq!(usage, Usage::new(100, 25).with_details(60, 20));
    }

    #[test]
    fn compact_json_keeps_whitespace_inside_strings() {
        assert_eq!(
            compact_json("{\n  \"a b\": [1, \"x \\\" y\"],\r\n\t\"c\": {}\n}"),
            r#"{"a b":[1,"x \" y"],"c":{}}"#
        );
        assert!(matches!(compact_json(r#"{"a":"b c"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn non_response_body_is_bad_response() {
        let mut out = Vec::new();
        for body in [
            &b"not json"[..],
            b"{}",
            b"[1]",
            b"",
            b"{\"candidates\":5}",
            b"[[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]]",
            b"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":5}]}}]}",
            b"{\"error\":{\"code\":500,\"message\":\"boom\"}}",
        ] {
            let err = translate_response(body, "m", &mut out).unwrap_err();
            assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
        }
        assert!(out.is_empty());
    }
}
