//! A provider's `keys` list, where each entry is a bare key reference or a
//! `{ key, weight, models }` table, and its `max_in_flight` family. Both stay
//! out of `provider.rs`, which resolves the rest of the table.

use std::time::Duration;

use super::schema::*;
use super::{ranged, resolve_secret, ConfigError};
use crate::config::{ConcurrencySettings, KeyOptions, Secret};

/// The keys and their options, in the same order; `at` makes a path under the
/// provider. `allowed` is the provider's `models` allow-list (empty: any
/// model), which a key's own `models` must stay within.
pub(super) fn resolve_keys(
    list: &[OrTable<KeyTable>],
    at: &dyn Fn(&str) -> String,
    allowed: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<Secret>, Vec<KeyOptions>), ConfigError> {
    let mut keys = Vec::with_capacity(list.len());
    let mut options = Vec::with_capacity(list.len());
    let keys_at = at("keys");
    for (i, entry) in list.iter().enumerate() {
        let item = format!("{keys_at}[{i}]");
        match entry {
            OrTable::Bare(raw) => {
                keys.push(resolve_secret(raw, &item, env)?);
                options.push(KeyOptions::default());
            }
            OrTable::Table(table) => {
                keys.push(resolve_secret(&table.key, &format!("{item}.key"), env)?);
                let weight = weight(&format!("{item}.weight"), table.weight)?;
                for (j, model) in table.models.iter().enumerate() {
                    let path = format!("{item}.models[{j}]");
                    if model.trim().is_empty() {
                        return Err(ConfigError::invalid(path, "empty model name"));
                    }
                    if !allowed.is_empty() && !allowed.contains(model) {
                        return Err(ConfigError::invalid(
                            path,
                            format!("model {model:?} is not in {}", at("models")),
                        )
                        .with_hint("a key can only narrow the provider's allow-list"));
                    }
                }
                options.push(KeyOptions {
                    weight,
                    models: table.models.clone(),
                });
            }
        }
    }
    Ok((keys, options))
}

/// A weight of a key or a route target: `1..=10000`, 1 when unset.
pub(super) fn weight(path: &str, value: Option<u64>) -> Result<u32, ConfigError> {
    Ok(ranged(path, value, 1, 1, MAX_WEIGHT)? as u32)
}

/// `max_in_flight` and the keys that only mean something with it; `at` makes
/// a key's path.
pub(super) fn resolve_concurrency(
    file: &ProviderFile,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<ConcurrencySettings>, ConfigError> {
    let Some(max) = file.max_in_flight else {
        let orphan = [
            ("min_in_flight", file.min_in_flight.is_some()),
            ("queue", file.queue.is_some()),
            ("queue_timeout_ms", file.queue_timeout_ms.is_some()),
        ];
        if let Some((key, _)) = orphan.iter().find(|(_, set)| *set) {
            return Err(ConfigError::invalid(
                at(key),
                "only used with a limit: max_in_flight is required",
            )
            .with_hint("set max_in_flight = N as well, or remove this key"));
        }
        return Ok(None);
    };
    let max_in_flight = ranged(&at("max_in_flight"), Some(max), 1, 1, MAX_MAX_IN_FLIGHT)?;
    let min_in_flight = ranged(
        &at("min_in_flight"),
        file.min_in_flight,
        max_in_flight,
        1,
        max_in_flight,
    )
    .map_err(|e| e.with_hint("it must be between 1 and max_in_flight"))?;
    let queue = ranged(
        &at("queue"),
        file.queue,
        max_in_flight.min(MAX_QUEUE),
        0,
        MAX_QUEUE,
    )?;
    let queue_timeout_ms = ranged(
        &at("queue_timeout_ms"),
        file.queue_timeout_ms,
        DEFAULT_QUEUE_TIMEOUT_MS,
        1,
        MAX_QUEUE_TIMEOUT_MS,
    )?;
    Ok(Some(ConcurrencySettings {
        max_in_flight: max_in_flight as u32,
        min_in_flight: min_in_flight as u32,
        queue: queue as u32,
        queue_timeout: Duration::from_millis(queue_timeout_ms),
    }))
}
