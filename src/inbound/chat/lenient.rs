//! Fields servers disagree on (ids, finish reasons, usage counts, error
//! codes), read in the answer's own pass: whatever the value is, it is read
//! past, and kept only when it has the kind the field wants. None of them
//! is worth failing an answer for.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON value kept only when it is a string, a whole number or an object
/// (read as `T`). `T`'s own fields must be as lenient: an error inside the
/// object is the whole answer's.
enum Loose<'a, T> {
    Text(Cow<'a, str>),
    Number(u64),
    Object(T),
    Other,
}

/// A value of which only a string or a whole number is kept.
type Scalar<'a> = Loose<'a, IgnoredAny>;

/// A string field: `None` when absent, null or of another type.
pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    match Scalar::deserialize(d)? {
        Loose::Text(text) => Ok(Some(text)),
        _ => Ok(None),
    }
}

/// A count: a whole number, `None` for anything else.
pub(super) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Scalar::deserialize(d)? {
        Loose::Number(n) => Ok(Some(n)),
        _ => Ok(None),
    }
}

/// A status-like number (`429`), `None` for anything else (OpenAI's `code`
/// is a string).
pub(super) fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Ok(count(d)?.and_then(|n| u16::try_from(n).ok()))
}

/// An object read as `T`, `None` for any other value.
pub(super) fn object<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Loose::<'de, T>::deserialize(d)? {
        Loose::Object(object) => Ok(Some(object)),
        _ => Ok(None),
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Loose<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<'a, T>(PhantomData<(Cow<'a, str>, T)>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for LooseVisitor<'a, T> {
    type Value = Loose<'a, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Borrowed(text)))
    }

    /// A string with escapes, decoded into serde's scratch space.
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Loose::Number(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Loose::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Loose::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow, default, deserialize_with = "string")]
        text: Option<Cow<'a, str>>,
        #[serde(default, deserialize_with = "status")]
        code: Option<u16>,
    }

    fn read(json: &str) -> (Option<String>, Option<u16>) {
        let fields: Fields<'_> = serde_json::from_str(json).unwrap();
        (fields.text.map(Cow::into_owned), fields.code)
    }

    #[test]
    fn a_value_of_another_kind_is_read_past_as_absent() {
        assert_eq!(
            read(r#"{"text":"a\"b","code":429}"#),
            (Some("a\"b".into()), Some(429))
        );
        assert_eq!(read(r#"{"text":5,"code":5}"#), (None, Some(5)));
        for other in ["null", "-5", "1.5", "true", "[1,[2]]", r#"{"a":{"b":[]}}"#] {
            let json = format!(r#"{{"text":{other},"code":{other},"after":"kept reading"}}"#);
            assert_eq!(read(&json), (None, None), "{other}");
        }
        assert_eq!(read(r#"{"code":"429"}"#), (None, None));
        assert_eq!(read(r#"{"code":70000}"#), (None, None));
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let fields: Fields<'_> = serde_json::from_str(r#"{"text":"plain"}"#).unwrap();
        assert!(matches!(fields.text, Some(Cow::Borrowed("plain"))));
    }
}
