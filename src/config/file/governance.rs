//! `[[virtual_keys]]`, `[[teams]]` and `[[customers]]`: gateway keys with an
//! identity, the models they may use, and rate limits at every level.

use std::collections::HashSet;

use super::schema::{
    GroupFile, RateLimitFile, VirtualKeyFile, MAX_RATE_PER_MINUTE, MAX_VIRTUAL_KEYS,
};
use super::{resolve_secret, ConfigError};
use crate::config::{GroupSettings, RateLimit, Secret, VirtualKeySettings};

/// The resolved tables: keys, teams, customers.
pub(super) type Resolved = (
    Vec<VirtualKeySettings>,
    Vec<GroupSettings>,
    Vec<GroupSettings>,
);

pub(super) fn resolve(
    keys: &[VirtualKeyFile],
    teams: &[GroupFile],
    customers: &[GroupFile],
    plain_keys: &[Secret],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ConfigError> {
    let teams = groups(teams, "teams")?;
    let customers = groups(customers, "customers")?;
    if keys.len() > MAX_VIRTUAL_KEYS {
        return Err(ConfigError::invalid(
            "virtual_keys",
            format!("more than {MAX_VIRTUAL_KEYS} keys"),
        ));
    }
    let mut ids = HashSet::new();
    let mut secrets: HashSet<String> = plain_keys.iter().map(|k| k.expose().to_owned()).collect();
    let mut out = Vec::with_capacity(keys.len());
    for (i, file) in keys.iter().enumerate() {
        let at = |field: &str| format!("virtual_keys[{i}].{field}");
        let name = required_text(file.name.as_deref(), &at("name"))?;
        let raw_key = file
            .key
            .as_deref()
            .ok_or_else(|| ConfigError::invalid(at("key"), "required: `env:VAR` or the key"))?;
        let secret = resolve_secret(raw_key, &at("key"), env)?;
        let id = match &file.id {
            Some(id) => required_text(Some(id), &at("id"))?,
            None => format!("vk-{name}"),
        };
        if !ids.insert(id.clone()) {
            return Err(ConfigError::invalid(
                at("id"),
                format!("id {id:?} is used twice"),
            ));
        }
        let group = |wanted: &Option<String>, list: &[GroupSettings], field: &str, table| {
            wanted
                .as_ref()
                .map(|w| {
                    list.iter().position(|g| &g.id == w).ok_or_else(|| {
                        ConfigError::invalid(at(field), format!("no [[{table}]] has id {w:?}"))
                    })
                })
                .transpose()
        };
        let team = group(&file.team_id, &teams, "team_id", "teams")?;
        let customer = group(&file.customer_id, &customers, "customer_id", "customers")?;
        let models = file.models.clone().unwrap_or_default();
        for (m, pattern) in models.iter().enumerate() {
            check_pattern(pattern, &format!("virtual_keys[{i}].models[{m}]"))?;
        }
        let expires_at = file
            .expires_at
            .as_deref()
            .map(|t| {
                rfc3339_seconds(t).ok_or_else(|| {
                    ConfigError::invalid(at("expires_at"), format!("{t:?} is not an RFC 3339 time"))
                        .with_hint("e.g. \"2027-01-31T00:00:00Z\"")
                })
            })
            .transpose()?;
        let out_key = VirtualKeySettings {
            id,
            name,
            secret,
            team,
            customer,
            models,
            disabled: file.disabled,
            expires_at,
            rate_limit: rate_limit(file.rate_limit.as_ref(), &at("rate_limit"))?,
        };
        if !secrets.insert(out_key.secret.expose().to_owned()) {
            // Two keys with one secret: which identity a request has would be a guess.
            return Err(ConfigError::invalid(
                at("key"),
                "the same key is configured twice",
            ));
        }
        out.push(out_key);
    }
    Ok((out, teams, customers))
}

fn groups(files: &[GroupFile], table: &str) -> Result<Vec<GroupSettings>, ConfigError> {
    let mut out: Vec<GroupSettings> = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let at = |field: &str| format!("{table}[{i}].{field}");
        let id = required_text(file.id.as_deref(), &at("id"))?;
        if out.iter().any(|g| g.id == id) {
            return Err(ConfigError::invalid(
                at("id"),
                format!("id {id:?} is used twice"),
            ));
        }
        out.push(GroupSettings {
            name: file.name.clone().unwrap_or_else(|| id.clone()),
            id,
            rate_limit: rate_limit(file.rate_limit.as_ref(), &at("rate_limit"))?,
        });
    }
    Ok(out)
}

fn required_text(value: Option<&str>, path: &str) -> Result<String, ConfigError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control) => {
            Ok(v.to_owned())
        }
        Some(_) => Err(ConfigError::invalid(
            path,
            "must be 1 to 256 characters, no control characters",
        )),
        None => Err(ConfigError::invalid(path, "required")),
    }
}

fn rate_limit(file: Option<&RateLimitFile>, path: &str) -> Result<RateLimit, ConfigError> {
    let Some(file) = file else {
        return Ok(RateLimit::default());
    };
    let per_minute = |value: Option<u64>, field: &str| match value {
        Some(n) if !(1..=MAX_RATE_PER_MINUTE).contains(&n) => Err(ConfigError::invalid(
            format!("{path}.{field}"),
            format!("must be from 1 to {MAX_RATE_PER_MINUTE}"),
        )),
        other => Ok(other),
    };
    Ok(RateLimit {
        rpm: per_minute(file.rpm, "rpm")?,
        tpm: per_minute(file.tpm, "tpm")?,
    })
}

/// `*`, `provider/*`, or `provider/model` (the model part may end in `*`).
fn check_pattern(pattern: &str, path: &str) -> Result<(), ConfigError> {
    let ok = pattern == "*"
        || pattern.split_once('/').is_some_and(|(provider, model)| {
            !provider.is_empty()
                && !provider.contains('*')
                && !model.is_empty()
                && !model[..model.len() - 1].contains('*')
        });
    match ok {
        true => Ok(()),
        false => Err(
            ConfigError::invalid(path, format!("{pattern:?} is not a model pattern"))
                .with_hint("\"*\", \"openai/*\", \"openai/gpt-4o*\" or \"mock/echo\""),
        ),
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time
/// (`2027-01-31T12:00:00Z`, `…T12:00:00.5+02:00`); `None` if malformed or
/// before 1970.
pub(crate) fn rfc3339_seconds(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm), March-based years.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(rfc3339_seconds("2026-12-05T14:30:00Z"), Some(1_796_481_000));
        assert_eq!(
            rfc3339_seconds("2026-12-05T16:30:00.250+02:00"),
            Some(1_796_481_000)
        );
        assert_eq!(rfc3339_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-05 14:30:00",
            "2026-12-05T14:30:00",
            "2026-12-05T24:00:00Z",
            "2026-12-05T14:30:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-12-05T14:30:00+2:00",
            "",
        ] {
            assert_eq!(rfc3339_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn model_patterns_are_checked() {
        for good in [
            "*",
            "openai/*",
            "mock/echo",
            "openai/gpt-4o*",
            "openrouter/meta/llama",
        ] {
            assert!(check_pattern(good, "p").is_ok(), "{good}");
        }
        for bad in ["openai", "/x", "openai/", "*/gpt", "openai/*x", "open*/x"] {
            assert!(check_pattern(bad, "p").is_err(), "{bad}");
        }
    }
}
