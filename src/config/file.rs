//! Loading: read the TOML file (if any), apply the environment and command-line
//! overrides, validate every value and resolve it all into one [`Settings`].
//!
//! File shape ([`schema`]) and runtime shape ([`Settings`]) are separate: nothing
//! here survives past `load`. Every refusal is a [`ConfigError`] naming the key's
//! dotted path (or the environment variable) the bad value came from.

mod admin;
mod breaker;
mod cloud;
mod cors;
mod entity;
mod error;
mod governance;
mod keys;
mod limits;
mod otlp;
mod pricing;
mod provider;
mod retries;
mod routes;
mod schema;
mod store;
mod url;

#[cfg(test)]
mod routing_tests;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use entity::{group_doc, key_doc, GroupDoc, KeyDoc};
pub use error::ConfigError;

use super::{
    AwsSettings, BaseUrl, KeyOptions, ProviderAuth, ProviderKind, ProviderSettings, RetrySettings,
    Scheme, Secret, Settings, UpstreamTimeouts, BUILTIN_KINDS,
};
use error::push_key;
use provider::{mock_provider, resolve_env_provider, resolve_file_provider};
use schema::*;

/// Overrides from the command line (or their environment twins), applied on top
/// of the file. `Default` means "no overrides".
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Config file to read (`--config` / `RINGBRIDGE_CONFIG`); `None` means zero
    /// config, unless `RINGBRIDGE_CONFIG` is set in the injected environment.
    pub config_path: Option<PathBuf>,
    /// Overrides the file's `listen` (`--listen` / `RINGBRIDGE_LISTEN`).
    pub listen: Option<String>,
    /// Overrides the file's `workers`; 0 means one per available core.
    pub workers: Option<usize>,
    /// Start on a non-loopback address even with no inbound keys.
    pub allow_unauthenticated: bool,
}

/// Environment variable naming the config file when `config_path` is `None`.
pub(crate) const ENV_CONFIG: &str = "RINGBRIDGE_CONFIG";
/// Environment variable overriding `listen` when `LoadOptions::listen` is `None`.
pub(crate) const ENV_LISTEN: &str = "RINGBRIDGE_LISTEN";
/// Overrides the file's `pin_workers`.
pub(crate) const ENV_PIN_WORKERS: &str = "RINGBRIDGE_PIN_WORKERS";
/// Comma-separated inbound keys, appended to `auth.keys`.
pub(crate) const ENV_API_KEYS: &str = "RINGBRIDGE_API_KEYS";
pub(crate) const ENV_EXTRA_CA_FILE: &str = "RINGBRIDGE_EXTRA_CA_FILE";
pub(crate) const ENV_OPENAI_API_VERSION: &str = "OPENAI_API_VERSION";
/// Ollama's own variable (`host[:port]` or a URL), read when `OLLAMA_BASE_URL` is unset.
const ENV_OLLAMA_HOST: &str = "OLLAMA_HOST";

/// Builds the settings from `opts`, the file it names (or zero config without
/// one) and `env`, which stands in for the process environment
/// (`|k| std::env::var(k).ok()` in `main`). Fails with the first invalid value.
pub fn load(
    opts: &LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let path = opts
        .config_path
        .clone()
        .or_else(|| non_empty(env(ENV_CONFIG)).map(PathBuf::from));
    let file = match &path {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    resolve(file, opts, env)
}

/// What `ringbridge check-config FILE` runs: [`load`] with `path` and no
/// command-line overrides, so the result is what a plain start would use.
pub fn check_file(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let opts = LoadOptions {
        config_path: Some(path.to_owned()),
        ..LoadOptions::default()
    };
    load(&opts, env)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_str(path, &text)
}

/// Parses file contents; `path` only labels syntax errors.
pub(crate) fn parse_str(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|err| ConfigError::from_toml(path.to_owned(), text, err))
}

/// Validates and resolves a parsed file (the empty one for zero config).
pub(crate) fn resolve(
    file: FileConfig,
    opts: &LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let listen = resolve_listen(opts, file.listen.as_deref(), env)?;
    let workers = resolve_workers(opts.workers, file.workers)?;
    let pin_workers = resolve_pin_workers(file.pin_workers, env)?;
    let limits = limits::resolve(&file.limits)?;
    let cors = cors::resolve(&file.cors)?;
    let models_refresh_secs = ranged(
        "models_refresh_secs",
        file.models_refresh_secs,
        DEFAULT_MODELS_REFRESH_SECS,
        1,
        MAX_MODELS_REFRESH_SECS,
    )?;
    let timeouts = resolve_default_timeouts(&file.timeouts)?;
    let retries = retries::resolve_global(&file.retries)?;
    let admin_token = admin::resolve(&file.admin, env)?;
    let breaker = breaker::resolve_global(&file.breaker)?;
    let sticky_header = breaker::sticky_header(&file.balancing)?;

    let mut auth_keys = Vec::new();
    for (i, raw) in file.auth.keys.iter().enumerate() {
        auth_keys.push(resolve_secret(raw, &format!("auth.keys[{i}]"), env)?);
    }
    auth_keys.extend(env_api_keys(env)?);
    let store = store::resolve(&file.store, env)?;
    let otlp = otlp::resolve(&file.otlp, env)?;
    let (virtual_keys, teams, customers) = governance::resolve(
        &file.virtual_keys,
        &file.teams,
        &file.customers,
        &auth_keys,
        env,
    )?;

    let mut providers = Vec::new();
    for (name, provider) in &file.providers.0 {
        providers.push(resolve_file_provider(
            name, provider, &timeouts, &retries, &breaker, env,
        )?);
    }
    if file.env_providers.unwrap_or(true) {
        let mut auto: Vec<ProviderKind> = BUILTIN_KINDS
            .iter()
            .copied()
            .filter(|&kind| {
                kind == ProviderKind::Ollama
                    || kind.key_env().and_then(|var| env_value(env, var)).is_some()
                    || (kind == ProviderKind::Azure && azure_entra_in_env(env))
            })
            .filter(|kind| !providers.iter().any(|p| p.name == kind.name()))
            .collect();
        auto.sort_by_key(|kind| kind.name());
        for kind in auto {
            providers.push(resolve_env_provider(kind, &timeouts, env)?);
            tracing::debug!(provider = kind.name(), "enabled from the environment");
        }
    }
    if !providers.iter().any(|p| p.name == "mock") {
        providers.push(mock_provider(&timeouts));
    }
    debug_assert!(
        providers
            .iter()
            .all(|p| p.key_options.len() == p.keys.len()),
        "key_options must pair with keys"
    );

    let names = || {
        providers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(default) = &file.default_provider {
        if !providers.iter().any(|p| &p.name == default) {
            return Err(ConfigError::invalid(
                "default_provider",
                format!("provider {default:?} is not enabled"),
            )
            .with_hint(format!("enabled providers: {}", names())));
        }
    }

    let mut aliases = Vec::with_capacity(file.aliases.0.len());
    for (alias, target) in &file.aliases.0 {
        check_alias(alias, target, &providers, &names)?;
        aliases.push((alias.clone(), target.clone()));
    }
    let routes = routes::resolve(&file.routes, &file.aliases, &providers, &retries, &names)?;
    let model_limits = governance::model_limits(&file.model_limits, &providers)?;
    let pricing = pricing::resolve(&file.pricing, &providers, &names)?;

    if !listen.ip().to_canonical().is_loopback()
        && auth_keys.is_empty()
        && virtual_keys.is_empty()
        && admin_token.is_none()
        && !opts.allow_unauthenticated
    {
        return Err(ConfigError::invalid(
            "listen",
            format!("{listen} is not a loopback address and no inbound API keys are configured"),
        )
        .with_hint(format!(
            "configure auth.keys / {ENV_API_KEYS}, or an admin token to make keys through /admin/keys, or pass --allow-unauthenticated"
        )));
    }

    Ok(Settings {
        listen,
        workers,
        pin_workers,
        allow_unauthenticated: opts.allow_unauthenticated,
        limits,
        cors,
        auth_keys,
        virtual_keys,
        teams,
        customers,
        store,
        otlp,
        model_limits,
        providers,
        aliases,
        routes,
        retries,
        breaker,
        sticky_header,
        admin_token,
        default_provider: file.default_provider,
        models_refresh: Duration::from_secs(models_refresh_secs),
        extra_ca_file: resolve_extra_ca_file(file.extra_ca_file.as_deref(), env)?,
        pricing,
    })
}

/// File's `extra_ca_file` > `RINGBRIDGE_EXTRA_CA_FILE`; the file must be readable.
fn resolve_extra_ca_file(
    file: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<std::path::PathBuf>, ConfigError> {
    let (value, path) = match (file, env_value(env, ENV_EXTRA_CA_FILE)) {
        (Some(v), _) => (v.to_owned(), "extra_ca_file"),
        (None, Some(v)) => (v, ENV_EXTRA_CA_FILE),
        (None, None) => return Ok(None),
    };
    if let Err(e) = std::fs::metadata(&value) {
        return Err(
            ConfigError::invalid(path, format!("cannot read {value:?}: {e}"))
                .with_hint("give a PEM file of CA certificates"),
        );
    }
    Ok(Some(value.into()))
}

/// `opts.listen` > `RINGBRIDGE_LISTEN` > file > [`DEFAULT_LISTEN`].
fn resolve_listen(
    opts: &LoadOptions,
    file: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SocketAddr, ConfigError> {
    let (value, origin) = if let Some(v) = &opts.listen {
        (v.clone(), " (from --listen)")
    } else if let Some(v) = non_empty(env(ENV_LISTEN)) {
        (v, " (from RINGBRIDGE_LISTEN)")
    } else if let Some(v) = file {
        (v.to_owned(), "")
    } else {
        (DEFAULT_LISTEN.to_owned(), "")
    };
    parse_listen(value.trim()).ok_or_else(|| {
        ConfigError::invalid(
            "listen",
            format!("invalid listen address {value:?}{origin}"),
        )
        .with_hint("use IP:PORT, [IPv6]:PORT or localhost:PORT, e.g. \"127.0.0.1:8080\"")
    })
}

/// `IP:PORT`, `[IPv6]:PORT`, or `localhost:PORT`, which means 127.0.0.1 (never a
/// name lookup: a gateway should not bind whatever `localhost` resolves to).
fn parse_listen(s: &str) -> Option<SocketAddr> {
    if let Ok(addr) = s.parse() {
        return Some(addr);
    }
    let port = s.strip_prefix("localhost:")?;
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = port.parse().ok()?;
    Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
}

/// `RINGBRIDGE_PIN_WORKERS` > file > true.
fn resolve_pin_workers(
    file: Option<bool>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<bool, ConfigError> {
    match env_value(env, ENV_PIN_WORKERS) {
        None => Ok(file.unwrap_or(true)),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(
                ConfigError::invalid(ENV_PIN_WORKERS, format!("{v:?} is not a boolean"))
                    .with_hint("use 1/0, true/false, yes/no or on/off"),
            ),
        },
    }
}

/// `opts` > file > 0; 0 becomes the number of available cores.
fn resolve_workers(opt: Option<usize>, file: Option<usize>) -> Result<usize, ConfigError> {
    let (workers, origin) = match (opt, file) {
        (Some(n), _) => (n, " (from --workers)"),
        (None, Some(n)) => (n, ""),
        (None, None) => (0, ""),
    };
    if workers > MAX_WORKERS {
        return Err(ConfigError::invalid(
            "workers",
            format!("{workers}{origin} is more than {MAX_WORKERS}"),
        )
        .with_hint("use 0 for one worker per available core"));
    }
    if workers > 0 {
        return Ok(workers);
    }
    Ok(std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn resolve_default_timeouts(file: &TimeoutsFile) -> Result<UpstreamTimeouts, ConfigError> {
    let ms = |key, value, default| {
        ranged(
            &format!("timeouts.{key}"),
            value,
            default,
            1,
            MAX_TIMEOUT_MS,
        )
        .map(Duration::from_millis)
    };
    Ok(UpstreamTimeouts {
        connect: ms("connect_ms", file.connect_ms, DEFAULT_CONNECT_TIMEOUT_MS)?,
        first_byte: ms(
            "first_byte_ms",
            file.first_byte_ms,
            DEFAULT_FIRST_BYTE_TIMEOUT_MS,
        )?,
        stream_idle: ms(
            "stream_idle_ms",
            file.stream_idle_ms,
            DEFAULT_STREAM_IDLE_TIMEOUT_MS,
        )?,
    })
}

/// `value` (or `default` when unset), refused at `path` unless in `min..=max`.
pub(super) fn ranged(
    path: &str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let value = value.unwrap_or(default);
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    let message = if value < min {
        format!("{value} is below the minimum {min}")
    } else {
        format!("{value} is above the maximum {max}")
    };
    Err(ConfigError::invalid(path, message).with_hint(format!("the default is {default}")))
}

/// `env:VAR` (read from `env`, must be set and non-empty) or a literal key. Errors
/// name the variable, never the key.
fn resolve_secret(
    raw: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, ConfigError> {
    let (value, origin) = match raw.strip_prefix("env:") {
        Some(var) => {
            let var = var.trim();
            if !valid_env_name(var) {
                return Err(ConfigError::invalid(
                    path,
                    "`env:` must be followed by an environment variable name",
                )
                .with_hint("e.g. \"env:GROQ_API_KEY\""));
            }
            let value = env_value(env, var).ok_or_else(|| {
                ConfigError::invalid(
                    path,
                    format!("environment variable {var} is not set or empty"),
                )
                .with_hint(format!("export {var}=... before starting"))
            })?;
            (value, format!("the value of {var}"))
        }
        None => (raw.to_owned(), "the key".to_owned()),
    };
    if value.is_empty() {
        return Err(ConfigError::invalid(path, "empty key"));
    }
    if !key_chars_ok(&value) {
        return Err(ConfigError::invalid(
            path,
            format!("{origin} contains characters not allowed in an HTTP header"),
        )
        .with_hint("keys may contain visible ASCII characters only, no spaces"));
    }
    Ok(Secret::new(value))
}

/// `RINGBRIDGE_API_KEYS`: comma-separated, trimmed, empty entries skipped.
fn env_api_keys(env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Secret>, ConfigError> {
    let Some(list) = env(ENV_API_KEYS) else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for (i, key) in list
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
    {
        if !key_chars_ok(key) {
            return Err(ConfigError::invalid(
                ENV_API_KEYS,
                format!(
                    "entry {} contains characters not allowed in an HTTP header",
                    i + 1
                ),
            )
            .with_hint("keys may contain visible ASCII characters only, no spaces"));
        }
        keys.push(Secret::new(key));
    }
    Ok(keys)
}

/// An alias name must be a bare model name; its target is checked by
/// [`check_target`].
fn check_alias(
    alias: &str,
    target: &str,
    providers: &[ProviderSettings],
    names: &dyn Fn() -> String,
) -> Result<(), ConfigError> {
    let mut path = String::new();
    push_key(&mut path, "aliases");
    push_key(&mut path, alias);
    if alias.is_empty() || alias.contains('/') {
        return Err(ConfigError::invalid(
            path,
            format!("invalid alias name {alias:?}: must be non-empty and contain no `/`"),
        )
        .with_hint("an alias is a bare model name; `provider/model` names route directly"));
    }
    check_target(target, &path, providers, names)
}

/// A `provider/model` that an alias or route sends to, refused at `path`
/// unless it names an enabled provider and, if that provider has an
/// allow-list, a listed model.
fn check_target(
    target: &str,
    path: &str,
    providers: &[ProviderSettings],
    names: &dyn Fn() -> String,
) -> Result<(), ConfigError> {
    let Some((provider, model)) = target
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
    else {
        return Err(ConfigError::invalid(
            path,
            format!("target {target:?} is not of the form \"provider/model\""),
        ));
    };
    let Some(settings) = providers.iter().find(|p| p.name == provider) else {
        return Err(ConfigError::invalid(
            path,
            format!("target {target:?}: provider {provider:?} is not enabled"),
        )
        .with_hint(format!("enabled providers: {}", names())));
    };
    if !settings.models.is_empty() && !settings.models.iter().any(|m| m == model) {
        return Err(ConfigError::invalid(
            path,
            format!("target {target:?}: model {model:?} is not in providers.{provider}.models"),
        ));
    }
    Ok(())
}

const PROVIDER_NAME_HINT: &str =
    "use at most 64 lower-case letters, digits, `-` and `_`, starting with a letter or digit";

/// `[a-z0-9][a-z0-9_-]*`, at most 64 characters.
fn valid_provider_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A key goes into an `Authorization` header: visible ASCII only.
fn key_chars_ok(key: &str) -> bool {
    key.bytes().all(|b| b.is_ascii_graphic())
}

/// Azure is enabled from the environment by an Entra ID token as well as by
/// `AZURE_OPENAI_API_KEY`, and by Entra ID client credentials when
/// `AZURE_OPENAI_ENDPOINT` is set too (those variables serve every Azure SDK,
/// so alone they say nothing about Azure OpenAI).
fn azure_entra_in_env(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let endpoint = ProviderKind::Azure
        .base_url_env()
        .and_then(|var| env_value(env, var))
        .is_some();
    env_value(env, cloud::ENV_AZURE_AD_TOKEN).is_some() || (endpoint && cloud::env_has_entra(env))
}

/// `env(var)` trimmed, or `None` if unset or blank.
fn env_value(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    non_empty(env(var))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}
