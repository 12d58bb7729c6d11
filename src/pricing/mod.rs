//! What tokens cost: the price table shipped with the gateway
//! (`prices.toml`), the operator's `[pricing."provider/model"]` prices on top
//! of it, and the cost of one answer's [`Usage`] in nano-dollars.
//!
//! Prices are held as integers (micro-dollars per million tokens, which is
//! pico-dollars per token), so a cost is exact integer arithmetic rounded
//! once. A lookup allocates nothing: a binary search in one provider's
//! sorted table, then, only on a miss, in the same table for each shorter
//! prefix of the name (dated snapshots such as `gpt-4o-2024-08-06`).

mod names;
mod table;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use crate::config::{PriceOverride, ProviderKind};
use crate::schema::usage::Usage;

use names::PriceList;
use table::{longest_match, ModelTable};

/// A price in USD per million tokens, held exactly in micro-dollars per
/// million tokens: $0.0375 is 37_500.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsdPerMillion(u64);

impl UsdPerMillion {
    pub const ZERO: UsdPerMillion = UsdPerMillion(0);
    /// Largest price taken: a thousand dollars a token, far past any real
    /// price and still far from overflowing the micro-dollar count.
    pub const MAX_USD: f64 = 1e9;

    /// `usd` rounded to a micro-dollar; `None` unless it is finite and in
    /// `0..=MAX_USD`.
    pub fn from_usd(usd: f64) -> Option<UsdPerMillion> {
        // NaN fails the range check too.
        (0.0..=Self::MAX_USD)
            .contains(&usd)
            .then(|| UsdPerMillion((usd * 1e6).round() as u64))
    }

    pub const fn from_micro_usd(micro_usd: u64) -> UsdPerMillion {
        UsdPerMillion(micro_usd)
    }

    pub const fn micro_usd(self) -> u64 {
        self.0
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// What one model's tokens cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    /// Input tokens not read from a prompt cache.
    pub input: UsdPerMillion,
    /// Output tokens other than reasoning.
    pub output: UsdPerMillion,
    /// Input tokens read from a prompt cache; `None`: they cost `input`.
    pub cached_input: Option<UsdPerMillion>,
    /// Reasoning tokens; `None`: they cost `output`.
    pub reasoning: Option<UsdPerMillion>,
}

impl Price {
    /// Ollama's and the mock's: priced, at nothing.
    pub const FREE: Price = Price {
        input: UsdPerMillion::ZERO,
        output: UsdPerMillion::ZERO,
        cached_input: None,
        reasoning: None,
    };

    /// From USD per million tokens; `None` if any is negative, not finite
    /// or above [`UsdPerMillion::MAX_USD`].
    pub fn from_usd(
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        reasoning: Option<f64>,
    ) -> Option<Price> {
        let optional = |usd: Option<f64>| match usd {
            Some(usd) => UsdPerMillion::from_usd(usd).map(Some),
            None => Some(None),
        };
        Some(Price {
            input: UsdPerMillion::from_usd(input)?,
            output: UsdPerMillion::from_usd(output)?,
            cached_input: optional(cached_input)?,
            reasoning: optional(reasoning)?,
        })
    }
}

/// The cost of `usage` at `price` in nano-dollars (1e-9 USD), rounded to
/// the nearest and saturating at `u64::MAX`: uncached input at `input`,
/// cached input at `cached_input` (else `input`), output other than
/// reasoning at `output`, reasoning at `reasoning` (else `output`).
pub fn cost_nanos(price: &Price, usage: &Usage) -> u64 {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
    // Tokens times pico-dollars per token: each product fits a u128, their
    // sum saturates rather than wraps.
    let picos = |tokens: u64, rate: UsdPerMillion| u128::from(tokens) * u128::from(rate.0);
    let total = picos(usage.prompt_tokens - cached, price.input)
        .saturating_add(picos(cached, price.cached_input.unwrap_or(price.input)))
        .saturating_add(picos(usage.completion_tokens - reasoning, price.output))
        .saturating_add(picos(reasoning, price.reasoning.unwrap_or(price.output)));
    let nanos = total / 1000 + u128::from(total % 1000 >= 500);
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// The shipped table, parsed on first use; tests make sure it parses.
static SHIPPED: LazyLock<Result<table::Shipped, String>> =
    LazyLock::new(|| table::parse_shipped(include_str!("prices.toml")));

/// Prices by provider and model: the config's overrides, then the shipped
/// table of the provider's kind.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// By configured provider name, in config order (a handful at most, so
    /// a scan beats hashing the name).
    overrides: Vec<(Box<str>, ModelTable)>,
    shipped: &'static table::Shipped,
}

impl Pricing {
    /// The shipped table with `overrides` on top. Fails if the shipped
    /// table does not parse (a build defect the tests catch), an override's
    /// price is out of range, or one model is priced twice for a provider.
    pub fn new(overrides: &[PriceOverride]) -> Result<Pricing, String> {
        let shipped = SHIPPED.as_ref().map_err(Clone::clone)?;
        let price_of = |o: &PriceOverride| {
            Price::from_usd(o.input, o.output, o.cached_input, o.reasoning).ok_or_else(|| {
                format!(
                    "pricing for {}/{}: a price is out of range",
                    o.provider, o.model
                )
            })
        };
        let mut tables: Vec<(Box<str>, ModelTable)> = Vec::new();
        for o in overrides {
            if tables.iter().any(|(p, _)| **p == *o.provider) {
                continue;
            }
            let entries = overrides
                .iter()
                .filter(|same| same.provider == o.provider)
                .map(|same| Ok((same.model.as_str().into(), price_of(same)?)))
                .collect::<Result<Vec<_>, String>>()?;
            let table = ModelTable::new(entries)
                .map_err(|model| format!("pricing for {}/{model} is given twice", o.provider))?;
            tables.push((o.provider.as_str().into(), table));
        }
        Ok(Pricing {
            overrides: tables,
            shipped,
        })
    }

    /// The price of `model` (as sent upstream) on the provider configured
    /// as `provider_name` of `kind`; `None` when unknown (unpriced, cost 0).
    pub fn price(&self, provider_name: &str, kind: ProviderKind, model: &str) -> Option<&Price> {
        let overrides = self
            .overrides
            .iter()
            .find(|(p, _)| **p == *provider_name)
            .map(|(_, table)| table);
        // An override may name the model exactly as sent, prefixes and all.
        if let Some(price) = overrides.and_then(|t| t.exact(model)) {
            return Some(price);
        }
        if matches!(kind, ProviderKind::Ollama | ProviderKind::Mock) {
            return longest_match(model, overrides, None).or(Some(&Price::FREE));
        }
        let list = PriceList::of(kind);
        let name = list.map_or(model, |l| l.model_name(model));
        longest_match(name, overrides, list.map(|l| self.shipped.list(l)))
    }
}
