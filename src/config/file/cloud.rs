//! Credentials of the cloud-hosted kinds beyond a static key: Vertex AI's
//! project, location and Google credentials, and Azure OpenAI's Entra ID
//! options. Environment defaults follow the vendors' own SDKs.

use std::sync::Arc;

use super::schema::{ProviderFile, DEFAULT_VERTEX_LOCATION};
use super::{env_value, resolve_secret, url, ConfigError};
use crate::config::{ProviderAuth, ProviderKind, Secret};
use crate::credentials::azure::{ClientCredentials, DEFAULT_AUTHORITY_HOST};
use crate::credentials::google::GoogleCredentials;
use crate::credentials::{Grant, TokenSource};

const ENV_GOOGLE_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
const ENV_GOOGLE_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
const ENV_GOOGLE_LOCATION: &str = "GOOGLE_CLOUD_LOCATION";
pub(super) const ENV_AZURE_AD_TOKEN: &str = "AZURE_OPENAI_AD_TOKEN";
pub(super) const ENV_AZURE_TENANT: &str = "AZURE_TENANT_ID";
pub(super) const ENV_AZURE_CLIENT: &str = "AZURE_CLIENT_ID";
pub(super) const ENV_AZURE_SECRET: &str = "AZURE_CLIENT_SECRET";
const ENV_AZURE_AUTHORITY: &str = "AZURE_AUTHORITY_HOST";

type At<'a> = &'a dyn Fn(&str) -> String;
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Refuses Vertex- or Azure-only keys on a provider of another kind.
pub(super) fn refuse_foreign_fields(
    kind: ProviderKind,
    file: &ProviderFile,
    at: At<'_>,
) -> Result<(), ConfigError> {
    let fields = [
        ("project", file.project.is_some(), ProviderKind::Vertex),
        ("location", file.location.is_some(), ProviderKind::Vertex),
        (
            "credentials_file",
            file.credentials_file.is_some(),
            ProviderKind::Vertex,
        ),
        ("ad_token", file.ad_token.is_some(), ProviderKind::Azure),
        ("tenant_id", file.tenant_id.is_some(), ProviderKind::Azure),
        ("client_id", file.client_id.is_some(), ProviderKind::Azure),
        (
            "client_secret",
            file.client_secret.is_some(),
            ProviderKind::Azure,
        ),
        (
            "authority_host",
            file.authority_host.is_some(),
            ProviderKind::Azure,
        ),
    ];
    for (key, set, owner) in fields {
        if set && kind != owner {
            return Err(ConfigError::invalid(
                at(key),
                format!(
                    "only used by kind `{}`, not `{}`",
                    owner.name(),
                    kind.name()
                ),
            ));
        }
    }
    Ok(())
}

/// What a Vertex provider resolves to.
pub(super) struct Vertex {
    /// `https://{location}-aiplatform.googleapis.com/v1`, used without a `base_url`.
    pub(super) default_base_url: String,
    /// `/projects/{project}/locations/{location}/publishers/google`, appended
    /// to the base URL's path.
    pub(super) path_suffix: String,
    pub(super) auth: ProviderAuth,
}

/// Vertex AI: static access tokens in `keys`, or a credentials file whose
/// tokens the control plane refreshes.
pub(super) fn resolve_vertex(
    file: &ProviderFile,
    has_keys: bool,
    at: At<'_>,
    env: Env<'_>,
) -> Result<Vertex, ConfigError> {
    if has_keys && file.credentials_file.is_some() {
        return Err(ConfigError::invalid(
            at("credentials_file"),
            "set either keys (access tokens) or credentials_file, not both",
        ));
    }
    let credentials = if has_keys {
        None
    } else {
        let (path, origin) = match &file.credentials_file {
            Some(path) => (path.clone(), at("credentials_file")),
            None => (
                env_value(env, ENV_GOOGLE_CREDENTIALS).ok_or_else(|| {
                    ConfigError::invalid(
                        at("credentials_file"),
                        "missing: Vertex AI needs Google credentials",
                    )
                    .with_hint(format!(
                        "set credentials_file = \"/path/to/service-account.json\" or {ENV_GOOGLE_CREDENTIALS}, or keys = [\"env:VAR\"] holding an access token"
                    ))
                })?,
                ENV_GOOGLE_CREDENTIALS.to_owned(),
            ),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::invalid(origin.as_str(), format!("cannot read {path:?}: {e}"))
        })?;
        let creds = GoogleCredentials::parse(&text)
            .map_err(|e| ConfigError::invalid(origin.as_str(), format!("{path:?}: {e}")))?;
        let token_url = url::parse_base_url(creds.token_uri()).map_err(|e| {
            ConfigError::invalid(origin.as_str(), format!("{path:?}: token_uri: {e}"))
        })?;
        Some((creds, token_url))
    };

    let project = match &file.project {
        Some(p) => p.clone(),
        None => env_value(env, ENV_GOOGLE_PROJECT)
            .or_else(|| {
                credentials
                    .as_ref()
                    .and_then(|(c, _)| c.project().map(str::to_owned))
            })
            .ok_or_else(|| {
                ConfigError::invalid(
                    at("project"),
                    "missing: Vertex AI needs a Google Cloud project",
                )
                .with_hint(format!(
                    "set project = \"my-project\" or {ENV_GOOGLE_PROJECT}"
                ))
            })?,
    };
    if project.is_empty()
        || !project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'))
    {
        return Err(ConfigError::invalid(
            at("project"),
            format!("invalid project id {project:?}"),
        ));
    }
    let location = match &file.location {
        Some(l) => l.clone(),
        None => env_value(env, ENV_GOOGLE_LOCATION)
            .unwrap_or_else(|| DEFAULT_VERTEX_LOCATION.to_owned()),
    };
    if location.is_empty()
        || !location
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(
            ConfigError::invalid(at("location"), format!("invalid location {location:?}"))
                .with_hint("for example \"us-central1\", \"europe-west4\" or \"global\""),
        );
    }
    let default_base_url = if location == "global" {
        "https://aiplatform.googleapis.com/v1".to_owned()
    } else {
        format!("https://{location}-aiplatform.googleapis.com/v1")
    };
    let auth = match credentials {
        Some((creds, url)) => ProviderAuth::Refreshed(TokenSource {
            url,
            grant: Grant::Google(Arc::new(creds)),
        }),
        None => ProviderAuth::BearerTokens,
    };
    Ok(Vertex {
        default_base_url,
        path_suffix: format!("/projects/{project}/locations/{location}/publishers/google"),
        auth,
    })
}

/// Azure OpenAI: an `api-key` (`keys`), a static Entra ID token (`ad_token`)
/// or Entra ID client credentials. Keys set in the file win over the
/// environment; in the environment the order is `AZURE_OPENAI_API_KEY`,
/// `AZURE_OPENAI_AD_TOKEN`, then the `AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/
/// `AZURE_CLIENT_SECRET` triple. `keys` holds the file's or the environment's
/// API keys.
pub(super) fn resolve_azure_auth(
    file: &ProviderFile,
    keys: Vec<Secret>,
    at: At<'_>,
    env: Env<'_>,
) -> Result<(Vec<Secret>, ProviderAuth), ConfigError> {
    let entra_in_file =
        file.tenant_id.is_some() || file.client_id.is_some() || file.client_secret.is_some();
    if file.keys.is_some() && (entra_in_file || file.ad_token.is_some()) {
        return Err(ConfigError::invalid(
            at("keys"),
            "set either keys (api-key) or Entra ID credentials (ad_token, or tenant_id/client_id/client_secret), not both",
        ));
    }
    if let Some(raw) = &file.ad_token {
        if entra_in_file {
            return Err(ConfigError::invalid(
                at("ad_token"),
                "set either ad_token or client credentials (tenant_id/client_id/client_secret), not both",
            ));
        }
        return Ok((
            vec![resolve_secret(raw, &at("ad_token"), env)?],
            ProviderAuth::BearerTokens,
        ));
    }
    if entra_in_file {
        return entra(file, at, env).map(|source| (Vec::new(), ProviderAuth::Refreshed(source)));
    }
    if !keys.is_empty() {
        return Ok((keys, ProviderAuth::Keys));
    }
    if env_value(env, ENV_AZURE_AD_TOKEN).is_some() {
        let token = resolve_secret(
            &format!("env:{ENV_AZURE_AD_TOKEN}"),
            ENV_AZURE_AD_TOKEN,
            env,
        )?;
        return Ok((vec![token], ProviderAuth::BearerTokens));
    }
    if env_has_entra(env) {
        return entra(file, at, env).map(|source| (Vec::new(), ProviderAuth::Refreshed(source)));
    }
    Err(ConfigError::invalid(
        at("keys"),
        "provider kind `azure` needs an API key or Entra ID credentials and none is set",
    )
    .with_hint(format!(
        "set AZURE_OPENAI_API_KEY, {ENV_AZURE_AD_TOKEN}, or {ENV_AZURE_TENANT} + {ENV_AZURE_CLIENT} + {ENV_AZURE_SECRET}"
    )))
}

/// True when the environment holds a whole Entra ID client-credential triple.
pub(super) fn env_has_entra(env: Env<'_>) -> bool {
    [ENV_AZURE_TENANT, ENV_AZURE_CLIENT, ENV_AZURE_SECRET]
        .iter()
        .all(|var| env_value(env, var).is_some())
}

fn entra(file: &ProviderFile, at: At<'_>, env: Env<'_>) -> Result<TokenSource, ConfigError> {
    let plain = |field: &Option<String>, key: &str, var: &str| {
        field
            .clone()
            .or_else(|| env_value(env, var))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(at(key), "missing: Entra ID client credentials need it")
                    .with_hint(format!("set {key} or {var}"))
            })
    };
    let tenant_id = plain(&file.tenant_id, "tenant_id", ENV_AZURE_TENANT)?;
    let client_id = plain(&file.client_id, "client_id", ENV_AZURE_CLIENT)?;
    let client_secret = match &file.client_secret {
        Some(raw) => resolve_secret(raw, &at("client_secret"), env)?,
        None => match env_value(env, ENV_AZURE_SECRET) {
            Some(_) => resolve_secret(&format!("env:{ENV_AZURE_SECRET}"), ENV_AZURE_SECRET, env)?,
            None => {
                return Err(ConfigError::invalid(
                    at("client_secret"),
                    "missing: Entra ID client credentials need it",
                )
                .with_hint(format!(
                    "set client_secret = \"env:VAR\" or {ENV_AZURE_SECRET}"
                )))
            }
        },
    };
    if !tenant_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        return Err(ConfigError::invalid(
            at("tenant_id"),
            format!("invalid tenant id {tenant_id:?}"),
        ));
    }
    let (authority_host, origin) = match &file.authority_host {
        Some(host) => (host.clone(), at("authority_host")),
        None => match env_value(env, ENV_AZURE_AUTHORITY) {
            Some(host) => (host, ENV_AZURE_AUTHORITY.to_owned()),
            None => (DEFAULT_AUTHORITY_HOST.to_owned(), at("authority_host")),
        },
    };
    let creds = ClientCredentials {
        authority_host,
        tenant_id,
        client_id,
        client_secret,
    };
    let url = url::parse_base_url(&creds.token_url())
        .map_err(|e| ConfigError::invalid(origin.as_str(), e))?;
    Ok(TokenSource {
        url,
        grant: Grant::Azure(creds),
    })
}
