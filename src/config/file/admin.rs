//! `[admin]`: the token guarding the admin endpoints (config reload), from the
//! file or `RINGBRIDGE_ADMIN_TOKEN`.

use super::schema::{AdminFile, MIN_ADMIN_TOKEN_BYTES};
use super::{env_value, key_chars_ok, resolve_secret, ConfigError};
use crate::config::Secret;

/// Environment variable holding the admin token when the file sets none.
pub(crate) const ENV_ADMIN_TOKEN: &str = "RINGBRIDGE_ADMIN_TOKEN";

/// `admin.token` (a literal or `env:VAR`) > `RINGBRIDGE_ADMIN_TOKEN` > none.
/// Errors name the key or variable, never the token.
pub(super) fn resolve(
    file: &AdminFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    let (token, path) = match &file.token {
        Some(raw) => (resolve_secret(raw, "admin.token", env)?, "admin.token"),
        None => match env_value(env, ENV_ADMIN_TOKEN) {
            None => return Ok(None),
            Some(value) if !key_chars_ok(&value) => {
                return Err(ConfigError::invalid(
                    ENV_ADMIN_TOKEN,
                    "the token contains characters not allowed in an HTTP header",
                )
                .with_hint("tokens may contain visible ASCII characters only, no spaces"))
            }
            Some(value) => (Secret::new(value), ENV_ADMIN_TOKEN),
        },
    };
    if token.expose().len() < MIN_ADMIN_TOKEN_BYTES {
        return Err(ConfigError::invalid(
            path,
            format!("the token is shorter than {MIN_ADMIN_TOKEN_BYTES} bytes"),
        )
        .with_hint("it guards config reload: use a random one, e.g. `openssl rand -hex 32`"));
    }
    Ok(Some(token))
}
