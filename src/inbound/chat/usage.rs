//! A hub answer's `usage`, read leniently: servers differ in what they
//! count and how, and a count is never worth failing an answer for.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A hub `usage`'s counts, 0 for any the server left out. Cached tokens are
/// counted inside the prompt, reasoning tokens inside the completion.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    /// As sent, else prompt plus completion.
    pub(crate) total_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub(crate) cached_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`.
    pub(crate) reasoning_tokens: u64,
}

/// `usage`, read in the same pass as the answer: a usage that is not an
/// object is none, a count that is not a whole number is absent (0).
pub(super) fn lenient_usage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
    #[derive(Deserialize)]
    struct Counts {
        #[serde(default)]
        prompt_tokens: Count,
        #[serde(default)]
        completion_tokens: Count,
        #[serde(default)]
        total_tokens: Count,
        #[serde(default)]
        prompt_tokens_details: Loose<Details>,
        #[serde(default)]
        completion_tokens_details: Loose<Details>,
    }
    #[derive(Deserialize)]
    struct Details {
        #[serde(default)]
        cached_tokens: Count,
        #[serde(default)]
        reasoning_tokens: Count,
    }
    let Some(counts) = Loose::<Counts>::deserialize(d)?.object() else {
        return Ok(None);
    };
    let prompt_tokens = counts.prompt_tokens.number().unwrap_or(0);
    let completion_tokens = counts.completion_tokens.number().unwrap_or(0);
    let cached_tokens =
        (counts.prompt_tokens_details.object()).and_then(|details| details.cached_tokens.number());
    let reasoning_tokens = (counts.completion_tokens_details.object())
        .and_then(|details| details.reasoning_tokens.number());
    Ok(Some(Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: counts
            .total_tokens
            .number()
            .unwrap_or_else(|| prompt_tokens.saturating_add(completion_tokens)),
        cached_tokens: cached_tokens.unwrap_or(0),
        reasoning_tokens: reasoning_tokens.unwrap_or(0),
    }))
}

/// A token count: kept when it is a whole number.
type Count = Loose<IgnoredAny>;

/// A JSON value read past in one pass and kept only when it is a whole
/// number or an object (read as `T`), so that usage of another shape never
/// fails the answer. `T`'s fields must be as lenient: an error inside the
/// object is the answer's.
#[derive(Default)]
enum Loose<T> {
    Number(u64),
    Object(T),
    #[default]
    Other,
}

impl<T> Loose<T> {
    fn number(&self) -> Option<u64> {
        match self {
            Loose::Number(n) => Some(*n),
            _ => None,
        }
    }

    fn object(self) -> Option<T> {
        match self {
            Loose::Object(object) => Some(object),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E>(self, n: u64) -> Result<Loose<T>, E> {
        Ok(Loose::Number(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Loose::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose<T>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Loose::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Loose<T>, E> {
        Ok(Loose::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Loose<T>, E> {
        Ok(Loose::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Loose<T>, E> {
        Ok(Loose::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Loose<T>, E> {
        Ok(Loose::Other)
    }

    fn visit_unit<E>(self) -> Result<Loose<T>, E> {
        Ok(Loose::Other)
    }
}
