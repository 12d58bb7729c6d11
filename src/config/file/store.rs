//! `[store]` (or `store = false`): where request logs, API-made keys and
//! budget spend are kept. SQLite at `ringbridge.db` by default.

use std::path::PathBuf;
use std::time::Duration;

use super::schema::{StoreChoice, StoreFile};
use super::{resolve_secret, ConfigError};
use crate::config::{StoreBackend, StoreSettings};

const DEFAULT_SQLITE_FILE: &str = "ringbridge.db";
const DEFAULT_BODY_MAX_BYTES: u64 = 16 * 1024;
const MAX_BODY_MAX_BYTES: u64 = 16 * 1024 * 1024;
const DEFAULT_RETENTION_DAYS: u64 = 30;
/// A year of monthly reports and a month to spare.
const DEFAULT_USAGE_RETENTION_DAYS: u64 = 400;
const MAX_RETENTION_DAYS: u64 = 100 * 365;
const DEFAULT_QUEUE_ROWS: u64 = 8192;
const MAX_QUEUE_ROWS: u64 = 1 << 20;

pub(super) fn resolve(
    choice: &StoreChoice,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StoreSettings, ConfigError> {
    let off = StoreFile::default();
    let (file, on) = match choice {
        StoreChoice::Switch(on) => (&off, *on),
        StoreChoice::Table(file) => (file, true),
    };
    let backend = match (&file.postgres, &file.sqlite) {
        _ if !on => StoreBackend::Off,
        (Some(url), _) => {
            let url = resolve_secret(url, "store.postgres", env)?;
            let text = url.expose();
            if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
                return Err(ConfigError::invalid(
                    "store.postgres",
                    "must be a postgres:// or postgresql:// URL",
                )
                .with_hint("e.g. \"postgres://ringbridge:secret@127.0.0.1:5432/ringbridge\""));
            }
            let schema =
                match file.postgres_schema.as_deref() {
                    None => None,
                    Some(name) if crate::config::valid_schema_name(name) => Some(name.to_owned()),
                    Some(_) => return Err(ConfigError::invalid(
                        "store.postgres_schema",
                        "use 1 to 63 lowercase letters, digits and _, not starting with a digit",
                    )),
                };
            StoreBackend::Postgres(url, schema)
        }
        (None, Some(path)) if path.trim().is_empty() => {
            return Err(ConfigError::invalid("store.sqlite", "empty path")
                .with_hint("write `store = false` to keep no store"))
        }
        (None, Some(path)) => StoreBackend::Sqlite(PathBuf::from(path)),
        (None, None) => StoreBackend::Sqlite(PathBuf::from(DEFAULT_SQLITE_FILE)),
    };
    let body_max = file.body_max_bytes.unwrap_or(DEFAULT_BODY_MAX_BYTES);
    if !(1..=MAX_BODY_MAX_BYTES).contains(&body_max) {
        return Err(ConfigError::invalid(
            "store.body_max_bytes",
            format!("must be from 1 to {MAX_BODY_MAX_BYTES}"),
        ));
    }
    let queue_rows = file.queue_rows.unwrap_or(DEFAULT_QUEUE_ROWS);
    if !(1..=MAX_QUEUE_ROWS).contains(&queue_rows) {
        return Err(ConfigError::invalid(
            "store.queue_rows",
            format!("must be from 1 to {MAX_QUEUE_ROWS}"),
        ));
    }
    if file.max_rows == Some(0) {
        return Err(ConfigError::invalid("store.max_rows", "must be at least 1")
            .with_hint("leave it out to keep any number of rows"));
    }
    let days = |value: Option<u64>, default, key| match value.unwrap_or(default) {
        d if d > MAX_RETENTION_DAYS => Err(ConfigError::invalid(
            key,
            "more than a century; use 0 to keep rows forever",
        )),
        0 => Ok(None),
        d => Ok(Some(Duration::from_secs(d * 86_400))),
    };
    let retention = days(
        file.retention_days,
        DEFAULT_RETENTION_DAYS,
        "store.retention_days",
    )?;
    // The usage hours are the log's index (`store::rollup`): they are kept
    // at least as long as the rows they lead to. The default follows the
    // log's retention; a setting shorter than it is refused.
    let asked = file.usage_retention_days;
    let usage = days(
        asked,
        DEFAULT_USAGE_RETENTION_DAYS,
        "store.usage_retention_days",
    )?;
    let usage_retention = match (retention, usage) {
        (_, None) => None,
        (Some(log), Some(usage)) if usage >= log => Some(usage),
        (log, Some(_)) if asked.is_some() => {
            return Err(usage_shorter_than_log(match log {
                Some(log) => (log.as_secs() / 86_400).to_string(),
                None => "0: rows are kept forever".into(),
            }))
        }
        (log, Some(_)) => log,
    };
    Ok(StoreSettings {
        backend,
        log_bodies: file
            .log_bodies
            .unwrap_or(false)
            .then_some(body_max as usize),
        retention,
        max_rows: file.max_rows,
        usage_retention,
        queue_rows: queue_rows as usize,
    })
}

fn usage_shorter_than_log(retention: String) -> ConfigError {
    ConfigError::invalid(
        "store.usage_retention_days",
        format!(
            "must be 0 or at least retention_days ({retention}): the usage hours are how \
             the log finds its rows by time, key and model"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_days(text: &str) -> Result<Option<u64>, String> {
        let file: StoreFile = toml::from_str(text).unwrap();
        resolve(&StoreChoice::Table(file), &|_| None)
            .map(|s| s.usage_retention.map(|d| d.as_secs() / 86_400))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn usage_is_kept_at_least_as_long_as_the_log() {
        assert_eq!(usage_days(""), Ok(Some(400)));
        assert_eq!(usage_days("retention_days = 500"), Ok(Some(500)));
        assert_eq!(usage_days("retention_days = 0"), Ok(None));
        assert_eq!(usage_days("usage_retention_days = 0"), Ok(None));
        assert_eq!(
            usage_days("retention_days = 7\nusage_retention_days = 7"),
            Ok(Some(7))
        );
        assert!(usage_days("retention_days = 8\nusage_retention_days = 7")
            .unwrap_err()
            .contains("store.usage_retention_days"));
    }
}
