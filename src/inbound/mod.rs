//! Inbound dialects other than OpenAI's: Anthropic Messages, OpenAI
//! Responses and Gemini `generateContent`. A request in one of them goes to
//! a provider of the same wire format as bytes (pass-through); to any other
//! provider it is first converted into an OpenAI chat completions body (the
//! hub), sent through the chat converters every provider already has, and
//! what comes back in the hub's shapes (a `chat.completion`, its
//! `chat.completion.chunk` events, an OpenAI error) is converted back here.
//!
//! Every dialect module offers the same pure functions over bytes:
//! - `to_chat`: the dialect's request body -> a chat completions body;
//! - `from_chat`: a whole `chat.completion` -> the dialect's answer body;
//! - `StreamEncoder`: chat chunks in, the dialect's stream events out;
//! - `write_error`: an error in the dialect's shape.

pub mod anthropic;
mod chat;
pub mod gemini;
pub mod responses;

/// A request the dialect's converter refuses: the client's mistake, answered
/// 400 in the dialect's error shape before anything goes upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// What a hub request needs the driver to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// The client asked for a stream.
    pub stream: bool,
}

/// A hub answer that is not what the chat converters produce (a bug or a
/// broken upstream): the driver answers 502.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadAnswer(pub String);
