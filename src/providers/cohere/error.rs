//! Cohere error bodies → OpenAI error bodies, for whole responses and for a
//! stream that ends in `finish_reason` `ERROR`/`TIMEOUT`.
//!
//! Cohere: `{"message":"..."}`, sometimes `{"id":"...","message":"..."}`
//! (<https://docs.cohere.com/reference/errors>); it has no error type, so the
//! OpenAI `type`/`code` is derived from the status. OpenAI:
//! `{"error":{"message","type","param","code"}}`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::providers::common::error::{client_status, write_unreadable_error};
use crate::schema::openai::write_error;

/// Cohere's "invalid token" status; not a standard HTTP code.
const STATUS_INVALID_TOKEN: u16 = 498;
/// Cohere documents 499 for a token that was revoked or cancelled.
const STATUS_TOKEN_CANCELLED: u16 = 499;

#[derive(Deserialize)]
struct UpstreamError<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// The OpenAI error type for the status the client gets.
fn error_type(client_status: u16) -> &'static str {
    match client_status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Translates a Cohere error response (any status) into an OpenAI error body
/// appended to `out`, and returns the status the client should get: 498 and
/// 499 (invalid or cancelled token) as 401, other 4xx/5xx as is (429 stays
/// 429), anything else as 502.
///
/// A body that is not Cohere's error shape is quoted (first
/// `MAX_QUOTED_BODY_BYTES`) in the message with type `upstream_error`.
pub fn translate_error(status: u16, body: &[u8], out: &mut Vec<u8>) -> u16 {
    let client_status = match status {
        STATUS_INVALID_TOKEN | STATUS_TOKEN_CANCELLED => 401,
        _ => client_status(status),
    };
    match serde_json::from_slice::<UpstreamError<'_>>(body) {
        Ok(e) => {
            let kind = error_type(client_status);
            write_error(&e.message, kind, kind, out);
        }
        Err(_) => write_unreadable_error(status, body, out),
    }
    client_status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::error::checks;

    #[test]
    fn invalid_token_498_and_499_become_401() {
        for status in [498, 499] {
            let (s, v) = checks::translated(
                translate_error,
                status,
                r#"{"message":"invalid api token"}"#,
            );
            assert_eq!(s, 401);
            assert_eq!(v["error"]["type"], "authentication_error");
            assert_eq!(v["error"]["message"], "invalid api token");
        }
    }

    #[test]
    fn other_statuses_pass_through_with_a_type_from_the_status() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (404, "not_found_error"),
            (422, "invalid_request_error"),
            (500, "api_error"),
            (503, "api_error"),
        ] {
            let (s, v) = checks::translated(translate_error, status, r#"{"message":"m"}"#);
            assert_eq!((s, v["error"]["type"].as_str().unwrap()), (status, kind));
        }
    }
}
