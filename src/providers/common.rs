//! What every translated provider family shares: the translation error (and
//! so which side is to blame), token counts, and what the client asked for
//! beyond the body; and, in submodules, what their error and stream
//! translators (and their request tests) share.

pub(crate) mod error;
#[cfg(test)]
pub(crate) mod request_checks;
pub(crate) mod stream;

/// Why a translation failed, and so which side is to blame.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The client's request cannot be expressed upstream (answer 400).
    #[error("{0}")]
    BadRequest(String),
    /// Upstream sent something that is not the Messages API (answer 502, or
    /// end the stream with an error frame).
    #[error("invalid upstream response: {0}")]
    BadResponse(String),
}

impl From<crate::schema::openai::InvalidRequest> for TranslateError {
    fn from(e: crate::schema::openai::InvalidRequest) -> Self {
        TranslateError::BadRequest(e.0)
    }
}

/// Token counts for metrics and cost: input tokens (cache reads and writes
/// included, cache reads also counted apart) and output tokens (thinking
/// included, and counted apart where the provider reports it).
pub use crate::schema::usage::Usage;

/// What the client asked for beyond the body that goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo {
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`.
    pub include_usage: bool,
}
