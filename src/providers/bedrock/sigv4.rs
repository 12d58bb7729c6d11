//! AWS Signature Version 4 request signing, as pure functions over the
//! request's parts (no clock, no I/O: the caller passes the timestamp).
//!
//! Spec: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.
//! The steps, each a `pub fn` so the AWS test-suite vectors can check them:
//!
//! 1. [`canonical_request`]: method, canonical URI, canonical query,
//!    canonical headers, signed-header list and hex SHA-256 of the payload,
//!    one per line.
//! 2. [`string_to_sign`]: `AWS4-HMAC-SHA256`, timestamp, credential scope
//!    `date/region/service/aws4_request`, hex SHA-256 of step 1.
//! 3. [`signature`]: HMAC-SHA256 chain `AWS4<secret>` → date → region →
//!    service → `aws4_request`, then over step 2, in hex.
//!
//! [`sign`] runs all three and returns the headers to send.

use std::fmt;

use ring::{digest, hmac};

/// The only algorithm this module implements.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Last element of the credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";

/// Length of `amz_date`'s `YYYYMMDD` prefix, the scope date.
const SCOPE_DATE_LEN: usize = 8;

/// An access key pair, and the session token that comes with temporary
/// credentials (STS, instance roles).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    /// Shows the key id only: secrets must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Headers to add to the request, named as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Authorization`.
    pub authorization: String,
    /// `X-Amz-Date`, the `amz_date` that was signed.
    pub x_amz_date: String,
    /// Hex SHA-256 of the payload, as it went into the canonical request.
    /// Bedrock does not require the `X-Amz-Content-Sha256` header; send it
    /// only if it was passed in `headers` (and so signed), since S3-style
    /// services reject an unsigned `x-amz-*` header.
    pub x_amz_content_sha256: String,
    /// `X-Amz-Security-Token`, when the credentials carry a session token
    /// (it is signed).
    pub x_amz_security_token: Option<String>,
}

/// A canonical request and its `SignedHeaders` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    pub text: String,
    /// Lowercase header names, sorted, `;`-separated.
    pub signed_headers: String,
}

/// Signs a request.
///
/// - `path`: the path exactly as it goes on the request line (for Bedrock
///   already percent-encoded once, see [`super::request_path`]); it is
///   dot-segment-normalised and each segment URI-encoded again, as every
///   service but S3 expects.
/// - `query`: the raw query string without `?` (may be empty).
/// - `headers`: other headers to sign (e.g. `content-type`); `host`,
///   `x-amz-date` and `x-amz-security-token` are added here and any caller
///   copies of them ignored.
/// - `amz_date`: the request time as `YYYYMMDD'T'HHMMSS'Z'` (UTC).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> SignedHeaders {
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 3);
    all.push(("host", host));
    all.push(("x-amz-date", amz_date));
    if let Some(token) = &creds.session_token {
        all.push(("x-amz-security-token", token));
    }
    all.extend(headers.iter().copied().filter(|(name, _)| {
        !["host", "x-amz-date", "x-amz-security-token"]
            .iter()
            .any(|own| name.eq_ignore_ascii_case(own))
    }));
    let payload_hash = hex_sha256(payload);
    let canonical = canonical_request(method, path, query, &all, &payload_hash);
    let scope = credential_scope(amz_date, region, service);
    let to_sign = string_to_sign(amz_date, &scope, &canonical.text);
    let sig = signature(
        &creds.secret_access_key,
        scope_date(amz_date),
        region,
        service,
        &to_sign,
    );
    SignedHeaders {
        authorization: format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
            creds.access_key_id, canonical.signed_headers
        ),
        x_amz_date: amz_date.to_owned(),
        x_amz_content_sha256: payload_hash,
        x_amz_security_token: creds.session_token.clone(),
    }
}

/// Step 1. `headers` is the full set to sign (including `host`);
/// `payload_sha256_hex` the lowercase hex SHA-256 of the body.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_sha256_hex: &str,
) -> CanonicalRequest {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_header_value(v)))
        .collect();
    // Stable: repeated headers keep their order when joined with ','.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));

    let mut text = String::with_capacity(256);
    text.push_str(method);
    text.push('\n');
    text.push_str(&canonical_uri(path));
    text.push('\n');
    text.push_str(&canonical_query(query));
    text.push('\n');
    let mut signed_headers = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let name = &sorted[i].0;
        text.push_str(name);
        text.push(':');
        let mut first = true;
        while i < sorted.len() && sorted[i].0 == *name {
            if !first {
                text.push(',');
            }
            text.push_str(&sorted[i].1);
            first = false;
            i += 1;
        }
        text.push('\n');
        if !signed_headers.is_empty() {
            signed_headers.push(';');
        }
        signed_headers.push_str(name);
    }
    text.push('\n');
    text.push_str(&signed_headers);
    text.push('\n');
    text.push_str(payload_sha256_hex);
    CanonicalRequest {
        text,
        signed_headers,
    }
}

/// Step 2. `scope` is `date/region/service/aws4_request`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical_request.as_bytes())
    )
}

/// Step 3: the hex signature. `date` is `YYYYMMDD`.
pub fn signature(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let mut key = Vec::with_capacity(4 + secret_access_key.len());
    key.extend_from_slice(b"AWS4");
    key.extend_from_slice(secret_access_key.as_bytes());
    let mut tag = hmac_sha256(&key, date.as_bytes());
    for part in [region, service, SCOPE_TERMINATOR] {
        tag = hmac_sha256(tag.as_ref(), part.as_bytes());
    }
    hex(hmac_sha256(tag.as_ref(), string_to_sign.as_bytes()).as_ref())
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(amz_date: &str, region: &str, service: &str) -> String {
    format!(
        "{}/{region}/{service}/{SCOPE_TERMINATOR}",
        scope_date(amz_date)
    )
}

fn scope_date(amz_date: &str) -> &str {
    amz_date.get(..SCOPE_DATE_LEN).unwrap_or(amz_date)
}

/// The path with `.` and `..` segments removed and each segment URI-encoded
/// (the `%` of an already-encoded path becomes `%25`); `/` if empty.
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trailing_slash = path.len() > 1 && path.ends_with('/');
    for seg in trimmed.split('/') {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    // `split` yields a final "" for a trailing slash; it is re-added below.
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let mut out = String::with_capacity(path.len() + 8);
    for seg in &segments {
        out.push('/');
        uri_encode_into(seg.as_bytes(), &mut out);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

/// Parameters sorted by encoded name then value, each name and value
/// URI-encoded once (decoded first, so a pre-encoded query is not
/// double-encoded); `name=` for a parameter without a value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = String::new();
            let mut ev = String::new();
            uri_encode_into(&percent_decode(k), &mut ek);
            uri_encode_into(&percent_decode(v), &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&k);
        out.push('=');
        out.push_str(&v);
    }
    out
}

/// Trimmed, with runs of spaces collapsed to one.
fn canonical_header_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word.trim_matches(|c| c == '\t'));
    }
    out
}

/// RFC 3986 encoding as SigV4 defines it: `A-Z a-z 0-9 - _ . ~` kept,
/// every other byte as `%XX` with uppercase hex.
fn uri_encode_into(bytes: &[u8], out: &mut String) {
    crate::http::percent::push_encoded(out, bytes);
}

/// `%XX` → byte; a `%` not followed by two hex digits is kept as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let lo = b.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// Lowercase hex SHA-256.
pub fn hex_sha256(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
