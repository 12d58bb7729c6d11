//! Google application-default credentials for Vertex AI: a service-account
//! key file (JWT bearer grant, RFC 7523) or an `authorized_user` file from
//! `gcloud auth application-default login` (refresh-token grant).
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::form::FormEncoder;
use super::jwt::RsaSigner;
use super::Secret;

/// The OAuth scope Vertex AI accepts.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, when the file names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime asked for a service-account assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A parsed credentials file.
#[derive(Debug)]
pub enum GoogleCredentials {
    ServiceAccount(Box<ServiceAccount>),
    AuthorizedUser(AuthorizedUser),
}

#[derive(Debug)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub project_id: Option<String>,
    pub token_uri: String,
    signer: RsaSigner,
}

#[derive(Debug)]
pub struct AuthorizedUser {
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    pub quota_project_id: Option<String>,
    pub token_uri: String,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    project_id: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    quota_project_id: Option<String>,
}

impl GoogleCredentials {
    /// Parses the JSON text of a credentials file. Errors name the missing or
    /// bad field, never a secret value.
    pub fn parse(json: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(json)
            .map_err(|e| format!("not a Google credentials JSON file ({e})"))?;
        let need = |field: Option<String>, name: &str| {
            field
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("credentials file has no `{name}`"))
        };
        let token_uri = file
            .token_uri
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        match file.kind.as_deref() {
            Some("service_account") => {
                let private_key = need(file.private_key, "private_key")?;
                Ok(Self::ServiceAccount(Box::new(ServiceAccount {
                    client_email: need(file.client_email, "client_email")?,
                    private_key_id: file.private_key_id.filter(|k| !k.is_empty()),
                    project_id: file.project_id.filter(|p| !p.is_empty()),
                    token_uri,
                    signer: RsaSigner::from_pem(&private_key)?,
                })))
            }
            Some("authorized_user") => Ok(Self::AuthorizedUser(AuthorizedUser {
                client_id: need(file.client_id, "client_id")?,
                client_secret: Secret::new(need(file.client_secret, "client_secret")?),
                refresh_token: Secret::new(need(file.refresh_token, "refresh_token")?),
                quota_project_id: file.quota_project_id.filter(|p| !p.is_empty()),
                token_uri,
            })),
            Some(other) => Err(format!(
                "credentials type {other:?} is not supported (use a service_account key file or authorized_user application-default credentials)"
            )),
            None => Err("credentials file has no `type`".to_owned()),
        }
    }

    /// The project the file belongs to, used when none is configured.
    pub fn project(&self) -> Option<&str> {
        match self {
            Self::ServiceAccount(sa) => sa.project_id.as_deref(),
            Self::AuthorizedUser(user) => user.quota_project_id.as_deref(),
        }
    }

    pub fn token_uri(&self) -> &str {
        match self {
            Self::ServiceAccount(sa) => &sa.token_uri,
            Self::AuthorizedUser(user) => &user.token_uri,
        }
    }

    /// The form body of a token request made at `now`.
    pub fn token_request(&self, now: SystemTime) -> Result<String, String> {
        let mut form = FormEncoder::default();
        match self {
            Self::ServiceAccount(sa) => {
                form.pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
                form.pair("assertion", &sa.assertion(now)?);
            }
            Self::AuthorizedUser(user) => {
                form.pair("grant_type", "refresh_token");
                form.pair("client_id", &user.client_id);
                form.pair("client_secret", user.client_secret.expose());
                form.pair("refresh_token", user.refresh_token.expose());
            }
        }
        Ok(form.finish())
    }
}

impl ServiceAccount {
    /// The signed JWT asking `token_uri` for a cloud-platform token.
    fn assertion(&self, now: SystemTime) -> Result<String, String> {
        #[derive(serde::Serialize)]
        struct Header<'a> {
            alg: &'a str,
            typ: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            kid: Option<&'a str>,
        }
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "system clock is before 1970".to_owned())?
            .as_secs();
        let header = Header {
            alg: "RS256",
            typ: "JWT",
            kid: self.private_key_id.as_deref(),
        };
        let claims = Claims {
            iss: &self.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &self.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let encode = |e: serde_json::Error| format!("encoding the JWT: {e}");
        let header = serde_json::to_string(&header).map_err(encode)?;
        let claims = serde_json::to_string(&claims).map_err(encode)?;
        self.signer.sign(&header, &claims)
    }
}
