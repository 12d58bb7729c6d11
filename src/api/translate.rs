//! The translating converters, for providers whose upstream does not speak
//! the client's dialect (Anthropic, Gemini, Cohere, Bedrock). The request body
//! is parsed and rewritten once; the response is converted whole (non-stream)
//! or event by event (stream, in `answer`), with only one event's worth of
//! state kept. Bedrock embeddings may take several upstream calls (`invoke`).

use super::error::GatewayError;
use super::exchange::{no_credentials, send, Exchange, Record};
use super::hub;
use super::respond::Client;
use crate::config::ProviderKind;
use crate::http::response::{push_header, push_header_u64};
use crate::providers::anthropic;
use crate::providers::common::{TranslateError, Usage};
use crate::providers::{bedrock, cohere, gemini};
use crate::router::{NoToken, Provider};
use crate::schema::dialect::Dialect;
use crate::upstream::{BodyReader, OutgoingRequest};
use std::time::SystemTime;

mod answer;
mod invoke;

/// Client headers worth passing to Anthropic (beta feature flags).
const FORWARDED_TO_ANTHROPIC: [&[u8]; 1] = [b"anthropic-beta"];

/// The translated upstream wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// A chat completions upstream, on the hub leg of another dialect
    /// (`api::hub`): the chat body goes as it is, and so does the answer.
    OpenAi,
    Anthropic,
    Gemini,
    /// Gemini's chat wire format on Vertex AI, which embeds through `:predict`.
    Vertex,
    Cohere,
    Bedrock,
}

/// The translated request: where it goes and what the answer needs.
struct Prepared {
    /// Path below the provider's base URL, query included.
    path: String,
    stream: bool,
    include_usage: bool,
    /// Embeddings asked as base64 (translated upstreams answer floats).
    base64: bool,
}

/// Translate the client's body into `out`.
fn prepare(
    family: Family,
    dialect: Dialect,
    body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Prepared, TranslateError> {
    let chat = |path: String, stream: bool, include_usage: bool| Prepared {
        path,
        stream,
        include_usage,
        base64: false,
    };
    let embed = |path: String, base64: bool| Prepared {
        path,
        stream: false,
        include_usage: false,
        base64,
    };
    Ok(match (family, dialect) {
        (Family::OpenAi, _) => {
            return Err(TranslateError::BadRequest(
                "chat bodies are sent by chat_leg, not prepare".into(),
            ))
        }
        (Family::Anthropic, _) => {
            let i = anthropic::translate_request(body, model, out)?;
            chat("/v1/messages".into(), i.stream, i.include_usage)
        }
        (Family::Gemini, Dialect::OpenAiEmbeddings) => {
            let i = gemini::translate_embeddings_request(body, model, out)?;
            embed(gemini::embeddings_path(model), i.base64)
        }
        (Family::Vertex, Dialect::OpenAiEmbeddings) => {
            let i = gemini::translate_vertex_embeddings_request(body, out)?;
            embed(gemini::vertex_embeddings_path(model), i.base64)
        }
        (Family::Gemini | Family::Vertex, _) => {
            let i = gemini::translate_request(body, out)?;
            chat(
                gemini::request_path(model, i.stream),
                i.stream,
                i.include_usage,
            )
        }
        (Family::Cohere, Dialect::OpenAiEmbeddings) => {
            let i = cohere::translate_embeddings_request(body, model, out)?;
            embed("/v2/embed".into(), i.base64)
        }
        (Family::Cohere, _) => {
            let i = cohere::translate_request(body, model, out)?;
            chat("/v2/chat".into(), i.stream, i.include_usage)
        }
        (Family::Bedrock, Dialect::OpenAiEmbeddings) => {
            return Err(TranslateError::BadRequest(
                "bedrock embeddings are sent by invoke::embeddings, not prepare".into(),
            ))
        }
        (Family::Bedrock, _) => {
            let i = bedrock::translate_request(body, out)?;
            chat(
                bedrock::request_path(model, i.stream),
                i.stream,
                i.include_usage,
            )
        }
    })
}

/// Convert a complete 2xx answer.
fn translate_answer(
    family: Family,
    dialect: Dialect,
    prepared: &Prepared,
    payload: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Usage, TranslateError> {
    match (family, dialect) {
        (Family::OpenAi, _) => {
            out.extend_from_slice(payload);
            Ok(crate::schema::usage::scan_usage(payload))
        }
        (Family::Anthropic, _) => anthropic::translate_response(payload, model, out),
        (Family::Gemini, Dialect::OpenAiEmbeddings) => gemini::translate_embeddings_response(
            payload,
            model,
            gemini::EmbeddingsInfo {
                base64: prepared.base64,
            },
            out,
        ),
        (Family::Vertex, Dialect::OpenAiEmbeddings) => {
            gemini::translate_vertex_embeddings_response(
                payload,
                model,
                gemini::EmbeddingsInfo {
                    base64: prepared.base64,
                },
                out,
            )
        }
        (Family::Gemini | Family::Vertex, _) => gemini::translate_response(payload, model, out),
        (Family::Cohere, Dialect::OpenAiEmbeddings) => {
            cohere::translate_embeddings_response(payload, model, prepared.base64, out)
        }
        (Family::Cohere, _) => cohere::translate_response(payload, model, out),
        (Family::Bedrock, _) => bedrock::translate_response(payload, model, out),
    }
}

/// Convert an error answer; returns the client's status and a retry hint in seconds.
fn translate_error(
    family: Family,
    status: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> (u16, Option<u64>) {
    match family {
        Family::OpenAi => {
            out.extend_from_slice(payload);
            (status, None)
        }
        Family::Anthropic => (anthropic::translate_error(status, payload, out), None),
        Family::Gemini | Family::Vertex => gemini::translate_error(status, payload, out),
        Family::Cohere => (cohere::translate_error(status, payload, out), None),
        Family::Bedrock => (bedrock::translate_error(status, payload, out), None),
    }
}

/// One family's stream state.
enum StreamTranslator {
    OpenAi(ChatRelay),
    Anthropic(anthropic::StreamTranslator),
    Gemini(gemini::StreamTranslator),
    Cohere(cohere::StreamTranslator),
    Bedrock(bedrock::StreamTranslator),
}

impl StreamTranslator {
    fn new(family: Family, model: &str, include_usage: bool) -> Self {
        match family {
            Family::OpenAi => Self::OpenAi(ChatRelay::default()),
            Family::Anthropic => {
                Self::Anthropic(anthropic::StreamTranslator::new(model, include_usage))
            }
            Family::Gemini | Family::Vertex => {
                Self::Gemini(gemini::StreamTranslator::new(model, include_usage))
            }
            Family::Cohere => Self::Cohere(cohere::StreamTranslator::new(model, include_usage)),
            Family::Bedrock => Self::Bedrock(bedrock::StreamTranslator::new(model, include_usage)),
        }
    }

    fn on_event(
        &mut self,
        name: &str,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TranslateError> {
        match self {
            Self::OpenAi(t) => {
                t.on_event(data, out);
                Ok(())
            }
            Self::Anthropic(t) => t.on_event(name, data, out),
            Self::Gemini(t) => t.on_event(name, data, out),
            Self::Cohere(t) => t.on_event(name, data, out),
            Self::Bedrock(_) => Err(TranslateError::BadResponse(
                "Bedrock streams are AWS event streams, not server-sent events".into(),
            )),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            Self::OpenAi(_) => {}
            Self::Anthropic(t) => t.finish(out),
            Self::Gemini(t) => t.finish(out),
            Self::Cohere(t) => t.finish(out),
            Self::Bedrock(t) => t.finish(out),
        }
    }

    fn usage(&self) -> Usage {
        match self {
            Self::OpenAi(t) => t.usage,
            Self::Anthropic(t) => t.usage(),
            Self::Gemini(t) => t.usage(),
            Self::Cohere(t) => t.usage(),
            Self::Bedrock(t) => t.usage(),
        }
    }
}

/// A chat upstream's stream on the hub leg: its chunks pass as they are
/// (the hub re-encodes them), their usage read on the way.
#[derive(Default)]
struct ChatRelay {
    usage: Usage,
}

impl ChatRelay {
    fn on_event(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data == b"[DONE]" {
            return;
        }
        if memchr::memmem::find(data, b"\"usage\"").is_some() {
            let usage = crate::schema::usage::scan_usage(data);
            if usage != Usage::default() {
                self.usage = usage;
            }
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\n\n");
    }
}

/// The chat body of the hub leg for a chat upstream, with the upstream's
/// model spliced in, and where it goes (Azure by deployment).
fn chat_leg(
    provider: &Provider,
    body: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<Prepared, TranslateError> {
    let peeked = crate::schema::peek::peek(body)
        .map_err(|e| TranslateError::BadRequest(format!("chat body: {e}")))?;
    let Some(range) = peeked.model else {
        return Err(TranslateError::BadRequest(
            "chat body without a model".into(),
        ));
    };
    let from = out.len();
    crate::schema::peek::Splice::new(&range, None).write(out, body, model);
    if matches!(provider.kind(), ProviderKind::OpenAi | ProviderKind::Azure) {
        // OpenAI's reasoning models refuse `max_tokens`; every OpenAI model
        // takes `max_completion_tokens`. The hub writes the name other
        // servers know.
        rename_top_level_key(out, from, b"max_tokens", "max_completion_tokens");
    }
    let mut path = String::with_capacity(64);
    if provider.spec.deployment_in_path {
        path.push_str("/openai/deployments/");
        let mut encoded = Vec::new();
        crate::http::percent::push_encoded_bytes(&mut encoded, model.as_bytes());
        path.push_str(&String::from_utf8_lossy(&encoded));
        path.push_str("/chat/completions?api-version=");
        path.push_str(&provider.settings.api_version);
    } else {
        path.push_str("/chat/completions");
    }
    let stream = peeked.stream;
    Ok(Prepared {
        path,
        stream,
        include_usage: stream,
        base64: false,
    })
}

/// Rename the top-level key `from_name` of the JSON object in `buf[at..]`.
fn rename_top_level_key(buf: &mut Vec<u8>, at: usize, from_name: &[u8], to: &str) {
    if let Some(key) = crate::schema::peek::top_level_key_named(&buf[at..], from_name) {
        let key = at + key.start..at + key.end;
        buf.splice(key, to.bytes());
    }
}

/// One translated attempt: translate the body, build, send, and convert the
/// answer (whole, or event by event for a 2xx stream).
#[allow(clippy::too_many_arguments)]
pub(super) async fn attempt<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &'a Provider,
    family: Family,
    chat_body: &[u8],
    client_model: &str,
    upstream_model: &str,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let worker = x.worker;
    if family == Family::Bedrock && x.dialect == Dialect::OpenAiEmbeddings {
        // InvokeModel embeds one Titan text per call, and a Cohere answer's
        // token count is only in a response header: see `invoke`.
        return invoke::embeddings(x, client, provider, client_model, upstream_model, rec).await;
    }
    let mut body = worker.take_buf();
    let prepared = match family {
        Family::OpenAi => chat_leg(provider, chat_body, upstream_model, &mut body),
        _ => prepare(family, x.dialect, chat_body, upstream_model, &mut body),
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            worker.give_buf(body);
            return Err(refused(&e));
        }
    };
    let mut up = worker.take_buf();
    let built = build_request(&mut up, x, provider, family, &body, &prepared, rec.key);
    worker.give_buf(body);
    if let Err(missing) = built {
        worker.give_buf(up);
        return Err(no_credentials(provider, missing));
    }
    let resp = send(x, client, provider, OutgoingRequest::whole(up), rec).await?;
    let reader = BodyReader::new(resp, provider.settings.timeouts.stream_idle);
    let status = reader.head.status;
    if !(200..300).contains(&status) || !prepared.stream {
        let mut answer =
            answer::whole(x, provider, reader, family, &prepared, client_model, rec).await?;
        if x.dialect.through_hub() {
            let mut encoded = Vec::with_capacity(answer.len() + 256);
            hub::whole(x.dialect, &answer, client_model, &mut encoded).map_err(|e| {
                GatewayError::new(502, format!("the answer could not be converted: {e}"))
                    .with_provider(provider.name())
            })?;
            answer = encoded;
        }
        rec.status = 200;
        answer::write_json(x, client, provider, 200, &answer, rec).await
    } else {
        rec.status = 200;
        answer::stream(
            x,
            client,
            provider,
            reader,
            family,
            client_model,
            prepared.include_usage,
            rec,
        )
        .await
    }
}

/// A request the translator cannot express upstream: the client's mistake.
fn refused(e: &TranslateError) -> GatewayError {
    GatewayError::new(400, e.to_string())
}

fn build_request(
    out: &mut Vec<u8>,
    x: &Exchange<'_>,
    provider: &Provider,
    family: Family,
    body: &[u8],
    prepared: &Prepared,
    key: usize,
) -> Result<(), NoToken> {
    let (rbuf, req) = (x.rbuf, x.req);
    let stream = prepared.stream;
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(provider.settings.base_url.path.as_bytes());
    out.extend_from_slice(prepared.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(out, b"host", provider.origin.host_header.as_bytes());
    provider.push_auth(key, out)?;
    push_header(out, b"content-type", b"application/json");
    let accept: &[u8] = match stream {
        true => provider.spec.stream_framing.accept(),
        false => b"application/json",
    };
    push_header(out, b"accept", accept);
    if let Some(aws) = &provider.settings.aws {
        let mut path = String::with_capacity(64);
        path.push_str(&provider.settings.base_url.path);
        path.push_str(&prepared.path);
        let host = &provider.origin.host_header;
        bedrock::push_signed_headers(out, aws, host, &path, body, SystemTime::now());
    }
    for h in &req.head.headers {
        let name = h.name(rbuf);
        if family == Family::Anthropic
            && FORWARDED_TO_ANTHROPIC
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
        {
            push_header(out, name, h.value(rbuf));
        }
    }
    push_header(out, b"x-request-id", x.id.as_bytes());
    super::exchange::push_traceparent(out, x);
    push_header_u64(out, b"content-length", body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

fn static_reason(e: &TranslateError) -> &'static str {
    match e {
        TranslateError::BadRequest(_) => "request could not be translated",
        TranslateError::BadResponse(_) => "response could not be translated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_leg_renames_only_the_top_level_key() {
        let mut buf = b"HEAD".to_vec();
        buf.extend_from_slice(br#"{"messages":[{"content":"max_tokens"}],"max_tokens":9}"#);
        rename_top_level_key(&mut buf, 4, b"max_tokens", "max_completion_tokens");
        assert_eq!(
            &buf[..],
            br#"HEAD{"messages":[{"content":"max_tokens"}],"max_completion_tokens":9}"#
        );
        let mut none = br#"{"a":1}"#.to_vec();
        rename_top_level_key(&mut none, 0, b"max_tokens", "max_completion_tokens");
        assert_eq!(&none[..], br#"{"a":1}"#);
    }
}
