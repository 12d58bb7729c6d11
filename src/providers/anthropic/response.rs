//! Anthropic non-stream message → OpenAI `chat.completion`, plus the pieces
//! the stream translator shares with it (usage, finish reasons).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{TranslateError, Usage};
use crate::schema::openai::{
    unix_now, AssistantMessage, ChatCompletion, CompletionUsage, ResponseToolCall,
};

/// Anthropic `usage`, as sent in a message, `message_start` and `message_delta`.
/// Every field may be absent or null (`message_delta` carries only some).
/// Bedrock's Converse reports the same counts (see its `UpstreamUsage`).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct UpstreamUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u64>,
}

/// Running token counts; later reports overwrite earlier ones field by field
/// (`message_delta.usage.output_tokens` is cumulative, and with server tools
/// its `input_tokens` exceeds the one in `message_start`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TokenCounts {
    input: u64,
    cache_read: u64,
    cache_creation: u64,
    output: u64,
}

impl TokenCounts {
    pub(crate) fn update(&mut self, u: &UpstreamUsage) {
        if let Some(n) = u.input_tokens {
            self.input = n;
        }
        if let Some(n) = u.cache_read_input_tokens {
            self.cache_read = n;
        }
        if let Some(n) = u.cache_creation_input_tokens {
            self.cache_creation = n;
        }
        if let Some(n) = u.output_tokens {
            self.output = n;
        }
    }

    /// OpenAI counts cached prompt tokens inside `prompt_tokens`; Anthropic
    /// reports them beside `input_tokens`. Cache reads are the cached tokens;
    /// thinking is inside `output_tokens` with no count of its own.
    pub(crate) fn usage(&self) -> Usage {
        let prompt_tokens = self
            .input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_creation);
        Usage::new(prompt_tokens, self.output).with_details(self.cache_read, 0)
    }

    /// Cache reads are also reported as `cached_tokens`.
    pub(crate) fn to_openai(self) -> CompletionUsage {
        let u = self.usage();
        CompletionUsage::new(u.prompt_tokens, u.completion_tokens, u.cached_tokens)
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub(super) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => {
            tracing::debug!(
                stop_reason = other,
                "unknown anthropic stop_reason, reporting stop"
            );
            "stop"
        }
    }
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stop_details: Option<StopDetails<'a>>,
    #[serde(default)]
    usage: UpstreamUsage,
}

#[derive(Deserialize)]
struct StopDetails<'a> {
    #[serde(borrow, default)]
    explanation: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// Translates an Anthropic non-stream response body into an OpenAI
/// `chat.completion` body appended to `out`; `model` is reported as given.
///
/// Fails with [`TranslateError::BadResponse`] if the body is not a Messages
/// API message (`out` is then left as it was).
pub fn translate_response(
    anthropic_body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let msg: Message<'_> = serde_json::from_slice(anthropic_body)
        .map_err(|e| TranslateError::BadResponse(format!("message body: {e}")))?;

    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in &msg.content {
        match block.kind.as_ref() {
            "text" => content
                .get_or_insert_with(String::new)
                .push_str(block.text.as_deref().unwrap_or_default()),
            "thinking" => reasoning
                .get_or_insert_with(String::new)
                .push_str(block.thinking.as_deref().unwrap_or_default()),
            "tool_use" => {
                let (Some(id), Some(name)) = (&block.id, &block.name) else {
                    return Err(TranslateError::BadResponse(
                        "tool_use block without id or name".into(),
                    ));
                };
                tool_calls.push(ResponseToolCall::function(
                    id.clone(),
                    name.clone(),
                    Cow::Borrowed(block.input.map_or("{}", RawValue::get)),
                ));
            }
            // redacted_thinking carries no readable text; server tool blocks
            // (server_tool_use, *_tool_result) ran upstream and are not calls
            // the client must answer.
            other => tracing::debug!(block = other, "anthropic content block not forwarded"),
        }
    }

    let refusal = match msg.stop_reason.as_deref() {
        Some("refusal") => msg.stop_details.and_then(|d| d.explanation),
        _ => None,
    };
    let mut counts = TokenCounts::default();
    counts.update(&msg.usage);
    let completion = ChatCompletion {
        id: format!("chatcmpl-{}", msg.id),
        created: unix_now(),
        model,
        message: AssistantMessage {
            content,
            reasoning_content: reasoning,
            refusal,
            tool_calls,
        },
        finish_reason: msg.stop_reason.as_deref().map(finish_reason),
        usage: counts.to_openai(),
    };
    serde_json::to_writer(&mut *out, &completion)
        .map_err(|e| TranslateError::BadResponse(format!("writing completion: {e}")))?;
    Ok(counts.usage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn translate(body: &str) -> (Value, Usage) {
        let mut out = Vec::new();
        let usage = translate_response(body.as_bytes(), "anthropic/m", &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), usage)
    }

    #[test]
    fn tool_use_becomes_tool_call_with_input_as_argument_string() {
        let (v, _) = translate(
            r#"{"id":"msg_1","content":[{"type":"thinking","thinking":"hmm","signature":"s"},
            {"type":"server_tool_use","id":"srv","name":"web_search","input":{"q":1}},
            {"type":"web_search_tool_result","tool_use_id":"srv","content":[]},
            {"type":"tool_use","id":"toolu_1","name":"get","input":{"a":[1,2]}}],
            "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}"#,
        );
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["content"], Value::Null);
        assert_eq!(msg["reasoning_content"], "hmm");
        let calls = msg["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["id"], "toolu_1");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get");
        let args: Value =
            serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, serde_json::json!({"a":[1,2]}));
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn stop_reasons_map_to_openai_finish_reasons() {
        for (from, to) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("pause_turn", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ] {
            assert_eq!(finish_reason(from), to, "{from}");
        }
    }

    #[test]
    fn cache_tokens_count_as_prompt_tokens() {
        let (v, usage) = translate(
            r#"{"id":"m","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
            "stop_reason":"end_turn","usage":{"input_tokens":10,"cache_read_input_tokens":100,
            "cache_creation_input_tokens":1000,"output_tokens":3}}"#,
        );
        assert_eq!(v["choices"][0]["message"]["content"], "ab");
        assert_eq!(v["usage"]["prompt_tokens"], 1110);
        assert_eq!(v["usage"]["total_tokens"], 1113);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(usage, Usage::new(1110, 3).with_details(100, 0));
    }

    #[test]
    fn non_message_body_is_bad_response() {
        let mut out = Vec::new();
        for body in [&b"not json"[..], b"{}", b"[1]", b""] {
            let err = translate_response(body, "m", &mut out).unwrap_err();
            assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
        }
        assert!(out.is_empty());
    }
}
