//! `[providers.<name>]` and the built-in providers enabled from the
//! environment: each resolved into its `ProviderSettings`, checked key by key.

use std::time::Duration;

use super::error::push_key;
use super::schema::*;
use super::*;

/// A `[providers.<name>]` table.
pub(super) fn resolve_file_provider(
    name: &str,
    file: &ProviderFile,
    defaults: &UpstreamTimeouts,
    retries: &RetrySettings,
    breaker: &crate::config::BreakerSettings,
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
    let (mut keys, mut key_options) = match &file.keys {
        Some(list) => keys::resolve_keys(list, &at, &file.models, env)?,
        None => (default_keys(kind, env)?, Vec::new()),
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
    // Only the file's own list carries options: keys from the environment
    // (or Azure's token that replaced an empty file list) get the defaults.
    // Azure refuses a non-empty `keys` beside a token, so lengths tell them apart.
    if key_options.len() != keys.len() {
        key_options = vec![KeyOptions::default(); keys.len()];
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
        key_options,
        models: file.models.clone(),
        timeouts,
        max_idle_connections,
        forward_organization_headers: file.forward_organization_headers.unwrap_or(false),
        api_version,
        aws,
        auth,
        retries: retries::resolve_override(file.retries.as_ref(), &at("retries"), retries)?,
        breaker: breaker::resolve_override(file.breaker.as_ref(), &at("breaker"), breaker)?,
        concurrency: keys::resolve_concurrency(file, &at)?,
    })
}

/// Bedrock's region and credentials: the table's values, else the AWS SDKs'
/// variables. Other kinds must not set them.
pub(super) fn resolve_aws(
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
pub(super) fn default_api_version(
    kind: ProviderKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    if kind != ProviderKind::Azure {
        return String::new();
    }
    env_value(env, ENV_OPENAI_API_VERSION).unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned())
}

/// A built-in enabled because its key variable is set (or, for Ollama, always).
pub(super) fn resolve_env_provider(
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
        key_options: vec![KeyOptions::default(); keys.len()],
        keys,
        models: Vec::new(),
        timeouts: *timeouts,
        max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS as usize,
        forward_organization_headers: false,
        api_version: default_api_version(kind, env),
        aws: None,
        auth,
        retries: None,
        breaker: None,
        concurrency: None,
    })
}

/// The built-in `mock` provider, answered in-process.
pub(super) fn mock_provider(timeouts: &UpstreamTimeouts) -> ProviderSettings {
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
        key_options: Vec::new(),
        models: Vec::new(),
        timeouts: *timeouts,
        max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS as usize,
        forward_organization_headers: false,
        api_version: String::new(),
        aws: None,
        auth: ProviderAuth::Keys,
        retries: None,
        breaker: None,
        concurrency: None,
    }
}

/// `<KIND>_BASE_URL` (Ollama: then `OLLAMA_HOST`), else the kind's default; `None`
/// if the kind has neither. A bad value is reported at the variable's name.
pub(super) fn env_base_url(
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
pub(super) fn default_keys(
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
