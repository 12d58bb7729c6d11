//! Test support: the recorded traffic in `../shared/fixtures` (or
//! `RINGBRIDGE_FIXTURES`), read in place and never copied, and a shape
//! comparison of our JSON against the real service's. The reader is
//! `crate::providers::fixtures`'.

use serde_json::Value;

pub(super) use crate::providers::fixtures::{names, read as fixture};

/// The SSE `(event, data)` pairs of a `.sse` recording, or one `("", line)`
/// per line of a `.chunks.txt` one; comments and `[DONE]` are left out.
pub(super) fn events(name: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(bytes).unwrap();
    if name.ends_with(".chunks.txt") {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| (String::new(), l.to_owned()))
            .collect();
    }
    let mut events = crate::providers::fixtures::split_sse(text);
    events.retain(|(_, data)| data != "[DONE]");
    events
}

/// Fields the real service sends that we leave out on purpose: Azure's
/// content filter report, and penalties newer models echo that the API
/// reference does not list.
const NOT_OURS: &[&str] = &[
    "content_filters",
    "frequency_penalty",
    "presence_penalty",
    "obfuscation",
];

/// Request echoes we cannot know (the answer is built without the request):
/// null in ours where the service has a value.
const UNKNOWN_ECHOES: &[&str] = &["temperature", "top_p", "instructions", "effort"];

/// Fields ours has that an older recording lacks: the service sends
/// `completed_at` since 2026, and the current openai SDK's types require
/// `name` on `function_call_arguments.done` and `cache_write_tokens` in usage.
const OURS_ONLY: &[&str] = &["completed_at", "name", "cache_write_tokens"];

/// Checks that `ours` has every field of `real` with the same JSON type,
/// recursively (arrays by their first elements), and nothing else; `path`
/// names the place in failures.
pub(super) fn assert_same_shape(ours: &Value, real: &Value, path: &str) {
    match (ours, real) {
        (Value::Object(o), Value::Object(r)) => {
            for (key, real_value) in r {
                if NOT_OURS.contains(&key.as_str()) {
                    continue;
                }
                let Some(our_value) = o.get(key) else {
                    panic!("{path}.{key} is missing in ours");
                };
                if our_value.is_null() && UNKNOWN_ECHOES.contains(&key.as_str()) {
                    continue;
                }
                assert_same_shape(our_value, real_value, &format!("{path}.{key}"));
            }
            for key in o.keys() {
                assert!(
                    r.contains_key(key) || OURS_ONLY.contains(&key.as_str()),
                    "{path}.{key} is ours only"
                );
            }
        }
        (Value::Array(o), Value::Array(r)) => {
            if let (Some(o), Some(r)) = (o.first(), r.first()) {
                assert_same_shape(o, r, &format!("{path}[0]"));
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        // The real answer had a null where ours has a value: the field is
        // nullable, and our value is the type it has when set.
        (_, Value::Null) => {}
        _ => panic!("{path}: ours is {ours}, the service sent {real}"),
    }
}

/// `v` without the fields that differ between two answers with the same
/// content: ids and times.
pub(super) fn without_ids(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in ["id", "item_id", "created_at", "completed_at"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}
