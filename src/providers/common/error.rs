//! What the error translators share: the status the client gets for an
//! upstream error, and the body for an upstream error that is not in the
//! provider's error shape (an HTML page from a proxy, say).

use crate::schema::openai::write_error;

/// At most this much of an unparsable upstream error body is quoted back.
pub(crate) const MAX_QUOTED_BODY_BYTES: usize = 512;

/// The status the client gets: the upstream 4xx/5xx as is, anything else
/// (an error body under a non-error status) 502.
pub(crate) fn client_status(status: u16) -> u16 {
    match status {
        400..=599 => status,
        _ => 502,
    }
}

/// Appends an OpenAI error of type `upstream_error` quoting the first
/// `MAX_QUOTED_BODY_BYTES` of an upstream error `body` that could not be read.
pub(crate) fn write_unreadable_error(status: u16, body: &[u8], out: &mut Vec<u8>) {
    let quoted = &body[..body.len().min(MAX_QUOTED_BODY_BYTES)];
    let message = format!(
        "upstream returned status {status}: {}",
        String::from_utf8_lossy(quoted)
    );
    write_error(&message, "upstream_error", "upstream_error", out);
}

/// The claims every provider's `translate_error` owes, checked for each.
#[cfg(test)]
pub(crate) mod checks {
    use serde_json::{json, Value};

    use super::MAX_QUOTED_BODY_BYTES;
    use crate::providers::{anthropic, bedrock, cohere, gemini};

    /// A provider's `translate_error`, returning the client status.
    type Translate = fn(u16, &[u8], &mut Vec<u8>) -> u16;

    const TRANSLATORS: [(&str, Translate); 4] = [
        ("anthropic", anthropic::translate_error),
        ("bedrock", bedrock::translate_error),
        ("cohere", cohere::translate_error),
        ("gemini", |s, b, out| gemini::translate_error(s, b, out).0),
    ];

    /// `translate(status, body)`: the client status and the OpenAI body.
    pub(crate) fn translated(translate: Translate, status: u16, body: &str) -> (u16, Value) {
        let mut out = Vec::new();
        let s = translate(status, body.as_bytes(), &mut out);
        (s, serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn rate_limit_429_keeps_status_and_message() {
        // Each provider's 429 body as recorded or documented.
        let bodies = [
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"m"}}"#,
            r#"{"message":"m"}"#,
            r#"{"id":"a1b2","message":"m"}"#,
            r#"{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}"#,
        ];
        for ((provider, translate), body) in TRANSLATORS.into_iter().zip(bodies) {
            let (s, v) = translated(translate, 429, body);
            assert_eq!(s, 429, "{provider}");
            let code = if provider == "gemini" {
                "RESOURCE_EXHAUSTED"
            } else {
                "rate_limit_error"
            };
            assert_eq!(
                v,
                json!({"error":{"message":"m","type":"rate_limit_error","param":null,"code":code}}),
                "{provider}"
            );
        }
    }

    #[test]
    fn unreadable_body_is_quoted_and_capped_and_non_error_status_is_502() {
        let body = "<html>".repeat(1000);
        for (provider, translate) in TRANSLATORS {
            let (s, v) = translated(translate, 502, &body);
            assert_eq!(s, 502, "{provider}");
            assert_eq!(v["error"]["type"], "upstream_error", "{provider}");
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.starts_with("upstream returned status 502: <html>"));
            assert!(msg.len() < MAX_QUOTED_BODY_BYTES + 64, "{provider}");
            assert_eq!(translated(translate, 200, "{}").0, 502, "{provider}");
        }
    }
}
