//! Gemini error bodies → OpenAI error bodies, for whole responses and for an
//! error that arrives inside a stream.
//!
//! Gemini: `{"error":{"code":429,"message","status":"RESOURCE_EXHAUSTED",
//! "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34.4s"}]}}`
//! (`google.rpc.Status`, <https://ai.google.dev/gemini-api/docs/troubleshooting>;
//! details types: <https://cloud.google.com/apis/design/errors#error_details>).
//! OpenAI: `{"error":{"message","type","param","code"}}`; the type is derived
//! from the canonical `status`, which is also kept as `code`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::providers::common::error::{client_status, write_unreadable_error};
use crate::schema::openai::write_error;

/// `@type` of the detail that says when to retry.
const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// Longest `Retry-After` we pass on: a day. Longer delays are capped.
const MAX_RETRY_AFTER_SECS: u64 = 86_400;

#[derive(Deserialize)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) error: Status<'a>,
}

/// `google.rpc.Status` as Gemini serialises it.
#[derive(Deserialize, Default)]
pub(super) struct Status<'a> {
    #[serde(default)]
    pub(super) code: Option<u16>,
    #[serde(borrow, default)]
    pub(super) message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    details: Vec<Detail<'a>>,
}

#[derive(Deserialize)]
struct Detail<'a> {
    #[serde(borrow, rename = "@type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "retryDelay", default)]
    retry_delay: Option<Cow<'a, str>>,
}

impl Status<'_> {
    /// OpenAI error `type` for this status: from the canonical code name
    /// first, else from the HTTP status.
    pub(super) fn openai_type(&self, http_status: u16) -> &'static str {
        match self.status.as_deref() {
            Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => {
                "invalid_request_error"
            }
            Some("RESOURCE_EXHAUSTED") => "rate_limit_error",
            Some("UNAUTHENTICATED") => "authentication_error",
            Some("PERMISSION_DENIED") => "permission_error",
            Some("NOT_FOUND") => "not_found_error",
            Some("UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" | "UNKNOWN") => "server_error",
            _ => match self.code.unwrap_or(http_status) {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                500..=599 => "server_error",
                _ => "upstream_error",
            },
        }
    }

    /// Seconds from the first `google.rpc.RetryInfo.retryDelay`, rounded up.
    fn retry_after_secs(&self) -> Option<u64> {
        self.details
            .iter()
            .filter(|d| d.kind.as_deref() == Some(RETRY_INFO_TYPE))
            .find_map(|d| d.retry_delay.as_deref().and_then(duration_secs_ceil))
    }
}

/// A protobuf JSON `Duration` (`"34.4s"`, `"2s"`, `"0.000001s"`) in whole
/// seconds, rounded up and capped at `MAX_RETRY_AFTER_SECS`.
fn duration_secs_ceil(s: &str) -> Option<u64> {
    let s = s.strip_suffix('s')?;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = whole.parse().unwrap_or(u64::MAX);
    let round_up = u64::from(frac.bytes().any(|b| b != b'0'));
    Some(secs.saturating_add(round_up).min(MAX_RETRY_AFTER_SECS))
}

/// Translates a Gemini error response (any status) into an OpenAI error body
/// appended to `out`. Returns the status for the client (the upstream 4xx/5xx
/// as is, anything else 502) and, if the body has a
/// `google.rpc.RetryInfo.retryDelay`, the `Retry-After` seconds (rounded up).
///
/// A body that is not Gemini's error shape is quoted (first
/// `MAX_QUOTED_BODY_BYTES`) in the message with type `upstream_error`.
pub fn translate_error(status: u16, body: &[u8], out: &mut Vec<u8>) -> (u16, Option<u64>) {
    let client_status = client_status(status);
    // `streamGenerateContent` without `alt=sse` wraps the error in an array.
    // Dispatch on the first byte: serde would also read a struct from an array.
    let parsed = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<[Envelope<'_>; 1]>(body).map(|[env]| env),
        _ => serde_json::from_slice::<Envelope<'_>>(body),
    };
    let parsed = match parsed {
        Ok(env) => env.error,
        Err(_) => {
            write_unreadable_error(status, body, out);
            return (client_status, None);
        }
    };
    let kind = parsed.openai_type(status);
    write_error(
        parsed.message.as_deref().unwrap_or("upstream error"),
        kind,
        parsed.status.as_deref().unwrap_or(kind),
        out,
    );
    (client_status, parsed.retry_after_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn translate(status: u16, body: &str) -> (u16, Option<u64>, Value) {
        let mut out = Vec::new();
        let (s, retry) = translate_error(status, body.as_bytes(), &mut out);
        (s, retry, serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn canonical_status_picks_the_openai_type() {
        for (http, status, kind) in [
            (400, "INVALID_ARGUMENT", "invalid_request_error"),
            (400, "FAILED_PRECONDITION", "invalid_request_error"),
            (429, "RESOURCE_EXHAUSTED", "rate_limit_error"),
            (401, "UNAUTHENTICATED", "authentication_error"),
            (403, "PERMISSION_DENIED", "permission_error"),
            (404, "NOT_FOUND", "not_found_error"),
            (503, "UNAVAILABLE", "server_error"),
            (500, "INTERNAL", "server_error"),
        ] {
            let body = json!({"error":{"code":http,"message":"m","status":status}});
            let (s, retry, v) = translate(http, &body.to_string());
            assert_eq!(s, http);
            assert_eq!(retry, None);
            assert_eq!(
                v,
                json!({"error":{"message":"m","type":kind,"param":null,"code":status}}),
                "{status}"
            );
        }
    }

    #[test]
    fn missing_status_falls_back_to_http_code() {
        let (s, _, v) = translate(404, r#"{"error":{"message":"gone"}}"#);
        assert_eq!(s, 404);
        assert_eq!(v["error"]["type"], "not_found_error");
        assert_eq!(v["error"]["code"], "not_found_error");
    }

    #[test]
    fn error_wrapped_in_an_array_is_understood() {
        let (s, _, v) = translate(
            400,
            r#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#,
        );
        assert_eq!(s, 400);
        assert_eq!(v["error"]["message"], "bad");
    }

    #[test]
    fn retry_delay_is_rounded_up_to_whole_seconds() {
        for (delay, secs) in [
            ("34.4s", Some(35)),
            ("2s", Some(2)),
            ("2.000s", Some(2)),
            ("0.000001s", Some(1)),
            ("0s", Some(0)),
            ("99999999s", Some(MAX_RETRY_AFTER_SECS)),
            ("34.4", None),
            ("s", None),
            ("-1s", None),
            ("1.2.3s", None),
        ] {
            assert_eq!(duration_secs_ceil(delay), secs, "{delay}");
        }
        let body = json!({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.Help","retryDelay":"9s"},
            {"@type":RETRY_INFO_TYPE,"retryDelay":"1.5s"}]}});
        assert_eq!(translate(429, &body.to_string()).1, Some(2));
    }

    #[test]
    fn unreadable_body_gives_no_retry_after() {
        assert_eq!(translate(502, "<html>").1, None);
    }
}
