//! OAuth token endpoints, for gateways that fetch their own access tokens:
//! Google's (`POST /token`: the service-account JWT grant and the
//! refresh-token grant) and Microsoft Entra ID's (`POST
//! /{tenant}/oauth2/v2.0/token`: client credentials). Tokens are
//! `mock-google-N` / `mock-entra-N`; the provider routes accept only tokens
//! this process issued ([`issued`]).
//!
//! The JWT is checked for shape (three base64url parts, `alg: RS256`, the
//! claims Google requires), not for its signature: the gateway's own tests
//! verify signatures against the key.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Deserialize;

/// Tokens issued since start (not reset by `/__reset_stats`, so a reset never
/// invalidates tokens a gateway holds).
static ISSUED: AtomicU64 = AtomicU64::new(0);

/// Lifetime announced for every token.
pub const EXPIRES_IN_SECS: u64 = 3599;

/// Which token endpoint a path is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Issuer {
    Google,
    Entra,
}

impl Issuer {
    /// `/token` (Google) or `/{tenant}/oauth2/v2.0/token` (Entra ID).
    pub fn of_path(path: &[u8]) -> Option<Issuer> {
        if path == b"/token" {
            return Some(Issuer::Google);
        }
        let tenant = path
            .strip_prefix(b"/")?
            .strip_suffix(b"/oauth2/v2.0/token")?;
        (!tenant.is_empty() && !tenant.contains(&b'/')).then_some(Issuer::Entra)
    }

    fn prefix(self) -> &'static str {
        match self {
            Issuer::Google => "mock-google-",
            Issuer::Entra => "mock-entra-",
        }
    }
}

/// Tokens issued so far (for `/__stats`).
pub fn issued_count() -> u64 {
    ISSUED.load(Relaxed)
}

/// True if `authorization` is `Bearer <a token this process issued for issuer>`.
pub fn issued(issuer: Issuer, authorization: &[u8]) -> bool {
    let Some(token) = authorization.strip_prefix(b"Bearer ") else {
        return false;
    };
    let Some(n) = token.strip_prefix(issuer.prefix().as_bytes()) else {
        return false;
    };
    std::str::from_utf8(n)
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n >= 1 && n <= issued_count())
}

/// Answers a token request: `(status, JSON body)`.
pub fn token_response(issuer: Issuer, form: &[u8]) -> (u16, String) {
    match check(issuer, form) {
        Ok(()) => {
            let n = ISSUED.fetch_add(1, Relaxed) + 1;
            let body = format!(
                r#"{{"access_token":"{}{n}","expires_in":{EXPIRES_IN_SECS},"token_type":"Bearer"}}"#,
                issuer.prefix()
            );
            (200, body)
        }
        Err((error, description)) => (
            400,
            serde_json::json!({"error": error, "error_description": description}).to_string(),
        ),
    }
}

type Refusal = (&'static str, String);

fn check(issuer: Issuer, form: &[u8]) -> Result<(), Refusal> {
    let invalid = |what: String| ("invalid_request", what);
    let grant = field(form, "grant_type").ok_or_else(|| invalid("grant_type missing".into()))?;
    match (issuer, grant.as_str()) {
        (Issuer::Google, "urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let jwt =
                field(form, "assertion").ok_or_else(|| invalid("assertion missing".into()))?;
            check_jwt(&jwt).map_err(|e| ("invalid_grant", e))
        }
        (Issuer::Google, "refresh_token") => {
            for key in ["client_id", "client_secret", "refresh_token"] {
                field(form, key).ok_or_else(|| invalid(format!("{key} missing")))?;
            }
            Ok(())
        }
        (Issuer::Entra, "client_credentials") => {
            for key in ["client_id", "client_secret"] {
                field(form, key).ok_or_else(|| invalid(format!("AADSTS900144: {key} missing")))?;
            }
            let scope = field(form, "scope").unwrap_or_default();
            if !scope.ends_with("/.default") {
                return Err((
                    "invalid_scope",
                    format!("AADSTS1002012: scope {scope:?} is not a /.default scope"),
                ));
            }
            Ok(())
        }
        (_, other) => Err(("unsupported_grant_type", format!("grant_type {other:?}"))),
    }
}

fn check_jwt(jwt: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    #[derive(Deserialize)]
    struct Claims {
        iss: String,
        scope: String,
        aud: String,
        iat: u64,
        exp: u64,
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("the assertion is not a JWT".into());
    };
    let header: Header =
        serde_json::from_slice(&base64url(header)?).map_err(|e| format!("JWT header: {e}"))?;
    if header.alg != "RS256" {
        return Err(format!("JWT alg {:?}, expected RS256", header.alg));
    }
    let claims: Claims =
        serde_json::from_slice(&base64url(claims)?).map_err(|e| format!("JWT claims: {e}"))?;
    if claims.iss.is_empty() || claims.scope.is_empty() || claims.aud.is_empty() {
        return Err("JWT claims iss, scope and aud must be set".into());
    }
    if claims.exp <= claims.iat || claims.exp - claims.iat > 3600 {
        return Err("JWT lifetime must be positive and at most one hour".into());
    }
    if base64url(signature)?.len() < 256 {
        return Err("JWT signature shorter than an RSA-2048 signature".into());
    }
    Ok(())
}

/// Unpadded URL-safe base64 to bytes.
fn base64url(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err("JWT part is not base64url".into()),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// The percent-decoded value of `key` in a form body.
fn field(form: &[u8], key: &str) -> Option<String> {
    form.split(|&b| b == b'&').find_map(|pair| {
        let value = pair.strip_prefix(key.as_bytes())?.strip_prefix(b"=")?;
        let mut out = Vec::with_capacity(value.len());
        let mut i = 0;
        while i < value.len() {
            match value[i] {
                b'%' if i + 2 < value.len() => {
                    let hex = std::str::from_utf8(&value[i + 1..i + 3]).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    fn jwt(alg: &str, lifetime: u64) -> String {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        let claims = b64(format!(
            r#"{{"iss":"a@b","scope":"s","aud":"http://x/token","iat":100,"exp":{}}}"#,
            100 + lifetime
        )
        .as_bytes());
        format!("{header}.{claims}.{}", b64(&[7u8; 256]))
    }

    #[test]
    fn paths_name_their_issuer() {
        assert_eq!(Issuer::of_path(b"/token"), Some(Issuer::Google));
        assert_eq!(
            Issuer::of_path(b"/contoso/oauth2/v2.0/token"),
            Some(Issuer::Entra)
        );
        assert_eq!(Issuer::of_path(b"//oauth2/v2.0/token"), None);
        assert_eq!(Issuer::of_path(b"/a/b/oauth2/v2.0/token"), None);
        assert_eq!(Issuer::of_path(b"/v1/token"), None);
    }

    #[test]
    fn grants_are_checked_and_tokens_accepted_only_once_issued() {
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            jwt("RS256", 3600)
        );
        let (status, body) = token_response(Issuer::Google, form.as_bytes());
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = v["access_token"].as_str().unwrap();
        assert!(issued(Issuer::Google, format!("Bearer {token}").as_bytes()));
        assert!(!issued(Issuer::Entra, format!("Bearer {token}").as_bytes()));
        assert!(!issued(Issuer::Google, b"Bearer mock-google-999999"));
        assert!(!issued(Issuer::Google, token.as_bytes()));

        for bad in [jwt("HS256", 3600), jwt("RS256", 7200), "a.b".into()] {
            let form = format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={bad}"
            );
            assert_eq!(token_response(Issuer::Google, form.as_bytes()).0, 400);
        }
        let ok = b"grant_type=client_credentials&client_id=c&client_secret=s&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default";
        assert_eq!(token_response(Issuer::Entra, ok).0, 200);
        let (status, body) = token_response(
            Issuer::Entra,
            b"grant_type=client_credentials&client_id=c&client_secret=s&scope=x",
        );
        assert_eq!(status, 400);
        assert!(body.contains("invalid_scope"));
        assert_eq!(token_response(Issuer::Entra, b"grant_type=password").0, 400);
        assert_eq!(
            token_response(
                Issuer::Google,
                b"grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=r"
            )
            .0,
            200
        );
    }
}
