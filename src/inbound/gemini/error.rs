//! Errors in Gemini's shape, a `google.rpc.Status`:
//! `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED"}}`
//! (<https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes>).
//!
//! `google-genai` raises `ClientError` / `ServerError` from `code` and shows
//! `status` and `message`; inside a stream it recognises an error piece only
//! when `error` is the object's first key, as it is here.

use serde::Serialize;

/// A Gemini error body.
#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    error: Status<'a>,
}

#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    message: &'a str,
    status: &'static str,
}

impl<'a> ErrorBody<'a> {
    /// The body for an HTTP `status`; see [`write_error`] for `openai_type`.
    pub(super) fn new(status: u16, openai_type: &str, message: &'a str) -> Self {
        ErrorBody {
            error: Status {
                code: status,
                message,
                status: status_name(status, openai_type),
            },
        }
    }
}

/// Appends a Gemini error body for an HTTP `status`. `openai_type` (the
/// OpenAI error type the gateway would have used) names the status when the
/// code alone does not, e.g. a 529 `overloaded_error` is `UNAVAILABLE`.
pub fn write_error(status: u16, openai_type: &str, message: &str, out: &mut Vec<u8>) {
    // Serialising plain strings and a number into a Vec cannot fail.
    if let Err(e) = serde_json::to_writer(&mut *out, &ErrorBody::new(status, openai_type, message))
    {
        tracing::error!(error = %e, "writing gemini error body");
    }
}

/// The `google.rpc.Code` name Google answers with for an HTTP status
/// (<https://cloud.google.com/apis/design/errors#handling_errors>); for
/// another status, the name `openai_type` suggests, else the class's.
fn status_name(status: u16, openai_type: &str) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => match openai_type {
            "authentication_error" => "UNAUTHENTICATED",
            "permission_error" => "PERMISSION_DENIED",
            "not_found_error" => "NOT_FOUND",
            "rate_limit_error" => "RESOURCE_EXHAUSTED",
            "overloaded_error" => "UNAVAILABLE",
            "invalid_request_error" => "INVALID_ARGUMENT",
            _ if (400..500).contains(&status) => "FAILED_PRECONDITION",
            _ if (500..600).contains(&status) => "INTERNAL",
            _ => "UNKNOWN",
        },
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
