//! `[retries]` and the `retries = { ... }` overrides of providers and routes:
//! each override is merged field by field over the global table, so the data
//! plane gets whole [`RetrySettings`] and never merges.

use std::time::Duration;

use super::schema::*;
use super::{ranged, ConfigError};
use crate::config::RetrySettings;

impl Default for RetrySettings {
    /// What an absent `[retries]` means.
    fn default() -> Self {
        Self {
            attempts: DEFAULT_RETRY_ATTEMPTS as u32,
            backoff_base: Duration::from_millis(DEFAULT_BACKOFF_BASE_MS),
            backoff_max: Duration::from_millis(DEFAULT_BACKOFF_MAX_MS),
        }
    }
}

/// The global `[retries]`, over the built-in defaults.
pub(super) fn resolve_global(file: &RetriesFile) -> Result<RetrySettings, ConfigError> {
    resolve(file, "retries", &RetrySettings::default())
}

/// An override table at `base` (`providers.openai.retries`); unset fields
/// come from `inherited`, the resolved global `[retries]`.
pub(super) fn resolve_override(
    file: Option<&RetriesFile>,
    base: &str,
    inherited: &RetrySettings,
) -> Result<Option<RetrySettings>, ConfigError> {
    file.map(|file| resolve(file, base, inherited)).transpose()
}

fn resolve(
    file: &RetriesFile,
    base: &str,
    inherited: &RetrySettings,
) -> Result<RetrySettings, ConfigError> {
    let at = |key: &str| format!("{base}.{key}");
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let attempts = ranged(
        &at("attempts"),
        file.attempts,
        u64::from(inherited.attempts),
        1,
        MAX_RETRY_ATTEMPTS,
    )?;
    let backoff_base = ranged(
        &at("backoff_base_ms"),
        file.backoff_base_ms,
        millis(inherited.backoff_base),
        0,
        MAX_BACKOFF_MS,
    )?;
    // An unset maximum follows a larger base rather than refusing a file that
    // only raised the base (as `limits.max_buffered_body_bytes` follows
    // `max_body_bytes`); a maximum the user wrote must be at least the base.
    let backoff_max = ranged(
        &at("backoff_max_ms"),
        file.backoff_max_ms,
        millis(inherited.backoff_max).max(backoff_base),
        backoff_base,
        MAX_BACKOFF_MS,
    )
    .map_err(|e| {
        e.with_hint(format!(
            "it must be at least backoff_base_ms ({backoff_base}) and at most {MAX_BACKOFF_MS}"
        ))
    })?;
    Ok(RetrySettings {
        attempts: attempts as u32,
        backoff_base: Duration::from_millis(backoff_base),
        backoff_max: Duration::from_millis(backoff_max),
    })
}
