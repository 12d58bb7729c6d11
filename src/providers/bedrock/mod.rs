//! AWS Bedrock: pure translations between the OpenAI chat-completions and
//! embeddings dialect (downstream) and Bedrock's Converse / ConverseStream
//! and InvokeModel wire formats (upstream), plus the two AWS wire pieces they
//! need: the `application/vnd.amazon.eventstream` framing of stream bodies
//! and SigV4 request signing.
//!
//! Bytes in, bytes out; nothing here touches a socket or reads a clock.
//!
//! - [`request_path`]: `/model/{id}/converse` or `/converse-stream`.
//! - [`translate_request`]: OpenAI chat request → Converse request body.
//! - [`translate_response`]: Converse response → OpenAI `chat.completion`.
//! - [`translate_error`]: Bedrock error body → OpenAI error body and status.
//! - [`invoke_path`], [`plan_embeddings`]: OpenAI embeddings → InvokeModel
//!   calls to a Titan or Cohere embedder, and their answers → one OpenAI list.
//! - [`eventstream::Decoder`]: body bytes → event-stream messages.
//! - [`StreamTranslator`]: ConverseStream messages → OpenAI chunk frames.
//! - [`sigv4::sign`]: the `Authorization` and `X-Amz-*` headers.
//!
//! Wire reference: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>
//! and `API_runtime_ConverseStream.html` beside it.

mod crc32;
mod embed;
mod error;
pub mod eventstream;
mod request;
mod response;
mod signing;
pub mod sigv4;
mod stream;

#[cfg(test)]
mod golden_tests;

pub use super::common::{RequestInfo, TranslateError, Usage};
pub use embed::{plan_embeddings, EmbeddingModel, EmbeddingsPlan, MAX_COHERE_TEXTS, MAX_INPUTS};
pub use error::{error_type_status, translate_error};
pub use request::translate_request;
pub use response::translate_response;
pub use signing::push_signed_headers;
pub use stream::StreamTranslator;

/// SigV4 service name for the Bedrock runtime.
pub const SIGNING_SERVICE: &str = "bedrock";

/// Upstream host for `region`: `bedrock-runtime.<region>.amazonaws.com`.
pub fn runtime_host(region: &str) -> String {
    format!("bedrock-runtime.{region}.amazonaws.com")
}

/// The request path for `model`: `/model/{id}/converse`, or
/// `/model/{id}/converse-stream` when `stream`.
///
/// The model id (or inference-profile ARN) is percent-encoded as one path
/// segment, so `:` becomes `%3A` and `/` becomes `%2F`; [`sigv4::sign`]
/// encodes it once more for the canonical request, as AWS expects.
pub fn request_path(model: &str, stream: bool) -> String {
    model_path(
        model,
        if stream {
            "/converse-stream"
        } else {
            "/converse"
        },
    )
}

/// The InvokeModel path for `model`, `/model/{id}/invoke`, the id encoded
/// as in [`request_path`].
pub fn invoke_path(model: &str) -> String {
    model_path(model, "/invoke")
}

fn model_path(model: &str, action: &str) -> String {
    let mut path = String::with_capacity(model.len() + 32);
    path.push_str("/model/");
    crate::http::percent::push_encoded(&mut path, model.as_bytes());
    path.push_str(action);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_path_encodes_model_id_as_one_segment() {
        assert_eq!(
            request_path("anthropic.claude-3-haiku-20240307-v1:0", true),
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        assert_eq!(
            request_path("arn:aws:bedrock:us-east-1:123:inference-profile/x", false),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fx/converse"
        );
        assert_eq!(
            invoke_path("amazon.titan-embed-text-v2:0"),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(
            runtime_host("eu-west-1"),
            "bedrock-runtime.eu-west-1.amazonaws.com"
        );
    }
}
