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

/// The claims every provider's `translate_error` is tested for.
#[cfg(test)]
pub(crate) mod checks {
    use serde_json::{json, Value};

    use super::MAX_QUOTED_BODY_BYTES;

    /// `translate(status, body)`: the client status and the OpenAI body.
    pub(crate) fn translated(
        translate: impl Fn(u16, &[u8], &mut Vec<u8>) -> u16,
        status: u16,
        body: &str,
    ) -> (u16, Value) {
        let mut out = Vec::new();
        let s = translate(status, body.as_bytes(), &mut out);
        (s, serde_json::from_slice(&out).unwrap())
    }

    /// A 429 `body` stays 429 and becomes a `rate_limit_error` (type and
    /// code) with the upstream's `message`.
    pub(crate) fn rate_limit_429_keeps_status_and_message(
        translate: impl Fn(u16, &[u8], &mut Vec<u8>) -> u16,
        body: &str,
        message: &str,
    ) {
        let (s, v) = translated(translate, 429, body);
        assert_eq!(s, 429);
        assert_eq!(
            v,
            json!({"error":{"message":message,
                "type":"rate_limit_error","param":null,"code":"rate_limit_error"}})
        );
    }

    /// An unreadable body is quoted (capped) as `upstream_error`, and a
    /// non-error status becomes 502. `translate` is the provider's
    /// `translate_error`, returning the client status.
    pub(crate) fn unreadable_body_is_quoted_and_capped(
        translate: impl Fn(u16, &[u8], &mut Vec<u8>) -> u16,
    ) {
        let body = "<html>".repeat(1000);
        let mut out = Vec::new();
        assert_eq!(translate(502, body.as_bytes(), &mut out), 502);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["type"], "upstream_error");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with("upstream returned status 502: <html>"));
        assert!(msg.len() < MAX_QUOTED_BODY_BYTES + 64);
        assert_eq!(translate(200, b"{}", &mut Vec::new()), 502);
    }
}
