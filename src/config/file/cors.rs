//! `[cors]`: the origins allowed to call from a browser, checked.

use super::schema::CorsFile;
use super::{ranged, ConfigError};
use crate::config::Cors;

const DEFAULT_MAX_AGE_SECS: u64 = 600;
/// Browsers cap it at 2 hours (Chromium) or 24 (Firefox).
const MAX_MAX_AGE_SECS: u64 = 86_400;

pub(super) fn resolve(file: &CorsFile) -> Result<Cors, ConfigError> {
    let mut cors = Cors {
        max_age_secs: ranged(
            "cors.max_age_secs",
            file.max_age_secs,
            DEFAULT_MAX_AGE_SECS,
            0,
            MAX_MAX_AGE_SECS,
        )?,
        ..Cors::default()
    };
    for (i, origin) in file.allowed_origins.iter().enumerate() {
        if origin == "*" {
            cors.any_origin = true;
            continue;
        }
        check_origin(origin).map_err(|why| {
            ConfigError::invalid(format!("cors.allowed_origins[{i}]"), why)
                .with_hint("write an origin as scheme://host[:port], e.g. \"https://app.example.com\", or \"*\" for any")
        })?;
        cors.allowed_origins.push(origin.to_ascii_lowercase());
    }
    Ok(cors)
}

/// An origin is `http(s)://host[:port]`: no path, query or trailing slash.
fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} does not start with http:// or https://"))?;
    if rest.is_empty() {
        return Err(format!("{origin:?} has no host"));
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
    {
        return Err(format!(
            "{origin:?} contains {c:?}; an origin has no path, query or trailing slash"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(origins: &[&str]) -> CorsFile {
        CorsFile {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            max_age_secs: None,
        }
    }

    #[test]
    fn origins_are_checked_with_their_index() {
        let ok = resolve(&file(&["https://App.example.com", "http://localhost:5173"])).unwrap();
        assert!(ok.is_on() && !ok.any_origin);
        assert!(ok.allows(b"https://app.example.com"));
        assert!(!ok.allows(b"https://evil.example.com"));
        assert!(resolve(&file(&["*"])).unwrap().allows(b"https://x"));
        assert!(!resolve(&file(&[])).unwrap().is_on());
        let err = resolve(&file(&["https://a.com", "https://b.com/"])).unwrap_err();
        assert!(err.to_string().contains("cors.allowed_origins[1]"), "{err}");
        let err = resolve(&file(&["app.example.com"])).unwrap_err();
        assert!(err.to_string().contains("cors.allowed_origins[0]"), "{err}");
    }
}
