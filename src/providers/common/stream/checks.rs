//! The claims every stream translator's unit tests check, written once: the
//! translator is reached through closures, since the four take events in
//! different shapes.

use serde_json::{json, Value};

use crate::providers::common::TranslateError;

/// Feeds `events`, each of which must translate, and returns the output.
pub(crate) fn feed<E: std::fmt::Debug>(
    events: &[E],
    mut on_event: impl FnMut(&E, &mut Vec<u8>) -> Result<(), TranslateError>,
) -> String {
    let mut out = Vec::new();
    for e in events {
        on_event(e, &mut out).unwrap_or_else(|err| panic!("{e:?}: {err}"));
    }
    String::from_utf8(out).unwrap()
}

/// Every frame of `text` but `[DONE]`, parsed.
pub(crate) fn frames(text: &str) -> Vec<Value> {
    text.split_terminator("\n\n")
        .filter(|f| *f != "data: [DONE]")
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

/// The last frame of `text`, parsed.
pub(crate) fn last_frame(text: &str) -> Value {
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap()
}

/// Checks that the first frame of `text` is the role chunk of a stream
/// reporting `model`, and returns it (the id is the caller's to check).
pub(crate) fn role_chunk(text: &str, model: &str) -> Value {
    let first = frames(text).remove(0);
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], model);
    assert_eq!(
        first["choices"],
        json!([{"index":0,"delta":{"role":"assistant","content":""},
            "finish_reason":null,"logprobs":null}])
    );
    first
}

/// Checks that `finish` ends `out` with an error frame mentioning
/// `mentions`, and no `[DONE]`.
pub(crate) fn ends_in_error_frame(
    mut out: Vec<u8>,
    finish: impl FnOnce(&mut Vec<u8>),
    mentions: &str,
) {
    finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("\n\n") && text.contains(mentions), "{text}");
    assert!(last_frame(&text).get("error").is_some(), "{text}");
    assert!(!text.contains("[DONE]"));
}

/// Checks that `finish` ends `out` with `[DONE]` and a second call adds
/// nothing; returns the whole output.
pub(crate) fn finishes_once(mut out: Vec<u8>, mut finish: impl FnMut(&mut Vec<u8>)) -> String {
    finish(&mut out);
    let len = out.len();
    finish(&mut out);
    assert_eq!(out.len(), len);
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    text
}

/// For each of `garbage`, on a fresh translator from `new`: `on_event`
/// fails and appends nothing, and `finish` then writes an error frame
/// without `[DONE]`.
pub(crate) fn garbage_is_rejected<T, G: std::fmt::Debug>(
    garbage: &[G],
    new: impl Fn() -> T,
    on_event: impl Fn(&mut T, &G, &mut Vec<u8>) -> Result<(), TranslateError>,
    finish: impl Fn(&mut T, &mut Vec<u8>),
) {
    for g in garbage {
        let mut t = new();
        let mut out = Vec::new();
        assert!(on_event(&mut t, g, &mut out).is_err(), "{g:?}");
        assert!(out.is_empty());
        finish(&mut t, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("data: {\"error\":"), "{text}");
        assert!(!text.contains("[DONE]"));
    }
}

/// After `init`, the `last` event fails and leaves no partial frame behind.
pub(crate) fn last_event_is_rejected<E: std::fmt::Debug>(
    init: &[E],
    last: &E,
    mut on_event: impl FnMut(&E, &mut Vec<u8>) -> Result<(), TranslateError>,
) {
    let mut out = Vec::new();
    for e in init {
        on_event(e, &mut out).unwrap_or_else(|err| panic!("{e:?}: {err}"));
    }
    let before = out.len();
    assert!(on_event(last, &mut out).is_err(), "{last:?}");
    assert_eq!(out.len(), before, "partial frame left behind");
}
