//! A hub answer's `usage`, read leniently: servers differ in what they
//! count and how, and a count is never worth failing an answer for.

use serde::{Deserialize, Deserializer};

use super::lenient;

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
        #[serde(default, deserialize_with = "lenient::count")]
        prompt_tokens: Option<u64>,
        #[serde(default, deserialize_with = "lenient::count")]
        completion_tokens: Option<u64>,
        #[serde(default, deserialize_with = "lenient::count")]
        total_tokens: Option<u64>,
        #[serde(default, deserialize_with = "lenient::object")]
        prompt_tokens_details: Option<Details>,
        #[serde(default, deserialize_with = "lenient::object")]
        completion_tokens_details: Option<Details>,
    }
    #[derive(Deserialize)]
    struct Details {
        #[serde(default, deserialize_with = "lenient::count")]
        cached_tokens: Option<u64>,
        #[serde(default, deserialize_with = "lenient::count")]
        reasoning_tokens: Option<u64>,
    }
    let Some(counts) = lenient::object::<Counts, D>(d)? else {
        return Ok(None);
    };
    let prompt_tokens = counts.prompt_tokens.unwrap_or(0);
    let completion_tokens = counts.completion_tokens.unwrap_or(0);
    Ok(Some(Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: counts
            .total_tokens
            .unwrap_or_else(|| prompt_tokens.saturating_add(completion_tokens)),
        cached_tokens: (counts.prompt_tokens_details)
            .and_then(|details| details.cached_tokens)
            .unwrap_or(0),
        reasoning_tokens: (counts.completion_tokens_details)
            .and_then(|details| details.reasoning_tokens)
            .unwrap_or(0),
    }))
}
