//! Converting a translated provider's answer: read whole and convert (every
//! error answer, and non-stream ones), or convert a 2xx stream event by event
//! while writing each batch of the client's chunks as it is produced.

use super::{static_reason, translate_answer, translate_error, Family, Prepared, StreamTranslator};
use crate::api::error::{Committed, GatewayError, UpstreamAnswer};
use crate::api::exchange::{self, Exchange, Record};
use crate::api::hub::HubStream;
use crate::api::respond::{self, Client, Length};
use crate::http::response::{push_header, push_header_u64};
use crate::http::sse::{EventTooLarge, SseParser};
use crate::providers::bedrock;
use crate::providers::common::TranslateError;
use crate::providers::spec::StreamFraming;
use crate::router::Provider;
use crate::upstream::{BodyReader, UpstreamError};

/// Largest non-stream upstream body the gateway will buffer to translate.
const MAX_TRANSLATED_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Read the rest of a body into `payload`: a translated answer, bounded.
pub(super) async fn read_whole(
    x: &Exchange<'_>,
    provider: &Provider,
    reader: BodyReader,
    payload: &mut Vec<u8>,
    rec: &mut Record<'_>,
) -> Result<(), GatewayError> {
    exchange::read_whole(x, provider, reader, payload, MAX_TRANSLATED_BODY_BYTES, rec).await
}

/// A translated 2xx answer read whole: its body in the client's dialect.
/// Error answers come back as the error, translated, for the driver.
pub(super) async fn whole(
    x: &Exchange<'_>,
    provider: &Provider,
    reader: BodyReader,
    family: Family,
    prepared: &Prepared,
    client_model: &str,
    rec: &mut Record<'_>,
) -> Result<Vec<u8>, GatewayError> {
    let upstream_status = reader.head.status;
    let retry_after = crate::api::exchange::retry_after(&reader);
    let mut payload = x.worker.take_buf();
    let read = read_whole(x, provider, reader, &mut payload, rec).await;
    if let Err(e) = read {
        x.worker.give_buf(payload);
        return Err(e);
    }
    let mut out = Vec::with_capacity(payload.len() + 256);
    if (200..300).contains(&upstream_status) {
        let translated = translate_answer(
            family,
            x.dialect,
            prepared,
            &payload,
            client_model,
            &mut out,
        );
        x.worker.give_buf(payload);
        match translated {
            Ok(usage) => {
                rec.usage = usage;
                provider.mask_credentials(&mut out);
                Ok(out)
            }
            Err(e) => Err(GatewayError::upstream(
                provider.name(),
                &UpstreamError::BadResponse(static_reason(&e)),
            )),
        }
    } else {
        let err = error_answer(
            provider,
            family,
            upstream_status,
            &payload,
            retry_after,
            &mut out,
        );
        x.worker.give_buf(payload);
        Err(err)
    }
}

/// A provider's error answer in the client's dialect, as the driver's error.
pub(super) fn error_answer(
    provider: &Provider,
    family: Family,
    upstream_status: u16,
    payload: &[u8],
    retry_after: Option<std::time::Duration>,
    out: &mut Vec<u8>,
) -> GatewayError {
    let (status, hint) = translate_error(family, upstream_status, payload, out);
    provider.mask_credentials(out);
    let retry_after = retry_after.or(hint.map(std::time::Duration::from_secs));
    let mut answer = UpstreamAnswer {
        body: std::mem::take(out),
        ..UpstreamAnswer::default()
    };
    if let Some(after) = retry_after {
        push_header_u64(
            &mut answer.header_lines,
            b"retry-after",
            after.as_secs_f64().ceil() as u64,
        );
    }
    GatewayError::upstream_status(provider.name(), status, answer, retry_after)
}

/// Writes a complete JSON answer; returns whether the connection can be kept.
pub(super) async fn write_json(
    x: &Exchange<'_>,
    client: &mut Client,
    provider: &Provider,
    status: u16,
    body: &[u8],
    rec: &Record<'_>,
) -> Result<bool, GatewayError> {
    let mut lines = Vec::with_capacity(160 + rec.tried.len());
    push_header(
        &mut lines,
        b"x-ringbridge-provider",
        provider.name().as_bytes(),
    );
    rec.push_attempts_header(&mut lines, status);
    Ok(respond::full_with_lines(
        client,
        status,
        b"application/json",
        body,
        x.keep_alive,
        Some(x.id),
        &lines,
    )
    .await
        && x.keep_alive)
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

/// A 2xx event stream: translate event by event, writing each batch of the
/// client's chunks as it is produced.
#[allow(clippy::too_many_arguments)]
pub(super) async fn stream(
    x: &Exchange<'_>,
    client: &mut Client,
    provider: &Provider,
    mut reader: BodyReader,
    family: Family,
    client_model: &str,
    include_usage: bool,
    rec: &mut Record<'_>,
) -> Result<bool, GatewayError> {
    let worker = x.worker;
    let mut hub = HubStream::new(x.dialect, client_model);
    let content_type = hub
        .as_ref()
        .map_or(&b"text/event-stream"[..], HubStream::content_type);
    let mut out = client.take_wbuf();
    respond::push_head(&mut out, 200, content_type, Some(x.id));
    push_header(&mut out, b"cache-control", b"no-cache");
    push_header(
        &mut out,
        b"x-ringbridge-provider",
        provider.name().as_bytes(),
    );
    rec.push_attempts_header(&mut out, 200);
    let keep = client.finish_head(&mut out, Length::Unknown, x.keep_alive);

    let mut framing = match provider.spec.stream_framing {
        StreamFraming::AwsEventStream => Framing::EventStream(bedrock::eventstream::Decoder::new()),
        StreamFraming::Sse => Framing::Sse(SseParser::new()),
    };
    let mut translator = StreamTranslator::new(family, client_model, include_usage);
    let mut payload = worker.take_buf();
    let mut frames = worker.take_buf();
    let mut encoded = Vec::new();
    let mut client_alive = true;
    let failure = loop {
        payload.clear();
        frames.clear();
        let more = match reader
            .next(worker.drain.cut_requested(), |p| {
                payload.extend_from_slice(p)
            })
            .await
        {
            Ok(more) => more,
            Err(e) => break Some(StreamError::Upstream(e)),
        };
        let done = !more || reader.is_done();
        if let Err(e) = framing.feed(&payload, done, &mut translator, &mut frames) {
            break Some(e);
        }
        if done {
            translator.finish(&mut frames);
        }
        if let Some(hub) = hub.as_mut() {
            if let Err(e) = reencode(hub, &mut frames, &mut encoded, done) {
                break Some(e);
            }
        }
        if !frames.is_empty() {
            provider.mask_credentials(&mut frames);
            client.push_piece(&mut out, &frames);
        }
        if done {
            client.push_end(&mut out);
        }
        if !out.is_empty() {
            if !client.write(std::mem::take(&mut out)).await {
                client_alive = false;
                break None;
            }
            out = client.take_wbuf();
        }
        if done {
            break None;
        }
    };
    // Frames translated before a failure still reach the client.
    if failure.is_some() && !frames.is_empty() && client_alive {
        if let Some(hub) = hub.as_mut() {
            // What the hub could not re-encode is lost with the stream.
            let _ = reencode(hub, &mut frames, &mut encoded, false);
        }
        provider.mask_credentials(&mut frames);
        client.push_piece(&mut out, &frames);
    }
    let hub_failed = match (&failure, hub.as_mut()) {
        (Some(f), Some(hub)) if client_alive => {
            // The dialect's own failure events end the stream.
            let err = stream_error(provider, f);
            let mut events = Vec::new();
            hub.fail(err.status, &err.message, &mut events);
            client.push_piece(&mut out, &events);
            client.push_end(&mut out);
            true
        }
        _ => false,
    };
    if !out.is_empty() && client_alive {
        client_alive = client.write(std::mem::take(&mut out)).await;
    } else {
        client.wbuf = out;
    }
    rec.usage = translator.usage();
    worker.give_buf(payload);
    worker.give_buf(frames);
    exchange::end_upstream(x, provider, reader, rec);
    let Some(failure) = failure else {
        return Ok(client_alive && keep);
    };
    let committed = if client_alive && !hub_failed {
        client.stream_committed(true)
    } else {
        Committed::Closed
    };
    Err(stream_error(provider, &failure).after(committed))
}

/// Re-encode the chat `frames` into the client's dialect, in place.
fn reencode(
    hub: &mut HubStream,
    frames: &mut Vec<u8>,
    encoded: &mut Vec<u8>,
    done: bool,
) -> Result<(), StreamError> {
    encoded.clear();
    let fed = hub.feed(frames, encoded);
    if fed.is_ok() && done {
        hub.finish(encoded);
    }
    std::mem::swap(frames, encoded);
    fed.map_err(|e| StreamError::Translate(TranslateError::BadResponse(e.0)))
}

/// The driver's error for a stream that stopped.
fn stream_error(provider: &Provider, failure: &StreamError) -> GatewayError {
    match failure {
        StreamError::Upstream(e) => {
            let mut err = GatewayError::upstream(provider.name(), e);
            err.message = format!(
                "upstream provider `{}` stream interrupted: {e}",
                provider.name()
            );
            err
        }
        StreamError::Translate(e) => GatewayError::new(
            502,
            format!(
                "upstream provider `{}` sent a stream that could not be translated: {e}",
                provider.name()
            ),
        )
        .with_provider(provider.name()),
    }
}
