//! Helpers shared by the tests: the request converter's, and reading the
//! recorded traffic in place (never copied).

use std::path::PathBuf;

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

/// `<fixtures>/<provider>` (`RINGBRIDGE_FIXTURES`, default
/// `../shared/fixtures`); `providers::fixtures` has the same but is private
/// to `providers`.
pub(super) fn fixture_dir(provider: &str) -> PathBuf {
    let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join(provider);
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing; set RINGBRIDGE_FIXTURES to the shared fixtures",
        dir.display()
    );
    dir
}

/// The text of `<fixtures>/<provider>/<name>`.
pub(super) fn read(provider: &str, name: &str) -> String {
    let path = fixture_dir(provider).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
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
        let mut data = Vec::new();
        for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
            if line.is_empty() {
                if !data.is_empty() {
                    events.push(data.join("\n"));
                    data.clear();
                }
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events.retain(|e| e != "[DONE]");
    events
}
