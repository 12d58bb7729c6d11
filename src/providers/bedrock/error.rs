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

use crate::providers::common::error::{client_status, write_unreadable_error};
use crate::schema::openai::write_error;

#[derive(Deserialize)]
pub(super) struct UpstreamError<'a> {
    #[serde(borrow, default, alias = "Message")]
    pub(super) message: Option<Cow<'a, str>>,
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
    let client_status = client_status(status);
    let kind = openai_error_type(client_status);
    match serde_json::from_slice::<UpstreamError<'_>>(body) {
        Ok(UpstreamError {
            message: Some(message),
        }) => write_error(&message, kind, kind, out),
        _ => write_unreadable_error(status, body, out),
    }
    client_status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::error::checks;

    #[test]
    fn statuses_map_to_openai_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (500, "api_error"),
            (503, "service_unavailable"),
        ] {
            let (s, v) = checks::translated(translate_error, status, r#"{"Message":"m"}"#);
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
}
