//! `[otlp]`: where spans go (OTLP over HTTP, protobuf), from the file or
//! the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_ENDPOINT` variables. Off when neither sets one.

use std::time::Duration;

use super::schema::OtlpFile;
use super::url::parse_base_url;
use super::{env_value, resolve_secret, ConfigError};
use crate::config::OtlpSettings;

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const MAX_TIMEOUT_MS: u64 = 60_000;

pub(super) fn resolve(
    file: &OtlpFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<OtlpSettings>, ConfigError> {
    let (url, path) = match &file.endpoint {
        Some(url) => (url.clone(), "otlp.endpoint"),
        None => match env_value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => (url, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            None => match env_value(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
                // The spec: the base endpoint gets the signal's path appended.
                Some(base) => (
                    format!("{}/v1/traces", base.trim_end_matches('/')),
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ),
                None => return Ok(None),
            },
        },
    };
    let endpoint = parse_base_url(&url).map_err(|why| ConfigError::invalid(path, why))?;
    let mut headers = Vec::with_capacity(file.headers.0.len());
    for (name, value) in &file.headers.0 {
        let at = format!("otlp.headers.{name}");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError::invalid(at, "not a header name"));
        }
        headers.push((name.to_ascii_lowercase(), resolve_secret(value, &at, env)?));
    }
    let timeout_ms = file.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(ConfigError::invalid(
            "otlp.timeout_ms",
            format!("must be from 1 to {MAX_TIMEOUT_MS}"),
        ));
    }
    let service_name = match file.service_name.as_deref().map(str::trim) {
        None => "ringbridge".to_owned(),
        Some("") => return Err(ConfigError::invalid("otlp.service_name", "empty")),
        Some(name) => name.to_owned(),
    };
    Ok(Some(OtlpSettings {
        endpoint,
        headers,
        timeout: Duration::from_millis(timeout_ms),
        service_name,
    }))
}
