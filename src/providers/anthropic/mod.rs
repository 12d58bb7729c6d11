//! Anthropic Messages API: pure translations between the OpenAI chat-completions
//! dialect (downstream) and Anthropic's Messages wire format (upstream).
//!
//! Bytes in, bytes out; nothing here touches a socket. Every function borrows
//! from its input (`Cow<str>`, `&RawValue`) and appends to a caller-owned buffer.
//!
//! - [`translate_request`]: OpenAI chat request → Anthropic `POST /v1/messages` body.
//! - [`translate_response`]: Anthropic message → OpenAI `chat.completion`.
//! - [`translate_error`]: Anthropic error body → OpenAI error body and status.
//! - [`StreamTranslator`]: Anthropic SSE events → OpenAI `chat.completion.chunk` frames.
//!
//! Wire reference: <https://docs.anthropic.com/en/api/messages> and
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming>.

mod error;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod golden_tests;

pub use error::translate_error;
pub use request::translate_request;
pub use response::translate_response;
pub use stream::StreamTranslator;

/// For Bedrock, whose Converse reports Anthropic's token counts.
pub(crate) use response::{TokenCounts, UpstreamUsage};

/// `max_tokens` sent upstream when the client sends neither `max_tokens` nor
/// `max_completion_tokens`; Anthropic requires the field.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

pub use super::common::{RequestInfo, TranslateError, Usage};

/// Value of the `anthropic-version` request header.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
