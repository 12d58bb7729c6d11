//! Model tables: prices sorted by model name, found by the name or its
//! longest known prefix across an override table and a shipped one; and the
//! parsing of the shipped `prices.toml` into
//! one table per price list.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::names::PriceList;
use super::Price;

/// One provider's prices, each name once, sorted by [`by_length_then_bytes`].
#[derive(Debug, Clone, Default)]
pub(super) struct ModelTable {
    entries: Vec<(Box<str>, Price)>,
}

/// Names ordered by length first: a `Box<str>` holds its length beside the
/// pointer, so most steps of a search compare two integers and read no
/// bytes (the table's names share long prefixes such as `anthropic.claude-`).
fn by_length_then_bytes(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl ModelTable {
    /// Fails with the first model name given twice.
    pub(super) fn new(mut entries: Vec<(Box<str>, Price)>) -> Result<ModelTable, Box<str>> {
        entries.sort_by(|a, b| by_length_then_bytes(&a.0, &b.0));
        if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(pair[0].0.clone());
        }
        Ok(ModelTable { entries })
    }

    pub(super) fn exact(&self, name: &str) -> Option<&Price> {
        let at = self
            .entries
            .binary_search_by(|(n, _)| by_length_then_bytes(n, name))
            .ok()?;
        Some(&self.entries[at].1)
    }

    #[cfg(test)]
    pub(super) fn entries(&self) -> &[(Box<str>, Price)] {
        &self.entries
    }
}

/// The price of `name`, else of its longest prefix cut before a `-`, `:`
/// or `@` (`claude-3-5-sonnet-20241022` → `claude-3-5-sonnet`, `…-v2:0` →
/// `…`), looking at each length in `first` before `second`: an override
/// wins over the shipped price of the same name, but not over a longer one
/// (an override for `gpt-4o` leaves `gpt-4o-mini-2024-07-18` at the shipped
/// `gpt-4o-mini`).
pub(super) fn longest_match<'t>(
    name: &str,
    first: Option<&'t ModelTable>,
    second: Option<&'t ModelTable>,
) -> Option<&'t Price> {
    let mut name = name;
    loop {
        let found = first
            .and_then(|t| t.exact(name))
            .or_else(|| second.and_then(|t| t.exact(name)));
        if found.is_some() {
            return found;
        }
        name = &name[..name.rfind(['-', ':', '@'])?];
    }
}

/// The shipped tables, one per [`PriceList`], in [`PriceList::ALL`] order.
#[derive(Debug)]
pub(super) struct Shipped {
    lists: Vec<ModelTable>,
}

impl Shipped {
    pub(super) fn list(&self, list: PriceList) -> &ModelTable {
        // `parse_shipped` fills every list, in `ALL` order.
        &self.lists[list as usize]
    }
}

/// A model's line in `prices.toml`, USD per million tokens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    #[serde(default)]
    reasoning: Option<f64>,
}

/// Parses `prices.toml`: every section a known price list, every price in
/// range. Errors name the section and model.
pub(super) fn parse_shipped(text: &str) -> Result<Shipped, String> {
    let mut sections: BTreeMap<String, BTreeMap<String, Line>> =
        toml::from_str(text).map_err(|e| format!("prices.toml: {}", e.message()))?;
    let mut lists = Vec::with_capacity(PriceList::ALL.len());
    for list in PriceList::ALL {
        debug_assert_eq!(lists.len(), list as usize);
        let lines = sections.remove(list.section()).unwrap_or_default();
        let mut entries = Vec::with_capacity(lines.len());
        for (model, l) in lines {
            let price = Price::from_usd(l.input, l.output, l.cached_input, l.reasoning)
                .ok_or_else(|| {
                    format!(
                        "prices.toml: [{}] {model:?}: price out of range",
                        list.section()
                    )
                })?;
            entries.push((model.into_boxed_str(), price));
        }
        // A BTreeMap has no duplicate keys.
        lists.push(ModelTable::new(entries).map_err(|m| format!("prices.toml: {m:?} twice"))?);
    }
    if let Some(unknown) = sections.keys().next() {
        return Err(format!("prices.toml: [{unknown}] is no price list"));
    }
    Ok(Shipped { lists })
}
