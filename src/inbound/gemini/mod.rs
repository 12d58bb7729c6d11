//! Google's Gemini API as an inbound dialect: a client speaking
//! `POST /v1beta/models/{model}:generateContent` (or
//! `:streamGenerateContent`, with or without `?alt=sse`) to a model whose
//! provider does not speak Gemini's wire format.
//!
//! - [`parse_path`] and [`alt_sse`]: the model, the method and the stream
//!   framing from the URL (Gemini has no `model` or `stream` in the body);
//! - [`to_chat`]: a `GenerateContentRequest` → a chat completions body (the hub);
//! - [`from_chat`]: a whole `chat.completion` → a `GenerateContentResponse`;
//! - [`StreamEncoder`]: chat chunks → `GenerateContentResponse` pieces, as SSE
//!   ([`StreamEncoder::new`]) or as one streamed JSON array
//!   ([`StreamEncoder::new_json_array`]);
//! - [`write_error`]: an error as a `google.rpc.Status` body.
//!
//! Every field name is read in both of the spellings protobuf's JSON mapping
//! accepts: lowerCamelCase and the original snake_case. The `google-genai`
//! SDK sends both in one body (`inlineData` holding `mime_type`, schemas with
//! `max_items`), so accepting only one would drop what it sends.
//!
//! Pure functions over bytes; only `crate::schema` is used, never the
//! `providers::gemini` translations of the other direction.
//!
//! Wire reference: <https://ai.google.dev/api/generate-content> and
//! <https://ai.google.dev/api/caching#Schema>.

mod contents;
mod error;
mod generation;
mod path;
mod request;
mod response;
mod schema;
mod stream;
mod tools;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod test_support;

pub use error::write_error;
pub use path::{alt_sse, parse_path, Method};
pub use request::to_chat;
pub use response::from_chat;
pub use stream::StreamEncoder;
