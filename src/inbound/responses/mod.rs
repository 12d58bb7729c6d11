//! OpenAI's Responses API (`POST /v1/responses`) as an inbound dialect, for
//! providers that do not serve it themselves: the request becomes a chat
//! completions body (`to_chat`), and the chat answer becomes a Response object
//! (`from_chat`) or a stream of Responses events (`StreamEncoder`).
//!
//! Nothing is stored: the features that need OpenAI's server-side state
//! (`previous_response_id`, `conversation`, stored `prompt` templates,
//! `background`, `item_reference` inputs but to reasoning items, which are
//! dropped anyway, file ids) and tools other than functions are refused with
//! a message that says so; `store` is accepted and answered as `false`.
//! Reference:
//! <https://platform.openai.com/docs/api-reference/responses>.

mod events;
mod input;
mod options;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod stream_check;
#[cfg(test)]
mod test_support;

pub use request::to_chat;
pub use response::from_chat;
pub use stream::StreamEncoder;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A whole error answer in OpenAI's shape,
/// `{"error":{"message","type","param":null,"code"}}`, which is what the
/// Responses API answers with too.
///
/// `openai_type` may be one of the gateway's OpenAI types or one of the
/// Anthropic-flavoured names the driver uses for every dialect; the latter
/// are spelled as OpenAI spells the same failure (a bad key is an
/// `invalid_request_error` with code `invalid_api_key`). The code follows
/// `api::error`'s table for the type and status.
pub fn write_error(status: u16, openai_type: &str, message: &str, out: &mut Vec<u8>) {
    let (kind, code) = error_type_and_code(status, openai_type);
    crate::schema::openai::write_error(message, kind, code, out);
}

/// OpenAI's `error.type` and `error.code` for a failure the driver names by
/// `openai_type` and `status`.
fn error_type_and_code(status: u16, openai_type: &str) -> (&str, &str) {
    const INVALID: &str = "invalid_request_error";
    match openai_type {
        "authentication_error" => (INVALID, "invalid_api_key"),
        "permission_error" => (INVALID, "permission_denied"),
        "not_found_error" => (INVALID, "not_found"),
        "rate_limit_error" => ("rate_limit_error", "rate_limit_exceeded"),
        "overloaded_error" => ("server_error", "service_unavailable"),
        "api_error" | "server_error" | "upstream_error" => match status {
            429 => ("rate_limit_error", "rate_limit_exceeded"),
            503 => ("server_error", "service_unavailable"),
            504 => ("upstream_error", "gateway_timeout"),
            500 => ("server_error", "server_error"),
            _ => ("upstream_error", "bad_gateway"),
        },
        INVALID => (
            INVALID,
            match status {
                401 => "invalid_api_key",
                404 => "not_found",
                405 => "method_not_allowed",
                408 => "request_timeout",
                413 => "request_too_large",
                431 => "request_header_fields_too_large",
                501 => "not_implemented",
                _ => INVALID,
            },
        ),
        // A type this table does not know is passed on, and names the code too.
        other => (other, other),
    }
}

/// A fresh id `<prefix>_<32 hex digits>` (`resp`, `msg`, `fc`, `rs`, `call`):
/// a counter, masked by a per-process random key (a bijection, so still
/// unique within the process), after a keyed hash of it, so that ids of two
/// processes are unlikely to meet.
fn new_id(prefix: &str) -> String {
    static KEY: OnceLock<(RandomState, u64)> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (hasher, mask) = KEY.get_or_init(|| {
        let hasher = RandomState::new();
        let mask = hasher.hash_one(u64::MAX);
        (hasher, mask)
    });
    format!("{prefix}_{:016x}{:016x}", hasher.hash_one(n), n ^ mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, kind: &str) -> serde_json::Value {
        let mut out = Vec::new();
        write_error(status, kind, "boom \"x\"", &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn errors_are_openai_shaped_with_a_code_for_the_type_and_status() {
        let v = error(400, "invalid_request_error");
        assert_eq!(
            v,
            serde_json::json!({"error":{"message":"boom \"x\"","type":"invalid_request_error",
                "param":null,"code":"invalid_request_error"}})
        );
        let cases = [
            (
                401,
                "authentication_error",
                "invalid_request_error",
                "invalid_api_key",
            ),
            (
                403,
                "permission_error",
                "invalid_request_error",
                "permission_denied",
            ),
            (404, "not_found_error", "invalid_request_error", "not_found"),
            (
                413,
                "invalid_request_error",
                "invalid_request_error",
                "request_too_large",
            ),
            (
                429,
                "rate_limit_error",
                "rate_limit_error",
                "rate_limit_exceeded",
            ),
            (
                503,
                "overloaded_error",
                "server_error",
                "service_unavailable",
            ),
            (502, "api_error", "upstream_error", "bad_gateway"),
            (504, "api_error", "upstream_error", "gateway_timeout"),
            (500, "api_error", "server_error", "server_error"),
            (418, "teapot_error", "teapot_error", "teapot_error"),
        ];
        for (status, given, kind, code) in cases {
            let v = error(status, given);
            assert_eq!(v["error"]["type"], kind, "{status} {given}");
            assert_eq!(v["error"]["code"], code, "{status} {given}");
            assert!(v["error"]["param"].is_null());
        }
    }

    #[test]
    fn ids_have_the_prefix_and_do_not_repeat() {
        let a = new_id("resp");
        let b = new_id("resp");
        assert!(
            a.starts_with("resp_") && a.len() == "resp_".len() + 32,
            "{a}"
        );
        assert!(a[5..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
