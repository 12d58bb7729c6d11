//! Bedrock error bodies → OpenAI error bodies, for whole responses and for
//! exception messages inside a ConverseStream.
//!
//! Bedrock: body `{"message":"..."}` (some services spell it `Message`), with
//! the error name only in the `x-amzn-errortype` header
//! (`ThrottlingException:http://…`), and in a stream in the
//! `:exception-type` header (`throttlingException`). Reference:
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors>.
//! OpenAI: `{"error":{"message","type","param","code"}}`.

use std::borrow::Cow;

use serde::Deserialize;

/// At most this much of an unparsable upstream error body is quoted back.
const MAX_QUOTED_BODY_BYTES: usize = 512;

#[derive(Deserialize)]
pub(super) struct UpstreamError<'a> {
    #[serde(borrow, default, alias = "Message")]
    pub(super) message: Option<Cow<'a, str>>,
}

/// Appends `{"error":{"message","type","param":null,"code"}}` to `out`.
pub(super) fn write_openai_error(message: &str, kind: &str, code: &str, out: &mut Vec<u8>) {
    crate::schema::openai::write_error(message, kind, code, out);
}

/// The HTTP status AWS documents for a Bedrock error name, from
/// `x-amzn-errortype` or a stream's `:exception-type` (any case, any
/// `:<namespace>` suffix dropped); `None` for a name not listed.
pub fn error_type_status(error_type: &str) -> Option<u16> {
    let name = error_type.split(':').next().unwrap_or_default();
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    Some(if is("ValidationException") {
        400
    } else if is("AccessDeniedException") || is("AccessDenied") {
        403
    } else if is("ResourceNotFoundException") {
        404
    } else if is("ModelTimeoutException") {
        408
    } else if is("ModelErrorException") || is("ModelStreamErrorException") {
        424
    } else if is("ThrottlingException") || is("ServiceQuotaExceededException") {
        429
    } else if is("InternalServerException") {
        500
    } else if is("ServiceUnavailableException") || is("ModelNotReadyException") {
        503
    } else {
        return None;
    })
}

/// OpenAI error `type` for a status.
pub(super) fn openai_error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout",
        429 => "rate_limit_error",
        503 => "service_unavailable",
        _ => "api_error",
    }
}

/// Translates a Bedrock error response (any status) into an OpenAI error
/// body appended to `out`, and returns the status the client should get: the
/// upstream 4xx/5xx as is (429 throttling, 400 validation, 403 access
/// denied, 503 model not ready / unavailable), anything else as 502.
///
/// The header-only error name is not needed: Bedrock gives each name its
/// own status, so the status picks the OpenAI `type` and `code`. A body
/// without a `message` is quoted (first `MAX_QUOTED_BODY_BYTES`) with type
/// `upstream_error`.
pub fn translate_error(status: u16, body: &[u8], out: &mut Vec<u8>) -> u16 {
    let client_status = match status {
        400..=599 => status,
        _ => 502,
    };
    let kind = openai_error_type(client_status);
    match serde_json::from_slice::<UpstreamError<'_>>(body) {
        Ok(UpstreamError {
            message: Some(message),
        }) => write_openai_error(&message, kind, kind, out),
        _ => {
            let quoted = &body[..body.len().min(MAX_QUOTED_BODY_BYTES)];
            let message = format!(
                "upstream returned status {status}: {}",
                String::from_utf8_lossy(quoted)
            );
            write_openai_error(&message, "upstream_error", "upstream_error", out);
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
    fn throttling_429_keeps_status_and_message() {
        let (s, v) = translate(
            429,
            r#"{"message":"Too many requests, please wait before trying again."}"#,
        );
        assert_eq!(s, 429);
        assert_eq!(
            v,
            json!({"error":{"message":"Too many requests, please wait before trying again.",
                "type":"rate_limit_error","param":null,"code":"rate_limit_error"}})
        );
    }

    #[test]
    fn statuses_map_to_openai_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (500, "api_error"),
            (503, "service_unavailable"),
        ] {
            let (s, v) = translate(status, r#"{"Message":"m"}"#);
            assert_eq!(s, status);
            assert_eq!(v["error"]["type"], kind, "{status}");
            assert_eq!(v["error"]["message"], "m");
        }
    }

    #[test]
    fn error_type_names_map_to_documented_statuses() {
        for (name, status) in [
            ("ThrottlingException", Some(429)),
            (
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                Some(429),
            ),
            ("throttlingException", Some(429)),
            ("ValidationException", Some(400)),
            ("AccessDeniedException", Some(403)),
            ("ModelNotReadyException", Some(503)),
            ("serviceUnavailableException", Some(503)),
            ("modelStreamErrorException", Some(424)),
            ("internalServerException", Some(500)),
            ("SomethingNew", None),
        ] {
            assert_eq!(error_type_status(name), status, "{name}");
        }
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
