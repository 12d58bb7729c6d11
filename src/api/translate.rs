//! The translating path, for providers whose upstream does not speak the
//! OpenAI dialect (Anthropic, Gemini, Cohere, Bedrock). The request body is
//! parsed and rewritten once; the response is converted whole (non-stream)
//! or event by event (stream), with only one event's worth of state kept.
//! Bedrock embeddings may take several upstream calls (`invoke`).

use std::time::{Duration, Instant};

use super::body::BodyState;
use super::connection::{Client, Request};
use super::drain::{is_shutdown_cut, Drain};
use super::error::ApiError;
use super::proxy::{send, Routed};
use super::respond;
use super::Endpoint;
use crate::config::{ProviderKind, WireFormat};
use crate::http::io::{read_append_timeout, write_all};
use crate::http::response::{push_chunk, push_header, push_header_u64, LAST_CHUNK};
use crate::http::sse::{EventTooLarge, SseParser};
use crate::providers::anthropic::{self, TranslateError};
use crate::providers::{bedrock, cohere, gemini};
use crate::router::{NoToken, Provider};
use crate::schema::usage::Usage;
use crate::upstream::{Response, UpstreamError};

mod invoke;

/// Largest non-stream upstream body the gateway will buffer to translate.
const MAX_TRANSLATED_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Client headers worth passing to Anthropic (beta feature flags).
const FORWARDED_TO_ANTHROPIC: [&[u8]; 1] = [b"anthropic-beta"];

/// The translated upstream dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Anthropic,
    Gemini,
    /// Gemini's chat wire format on Vertex AI, which embeds through `:predict`.
    Vertex,
    Cohere,
    Bedrock,
}

impl Family {
    fn of(provider: &Provider) -> Option<Family> {
        match provider.kind().wire_format() {
            WireFormat::Anthropic => Some(Family::Anthropic),
            WireFormat::Gemini if provider.kind() == ProviderKind::Vertex => Some(Family::Vertex),
            WireFormat::Gemini => Some(Family::Gemini),
            WireFormat::Cohere => Some(Family::Cohere),
            WireFormat::Bedrock => Some(Family::Bedrock),
            WireFormat::OpenAi | WireFormat::Mock => None,
        }
    }

    fn serves(self, endpoint: Endpoint) -> bool {
        match self {
            Family::Anthropic => endpoint == Endpoint::ChatCompletions,
            Family::Gemini | Family::Vertex | Family::Cohere | Family::Bedrock => {
                endpoint != Endpoint::Completions
            }
        }
    }
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
    endpoint: Endpoint,
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
    Ok(match (family, endpoint) {
        (Family::Anthropic, _) => {
            let i = anthropic::translate_request(body, model, out)?;
            chat("/v1/messages".into(), i.stream, i.include_usage)
        }
        (Family::Gemini, Endpoint::Embeddings) => {
            let i = gemini::translate_embeddings_request(body, model, out)?;
            embed(gemini::embeddings_path(model), i.base64)
        }
        (Family::Vertex, Endpoint::Embeddings) => {
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
        (Family::Cohere, Endpoint::Embeddings) => {
            let i = cohere::translate_embeddings_request(body, model, out)?;
            embed("/v2/embed".into(), i.base64)
        }
        (Family::Cohere, _) => {
            let i = cohere::translate_request(body, model, out)?;
            chat("/v2/chat".into(), i.stream, i.include_usage)
        }
        (Family::Bedrock, Endpoint::Embeddings) => {
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
    endpoint: Endpoint,
    prepared: &Prepared,
    payload: &[u8],
    model: &str,
    out: &mut Vec<u8>,
) -> Result<anthropic::Usage, TranslateError> {
    match (family, endpoint) {
        (Family::Anthropic, _) => anthropic::translate_response(payload, model, out),
        (Family::Gemini, Endpoint::Embeddings) => gemini::translate_embeddings_response(
            payload,
            model,
            gemini::EmbeddingsInfo {
                base64: prepared.base64,
            },
            out,
        ),
        (Family::Vertex, Endpoint::Embeddings) => gemini::translate_vertex_embeddings_response(
            payload,
            model,
            gemini::EmbeddingsInfo {
                base64: prepared.base64,
            },
            out,
        ),
        (Family::Gemini | Family::Vertex, _) => gemini::translate_response(payload, model, out),
        (Family::Cohere, Endpoint::Embeddings) => {
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
        Family::Anthropic => (anthropic::translate_error(status, payload, out), None),
        Family::Gemini | Family::Vertex => gemini::translate_error(status, payload, out),
        Family::Cohere => (cohere::translate_error(status, payload, out), None),
        Family::Bedrock => (bedrock::translate_error(status, payload, out), None),
    }
}

/// One family's stream state.
enum StreamTranslator {
    Anthropic(anthropic::StreamTranslator),
    Gemini(gemini::StreamTranslator),
    Cohere(cohere::StreamTranslator),
    Bedrock(bedrock::StreamTranslator),
}

impl StreamTranslator {
    fn new(family: Family, model: &str, include_usage: bool) -> Self {
        match family {
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
            Self::Anthropic(t) => t.finish(out),
            Self::Gemini(t) => t.finish(out),
            Self::Cohere(t) => t.finish(out),
            Self::Bedrock(t) => t.finish(out),
        }
    }

    fn usage(&self) -> anthropic::Usage {
        match self {
            Self::Anthropic(t) => t.usage(),
            Self::Gemini(t) => t.usage(),
            Self::Cohere(t) => t.usage(),
            Self::Bedrock(t) => t.usage(),
        }
    }
}

pub(super) async fn forward(
    ctx: &Routed<'_>,
    rbuf: &[u8],
    client: &mut Client,
    client_model: &str,
) -> bool {
    let (worker, provider, req) = (ctx.worker, ctx.provider, ctx.req);
    let Some(family) = Family::of(provider) else {
        unreachable!("forward is only called for translated providers")
    };
    if !family.serves(ctx.endpoint) {
        let err = ApiError::new(
            400,
            format!(
                "provider `{}` ({}) does not serve /v1/{}",
                provider.name(),
                provider.kind().name(),
                ctx.endpoint.upstream_path().trim_start_matches('/')
            ),
        );
        ctx.record_unanswered(400);
        return respond::error(client, &err, ctx.keep_alive, Some(ctx.id)).await && ctx.keep_alive;
    }
    if family == Family::Bedrock && ctx.endpoint == Endpoint::Embeddings {
        // InvokeModel embeds one Titan text per call, and a Cohere answer's
        // token count is only in a response header: see `invoke`.
        return invoke::embeddings(ctx, rbuf, client, client_model).await;
    }
    let mut body = worker.take_buf();
    let prepared = match prepare(
        family,
        ctx.endpoint,
        &rbuf[req.body.clone()],
        ctx.model,
        &mut body,
    ) {
        Ok(p) => p,
        Err(e) => {
            worker.give_buf(body);
            return refuse(ctx, client, &e).await;
        }
    };
    let mut up = worker.take_buf();
    let built = build_request(&mut up, ctx, family, rbuf, req, &body, &prepared);
    worker.give_buf(body);
    if let Err(missing) = built {
        worker.give_buf(up);
        return ctx.refuse_without_credentials(client, missing).await;
    }

    let resp = match send(ctx, client, up).await {
        Ok(r) => r,
        Err(keep) => return keep,
    };
    let ttfb = resp.ttfb;
    let status = resp.head.status;
    let (outcome, usage) = if !(200..300).contains(&status) || !prepared.stream {
        whole(ctx, client, resp, client_model, family, &prepared).await
    } else {
        stream(
            ctx,
            client,
            resp,
            client_model,
            family,
            prepared.include_usage,
        )
        .await
    };
    ctx.record(outcome.status, outcome.upstream_wait, Some(ttfb), usage);
    outcome.client_reusable && ctx.keep_alive
}

fn build_request(
    out: &mut Vec<u8>,
    ctx: &Routed<'_>,
    family: Family,
    rbuf: &[u8],
    req: &Request,
    body: &[u8],
    prepared: &Prepared,
) -> Result<(), NoToken> {
    let provider = ctx.provider;
    let stream = prepared.stream;
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(provider.settings.base_url.path.as_bytes());
    out.extend_from_slice(prepared.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(out, b"host", provider.origin.host_header.as_bytes());
    let key = ctx.worker.next_key(provider.auth_lines.len());
    provider.push_auth(key, out)?;
    push_header(out, b"content-type", b"application/json");
    let accept: &[u8] = match (family, stream) {
        (Family::Bedrock, true) => b"application/vnd.amazon.eventstream",
        (_, true) => b"text/event-stream",
        (_, false) => b"application/json",
    };
    push_header(out, b"accept", accept);
    if let Some(aws) = &provider.settings.aws {
        let mut path = String::with_capacity(64);
        path.push_str(&provider.settings.base_url.path);
        path.push_str(&prepared.path);
        let creds = bedrock::sigv4::Credentials {
            access_key_id: aws.access_key_id.expose().to_owned(),
            secret_access_key: aws.secret_access_key.expose().to_owned(),
            session_token: aws.session_token.as_ref().map(|t| t.expose().to_owned()),
        };
        let signed = bedrock::sigv4::sign(
            "POST",
            &provider.origin.host_header,
            &path,
            "",
            &[("content-type", "application/json")],
            body,
            &creds,
            &aws.region,
            bedrock::SIGNING_SERVICE,
            &amz_date(std::time::SystemTime::now()),
        );
        push_header(out, b"x-amz-date", signed.x_amz_date.as_bytes());
        if let Some(token) = &signed.x_amz_security_token {
            push_header(out, b"x-amz-security-token", token.as_bytes());
        }
        push_header(out, b"authorization", signed.authorization.as_bytes());
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
    push_header(out, b"x-request-id", ctx.id.as_bytes());
    push_header_u64(out, b"content-length", body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

/// `YYYYMMDDTHHMMSSZ` in UTC, as SigV4 signs it.
fn amz_date(now: std::time::SystemTime) -> String {
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

struct Outcome {
    status: u16,
    client_reusable: bool,
    upstream_wait: Duration,
}

/// Read the rest of a response body into `payload` (without framing).
/// Returns whether the upstream connection can be pooled.
async fn read_to_end(
    drain: &Drain,
    resp: &mut Response,
    payload: &mut Vec<u8>,
    stream_idle: Duration,
    upstream_wait: &mut Duration,
) -> Result<bool, UpstreamError> {
    let mut state = BodyState::new(resp.head.framing);
    let first = resp.buf.split_off(resp.head.head_len);
    let (n, mut done) = state
        .consume(&first, |p| payload.extend_from_slice(p))
        .map_err(|e| UpstreamError::BadResponse(e.0))?;
    let mut reusable = resp.head.keep_alive && n == first.len();
    let mut buf = first;
    while !done {
        buf.clear();
        let waited = Instant::now();
        let read = read_append_timeout(&mut resp.conn, buf, stream_idle);
        let (res, b) = drain.or_cut(read).await;
        buf = b;
        *upstream_wait += waited.elapsed();
        match res {
            Ok(0) if matches!(state, BodyState::UntilClose) => return Ok(false),
            Ok(0) => return Err(UpstreamError::Truncated),
            Ok(_) => {}
            Err(e) => return Err(UpstreamError::from_body_read(e, is_shutdown_cut)),
        }
        let (n, finished) = state
            .consume(&buf, |p| payload.extend_from_slice(p))
            .map_err(|e| UpstreamError::BadResponse(e.0))?;
        reusable &= n == buf.len();
        done = finished;
        if payload.len() > MAX_TRANSLATED_BODY_BYTES {
            return Err(UpstreamError::BadResponse(
                "response body too large to translate",
            ));
        }
    }
    Ok(reusable)
}

/// Answers 400 with `e`, for a request that cannot be translated.
async fn refuse(ctx: &Routed<'_>, client: &mut Client, e: &TranslateError) -> bool {
    let err = ApiError::new(400, e.to_string());
    ctx.record_unanswered(400);
    respond::error(client, &err, ctx.keep_alive, Some(ctx.id)).await && ctx.keep_alive
}

/// The value of response header `name`, if present.
fn header<'r>(resp: &'r Response, name: &[u8]) -> Option<&'r [u8]> {
    resp.head
        .headers
        .iter()
        .find(|h| h.name(&resp.buf).eq_ignore_ascii_case(name))
        .map(|h| h.value(&resp.buf))
}

/// Reads the rest of `resp`'s body into `payload`, then gives its connection
/// back to the pool (or closes it). On failure the connection is closed.
pub(super) async fn read_whole(
    ctx: &Routed<'_>,
    mut resp: Response,
    payload: &mut Vec<u8>,
    upstream_wait: &mut Duration,
) -> Result<(), UpstreamError> {
    let (worker, provider) = (ctx.worker, ctx.provider);
    let read = read_to_end(
        &worker.drain,
        &mut resp,
        payload,
        provider.settings.timeouts.stream_idle,
        upstream_wait,
    )
    .await;
    worker.pools.recycle_headers(resp.head.headers);
    match read {
        Ok(true) => {
            worker.pools.checkin(
                &provider.origin,
                resp.conn,
                provider.settings.max_idle_connections,
            );
            Ok(())
        }
        Ok(false) => {
            worker.pools.discard(resp.conn);
            Ok(())
        }
        Err(e) => {
            worker.pools.discard(resp.conn);
            Err(e)
        }
    }
}

/// Writes a complete JSON answer; returns whether the client connection is
/// still usable.
async fn respond_json(
    ctx: &Routed<'_>,
    client: &mut Client,
    status: u16,
    body: &[u8],
    retry_after: Option<&[u8]>,
) -> bool {
    let provider = (
        b"x-ringbridge-provider".as_slice(),
        ctx.provider.name().as_bytes(),
    );
    let extra: Vec<(&[u8], &[u8])> = match retry_after {
        Some(v) => vec![(b"retry-after", v), provider],
        None => vec![provider],
    };
    respond::full(
        client,
        status,
        b"application/json",
        body,
        ctx.keep_alive,
        Some(ctx.id),
        &extra,
    )
    .await
}

/// Non-stream answers and every error answer: buffer, translate, write.
async fn whole(
    ctx: &Routed<'_>,
    client: &mut Client,
    resp: Response,
    client_model: &str,
    family: Family,
    prepared: &Prepared,
) -> (Outcome, Usage) {
    let worker = ctx.worker;
    let mut upstream_wait = resp.upstream_wait;
    let upstream_status = resp.head.status;
    let mut retry_after = header(&resp, b"retry-after").map(<[u8]>::to_vec);
    let mut payload = worker.take_buf();
    if let Err(e) = read_whole(ctx, resp, &mut payload, &mut upstream_wait).await {
        worker.give_buf(payload);
        return failed(ctx, client, &e, upstream_wait).await;
    }
    let mut out = worker.take_buf();
    let (status, usage) = if (200..300).contains(&upstream_status) {
        match translate_answer(
            family,
            ctx.endpoint,
            prepared,
            &payload,
            client_model,
            &mut out,
        ) {
            Ok(u) => (
                200,
                Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                },
            ),
            Err(e) => {
                worker.give_buf(out);
                worker.give_buf(payload);
                return failed(
                    ctx,
                    client,
                    &UpstreamError::BadResponse(static_reason(&e)),
                    upstream_wait,
                )
                .await;
            }
        }
    } else {
        let (status, retry) = translate_error(family, upstream_status, &payload, &mut out);
        if retry_after.is_none() {
            retry_after = retry.map(|s| s.to_string().into_bytes());
        }
        (status, Usage::default())
    };
    worker.give_buf(payload);
    ctx.provider.mask_credentials(&mut out);
    let ok = respond_json(ctx, client, status, &out, retry_after.as_deref()).await;
    worker.give_buf(out);
    (
        Outcome {
            status,
            client_reusable: ok,
            upstream_wait,
        },
        usage,
    )
}

fn static_reason(e: &TranslateError) -> &'static str {
    match e {
        TranslateError::BadRequest(_) => "request could not be translated",
        TranslateError::BadResponse(_) => "response could not be translated",
    }
}

/// The upstream failed after its head arrived but before anything was sent to the client.
async fn failed(
    ctx: &Routed<'_>,
    client: &mut Client,
    e: &UpstreamError,
    upstream_wait: Duration,
) -> (Outcome, Usage) {
    let status = e.status();
    tracing::warn!(provider = ctx.provider.name(), request_id = %String::from_utf8_lossy(ctx.id.as_bytes()), error = %e, "upstream response failed");
    let err = ApiError::new(
        status,
        format!("upstream provider `{}` failed: {e}", ctx.provider.name()),
    );
    let ok = respond::error(client, &err, ctx.keep_alive, Some(ctx.id)).await;
    (
        Outcome {
            status,
            client_reusable: ok,
            upstream_wait,
        },
        Usage::default(),
    )
}

/// How a stream's events are framed on the wire.
enum Framing {
    Sse(SseParser),
    /// `application/vnd.amazon.eventstream` (Bedrock).
    EventStream(bedrock::eventstream::Decoder),
}

impl Framing {
    /// Feed body bytes; every event they complete goes through `translator`.
    fn feed(
        &mut self,
        bytes: &[u8],
        done: bool,
        translator: &mut StreamTranslator,
        frames: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        match self {
            Framing::Sse(parser) => {
                parser.feed(bytes, |ev| {
                    translator
                        .on_event(ev.name, ev.data, frames)
                        .map_err(StreamError::from)
                })?;
                if done {
                    parser.finish(|ev| {
                        translator
                            .on_event(ev.name, ev.data, frames)
                            .map_err(StreamError::from)
                    })?;
                }
                Ok(())
            }
            Framing::EventStream(decoder) => {
                let bad = |_| {
                    StreamError::Upstream(UpstreamError::BadResponse("invalid AWS event stream"))
                };
                decoder.feed(bytes);
                while let Some(message) = decoder.next_message().map_err(bad)? {
                    let kind = message.header_str(":message-type").unwrap_or("event");
                    let name = if kind == "event" {
                        message.header_str(":event-type")
                    } else {
                        message.header_str(":exception-type")
                    }
                    .unwrap_or("");
                    let StreamTranslator::Bedrock(t) = translator else {
                        return Err(StreamError::Translate(TranslateError::BadResponse(
                            "event stream for a non-Bedrock provider".into(),
                        )));
                    };
                    t.on_message(kind, name, &message.payload, frames)?;
                }
                if done {
                    decoder.finish().map_err(bad)?;
                }
                Ok(())
            }
        }
    }
}

/// Why translating a stream stopped.
enum StreamError {
    Upstream(UpstreamError),
    Translate(TranslateError),
}

impl From<EventTooLarge> for StreamError {
    fn from(_: EventTooLarge) -> Self {
        StreamError::Upstream(UpstreamError::BadResponse("server-sent event too large"))
    }
}

impl From<TranslateError> for StreamError {
    fn from(e: TranslateError) -> Self {
        StreamError::Translate(e)
    }
}

/// A 2xx event stream: translate event by event, writing each batch of OpenAI
/// chunks as it is produced.
async fn stream(
    ctx: &Routed<'_>,
    client: &mut Client,
    resp: Response,
    client_model: &str,
    family: Family,
    include_usage: bool,
) -> (Outcome, Usage) {
    let (worker, provider) = (ctx.worker, ctx.provider);
    let stream_idle = provider.settings.timeouts.stream_idle;
    let Response {
        mut conn,
        mut buf,
        head,
        mut upstream_wait,
        ..
    } = resp;

    let mut out = std::mem::take(&mut client.wbuf);
    out.clear();
    respond::push_head(
        &mut out,
        200,
        b"text/event-stream",
        None,
        ctx.keep_alive,
        Some(ctx.id),
    );
    push_header(&mut out, b"cache-control", b"no-cache");
    push_header(
        &mut out,
        b"x-ringbridge-provider",
        provider.name().as_bytes(),
    );
    out.extend_from_slice(b"\r\n");

    let mut state = BodyState::new(head.framing);
    let mut framing = if family == Family::Bedrock {
        Framing::EventStream(bedrock::eventstream::Decoder::new())
    } else {
        Framing::Sse(SseParser::new())
    };
    let mut translator = StreamTranslator::new(family, client_model, include_usage);
    let mut payload = worker.take_buf();
    let mut frames = worker.take_buf();
    let mut reusable = head.keep_alive;
    let mut start = head.head_len;
    let mut client_alive = true;
    let mut failure: Option<StreamError> = None;
    loop {
        payload.clear();
        frames.clear();
        let done = match state.consume(&buf[start..], |p| payload.extend_from_slice(p)) {
            Ok((n, done)) => {
                reusable &= start + n == buf.len();
                done
            }
            Err(e) => {
                failure = Some(StreamError::Upstream(UpstreamError::BadResponse(e.0)));
                true
            }
        };
        if failure.is_none() {
            let fed = framing.feed(&payload, done, &mut translator, &mut frames);
            if let Err(e) = fed {
                failure = Some(e);
            }
        }
        let end = done || failure.is_some();
        if end {
            match &failure {
                None => translator.finish(&mut frames),
                Some(e) => push_error_frame(&mut frames, ctx, e),
            }
        }
        if !frames.is_empty() {
            ctx.provider.mask_credentials(&mut frames);
            push_chunk(&mut out, &frames);
        }
        if end {
            out.extend_from_slice(LAST_CHUNK);
        }
        if !out.is_empty() {
            let (res, o) = write_all(&mut client.stream, std::mem::take(&mut out)).await;
            out = o;
            out.clear();
            if res.is_err() {
                client_alive = false;
                break;
            }
        }
        if end {
            break;
        }
        buf.clear();
        start = 0;
        let waited = Instant::now();
        let read = read_append_timeout(&mut conn, buf, stream_idle);
        let (res, b) = worker.drain.or_cut(read).await;
        buf = b;
        upstream_wait += waited.elapsed();
        let err = match res {
            Ok(0) if matches!(state, BodyState::UntilClose) => {
                state = BodyState::Done;
                reusable = false;
                None
            }
            Ok(0) => Some(UpstreamError::Truncated),
            Ok(_) => None,
            Err(e) => Some(UpstreamError::from_body_read(e, is_shutdown_cut)),
        };
        if let Some(e) = err {
            // Let the translator close what it can, then end with the error.
            failure = Some(StreamError::Upstream(e));
            buf.clear();
            state = BodyState::Done;
        }
    }
    if let Some(StreamError::Upstream(e)) = &failure {
        tracing::warn!(provider = provider.name(), request_id = %String::from_utf8_lossy(ctx.id.as_bytes()), error = %e, "upstream stream broke off");
    }
    if client_alive && failure.is_none() && reusable && matches!(state, BodyState::Done) {
        worker.pools.checkin(
            &provider.origin,
            conn,
            provider.settings.max_idle_connections,
        );
    } else {
        worker.pools.discard(conn);
    }
    client.wbuf = out;
    worker.give_buf(buf);
    worker.give_buf(payload);
    worker.give_buf(frames);
    worker.pools.recycle_headers(head.headers);
    let u = translator.usage();
    (
        Outcome {
            status: 200,
            client_reusable: client_alive && failure.is_none(),
            upstream_wait,
        },
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        },
    )
}

fn push_error_frame(frames: &mut Vec<u8>, ctx: &Routed<'_>, e: &StreamError) {
    let (status, message) = match e {
        StreamError::Upstream(e) => (
            e.status(),
            format!(
                "upstream provider `{}` stream interrupted: {e}",
                ctx.provider.name()
            ),
        ),
        StreamError::Translate(e) => (
            502,
            format!(
                "upstream provider `{}` sent a stream that could not be translated: {e}",
                ctx.provider.name()
            ),
        ),
    };
    frames.extend_from_slice(b"data: ");
    ApiError::new(status, message).push_body(frames);
    frames.extend_from_slice(b"\n\n");
}

/// Whether this provider takes the translating path.
pub(super) fn translates(provider: &Provider) -> bool {
    Family::of(provider).is_some()
}

#[cfg(test)]
mod tests {
    use super::amz_date;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn amz_dates_match_known_instants() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // The SigV4 test suite's instant.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_440_938_160)),
            "20150830T123600Z"
        );
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_709_208_000)),
            "20240229T120000Z"
        );
    }
}
