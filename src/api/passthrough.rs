//! The pass-through converter, for providers that speak the client's dialect
//! (OpenAI-compatible upstreams): splice the upstream model name into the
//! body bytes, send, and relay the response as it arrives while reading
//! `usage` from its tail. Error answers are read whole and handed back to the
//! driver, so another candidate can still be tried.

use super::error::{GatewayError, UpstreamAnswer};
use super::exchange::{
    end_upstream, no_credentials, read_whole, retry_after, send, Asked, Exchange, Record,
};
use super::respond::{Client, Length};
use crate::http::response::{push_header, push_header_u64, push_status_line, ResponseFraming};
use crate::http::{connection_nominees, is_hop_by_hop_here};
use crate::router::{NoToken, Provider};
use crate::schema::dialect::Dialect;
use crate::schema::peek::{push_json_string, Piece, Splice};
use crate::schema::usage::Tail;
use crate::upstream::{BodyReader, OutgoingRequest, Part};

/// Largest error answer read to relay; providers' are a few hundred bytes.
const MAX_ERROR_BODY_BYTES: usize = 1024 * 1024;

pub(super) async fn attempt<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &'a Provider,
    asked: &Asked<'_>,
    upstream_model: &str,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let worker = x.worker;
    let mut up = worker.take_buf();
    let key = rec.key;
    // Gemini names the model in the path: its body goes as it is.
    let splice = (!model_in_path(x.dialect)).then(|| {
        let splice = Splice::new(&asked.range, asked.cut.clone());
        match ask_for_stream_usage(x, asked) {
            true => splice.with_members_after_model(INCLUDE_USAGE),
            false => splice,
        }
    });
    let body_len = match &splice {
        Some(splice) => splice.len(x.req.body.len(), upstream_model),
        None => x.req.body.len(),
    };
    if let Err(missing) = push_head(&mut up, x, provider, body_len, upstream_model, key) {
        worker.give_buf(up);
        return Err(no_credentials(provider, missing));
    }
    let request = with_body(up, x, splice.as_ref(), upstream_model);
    let resp = send(x, client, provider, request, rec).await?;
    rec.status = resp.head.status;
    let reader = BodyReader::new(resp, provider.settings.timeouts.stream_idle);
    if reader.head.status >= 400 {
        return Err(error_answer(x, provider, reader, rec).await);
    }
    relay(x, client, provider, reader, rec).await
}

/// Asks an OpenAI-shaped stream for its usage in a last chunk.
const INCLUDE_USAGE: &[u8] = br#","stream_options":{"include_usage":true}"#;

/// Whether to ask the provider for a stream's usage the client did not ask
/// for: only where a budget or token limit depends on it (else such a key's
/// streams would cost nothing), and only when the client set no
/// `stream_options` of its own. The stream then ends with OpenAI's usage
/// chunk (`"choices":[]`), as it does for clients that ask.
fn ask_for_stream_usage(x: &Exchange<'_>, asked: &Asked<'_>) -> bool {
    asked.stream
        && matches!(x.dialect, Dialect::OpenAiChat | Dialect::OpenAiCompletions)
        && super::govern::needs_usage(x)
        && crate::schema::peek::top_level_key_named(x.body(), b"stream_options").is_none()
}

/// Client headers not forwarded upstream: hop-by-hop, the gateway's own auth
/// and any other provider's auth header, framing the gateway re-emits, and
/// compression (usage is read from the bytes).
fn forwardable(name: &[u8], nominees: &[&[u8]], provider: &Provider) -> bool {
    const DROP: [&[u8]; 10] = [
        b"host",
        b"authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"content-length",
        b"expect",
        b"accept-encoding",
        b"x-request-id",
        b"cookie",
    ];
    /// Pick an account at the provider: not beside the gateway's own key
    /// unless the provider is configured to pass them.
    const ORGANIZATION: [&[u8]; 2] = [b"openai-organization", b"openai-project"];
    // Anthropic's auth lines carry the configured `anthropic-version`.
    let version_set_here = provider.spec.auth == crate::providers::spec::Auth::AnthropicApiKey;
    !(is_hop_by_hop_here(name, nominees)
        || DROP.iter().any(|d| d.eq_ignore_ascii_case(name))
        || (version_set_here && name.eq_ignore_ascii_case(b"anthropic-version"))
        || (!provider.settings.forward_organization_headers
            && ORGANIZATION.iter().any(|d| d.eq_ignore_ascii_case(name)))
        || (name.len() > 6 && name[..6].eq_ignore_ascii_case(b"proxy-")))
}

fn model_in_path(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::GeminiGenerate | Dialect::GeminiStream { .. }
    )
}

/// The upstream request's head.
fn push_head(
    out: &mut Vec<u8>,
    x: &Exchange<'_>,
    provider: &Provider,
    body_len: usize,
    upstream_model: &str,
    key: usize,
) -> Result<(), NoToken> {
    let path = x.dialect.native_path();
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(provider.settings.base_url.path.as_bytes());
    if let Dialect::GeminiGenerate | Dialect::GeminiStream { .. } = x.dialect {
        out.extend_from_slice(b"/models/");
        crate::http::percent::push_encoded_bytes(out, upstream_model.as_bytes());
        out.extend_from_slice(match x.dialect {
            Dialect::GeminiStream { sse: true } => b":streamGenerateContent?alt=sse",
            Dialect::GeminiStream { sse: false } => b":streamGenerateContent",
            _ => b":generateContent",
        });
    } else if x.dialect == Dialect::Responses && provider.spec.deployment_in_path {
        // Azure's Responses API: one path, the deployment in the body's `model`.
        out.extend_from_slice(b"/openai/v1/responses");
    } else if provider.spec.deployment_in_path {
        // Azure routes by deployment in the path; the body's `model` is ignored there.
        out.extend_from_slice(b"/openai/deployments/");
        crate::http::percent::push_encoded_bytes(out, upstream_model.as_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b"?api-version=");
        out.extend_from_slice(provider.settings.api_version.as_bytes());
    } else {
        out.extend_from_slice(path.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !push_forwarded_headers(out, x, provider, key)? {
        push_header(out, b"content-type", b"application/json");
    }
    push_header_u64(out, b"content-length", body_len as u64);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The upstream head's lines after the request line, but for framing:
/// `Host`, the leased key's auth, the client's forwardable headers and the
/// request id. Returns whether the client sent a `Content-Type`.
pub(super) fn push_forwarded_headers(
    out: &mut Vec<u8>,
    x: &Exchange<'_>,
    provider: &Provider,
    key: usize,
) -> Result<bool, NoToken> {
    let (rbuf, req) = (x.rbuf, x.req);
    push_header(out, b"host", provider.origin.host_header.as_bytes());
    provider.push_auth(key, out)?;
    let mut saw_content_type = false;
    let nominees = connection_nominees(&req.head.headers, rbuf);
    for h in &req.head.headers {
        let name = h.name(rbuf);
        // A traced request sends its own span as the parent instead.
        let replaced = x.trace.is_some() && name.eq_ignore_ascii_case(b"traceparent");
        if !replaced && forwardable(name, &nominees, provider) {
            saw_content_type |= name.eq_ignore_ascii_case(b"content-type");
            push_header(out, name, h.value(rbuf));
        }
    }
    push_header(out, b"x-request-id", x.id.as_bytes());
    super::exchange::push_traceparent(out, x);
    Ok(saw_content_type)
}

/// The request with its body as `splice` makes it: copied after the head
/// when small, else written from the client's buffer around the new model
/// name (no copy of the body).
pub(super) fn with_body(
    mut head: Vec<u8>,
    x: &Exchange<'_>,
    splice: Option<&Splice>,
    upstream_model: &str,
) -> OutgoingRequest {
    let Some(splice) = splice else {
        return match x.shared {
            Some(shared) => {
                let head_len = head.len();
                let parts = vec![Part::Owned(0..head_len), Part::Shared(x.req.body.clone())];
                OutgoingRequest::vectored(head, shared.clone(), parts)
            }
            None => {
                head.extend_from_slice(x.body());
                OutgoingRequest::whole(head)
            }
        };
    };
    let Some(shared) = x.shared else {
        splice.write(&mut head, x.body(), upstream_model);
        return OutgoingRequest::whole(head);
    };
    let head_len = head.len();
    push_json_string(&mut head, upstream_model);
    head.extend_from_slice(splice.after_model());
    let body = x.req.body.clone();
    let mut parts = Vec::with_capacity(5);
    parts.push(Part::Owned(0..head_len));
    for piece in splice.pieces(body.len()) {
        parts.push(match piece {
            Piece::Body(r) => Part::Shared(body.start + r.start..body.start + r.end),
            Piece::Model => Part::Owned(head_len..head.len()),
        });
    }
    OutgoingRequest::vectored(head, shared.clone(), parts)
}

/// The upstream's headers worth relaying: all but hop-by-hop and framing.
/// `content_type`, when given, takes the content type instead of `out`.
fn push_relayed_headers(
    out: &mut Vec<u8>,
    reader: &BodyReader,
    mut content_type: Option<&mut Option<Vec<u8>>>,
) {
    let buf = reader.head_bytes();
    let nominees = connection_nominees(&reader.head.headers, buf);
    for h in &reader.head.headers {
        let name = h.name(buf);
        if is_hop_by_hop_here(name, &nominees) || name.eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-request-id") {
            push_header(out, b"x-upstream-request-id", h.value(buf));
        } else if let (true, Some(slot)) = (
            name.eq_ignore_ascii_case(b"content-type"),
            content_type.as_deref_mut(),
        ) {
            *slot = Some(h.value(buf).to_vec());
        } else {
            push_header(out, name, h.value(buf));
        }
    }
}

/// Bytes of an answer read whole to put its cost in a header.
const MAX_COSTED_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A non-stream answer when the client asked for `x-ringbridge-cost`: read
/// whole first, since its usage (and so its cost) is at the end of the body
/// and the header goes before it.
async fn relay_whole<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &Provider,
    reader: BodyReader,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let status = reader.head.status;
    let mut lines = Vec::with_capacity(512);
    push_relayed_headers(&mut lines, &reader, None);
    push_header(&mut lines, b"x-request-id", x.id.as_bytes());
    push_header(
        &mut lines,
        b"x-ringbridge-provider",
        provider.name().as_bytes(),
    );
    let mut body = x.worker.take_buf();
    let read = read_whole(x, provider, reader, &mut body, MAX_COSTED_BODY_BYTES, rec).await;
    if let Err(e) = read {
        x.worker.give_buf(body);
        return Err(e);
    }
    rec.usage = crate::schema::usage::scan_usage(&body);
    rec.push_attempts_header(&mut lines, status);
    let mut out = client.take_wbuf();
    push_status_line(&mut out, status);
    out.extend_from_slice(&lines);
    let keep = client.finish_head(&mut out, Length::Known(body.len() as u64), x.keep_alive);
    client.captured(&body);
    if !client.head_only {
        out.extend_from_slice(&body);
    }
    x.worker.give_buf(body);
    Ok(client.write(out).await && keep)
}

/// An error answer, read whole so a credential in it can be masked, for the
/// driver to relay or to try another candidate instead.
async fn error_answer(
    x: &Exchange<'_>,
    provider: &Provider,
    mut reader: BodyReader,
    rec: &mut Record<'_>,
) -> GatewayError {
    provider.mask_credentials(reader.head_bytes_mut());
    let status = reader.head.status;
    let retry = retry_after(&reader);
    let mut answer = UpstreamAnswer::default();
    push_relayed_headers(
        &mut answer.header_lines,
        &reader,
        Some(&mut answer.content_type),
    );
    let read = read_whole(
        x,
        provider,
        reader,
        &mut answer.body,
        MAX_ERROR_BODY_BYTES,
        rec,
    )
    .await;
    match read {
        Ok(()) => {
            provider.mask_credentials(&mut answer.body);
            GatewayError::upstream_status(provider.name(), status, answer, retry)
        }
        Err(e) => e,
    }
}

/// Relay a 1xx-3xx answer as it arrives. Bytes go out as received when the
/// client takes the upstream's framing (a length, or chunks to HTTP/1.1);
/// otherwise the payload is re-framed (chunked for HTTP/1.1, close-delimited
/// for HTTP/1.0).
pub(super) async fn relay<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &Provider,
    mut reader: BodyReader,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let worker = x.worker;
    provider.mask_credentials(reader.head_bytes_mut());
    if rec.wants_cost && !reader.head.event_stream {
        return relay_whole(x, client, provider, reader, rec).await;
    }
    let mut out = client.take_wbuf();
    push_status_line(&mut out, reader.head.status);
    push_relayed_headers(&mut out, &reader, None);
    push_header(&mut out, b"x-request-id", x.id.as_bytes());
    push_header(
        &mut out,
        b"x-ringbridge-provider",
        provider.name().as_bytes(),
    );
    rec.push_attempts_header(&mut out, reader.head.status);
    let (length, as_received) = match reader.head.framing {
        ResponseFraming::Empty if matches!(reader.head.status, 204 | 304) => (Length::NoBody, true),
        ResponseFraming::Empty => (Length::Known(0), true),
        ResponseFraming::Length(n) => (Length::Known(n), true),
        ResponseFraming::Chunked => (Length::Unknown, !client.http10),
        ResponseFraming::UntilClose => (Length::Unknown, false),
    };
    let keep = client.finish_head(&mut out, length, x.keep_alive);
    let event_stream = reader.head.event_stream;

    let mut tail = Tail::with_buffer(worker.take_buf());
    let capturing = client.capture.borrow().is_some();
    let mut payload = Vec::new();
    let mut head_sent = false;
    let mut client_alive = true;
    let failure = loop {
        payload.clear();
        let next = reader
            .next(worker.drain.cut_requested(), |p| {
                tail.push(p);
                if !as_received {
                    payload.extend_from_slice(p);
                } else if capturing {
                    client.captured(p);
                }
            })
            .await;
        let more = match next {
            Ok(more) => more,
            Err(e) => break Some(e),
        };
        if !more && as_received {
            break None;
        }
        if !head_sent || !as_received {
            // Pieces that need framing, and the first piece, go out with `out`.
            if as_received {
                out.extend_from_slice(reader.piece());
            } else if more {
                if !payload.is_empty() {
                    client.push_piece(&mut out, &payload);
                }
            } else {
                client.push_end(&mut out);
            }
            head_sent = true;
            let written = out.is_empty() || client.write(std::mem::take(&mut out)).await;
            // The client keeps its buffer through a failed write too.
            out = client.take_wbuf();
            if !written {
                client_alive = false;
                break None;
            }
        } else {
            let piece = reader.take_piece_buf();
            let (res, buf) = crate::http::io::write_all(&mut client.stream, piece).await;
            reader.put_buf(buf);
            if res.is_err() {
                client_alive = false;
                break None;
            }
        }
        if !more || reader.is_done() && as_received {
            break None;
        }
    };
    client.wbuf = out;
    rec.usage = tail.usage();
    worker.give_buf(tail.into_buffer());
    let appendable = event_stream && reader.at_piece_boundary();
    end_upstream(x, provider, reader, rec);
    match failure {
        None => Ok(client_alive && keep),
        Some(e) => {
            let err = GatewayError::upstream(provider.name(), &e);
            let committed = if head_sent {
                client.stream_committed(appendable)
            } else {
                super::error::Committed::Nothing
            };
            Err(GatewayError {
                message: if head_sent {
                    format!(
                        "upstream provider `{}` stream interrupted: {e}",
                        provider.name()
                    )
                } else {
                    err.message.clone()
                },
                ..err.after(committed)
            })
        }
    }
}
