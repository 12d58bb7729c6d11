//! `[[virtual_keys]]`, `[[teams]]` and `[[customers]]`: gateway keys with an
//! identity, the models they may use, and rate limits at every level.

use std::collections::HashSet;

use super::schema::{
    BudgetFile, GroupFile, RateLimitFile, VirtualKeyFile, MAX_RATE_PER_MINUTE, MAX_VIRTUAL_KEYS,
};
use super::{resolve_secret, ConfigError};
use crate::config::calendar::rfc3339_seconds;
use crate::config::{
    BudgetPeriod, BudgetSettings, GroupSettings, RateLimit, Secret, VirtualKeySettings,
};

/// Largest budget: a billion USD a period (nano-dollars stay far from u64::MAX).
const MAX_BUDGET_USD: f64 = 1e9;

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
            budget: budget(file.budget.as_ref(), &at("budget"))?,
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
            budget: budget(file.budget.as_ref(), &at("budget"))?,
        });
    }
    Ok(out)
}

pub(super) fn required_text(value: Option<&str>, path: &str) -> Result<String, ConfigError> {
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

pub(super) fn rate_limit(
    file: Option<&RateLimitFile>,
    path: &str,
) -> Result<RateLimit, ConfigError> {
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

/// `[model_limits."provider/model"]`, for providers that exist.
pub(super) fn model_limits(
    file: &super::schema::Ordered<RateLimitFile>,
    providers: &[crate::config::ProviderSettings],
) -> Result<Vec<(String, String, RateLimit)>, ConfigError> {
    let mut out = Vec::with_capacity(file.0.len());
    for (target, limit) in &file.0 {
        let path = format!("model_limits.\"{target}\"");
        let Some((provider, model)) = target
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            return Err(ConfigError::invalid(
                path,
                "the key must be \"provider/model\"",
            ));
        };
        if !providers.iter().any(|p| p.name == provider) {
            return Err(ConfigError::invalid(
                path,
                format!("provider {provider:?} is not enabled"),
            ));
        }
        let rate = rate_limit(Some(limit), &path)?;
        if rate == RateLimit::default() {
            return Err(ConfigError::invalid(path, "set rpm, tpm or both"));
        }
        out.push((provider.to_owned(), model.to_owned(), rate));
    }
    Ok(out)
}

pub(super) fn budget(
    file: Option<&BudgetFile>,
    path: &str,
) -> Result<Option<BudgetSettings>, ConfigError> {
    let Some(file) = file else {
        return Ok(None);
    };
    let limit = match file.limit_usd {
        Some(usd) if usd.is_finite() && (0.0..=MAX_BUDGET_USD).contains(&usd) => usd,
        Some(_) => {
            return Err(ConfigError::invalid(
                format!("{path}.limit_usd"),
                format!("must be a number from 0 to {MAX_BUDGET_USD}"),
            ))
        }
        None => {
            return Err(ConfigError::invalid(
                format!("{path}.limit_usd"),
                "required",
            ))
        }
    };
    let period = match file.period.as_deref() {
        None => BudgetPeriod::Monthly,
        Some(text) => BudgetPeriod::parse(text).ok_or_else(|| {
            ConfigError::invalid(
                format!("{path}.period"),
                format!("{text:?} is not a budget period"),
            )
            .with_hint("\"daily\", \"weekly\", \"monthly\" or \"never\"")
        })?,
    };
    Ok(Some(BudgetSettings {
        limit_nanos: (limit * 1e9).round() as u64,
        period,
    }))
}

/// `*`, `provider/*`, or `provider/model` (the model part may end in `*`).
pub(super) fn check_pattern(pattern: &str, path: &str) -> Result<(), ConfigError> {
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
