//! A parsed base URL: what the gateway needs to reach a provider or a token
//! endpoint (scheme, host, port, path prefix). Parsing and checking it is the
//! config's job; this is the shape every layer shares.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

/// A parsed provider base URL such as `https://api.groq.com/openai/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub scheme: Scheme,
    /// Host name or IP literal, without brackets.
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash ("" or "/openai/v1").
    pub path: String,
}
