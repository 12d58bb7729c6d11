//! Cohere v2 non-stream chat response → OpenAI `chat.completion`, plus the
//! pieces the stream translator shares with it (usage, finish reasons).

use std::borrow::Cow;

use serde::Deserialize;

use super::{TranslateError, Usage};
use crate::schema::openai::{
    unix_now, AssistantMessage, ChatCompletion, CompletionUsage, ResponseFunctionCall,
    ResponseToolCall,
};

/// Cohere `usage` (chat) and `meta` (embed): `tokens` counts what the model
/// read and wrote, `billed_units` what is billed (used only if `tokens` is
/// absent). Cohere types every count as a JSON number, not an integer.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(super) struct UpstreamUsage {
    #[serde(default)]
    billed_units: Option<Units>,
    #[serde(default)]
    tokens: Option<Units>,
    /// Prompt tokens read from cache; already inside `tokens.input_tokens`.
    #[serde(default)]
    cached_tokens: Option<f64>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct Units {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
}

/// A Cohere count as a whole number; negative or NaN counts become 0 (`as`
/// saturates).
fn count(n: f64) -> u64 {
    n as u64
}

impl UpstreamUsage {
    fn pick(&self, field: fn(&Units) -> Option<f64>) -> u64 {
        self.tokens
            .as_ref()
            .and_then(field)
            .or_else(|| self.billed_units.as_ref().and_then(field))
            .map_or(0, count)
    }

    pub(super) fn usage(&self) -> Usage {
        Usage::new(
            self.pick(|u| u.input_tokens),
            self.pick(|u| u.output_tokens),
        )
        .with_details(self.cached_tokens.map_or(0, count), 0)
    }

    pub(super) fn to_openai(self) -> CompletionUsage {
        let u = self.usage();
        CompletionUsage::new(u.prompt_tokens, u.completion_tokens, u.cached_tokens)
    }
}

/// Cohere `finish_reason` → OpenAI `finish_reason`; `None` for `ERROR` and
/// `TIMEOUT`, which OpenAI has no reason for (the stream ends in an error
/// frame, a whole response reports `stop`).
pub(super) fn finish_reason(reason: &str) -> Option<&'static str> {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => Some("stop"),
        "MAX_TOKENS" => Some("length"),
        "TOOL_CALL" => Some("tool_calls"),
        "ERROR" | "TIMEOUT" => None,
        other => {
            tracing::debug!(
                finish_reason = other,
                "unknown cohere finish_reason, reporting stop"
            );
            Some("stop")
        }
    }
}

#[derive(Deserialize)]
struct ChatResponse<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    message: ResponseMessage<'a>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: UpstreamUsage,
}

#[derive(Deserialize)]
struct ResponseMessage<'a> {
    #[serde(borrow, default)]
    content: Vec<ContentItem<'a>>,
    #[serde(borrow, default)]
    tool_plan: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Deserialize)]
struct ContentItem<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
}

/// Cohere's tool call already has OpenAI's shape; written back field by field.
#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, rename = "type", default = "function_type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    function: FunctionCall<'a>,
}

fn function_type<'a>() -> Cow<'a, str> {
    Cow::Borrowed("function")
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    arguments: Cow<'a, str>,
}

/// Translates a Cohere v2 non-stream chat response body into an OpenAI
/// `chat.completion` body appended to `out`; `model` is reported as given.
///
/// Fails with [`TranslateError::BadResponse`] if the body is not a Cohere
/// chat response, or if it ended with `finish_reason` `ERROR` or `TIMEOUT`
/// (`out` is then left as it was).
pub fn translate_response(
    body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    let resp: ChatResponse<'_> = serde_json::from_slice(body)
        .map_err(|e| TranslateError::BadResponse(format!("chat response body: {e}")))?;

    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = resp
        .message
        .tool_plan
        .filter(|p| !p.is_empty())
        .map(Cow::into_owned);
    for item in &resp.message.content {
        match item.kind.as_ref() {
            "text" => content
                .get_or_insert_with(String::new)
                .push_str(item.text.as_deref().unwrap_or_default()),
            "thinking" => reasoning
                .get_or_insert_with(String::new)
                .push_str(item.thinking.as_deref().unwrap_or_default()),
            other => tracing::debug!(content = other, "cohere content item not forwarded"),
        }
    }
    let tool_calls = resp
        .message
        .tool_calls
        .into_iter()
        .map(|call| ResponseToolCall {
            id: call.id,
            kind: call.kind,
            function: ResponseFunctionCall {
                name: call.function.name,
                // Parameterless calls may come with "" arguments; OpenAI
                // clients parse `arguments` as JSON.
                arguments: if call.function.arguments.trim().is_empty() {
                    Cow::Borrowed("{}")
                } else {
                    call.function.arguments
                },
            },
        })
        .collect();

    let finish = match resp.finish_reason.as_deref() {
        // ERROR or TIMEOUT: the answer was cut short. As in a stream, the
        // client gets an error rather than a partial answer posing as whole.
        Some(r) if finish_reason(r).is_none() => {
            return Err(TranslateError::BadResponse(format!(
                "cohere stopped generating with finish_reason {r}"
            )))
        }
        r => r.and_then(finish_reason),
    };
    let completion = ChatCompletion {
        id: format!("chatcmpl-{}", resp.id),
        created: unix_now(),
        model,
        message: AssistantMessage {
            content,
            reasoning_content: reasoning,
            refusal: None,
            tool_calls,
        },
        finish_reason: finish,
        usage: resp.usage.to_openai(),
    };
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, &completion) {
        out.truncate(mark);
        return Err(TranslateError::BadResponse(format!(
            "writing completion: {e}"
        )));
    }
    Ok(resp.usage.usage())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn translate(body: &str) -> (Value, Usage) {
        let mut out = Vec::new();
        let usage = translate_response(body.as_bytes(), "cohere/m", &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), usage)
    }

    #[test]
    fn finish_reasons_map_to_openai_finish_reasons() {
        for (from, to) in [
            ("COMPLETE", Some("stop")),
            ("STOP_SEQUENCE", Some("stop")),
            ("MAX_TOKENS", Some("length")),
            ("TOOL_CALL", Some("tool_calls")),
            ("ERROR", None),
            ("TIMEOUT", None),
            ("SOMETHING_NEW", Some("stop")),
        ] {
            assert_eq!(finish_reason(from), to, "{from}");
        }
    }

    #[test]
    fn error_or_timeout_finish_is_an_error_not_a_partial_answer() {
        for reason in ["ERROR", "TIMEOUT"] {
            let body = format!(
                r#"{{"id":"x","message":{{"role":"assistant","content":[{{"type":"text","text":"par"}}]}},
                "finish_reason":"{reason}"}}"#
            );
            let mut out = b"keep".to_vec();
            let err = translate_response(body.as_bytes(), "m", &mut out).unwrap_err();
            assert!(
                matches!(err, TranslateError::BadResponse(ref m) if m.contains(reason)),
                "{err}"
            );
            assert_eq!(out, b"keep");
        }
    }

    #[test]
    fn thinking_content_becomes_reasoning_and_empty_arguments_an_object() {
        let (v, _) = translate(
            r#"{"id":"x","message":{"role":"assistant","content":[
            {"type":"thinking","thinking":"hmm"},{"type":"text","text":"a"},{"type":"text","text":"b"}],
            "tool_calls":[{"id":"t1","type":"function","function":{"name":"now","arguments":""}}]},
            "finish_reason":"TOOL_CALL"}"#,
        );
        let msg = &v["choices"][0]["message"];
        assert_eq!(msg["reasoning_content"], "hmm");
        assert_eq!(msg["content"], "ab");
        assert_eq!(
            msg["tool_calls"],
            json!([{"id":"t1","type":"function","function":{"name":"now","arguments":"{}"}}])
        );
    }

    #[test]
    fn usage_falls_back_to_billed_units_and_accepts_float_counts() {
        let (v, usage) = translate(
            r#"{"id":"x","message":{"content":[]},"finish_reason":"COMPLETE",
            "usage":{"billed_units":{"input_tokens":12.0,"output_tokens":7}}}"#,
        );
        assert_eq!(usage, Usage::new(12, 7));
        assert_eq!(v["usage"]["total_tokens"], 19);
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn non_chat_body_is_bad_response() {
        let mut out = Vec::new();
        for body in [
            &b"not json"[..],
            b"{}",
            b"[1]",
            b"",
            br#"{"id":"x"}"#,
            br#"{"id":"x","message":{"tool_calls":[{"id":"t"}]}}"#,
        ] {
            let err = translate_response(body, "m", &mut out).unwrap_err();
            assert!(matches!(err, TranslateError::BadResponse(_)), "{err}");
        }
        assert!(out.is_empty());
    }
}
