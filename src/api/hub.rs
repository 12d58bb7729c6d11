//! The hub leg of a request in a dialect other than OpenAI's, sent to a
//! provider of another wire format: the client's body is converted once into
//! an OpenAI chat body (`crate::inbound`), which then goes the way a chat
//! request goes (translated, or to a chat upstream, or to the mock), and the
//! chat answer comes back here to be put in the client's dialect: whole,
//! event by event, or as an error.

use super::error::{GatewayError, UpstreamAnswer};
use super::exchange::Exchange;
use crate::http::sse::SseParser;
use crate::inbound::{anthropic, gemini, responses, BadAnswer, Invalid};
use crate::schema::dialect::{Dialect, ErrorShape};

/// The hub body of this request, converted on the first candidate that needs
/// it and kept for the others. `model` is the model the client asked for.
pub(super) fn body<'x>(x: &'x Exchange<'_>, model: &str) -> Result<&'x [u8], GatewayError> {
    x.hub
        .get_or_init(|| convert(x.dialect, x.body(), model))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

fn convert(dialect: Dialect, body: &[u8], model: &str) -> Result<Vec<u8>, GatewayError> {
    let mut out = Vec::with_capacity(body.len() + 256);
    let converted = match dialect {
        Dialect::AnthropicMessages => anthropic::to_chat(body, &mut out),
        Dialect::Responses => responses::to_chat(body, &mut out),
        Dialect::GeminiGenerate => gemini::to_chat(body, model, false, &mut out),
        Dialect::GeminiStream { .. } => gemini::to_chat(body, model, true, &mut out),
        Dialect::OpenAiChat
        | Dialect::OpenAiCompletions
        | Dialect::OpenAiEmbeddings
        | Dialect::AnthropicCountTokens => Err(Invalid(format!(
            "{} does not go through the chat hub",
            dialect.path()
        ))),
    };
    match converted {
        // The chat converters read `stream` from the chat body itself.
        Ok(_) => Ok(out),
        Err(Invalid(message)) => Err(GatewayError::new(400, message)),
    }
}

/// A whole chat answer in the client's dialect.
pub(super) fn whole(
    dialect: Dialect,
    chat: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<(), BadAnswer> {
    match dialect {
        Dialect::AnthropicMessages => anthropic::from_chat(chat, model, out),
        Dialect::Responses => responses::from_chat(chat, model, out),
        Dialect::GeminiGenerate | Dialect::GeminiStream { .. } => {
            gemini::from_chat(chat, model, out)
        }
        // Chat dialects never take the hub: their answer is already chat.
        Dialect::OpenAiChat
        | Dialect::OpenAiCompletions
        | Dialect::OpenAiEmbeddings
        | Dialect::AnthropicCountTokens => {
            out.extend_from_slice(chat);
            Ok(())
        }
    }
}

enum Encoder {
    Anthropic(anthropic::StreamEncoder),
    Responses(responses::StreamEncoder),
    Gemini(gemini::StreamEncoder),
}

/// A chat stream on its way into the client's dialect: the chat frames the
/// converters write are parsed again and each chunk is re-encoded.
pub(super) struct HubStream {
    parser: SseParser,
    encoder: Encoder,
}

impl HubStream {
    /// `None` for a dialect that does not stream through the hub.
    pub fn new(dialect: Dialect, model: &str) -> Option<Self> {
        let encoder = match dialect {
            Dialect::AnthropicMessages => Encoder::Anthropic(anthropic::StreamEncoder::new(model)),
            Dialect::Responses => Encoder::Responses(responses::StreamEncoder::new(model)),
            Dialect::GeminiStream { sse: true } | Dialect::GeminiGenerate => {
                Encoder::Gemini(gemini::StreamEncoder::new(model))
            }
            Dialect::GeminiStream { sse: false } => {
                Encoder::Gemini(gemini::StreamEncoder::new_json_array(model))
            }
            Dialect::OpenAiChat
            | Dialect::OpenAiCompletions
            | Dialect::OpenAiEmbeddings
            | Dialect::AnthropicCountTokens => return None,
        };
        Some(Self {
            parser: SseParser::new(),
            encoder,
        })
    }

    pub fn content_type(&self) -> &'static [u8] {
        match &self.encoder {
            Encoder::Anthropic(e) => e.content_type(),
            Encoder::Responses(e) => e.content_type(),
            Encoder::Gemini(e) => e.content_type(),
        }
    }

    /// Re-encode the chat frames in `chat` (whole events, as the converters
    /// write them) into `out`.
    pub fn feed(&mut self, chat: &[u8], out: &mut Vec<u8>) -> Result<(), BadAnswer> {
        let encoder = &mut self.encoder;
        self.parser.feed(chat, |event| {
            if event.data == b"[DONE]" {
                return Ok(());
            }
            match encoder {
                Encoder::Anthropic(e) => e.on_chunk(event.data, out),
                Encoder::Responses(e) => e.on_chunk(event.data, out),
                Encoder::Gemini(e) => e.on_chunk(event.data, out),
            }
        })
    }

    /// The chat stream ended well.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match &mut self.encoder {
            Encoder::Anthropic(e) => e.finish(out),
            Encoder::Responses(e) => e.finish(out),
            Encoder::Gemini(e) => e.finish(out),
        }
    }

    /// The stream broke off: the dialect's error event(s).
    pub fn fail(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        match &mut self.encoder {
            Encoder::Anthropic(e) => e.fail(status, message, out),
            Encoder::Responses(e) => e.fail(status, message, out),
            Encoder::Gemini(e) => e.fail(status, message, out),
        }
    }
}

// The converters never write an event larger than the parser takes.
impl From<crate::http::sse::EventTooLarge> for BadAnswer {
    fn from(_: crate::http::sse::EventTooLarge) -> Self {
        BadAnswer("a chat event too large to re-encode".into())
    }
}

/// An error body in `shape`, from what an OpenAI error body would say.
pub(super) fn write_error(
    shape: ErrorShape,
    status: u16,
    openai_type: &str,
    message: &str,
    code: Option<&str>,
    out: &mut Vec<u8>,
) {
    match shape {
        ErrorShape::OpenAi => {
            crate::schema::openai::write_error(message, openai_type, code.unwrap_or(""), out)
        }
        ErrorShape::Anthropic => anthropic::write_error(status, openai_type, message, out),
        ErrorShape::Gemini => gemini::write_error(status, openai_type, message, out),
    }
}

/// An upstream's error answer, converted to OpenAI's shape on the chat leg,
/// put in the client's shape.
pub(super) fn reshape(dialect: Dialect, mut err: GatewayError) -> GatewayError {
    let shape = dialect.error_shape();
    if shape == ErrorShape::OpenAi {
        return err;
    }
    if let Some(answer) = err.answer.as_deref_mut() {
        let said = OpenAiError::read(&answer.body);
        let message = said
            .message
            .unwrap_or_else(|| format!("upstream provider answered {}", err.status));
        let mut body = Vec::with_capacity(message.len() + 96);
        write_error(
            shape,
            err.status,
            said.kind.as_deref().unwrap_or("api_error"),
            &message,
            None,
            &mut body,
        );
        *answer = UpstreamAnswer {
            header_lines: std::mem::take(&mut answer.header_lines),
            content_type: Some(b"application/json".to_vec()),
            body,
        };
    }
    err
}

/// The message and type of an OpenAI error body, as far as they are there.
#[derive(Default)]
struct OpenAiError {
    message: Option<String>,
    kind: Option<String>,
}

impl OpenAiError {
    fn read(body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "type")]
            kind: Option<String>,
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(e) => OpenAiError {
                message: e.error.message,
                kind: e.error.kind,
            },
            Err(_) => OpenAiError {
                message: std::str::from_utf8(body)
                    .ok()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.chars().take(1000).collect()),
                kind: None,
            },
        }
    }
}

/// `count_tokens` for a provider that does not count: an estimate, marked
/// as one in `x-ringbridge-token-count: estimate`.
pub(super) fn estimate_tokens(body: &[u8], out: &mut Vec<u8>) -> Result<(), GatewayError> {
    let tokens = anthropic::count_tokens_estimate(body)
        .map_err(|Invalid(message)| GatewayError::new(400, message))?;
    anthropic::write_count_tokens(tokens, out);
    Ok(())
}
