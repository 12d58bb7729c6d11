//! Anthropic error bodies → OpenAI error bodies, for whole responses and for
//! the `error` event inside a stream.
//!
//! Anthropic: `{"type":"error","error":{"type":"rate_limit_error","message":"..."}}`
//! (<https://docs.anthropic.com/en/api/errors>). OpenAI:
//! `{"error":{"message","type","param","code"}}`. The Anthropic error type is
//! kept as both `type` and `code`; OpenAI SDKs pick the exception from the status.

use std::borrow::Cow;

use serde::Deserialize;

use crate::providers::common::error::{client_status, write_unreadable_error};
use crate::schema::openai::write_error;

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

/// Translates an Anthropic error response (any status) into an OpenAI error
/// body appended to `out`, and returns the status the client should get: the
/// upstream 4xx/5xx as is, 529 (overloaded) as 503, anything else as 502.
///
/// A body that is not Anthropic's error shape is quoted (first
/// `MAX_QUOTED_BODY_BYTES`) in the message with type `upstream_error`.
pub fn translate_error(status: u16, anthropic_body: &[u8], out: &mut Vec<u8>) -> u16 {
    match serde_json::from_slice::<Envelope<'_>>(anthropic_body) {
        Ok(Envelope { error }) => {
            let kind = error.kind.as_deref().unwrap_or("upstream_error");
            let message = error.message.as_deref().unwrap_or("upstream error");
            write_error(message, kind, kind, out);
        }
        Err(_) => write_unreadable_error(status, anthropic_body, out),
    }
    match status {
        STATUS_OVERLOADED => 503,
        _ => client_status(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::error::checks;

    #[test]
    fn overloaded_529_becomes_503() {
        let (s, v) = checks::translated(
            translate_error,
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(s, 503);
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "Overloaded");
    }
}
