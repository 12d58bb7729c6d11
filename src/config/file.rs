//! Loading: read the TOML file (if any), apply the environment and command-line
//! overrides, validate every value and resolve it all into one [`Settings`].
//!
//! File shape ([`schema`]) and runtime shape ([`Settings`]) are separate: nothing
//! here survives past `load`. Every refusal is a [`ConfigError`] naming the key's
//! dotted path (or the environment variable) the bad value came from.

mod cloud;
mod cors;
mod error;
mod limits;
mod schema;
mod url;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;

use super::{
    AwsSettings, BaseUrl, ProviderAuth, ProviderKind, ProviderSettings, Scheme, Secret, Settings,
    UpstreamTimeouts, BUILTIN_KINDS,
};
use error::push_key;
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

    let mut auth_keys = Vec::new();
    for (i, raw) in file.auth.keys.iter().enumerate() {
        auth_keys.push(resolve_secret(raw, &format!("auth.keys[{i}]"), env)?);
    }
    auth_keys.extend(env_api_keys(env)?);

    let mut providers = Vec::new();
    for (name, provider) in &file.providers.0 {
        providers.push(resolve_file_provider(name, provider, &timeouts, env)?);
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

    if !listen.ip().to_canonical().is_loopback()
        && auth_keys.is_empty()
        && !opts.allow_unauthenticated
    {
        return Err(ConfigError::invalid(
            "listen",
            format!("{listen} is not a loopback address and no inbound API keys are configured"),
        )
        .with_hint(format!(
            "configure auth.keys / {ENV_API_KEYS} or pass --allow-unauthenticated"
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
        providers,
        aliases,
        default_provider: file.default_provider,
        models_refresh: Duration::from_secs(models_refresh_secs),
        extra_ca_file: resolve_extra_ca_file(file.extra_ca_file.as_deref(), env)?,
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

/// A `[providers.<name>]` table.
fn resolve_file_provider(
    name: &str,
    file: &ProviderFile,
    defaults: &UpstreamTimeouts,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let mut base = String::new();
    push_key(&mut base, "providers");
    push_key(&mut base, name);
    let at = |key: &str| format!("{base}.{key}");

    if !valid_provider_name(name) {
        return Err(
            ConfigError::invalid(base.as_str(), format!("invalid provider name {name:?}"))
                .with_hint(PROVIDER_NAME_HINT),
        );
    }

    let kinds = || {
        BUILTIN_KINDS
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match &file.kind {
        Some(kind) => ProviderKind::from_name(kind).ok_or_else(|| {
            ConfigError::invalid(at("kind"), format!("unknown provider kind {kind:?}"))
                .with_hint(format!("known kinds: {}", kinds()))
        })?,
        None => ProviderKind::from_name(name).ok_or_else(|| {
            ConfigError::invalid(
                at("kind"),
                format!("missing: {name:?} is not a built-in kind name, so `kind` is required"),
            )
            .with_hint(format!("known kinds: {}", kinds()))
        })?,
    };
    if name == "mock" && kind != ProviderKind::Mock {
        return Err(ConfigError::invalid(
            at("kind"),
            "the provider name `mock` is reserved for the built-in mock provider",
        )
        .with_hint("choose another name for this provider"));
    }

    let aws = resolve_aws(kind, file, &at, env)?;
    cloud::refuse_foreign_fields(kind, file, &at)?;
    let mut keys = match &file.keys {
        Some(list) => {
            let mut keys = Vec::with_capacity(list.len());
            for (i, raw) in list.iter().enumerate() {
                keys.push(resolve_secret(raw, &format!("{}[{i}]", at("keys")), env)?);
            }
            keys
        }
        None => default_keys(kind, env)?,
    };
    let mut auth = ProviderAuth::Keys;
    let vertex = match kind {
        ProviderKind::Vertex => Some(cloud::resolve_vertex(file, !keys.is_empty(), &at, env)?),
        _ => None,
    };
    if let Some(v) = &vertex {
        auth = v.auth.clone();
    }
    if kind == ProviderKind::Azure {
        (keys, auth) = cloud::resolve_azure_auth(file, keys, &at, env)?;
    }

    let mut base_url = match &file.base_url {
        Some(url) => url::parse_base_url(url)
            .map_err(|message| ConfigError::invalid(at("base_url"), message))?,
        None => match env_base_url(kind, env)? {
            Some(url) => url,
            None if aws.is_some() => {
                let region = &aws.as_ref().map(|a| a.region.clone()).unwrap_or_default();
                url::parse_base_url(&format!("https://bedrock-runtime.{region}.amazonaws.com"))
                    .map_err(|message| ConfigError::invalid(at("region"), message))?
            }
            None if vertex.is_some() => {
                let url = vertex
                    .as_ref()
                    .map(|v| v.default_base_url.as_str())
                    .unwrap_or_default();
                url::parse_base_url(url)
                    .map_err(|message| ConfigError::invalid(at("location"), message))?
            }
            None => {
                return Err(ConfigError::invalid(
                    at("base_url"),
                    format!("missing: kind `{}` has no default base URL", kind.name()),
                )
                .with_hint("set base_url = \"http://host:port/v1\""))
            }
        },
    };
    if let Some(v) = &vertex {
        base_url.path.push_str(&v.path_suffix);
    }

    if keys.is_empty() && kind.requires_key() && matches!(auth, ProviderAuth::Keys) {
        let var = kind.key_env().unwrap_or("<KIND>_API_KEY");
        return Err(ConfigError::invalid(
            at("keys"),
            format!(
                "provider kind `{}` needs an API key and none is set",
                kind.name()
            ),
        )
        .with_hint(format!("set {var} or keys = [\"env:VAR\"]")));
    }

    for (i, model) in file.models.iter().enumerate() {
        if model.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("{}[{i}]", at("models")),
                "empty model name",
            ));
        }
    }

    let ms = |key: &str, value: Option<u64>, default: Duration| {
        let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        ranged(&at(key), value, default, 1, MAX_TIMEOUT_MS).map(Duration::from_millis)
    };
    let timeouts = UpstreamTimeouts {
        connect: ms(
            "connect_timeout_ms",
            file.connect_timeout_ms,
            defaults.connect,
        )?,
        first_byte: ms(
            "first_byte_timeout_ms",
            file.first_byte_timeout_ms,
            defaults.first_byte,
        )?,
        stream_idle: ms(
            "stream_idle_timeout_ms",
            file.stream_idle_timeout_ms,
            defaults.stream_idle,
        )?,
    };
    let max_idle_connections = ranged(
        &at("max_idle_connections"),
        file.max_idle_connections,
        DEFAULT_MAX_IDLE_CONNECTIONS,
        0,
        MAX_MAX_IDLE_CONNECTIONS,
    )? as usize;
    let api_version = match (&file.api_version, kind) {
        (Some(v), ProviderKind::Azure) => {
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(ConfigError::invalid(
                    at("api_version"),
                    format!("invalid api-version {v:?}"),
                )
                .with_hint("for example \"2024-10-21\" or \"2025-01-01-preview\""));
            }
            v.clone()
        }
        (Some(_), _) => {
            return Err(ConfigError::invalid(
                at("api_version"),
                format!("only used by kind `azure`, not `{}`", kind.name()),
            ))
        }
        (None, _) => default_api_version(kind, env),
    };

    Ok(ProviderSettings {
        name: name.to_owned(),
        kind,
        base_url,
        keys,
        models: file.models.clone(),
        timeouts,
        max_idle_connections,
        forward_organization_headers: file.forward_organization_headers.unwrap_or(false),
        api_version,
        aws,
        auth,
    })
}

/// Bedrock's region and credentials: the table's values, else the AWS SDKs'
/// variables. Other kinds must not set them.
fn resolve_aws(
    kind: ProviderKind,
    file: &ProviderFile,
    at: &dyn Fn(&str) -> String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<AwsSettings>, ConfigError> {
    let given = [
        ("region", file.region.is_some()),
        ("aws_access_key_id", file.aws_access_key_id.is_some()),
        (
            "aws_secret_access_key",
            file.aws_secret_access_key.is_some(),
        ),
        ("aws_session_token", file.aws_session_token.is_some()),
    ];
    if kind != ProviderKind::Bedrock {
        if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
            return Err(ConfigError::invalid(
                at(key),
                format!("only used by kind `bedrock`, not `{}`", kind.name()),
            ));
        }
        return Ok(None);
    }
    let region = match &file.region {
        Some(r) => r.clone(),
        None => env_value(env, "AWS_REGION")
            .or_else(|| env_value(env, "AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                ConfigError::invalid(at("region"), "missing: Bedrock needs an AWS region")
                    .with_hint("set region = \"us-east-1\" or AWS_REGION")
            })?,
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ConfigError::invalid(
            at("region"),
            format!("invalid AWS region {region:?}"),
        ));
    }
    let secret =
        |field: &Option<String>, key: &str, var: &str| -> Result<Option<Secret>, ConfigError> {
            match field {
                Some(raw) => resolve_secret(raw, &at(key), env).map(Some),
                None => Ok(env_value(env, var).map(Secret::new)),
            }
        };
    let missing = |key: &str, var: &str| {
        ConfigError::invalid(at(key), "missing: Bedrock needs AWS credentials")
            .with_hint(format!("set {var} or {key} = \"env:VAR\""))
    };
    let access_key_id = secret(
        &file.aws_access_key_id,
        "aws_access_key_id",
        "AWS_ACCESS_KEY_ID",
    )?
    .ok_or_else(|| missing("aws_access_key_id", "AWS_ACCESS_KEY_ID"))?;
    let secret_access_key = secret(
        &file.aws_secret_access_key,
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
    )?
    .ok_or_else(|| missing("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"))?;
    let session_token = secret(
        &file.aws_session_token,
        "aws_session_token",
        "AWS_SESSION_TOKEN",
    )?;
    Ok(Some(AwsSettings {
        region,
        access_key_id,
        secret_access_key,
        session_token,
    }))
}

/// Azure's `api-version`: `OPENAI_API_VERSION` (as the Azure OpenAI SDKs read
/// it), else the default; empty for every other kind.
fn default_api_version(kind: ProviderKind, env: &dyn Fn(&str) -> Option<String>) -> String {
    if kind != ProviderKind::Azure {
        return String::new();
    }
    env_value(env, ENV_OPENAI_API_VERSION).unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned())
}

/// A built-in enabled because its key variable is set (or, for Ollama, always).
fn resolve_env_provider(
    kind: ProviderKind,
    timeouts: &UpstreamTimeouts,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let Some(base_url) = env_base_url(kind, env)? else {
        // A credential is set for a kind with no default base URL (Azure).
        let key_var = match kind.key_env() {
            Some(var) if env_value(env, var).is_some() => var,
            _ if kind == ProviderKind::Azure => "an Entra ID credential",
            _ => "the key variable",
        };
        let url_var = kind.base_url_env().unwrap_or("the base-URL variable");
        return Err(ConfigError::invalid(
            url_var,
            format!(
                "missing: {key_var} is set, so `{}` is enabled, but it has no endpoint",
                kind.name()
            ),
        )
        .with_hint(format!("set {url_var}, or unset {key_var}")));
    };
    let mut keys = default_keys(kind, env)?;
    let mut auth = ProviderAuth::Keys;
    if kind == ProviderKind::Azure {
        let at = |key: &str| format!("providers.azure.{key} (from the environment)");
        (keys, auth) = cloud::resolve_azure_auth(&ProviderFile::default(), keys, &at, env)?;
    }
    Ok(ProviderSettings {
        name: kind.name().to_owned(),
        kind,
        base_url,
        keys,
        models: Vec::new(),
        timeouts: *timeouts,
        max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS as usize,
        forward_organization_headers: false,
        api_version: default_api_version(kind, env),
        aws: None,
        auth,
    })
}

/// The built-in `mock` provider, answered in-process.
fn mock_provider(timeouts: &UpstreamTimeouts) -> ProviderSettings {
    ProviderSettings {
        name: ProviderKind::Mock.name().to_owned(),
        kind: ProviderKind::Mock,
        // Same as `ProviderKind::Mock.default_base_url()`; a test checks they agree.
        base_url: BaseUrl {
            scheme: Scheme::Http,
            host: "mock.invalid".to_owned(),
            port: 80,
            path: String::new(),
        },
        keys: Vec::new(),
        models: Vec::new(),
        timeouts: *timeouts,
        max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS as usize,
        forward_organization_headers: false,
        api_version: String::new(),
        aws: None,
        auth: ProviderAuth::Keys,
    }
}

/// `<KIND>_BASE_URL` (Ollama: then `OLLAMA_HOST`), else the kind's default; `None`
/// if the kind has neither. A bad value is reported at the variable's name.
fn env_base_url(
    kind: ProviderKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<BaseUrl>, ConfigError> {
    let from_env = |var: &str, value: String| {
        url::parse_base_url(&value)
            .map(Some)
            .map_err(|message| ConfigError::invalid(var, message))
    };
    if let Some(var) = kind.base_url_env() {
        if let Some(value) = env_value(env, var) {
            return from_env(var, value);
        }
    }
    if kind == ProviderKind::Ollama {
        if let Some(host) = env_value(env, ENV_OLLAMA_HOST) {
            return from_env(ENV_OLLAMA_HOST, url::ollama_host_url(&host));
        }
    }
    // Built-in defaults always parse (checked by a test).
    Ok(kind
        .default_base_url()
        .and_then(|url| url::parse_base_url(url).ok()))
}

/// The kind's key variable as the only key if it is set and non-empty; no keys
/// otherwise. A set variable holding an unusable key is refused at its name.
fn default_keys(
    kind: ProviderKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Secret>, ConfigError> {
    match kind.key_env() {
        Some(var) if env_value(env, var).is_some() => {
            Ok(vec![resolve_secret(&format!("env:{var}"), var, env)?])
        }
        _ => Ok(Vec::new()),
    }
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

/// An alias name must be a bare model name; its target `provider/model` must name
/// an enabled provider and, if that provider has an allow-list, a listed model.
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
