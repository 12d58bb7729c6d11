//! Helpers shared by the tests: the request converter's, and reading the
//! recorded traffic in place (never copied).

use serde_json::{json, Value};

use super::to_chat;
use crate::inbound::Converted;

/// The model every converted request names.
pub(super) const MODEL: &str = "openai/gpt-4o-mini";

/// The hub request for a non-stream `body`.
pub(super) fn convert(body: Value) -> Value {
    convert_as(body, false)
}

/// The hub request for `body`, as a stream or not.
pub(super) fn convert_as(body: Value, stream: bool) -> Value {
    let mut out = Vec::new();
    let converted = to_chat(body.to_string().as_bytes(), MODEL, stream, &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(converted, Converted { stream });
    serde_json::from_slice(&out).unwrap()
}

/// The message `to_chat` refuses `body` with; `out` must stay untouched.
pub(super) fn refusal(body: &str) -> String {
    let mut out = b"kept".to_vec();
    let e = to_chat(body.as_bytes(), MODEL, false, &mut out).unwrap_err();
    assert_eq!(out, b"kept");
    e.0
}

/// A user turn of one text part.
pub(super) fn user(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

pub(super) use crate::providers::fixtures::dir as fixture_dir;

/// The text of `<fixtures>/<provider>/<name>`.
pub(super) fn read(provider: &str, name: &str) -> String {
    String::from_utf8(crate::providers::fixtures::read(provider, name)).expect("UTF-8 recording")
}

/// The `data:` payloads of an `.sse` recording (LF or CRLF framing,
/// comments and `event:` lines skipped) or the lines of a `.chunks.txt`,
/// without `[DONE]`.
pub(super) fn payloads(provider: &str, name: &str) -> Vec<String> {
    let text = read(provider, name);
    let mut events = Vec::new();
    if name.ends_with(".chunks.txt") {
        events.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    } else {
        let split = crate::providers::fixtures::split_sse(&text);
        events.extend(split.into_iter().map(|(_, data)| data));
    }
    events.retain(|e| e != "[DONE]");
    events
}
