//! Google Gemini `generateContent` API (also served by Vertex AI): pure
//! translations between the OpenAI chat-completions and embeddings dialects
//! (downstream) and Gemini's wire format (upstream).
//!
//! Bytes in, bytes out; nothing here touches a socket. Every function borrows
//! from its input (`Cow<str>`, `&RawValue`) and appends to a caller-owned buffer.
//!
//! - [`translate_request`] + [`request_path`]: OpenAI chat request → Gemini
//!   `POST /models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`)
//!   body; the model goes in the path, not the body.
//! - [`translate_response`]: Gemini `GenerateContentResponse` → OpenAI `chat.completion`.
//! - [`translate_error`]: Gemini (`google.rpc.Status`) error body → OpenAI error
//!   body, status and `Retry-After`.
//! - [`StreamTranslator`]: Gemini SSE chunks → OpenAI `chat.completion.chunk` frames.
//! - [`translate_embeddings_request`] + [`embeddings_path`] +
//!   [`translate_embeddings_response`]: OpenAI embeddings ↔ `batchEmbedContents`;
//!   the `vertex_` three do the same for Vertex AI's `:predict`.
//!
//! Gemini function calls carry no id; the ids we hand the client encode the
//! call's `thoughtSignature` so that it can be sent back (see `tool_id`).
//!
//! Wire reference: <https://ai.google.dev/api/generate-content>,
//! <https://ai.google.dev/gemini-api/docs/thought-signatures> and
//! <https://ai.google.dev/api/embeddings#method:-models.batchembedcontents>.

mod embeddings;
mod error;
mod path;
mod request;
mod response;
mod stream;
mod tool_id;
mod vertex_embeddings;

#[cfg(test)]
mod golden_tests;

pub use super::common::{RequestInfo, TranslateError, Usage};
pub use embeddings::{translate_embeddings_request, translate_embeddings_response, EmbeddingsInfo};
pub use error::translate_error;
pub use path::{embeddings_path, request_path};
pub use request::translate_request;
pub use response::translate_response;
pub use stream::StreamTranslator;
pub use vertex_embeddings::{
    translate_vertex_embeddings_request, translate_vertex_embeddings_response,
    vertex_embeddings_path,
};
