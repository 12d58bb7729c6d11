//! Body peek: `schema::peek`, against serde_json as the reference parser.

use super::*;

/// A top-level key as serde_json read it.
#[derive(Debug)]
pub(super) struct TopKey {
    name: String,
    /// Written with escapes (`"mod\u0065l"`).
    escaped: bool,
}

impl fmt::Display for TopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name)?;
        if self.escaped {
            f.write_str(" (written with escapes)")?;
        }
        Ok(())
    }
}

/// Keys for a failure message, saying which were written with escapes.
pub(super) fn describe_keys<'a>(keys: impl IntoIterator<Item = &'a TopKey>) -> String {
    let keys: Vec<String> = keys.into_iter().map(ToString::to_string).collect();
    format!("[{}]", keys.join(", "))
}

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            // Reading from a slice, serde_json lends the input's own bytes
            // exactly when the key has no escapes.
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<TopKey, E> {
                Ok(TopKey {
                    name: v.to_owned(),
                    escaped: false,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TopKey, E> {
                Ok(TopKey {
                    name: v.to_owned(),
                    escaped: true,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON object's top-level entries in order, duplicates kept
/// (`serde_json::Value` keeps only the last of each key).
pub(super) struct TopLevel(Vec<(TopKey, Value)>);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<TopKey>()? {
                    entries.push((key, map.next_value::<Value>()?));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// A replacement model with every character class the JSON writer escapes.
pub(super) const AWKWARD_MODEL: &str = "a\"b\\c/\n\r\t\u{0}\u{1f}\u{7f}é🚀";

/// `schema::peek`, against serde_json (what an upstream reads): a JSON
/// object with at most one top-level `model` key peeks Ok; a peek that
/// succeeds saw exactly that one key, routes the very model serde_json reads
/// (after unescaping) and the same `stream` flag; and splicing a new model
/// changes that value alone and yields the length `spliced_len` promised.
pub fn peek(body: &[u8]) {
    let peeked = peek_body(body);
    let upstream = serde_json::from_slice::<TopLevel>(body).ok();
    let entries = upstream.as_ref().map(|t| t.0.as_slice());
    if let Ok(found) = &peeked {
        check_model_range(body, found.model.as_ref(), found.model_escaped);
    }
    let Some(entries) = entries else {
        if let Ok(found) = &peeked {
            if let Some(model) = &found.model {
                check_splices(body, model, None);
            }
        }
        return;
    };
    let model_keys: Vec<&TopKey> = entries
        .iter()
        .filter(|(k, _)| k.name == "model")
        .map(|(k, _)| k)
        .collect();
    let last = |name: &str| entries.iter().rev().find(|(k, _)| k.name == name);
    let upstream_model = last("model").and_then(|(_, v)| v.as_str());
    let upstream_stream = last("stream").is_some_and(|(_, v)| *v == Value::Bool(true));
    let stream_keys = entries.iter().filter(|(k, _)| k.name == "stream").count();
    let fallbacks_keys = entries
        .iter()
        .filter(|(k, _)| k.name == "fallbacks")
        .count();
    let found = match &peeked {
        Err(e) => {
            // The only objects peek may refuse: a repeated key it routes on.
            assert!(
                model_keys.len() > 1 || stream_keys > 1 || fallbacks_keys > 1,
                "peek refused a JSON object serde_json reads: {e}"
            );
            return;
        }
        Ok(found) => found,
    };
    assert!(
        model_keys.len() <= 1,
        "peek accepted {} top-level model keys {}: the gateway may route one while the upstream reads another",
        model_keys.len(),
        describe_keys(model_keys.iter().copied())
    );
    let routed = found
        .model
        .as_ref()
        .map(|r| unescape(&body[r.clone()]).expect("serde_json read this string"));
    assert_eq!(
        routed.as_deref(),
        upstream_model,
        "the gateway routes one model, the upstream reads another (model keys {})",
        describe_keys(model_keys.iter().copied())
    );
    assert_eq!(
        found.stream,
        upstream_stream,
        "the gateway and the upstream disagree on stream (keys {})",
        describe_keys(entries.iter().map(|(k, _)| k))
    );
    assert_eq!(
        found.fallbacks.is_some(),
        fallbacks_keys == 1,
        "peek and serde_json disagree on `fallbacks` (keys {})",
        describe_keys(entries.iter().map(|(k, _)| k))
    );
    if let Some(model) = &found.model {
        check_splices(body, model, Some(entries));
        if let Some(fallbacks) = &found.fallbacks {
            check_cut(body, model, fallbacks, entries);
        }
    }
}

/// Cutting `fallbacks` while splicing the model leaves a valid object with
/// every other member unchanged and in order.
fn check_cut(body: &[u8], model: &Range<usize>, fallbacks: &Member, before: &[(TopKey, Value)]) {
    let at = &fallbacks.value;
    let value: Value = serde_json::from_slice(&body[at.clone()]).expect("a JSON value");
    let read = before.iter().find(|(k, _)| k.name == "fallbacks");
    assert_eq!(Some(&value), read.map(|(_, v)| v), "fallbacks value range");
    let splice = Splice::new(model, Some(fallbacks.cut.clone()));
    let mut out = Vec::new();
    splice.write(&mut out, body, AWKWARD_MODEL);
    assert_eq!(
        out.len(),
        splice.len(body.len(), AWKWARD_MODEL),
        "Splice::len"
    );
    let TopLevel(after) = serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "cutting fallbacks left invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    });
    let kept: Vec<&(TopKey, Value)> = before
        .iter()
        .filter(|(k, _)| k.name != "fallbacks")
        .collect();
    assert_eq!(
        after.len(),
        kept.len(),
        "cutting fallbacks changed other keys"
    );
    for ((k0, v0), (k1, v1)) in kept.into_iter().zip(&after) {
        assert_eq!(k0.name, k1.name, "cutting fallbacks changed the keys");
        if k0.name == "model" {
            assert_eq!(v1.as_str(), Some(AWKWARD_MODEL));
        } else {
            assert_eq!(v0, v1, "cutting fallbacks changed {:?}", k0.name);
        }
    }
}

pub(super) fn check_model_range(body: &[u8], model: Option<&Range<usize>>, model_escaped: bool) {
    let Some(r) = model else {
        assert!(!model_escaped, "model_escaped without a model");
        return;
    };
    assert!(
        r.start >= 1 && r.start <= r.end && r.end < body.len(),
        "model {r:?} outside the {}-byte body",
        body.len()
    );
    assert!(
        body[r.start - 1] == b'"' && body[r.end] == b'"',
        "model {r:?} is not between quotes"
    );
    assert_eq!(model_escaped, body[r.clone()].contains(&b'\\'));
}

/// Splices two replacement models: [`AWKWARD_MODEL`] and one cut from the
/// body's last bytes. `entries`, when serde_json read the body, must come
/// back with only the model's value changed.
pub(super) fn check_splices(
    body: &[u8],
    model: &Range<usize>,
    entries: Option<&[(TopKey, Value)]>,
) {
    let from_body = String::from_utf8_lossy(&body[body.len() - body.len() % 9..]).into_owned();
    for new_model in [AWKWARD_MODEL, from_body.as_str()] {
        // splice_model appends: what the buffer held before must stay.
        let mut out = BEFORE_BODY.to_vec();
        splice_model(&mut out, body, model, new_model);
        assert!(
            out.starts_with(BEFORE_BODY),
            "splice_model overwrote its buffer"
        );
        let spliced = &out[BEFORE_BODY.len()..];
        assert_eq!(
            spliced.len(),
            spliced_len(body, model, new_model),
            "spliced_len for {new_model:?}"
        );
        let (lead, rest) = spliced.split_at(model.start - 1);
        let tail = &body[model.end + 1..];
        assert!(
            lead == &body[..model.start - 1] && rest.ends_with(tail),
            "splice changed bytes outside the model value"
        );
        let literal = &rest[..rest.len() - tail.len()];
        assert_eq!(
            serde_json::from_slice::<String>(literal).ok().as_deref(),
            Some(new_model),
            "spliced literal {:?}",
            String::from_utf8_lossy(literal)
        );
        let Some(before) = entries else { continue };
        let TopLevel(after) =
            serde_json::from_slice(spliced).expect("a spliced valid body is valid");
        assert_eq!(after.len(), before.len(), "splicing changed the keys");
        for ((k0, v0), (k1, v1)) in before.iter().zip(&after) {
            assert_eq!(k0.name, k1.name, "splicing changed the keys");
            if k0.name == "model" {
                assert_eq!(v1.as_str(), Some(new_model), "upstream reads another model");
            } else {
                assert_eq!(v0, v1, "splicing changed {:?}", k0.name);
            }
        }
    }
}

pub(super) fn peek_seeds() -> Vec<Vec<u8>> {
    [
        &br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#[..],
        br#"{"messages":[{"role":"user","content":"hi \"there\" {[}]"}],"model":"groq/llama-3","stream":true,"x":{"model":"nested"}}"#,
        br#" { "stream" : false , "n": 1.5e3, "ok": null, "model" : "anthropic/claude" } "#,
        br#"{"model":"a\/b\u00e9\"q\\","stream":true}"#,
        br#"{"model":null,"input":["a","b"],"dimensions":256}"#,
        br#"{"model":7,"temperature":-0.5,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#,
        br#"{}"#,
        b"{\"model\":\"\xc3\xa9t\xc3\xa9\",\"prompt\":\"\\ud83d\\ude80\"}\n",
        br#"{"stream":true,"stream_options":{"include_usage":true},"model":""}"#,
        br#"[{"model":"not an object"}]"#,
        br#"{"model":"openai/gpt-4o","fallbacks":["groq/llama","mock/echo"],"messages":[]}"#,
        br#"{"fallbacks" : [ ] , "model":"a"}"#,
        br#"{"model":"a","stream":true, "fallbacks":["x/y"] }"#,
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_keep_duplicates_and_tell_escaped_ones() {
        let TopLevel(entries) =
            serde_json::from_slice(br#"{"model":"a","mod\u0065l":"b","n":1}"#).unwrap();
        let keys: Vec<(&str, bool)> = entries
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.escaped))
            .collect();
        assert_eq!(keys, [("model", false), ("model", true), ("n", false)]);
        assert!(serde_json::from_slice::<TopLevel>(b"[1]").is_err());
    }
}
