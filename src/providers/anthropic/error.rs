//! Anthropic error bodies → OpenAI error bodies, for whole responses and for
//! the `error` event inside a stream.
//!
//! Anthropic: `{"type":"error","error":{"type":"rate_limit_error","message":"..."}}`
//! (<https://docs.anthropic.com/en/api/errors>). OpenAI:
//! `{"error":{"message","type","param","code"}}`. The Anthropic error type is
//! kept as both `type` and `code`; OpenAI SDKs pick the exception from the status.

use std::borrow::Cow;

use serde::Deserialize;

/// At most this much of an unparsable upstream error body is quoted back.
const MAX_QUOTED_BODY_BYTES: usize = 512;

/// Anthropic's "overloaded" status; not a standard HTTP code.
const STATUS_OVERLOADED: u16 = 529;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    error: UpstreamError<'a>,
}

/// The inner `error` object of an Anthropic error body or stream event.
#[derive(Deserialize, Default)]
pub(super) struct UpstreamError<'a> {
    #[serde(borrow, rename = "type", default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) message: Option<Cow<'a, str>>,
}

/// Appends `{"error":{"message","type","param":null,"code"}}` to `out`.
pub(super) fn write_openai_error(message: &str, kind: &str, out: &mut Vec<u8>) {
    crate::schema::openai::write_error(message, kind, kind, out);
}

/// Translates an Anthropic error response (any status) into an OpenAI error
/// body appended to `out`, and returns the status the client should get: the
/// upstream 4xx/5xx as is, 529 (overloaded) as 503, anything else as 502.
///
/// A body that is not Anthropic's error shape is quoted (first
/// `MAX_QUOTED_BODY_BYTES`) in the message with type `upstream_error`.
pub fn translate_error(status: u16, anthropic_body: &[u8], out: &mut Vec<u8>) -> u16 {
    let client_status = match status {
        STATUS_OVERLOADED => 503,
        400..=599 => status,
        _ => 502,
    };
    match serde_json::from_slice::<Envelope<'_>>(anthropic_body) {
        Ok(Envelope { error }) => write_openai_error(
            error.message.as_deref().unwrap_or("upstream error"),
            error.kind.as_deref().unwrap_or("upstream_error"),
            out,
        ),
        Err(_) => {
            let quoted = &anthropic_body[..anthropic_body.len().min(MAX_QUOTED_BODY_BYTES)];
            let message = format!(
                "upstream returned status {status}: {}",
                String::from_utf8_lossy(quoted)
            );
            write_openai_error(&message, "upstream_error", out);
        }
    }
    client_status
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn translate(status: u16, body: &str) -> (u16, Value) {
        let mut out = Vec::new();
        let s = translate_error(status, body.as_bytes(), &mut out);
        (s, serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn rate_limit_429_keeps_status_and_type() {
        let (s, v) = translate(
            429,
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#,
        );
        assert_eq!(s, 429);
        assert_eq!(
            v,
            json!({"error":{"message":"Number of requests has exceeded your rate limit",
                "type":"rate_limit_error","param":null,"code":"rate_limit_error"}})
        );
    }

    #[test]
    fn overloaded_529_becomes_503() {
        let (s, v) = translate(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(s, 503);
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "Overloaded");
    }

    #[test]
    fn unparsable_body_is_quoted_and_capped() {
        let body = "<html>".repeat(1000);
        let (s, v) = translate(502, &body);
        assert_eq!(s, 502);
        assert_eq!(v["error"]["type"], "upstream_error");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with("upstream returned status 502: <html>"));
        assert!(msg.len() < MAX_QUOTED_BODY_BYTES + 64);
    }

    #[test]
    fn non_error_status_becomes_502() {
        let (s, _) = translate(200, "{}");
        assert_eq!(s, 502);
    }
}
