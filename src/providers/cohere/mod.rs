//! Cohere v2 API: pure translations between the OpenAI dialect (downstream)
//! and Cohere's v2 wire format (upstream), for chat and embeddings.
//!
//! Bytes in, bytes out; nothing here touches a socket. Every function borrows
//! from its input (`Cow<str>`, `&RawValue`) and appends to a caller-owned buffer.
//!
//! - [`translate_request`]: OpenAI chat request → Cohere `POST /v2/chat` body.
//! - [`translate_response`]: Cohere chat response → OpenAI `chat.completion`.
//! - [`translate_error`]: Cohere error body → OpenAI error body and status.
//! - [`StreamTranslator`]: Cohere v2 stream events → OpenAI `chat.completion.chunk` frames.
//! - [`translate_embeddings_request`] / [`translate_embeddings_response`]:
//!   OpenAI `/v1/embeddings` ↔ Cohere `POST /v2/embed`.
//!
//! Cohere's `tool_plan` (the model's plan, written before it calls tools) and
//! `thinking` content are both reported as OpenAI `reasoning_content`.
//!
//! Wire reference: <https://docs.cohere.com/reference/chat>,
//! <https://docs.cohere.com/reference/chat-stream> and
//! <https://docs.cohere.com/reference/embed>.

mod embed;
mod error;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod golden_tests;

pub use super::common::{RequestInfo, TranslateError, Usage};
pub use embed::{translate_embeddings_request, translate_embeddings_response, MAX_EMBED_TEXTS};
pub use error::translate_error;
pub use request::translate_request;
pub use response::translate_response;
pub use stream::StreamTranslator;

/// What the embeddings client asked for beyond the body that goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingsInfo {
    /// `encoding_format: "base64"`: Cohere only returns number arrays, so the
    /// response translation packs them as little-endian `f32` in base64.
    pub base64: bool,
}
