//! `[breaker]` and `[balancing]`: how provider keys are taken out of
//! rotation and how they share traffic.

use std::time::Duration;

use super::schema::{BalancingFile, BreakerFile};
use super::{ranged, ConfigError};
use crate::config::BreakerSettings;

/// Ten in a row: at thousands of requests a second, five in a row happen
/// by chance at a few percent of errors; the rate trigger catches a
/// degraded key, this one a dead key.
const DEFAULT_FAILURES: u64 = 10;
const DEFAULT_FAILURE_RATE: f64 = 0.5;
const DEFAULT_MIN_REQUESTS: u64 = 20;
const DEFAULT_WINDOW_MS: u64 = 30_000;
const DEFAULT_OPEN_MS: u64 = 15_000;
const DEFAULT_HALF_OPEN_PROBES: u64 = 2;
const MAX_MS: u64 = 3_600_000;

impl Default for BreakerSettings {
    /// What an absent `[breaker]` means.
    fn default() -> Self {
        resolve(&BreakerFile::default()).expect("the defaults are valid")
    }
}

pub(super) fn resolve(file: &BreakerFile) -> Result<BreakerSettings, ConfigError> {
    let at = |key: &str| format!("breaker.{key}");
    let failures = ranged(&at("failures"), file.failures, DEFAULT_FAILURES, 0, 1000)?;
    let rate = file.failure_rate.unwrap_or(DEFAULT_FAILURE_RATE);
    if !(0.0..=1.0).contains(&rate) {
        return Err(ConfigError::invalid(
            at("failure_rate"),
            format!("{rate} is not between 0.0 and 1.0"),
        )
        .with_hint(format!(
            "a share of the window's requests; the default is {DEFAULT_FAILURE_RATE}"
        )));
    }
    let min_requests = ranged(
        &at("min_requests"),
        file.min_requests,
        DEFAULT_MIN_REQUESTS,
        1,
        100_000,
    )?;
    let window_ms = ranged(
        &at("window_ms"),
        file.window_ms,
        DEFAULT_WINDOW_MS,
        1000,
        MAX_MS,
    )?;
    let open_ms = ranged(&at("open_ms"), file.open_ms, DEFAULT_OPEN_MS, 1, MAX_MS)?;
    let half_open_probes = ranged(
        &at("half_open_probes"),
        file.half_open_probes,
        DEFAULT_HALF_OPEN_PROBES,
        1,
        100,
    )?;
    Ok(BreakerSettings {
        failures: failures as u32,
        failure_permille: (rate * 1000.0).round() as u32,
        min_requests: min_requests as u32,
        window: Duration::from_millis(window_ms),
        open: Duration::from_millis(open_ms),
        half_open_probes: half_open_probes as u32,
    })
}

/// `[balancing] sticky_header`: a valid header name, kept lower-cased.
pub(super) fn sticky_header(file: &BalancingFile) -> Result<Option<String>, ConfigError> {
    let Some(name) = &file.sticky_header else {
        return Ok(None);
    };
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 128 || !name.bytes().all(token) {
        return Err(ConfigError::invalid(
            "balancing.sticky_header",
            format!("{name:?} is not an HTTP header name"),
        )
        .with_hint("e.g. \"x-session-id\""));
    }
    Ok(Some(name.to_ascii_lowercase()))
}
