//! Anthropic's Messages API (`POST /v1/messages`) as an inbound dialect, for
//! clients such as the `anthropic` SDKs and Claude Code when their requests go
//! to a provider that does not speak Anthropic's wire format.
//!
//! - [`to_chat`]: a Messages request -> an OpenAI chat completions body (the hub);
//! - [`from_chat`]: a `chat.completion` -> a Messages `message`;
//! - [`StreamEncoder`]: chat chunks -> Anthropic's SSE events
//!   (`message_start`, `content_block_*`, `message_delta`, `message_stop`);
//! - [`write_error`] / [`error_type`]: errors as `{"type":"error","error":{…}}`;
//! - [`count_tokens_estimate`] / [`write_count_tokens`]: `POST
//!   /v1/messages/count_tokens` answered without a tokenizer.
//!
//! Wire reference: <https://docs.anthropic.com/en/api/messages>,
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming> and
//! <https://docs.anthropic.com/en/api/errors>. Every mapping decision is in
//! the doc comment of the function that takes it.

mod answer;
mod count_tokens;
mod read;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod request_refusal_tests;
#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod test_support;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use count_tokens::{count_tokens_estimate, write_count_tokens};
pub use request::to_chat;
pub use response::from_chat;
pub use stream::StreamEncoder;

/// Anthropic's error `type` for an HTTP status, as its API documents them.
///
/// 504 is `timeout_error` (Anthropic documents it and its SDKs know it);
/// 503 is answered as `overloaded_error`, like Anthropic's own 529; any
/// other 4xx is `invalid_request_error` and any other 5xx `api_error`, as
/// Anthropic does for statuses it does not list.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Appends an Anthropic error body, `{"type":"error","error":{"type","message"}}`,
/// whose `type` is [`error_type`] of `status`. `openai_type` is not read: the
/// status decides, as it does for Anthropic (the argument is the contract
/// every dialect shares). Anthropic's `request_id` is not written: the
/// gateway has none of Anthropic's.
pub fn write_error(status: u16, openai_type: &str, message: &str, out: &mut Vec<u8>) {
    let _ = openai_type;
    write_json(&ErrorBody::new(error_type(status), message), out);
}

/// `{"type":"error","error":{"type":…,"message":…}}`, the body of an error
/// answer and the data of a stream's `error` event.
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

impl<'a> ErrorBody<'a> {
    fn new(kind: &'a str, message: &'a str) -> Self {
        ErrorBody {
            kind: "error",
            error: ErrorDetail { kind, message },
        }
    }
}

/// Appends `value` as JSON. Our answer types hold only strings, numbers and
/// borrowed JSON, which serialise into a `Vec` without error; should one
/// fail, what it wrote is removed.
fn write_json(value: &impl Serialize, out: &mut Vec<u8>) {
    let mark = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        out.truncate(mark);
        tracing::error!(error = %e, "writing an Anthropic answer");
    }
}

/// A made-up id `<prefix><24 letters and digits>` for answers whose hub
/// completion or tool call has none (OpenAI-compatible servers may omit
/// them). Unique per process: a counter hashed with per-process random keys.
fn made_up_id(prefix: &str) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let keys = RandomState::new();
    let mut bits = [keys.hash_one(n), keys.hash_one(!n)];
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    for i in 0..24 {
        let word = &mut bits[i / 12];
        id.push(char::from(ALPHABET[(*word % 62) as usize]));
        *word /= 62;
    }
    id
}

/// The message id for a hub completion id: `chatcmpl-msg_X` (what the
/// gateway's own Anthropic translator names) goes back to `msg_X`, any other
/// `chatcmpl-X` or `X` becomes `msg_X`, and none or an empty one is made up.
fn message_id(chat_id: Option<&str>) -> String {
    let id = chat_id.unwrap_or_default();
    let id = id.strip_prefix("chatcmpl-").unwrap_or(id);
    if id.is_empty() {
        made_up_id("msg_")
    } else if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_follow_anthropic_status_table() {
        let table = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (409, "invalid_request_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
            (599, "api_error"),
            (200, "invalid_request_error"),
        ];
        for (status, kind) in table {
            assert_eq!(error_type(status), kind, "status {status}");
        }
    }

    #[test]
    fn error_body_has_anthropic_shape() {
        let mut out = b"x".to_vec();
        write_error(429, "rate_limit_error", "slow \"down\"", &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"x{"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""}}"#
        );
        let mut out = Vec::new();
        write_error(503, "api_error", "no provider", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["type"], "overloaded_error");
    }

    #[test]
    fn message_ids_come_from_chat_ids() {
        assert_eq!(message_id(Some("chatcmpl-abc")), "msg_abc");
        assert_eq!(message_id(Some("chatcmpl-msg_01X")), "msg_01X");
        assert_eq!(message_id(Some("945bb10c-9bf3")), "msg_945bb10c-9bf3");
        for made_up in [
            message_id(None),
            message_id(Some("")),
            message_id(Some("chatcmpl-")),
        ] {
            assert!(
                made_up.starts_with("msg_") && made_up.len() == 28,
                "{made_up}"
            );
            assert!(made_up[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_ne!(made_up_id("toolu_"), made_up_id("toolu_"));
    }
}
