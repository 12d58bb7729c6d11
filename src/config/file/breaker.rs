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
        Self {
            failures: DEFAULT_FAILURES as u32,
            failure_permille: (DEFAULT_FAILURE_RATE * 1000.0) as u32,
            min_requests: DEFAULT_MIN_REQUESTS as u32,
            window: Duration::from_millis(DEFAULT_WINDOW_MS),
            open: Duration::from_millis(DEFAULT_OPEN_MS),
            half_open_probes: DEFAULT_HALF_OPEN_PROBES as u32,
        }
    }
}

/// The global `[breaker]`, over the built-in defaults.
pub(super) fn resolve_global(file: &BreakerFile) -> Result<BreakerSettings, ConfigError> {
    resolve(file, "breaker", &BreakerSettings::default())
}

/// A provider's `breaker = { ... }` at `base`; unset fields come from
/// `inherited`, the resolved global `[breaker]`.
pub(super) fn resolve_override(
    file: Option<&BreakerFile>,
    base: &str,
    inherited: &BreakerSettings,
) -> Result<Option<BreakerSettings>, ConfigError> {
    file.map(|file| resolve(file, base, inherited)).transpose()
}

fn resolve(
    file: &BreakerFile,
    base: &str,
    inherited: &BreakerSettings,
) -> Result<BreakerSettings, ConfigError> {
    let at = |key: &str| format!("{base}.{key}");
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let failures = ranged(
        &at("failures"),
        file.failures,
        u64::from(inherited.failures),
        0,
        1000,
    )?;
    let rate = file
        .failure_rate
        .unwrap_or(f64::from(inherited.failure_permille) / 1000.0);
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
        u64::from(inherited.min_requests),
        1,
        100_000,
    )?;
    let window_ms = ranged(
        &at("window_ms"),
        file.window_ms,
        millis(inherited.window),
        1000,
        MAX_MS,
    )?;
    let open_ms = ranged(
        &at("open_ms"),
        file.open_ms,
        millis(inherited.open),
        1,
        MAX_MS,
    )?;
    let half_open_probes = ranged(
        &at("half_open_probes"),
        file.half_open_probes,
        u64::from(inherited.half_open_probes),
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
