//! The pass-through path for OpenAI-compatible providers: peek `model`, resolve
//! the route, splice the upstream model name into the body bytes, send, and
//! relay the response as it arrives while reading `usage` from its tail.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::body::BodyState;
use super::connection::{Client, Request};
use super::context::Worker;
use super::drain::is_shutdown_cut;
use super::error::ApiError;
use super::respond::{self, RequestId};
use super::Endpoint;
use crate::config::ProviderKind;
use crate::http::chunked::ChunkedScanner;
use crate::http::io::{read_append_timeout, write_all};
use crate::http::response::{
    push_chunk, push_header, push_header_u64, push_status_line, ResponseFraming, ResponseHead,
    LAST_CHUNK,
};
use crate::http::{connection_nominees, is_hop_by_hop_here};
use crate::providers::mock::{self, MockBody, MockEndpoint};
use crate::router::{NoToken, Provider};
use crate::schema::peek::{peek, splice_model, spliced_len, unescape};
use crate::schema::usage::{Tail, Usage};
use crate::telemetry::RequestRecord;
use crate::upstream::{Response, UpstreamError};

/// Status recorded when the client hangs up before the answer (nginx's 499).
const STATUS_CLIENT_CLOSED: u16 = 499;

/// How long a request may wait on its upstream before the gateway also watches
/// the client socket for a hang-up: a timer is nearly free, a poll operation
/// per request is not, and short requests finish before the watch starts.
const CLIENT_WATCH_AFTER: Duration = Duration::from_millis(500);

/// Resolves when the client has closed its side of the connection.
async fn client_hung_up(stream: &monoio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    monoio::time::sleep(CLIENT_WATCH_AFTER).await;
    loop {
        if stream.readable(false).await.is_err() {
            return;
        }
        let mut byte = 0u8;
        // SAFETY: one byte of valid writable memory; the fd outlives this call.
        let n = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => return,
            // A pipelined next request: the client is still there.
            n if n > 0 => std::future::pending::<()>().await,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock => {}
            _ => return,
        }
    }
}

/// Everything known about a finished request, for metrics.
struct Finished<'a> {
    provider: &'a str,
    model: &'a str,
    status: u16,
    upstream_wait: Duration,
    ttfb: Option<Duration>,
    usage: Usage,
}

impl<'a> Finished<'a> {
    /// A request that got no upstream answer (refused, failed, abandoned).
    fn unanswered(provider: &'a str, model: &'a str, status: u16, upstream_wait: Duration) -> Self {
        Finished {
            provider,
            model,
            status,
            upstream_wait,
            ttfb: None,
            usage: Usage::default(),
        }
    }
}

fn record(worker: &Worker, endpoint: Endpoint, started: Instant, f: &Finished<'_>) {
    worker.metrics.record(&RequestRecord {
        provider: f.provider,
        model: f.model,
        endpoint: endpoint.label(),
        status: f.status,
        total: started.elapsed(),
        upstream_wait: f.upstream_wait,
        upstream_ttfb: f.ttfb,
        prompt_tokens: f.usage.prompt_tokens,
        completion_tokens: f.usage.completion_tokens,
    });
}

/// Count a request refused before routing (auth, bad body).
pub(super) fn record_rejection(worker: &Worker, endpoint: Endpoint, started: Instant, status: u16) {
    record(
        worker,
        endpoint,
        started,
        &Finished::unanswered("", "", status, Duration::ZERO),
    );
}

pub(super) async fn forward(
    worker: &Rc<Worker>,
    rbuf: &[u8],
    client: &mut Client,
    req: &Request,
    endpoint: Endpoint,
    id: &RequestId,
    keep_alive: bool,
) -> bool {
    let body = &rbuf[req.body.clone()];
    let peeked = match peek(body) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                worker,
                client,
                req,
                endpoint,
                id,
                keep_alive,
                ApiError::new(400, e.to_string()),
            )
            .await
        }
    };
    let Some(model_range) = peeked.model.clone() else {
        return reject(
            worker,
            client,
            req,
            endpoint,
            id,
            keep_alive,
            ApiError::new(
                400,
                "missing required field `model` (a string such as \"openai/gpt-4o-mini\")",
            ),
        )
        .await;
    };
    let unescaped;
    let model: Option<&str> = if peeked.model_escaped {
        unescaped = unescape(&body[model_range.clone()]);
        unescaped.as_deref()
    } else {
        std::str::from_utf8(&body[model_range.clone()]).ok()
    };
    let Some(model) = model else {
        let err = ApiError::new(400, "`model` is not a valid JSON string");
        return reject(worker, client, req, endpoint, id, keep_alive, err).await;
    };
    let gw = &worker.gw;
    let route = match gw.routes.resolve(model) {
        Ok(r) => r,
        Err(e) => {
            let mut err = ApiError::new(e.status(), e.to_string());
            if e.status() == 404 {
                err = err.with_code("model_not_found");
            }
            return reject(worker, client, req, endpoint, id, keep_alive, err).await;
        }
    };
    let provider = gw.routes.provider(route.provider);
    if provider.kind() == ProviderKind::Mock {
        return answer_from_mock(
            worker,
            client,
            req,
            endpoint,
            id,
            keep_alive,
            provider,
            route.model,
            body,
        )
        .await;
    }

    let routed = Routed {
        worker,
        req,
        endpoint,
        id,
        keep_alive,
        provider,
        model: route.model,
    };
    if super::translate::translates(provider) {
        return super::translate::forward(&routed, rbuf, client, model).await;
    }

    let mut up = worker.take_buf();
    let key = worker.next_key(provider.auth_lines.len());
    if let Err(missing) = build_upstream_request(
        &mut up,
        provider,
        endpoint,
        rbuf,
        req,
        model_range,
        route.model,
        id,
        key,
    ) {
        worker.give_buf(up);
        return routed.refuse_without_credentials(client, missing).await;
    }
    let resp = match send(&routed, client, up).await {
        Ok(r) => r,
        Err(keep) => return keep,
    };
    let ttfb = resp.ttfb;
    if resp.head.status >= 400 {
        // Error answers are small and may quote what the upstream was sent:
        // read whole, so a credential in them can be masked, then relay.
        let outcome = relay_whole(&routed, client, resp).await;
        routed.record(
            outcome.status,
            outcome.upstream_wait,
            Some(ttfb),
            Usage::default(),
        );
        return outcome.client_reusable && keep_alive;
    }
    let status = resp.head.status;
    let mut tail = Tail::with_buffer(worker.take_buf());
    let outcome = relay(worker, client, resp, provider, id, keep_alive, &mut tail).await;
    let usage = tail.usage();
    worker.give_buf(tail.into_buffer());
    routed.record(status, outcome.upstream_wait, Some(ttfb), usage);
    outcome.client_reusable && keep_alive
}

/// A routed request: what every step after routing needs.
pub(super) struct Routed<'a> {
    pub worker: &'a Worker,
    pub req: &'a Request,
    pub endpoint: Endpoint,
    pub id: &'a RequestId,
    pub keep_alive: bool,
    pub provider: &'a Provider,
    /// Model name as sent upstream.
    pub model: &'a str,
}

impl Routed<'_> {
    /// Answers 503 for a provider whose access token is missing or expired
    /// (the control plane keeps retrying; the reason is in the message).
    pub async fn refuse_without_credentials(&self, client: &mut Client, missing: NoToken) -> bool {
        let err = ApiError::new(
            503,
            format!(
                "provider `{}` has no valid access token: {}",
                self.provider.name(),
                missing.0
            ),
        )
        .with_code("provider_credentials_unavailable");
        self.record_unanswered(503);
        respond::error(client, &err, self.keep_alive, Some(self.id)).await && self.keep_alive
    }

    pub fn record_unanswered(&self, status: u16) {
        record(
            self.worker,
            self.endpoint,
            self.req.started,
            &Finished::unanswered(
                self.provider.name(),
                self.model,
                status,
                self.req.started.elapsed(),
            ),
        );
    }

    pub fn record(
        &self,
        status: u16,
        upstream_wait: Duration,
        ttfb: Option<Duration>,
        usage: Usage,
    ) {
        record(
            self.worker,
            self.endpoint,
            self.req.started,
            &Finished {
                provider: self.provider.name(),
                model: self.model,
                status,
                upstream_wait,
                ttfb,
                usage,
            },
        );
    }
}

/// Send `request` (head and body) upstream and wait for the response head,
/// giving up if the client hangs up meanwhile. On failure the client has been
/// answered (502/504) and the request recorded; `Err` carries whether the
/// client connection may be kept.
pub(super) async fn send(
    ctx: &Routed<'_>,
    client: &mut Client,
    request: Vec<u8>,
) -> Result<Response, bool> {
    let (worker, provider) = (ctx.worker, ctx.provider);
    let timeouts = provider.settings.timeouts;
    let sending = worker
        .pools
        .send(&provider.origin, request, worker.take_buf(), &timeouts);
    let (res, request) = monoio::select! {
        r = sending => r,
        _ = worker.drain.cut_requested() => (Err(UpstreamError::Shutdown), worker.take_buf()),
        _ = client_hung_up(&client.stream) => {
            // Dropping the send future closed the upstream connection: the
            // provider stops generating (and billing) for nobody.
            tracing::debug!(provider = provider.name(), "client closed the connection before the upstream answered");
            ctx.record_unanswered(STATUS_CLIENT_CLOSED);
            return Err(false);
        }
    };
    worker.give_buf(request);
    match res {
        Ok(r) => Ok(r),
        Err(e) => {
            let status = e.status();
            tracing::warn!(provider = provider.name(), request_id = %String::from_utf8_lossy(ctx.id.as_bytes()), error = %e, "upstream request failed");
            let err = ApiError::new(
                status,
                format!("upstream provider `{}` failed: {e}", provider.name()),
            );
            let ok = respond::error(client, &err, ctx.keep_alive, Some(ctx.id)).await;
            ctx.record_unanswered(status);
            Err(ok && ctx.keep_alive)
        }
    }
}

async fn reject(
    worker: &Worker,
    client: &mut Client,
    req: &Request,
    endpoint: Endpoint,
    id: &RequestId,
    keep_alive: bool,
    err: ApiError,
) -> bool {
    record_rejection(worker, endpoint, req.started, err.status);
    respond::error(client, &err, keep_alive, Some(id)).await && keep_alive
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
    !(is_hop_by_hop_here(name, nominees)
        || DROP.iter().any(|d| d.eq_ignore_ascii_case(name))
        || (!provider.settings.forward_organization_headers
            && ORGANIZATION.iter().any(|d| d.eq_ignore_ascii_case(name)))
        || (name.len() > 6 && name[..6].eq_ignore_ascii_case(b"proxy-")))
}

#[allow(clippy::too_many_arguments)]
fn build_upstream_request(
    out: &mut Vec<u8>,
    provider: &Provider,
    endpoint: Endpoint,
    rbuf: &[u8],
    req: &Request,
    model_range: std::ops::Range<usize>,
    upstream_model: &str,
    id: &RequestId,
    key: usize,
) -> Result<(), NoToken> {
    let body = &rbuf[req.body.clone()];
    out.clear();
    out.reserve(1024 + body.len());
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(provider.settings.base_url.path.as_bytes());
    if provider.kind() == ProviderKind::Azure {
        // Azure routes by deployment in the path; the body's `model` is ignored there.
        out.extend_from_slice(b"/openai/deployments/");
        push_path_segment(out, upstream_model);
        out.extend_from_slice(endpoint.upstream_path().as_bytes());
        out.extend_from_slice(b"?api-version=");
        out.extend_from_slice(provider.settings.api_version.as_bytes());
    } else {
        out.extend_from_slice(endpoint.upstream_path().as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(out, b"host", provider.origin.host_header.as_bytes());
    provider.push_auth(key, out)?;
    let mut saw_content_type = false;
    let nominees = connection_nominees(&req.head.headers, rbuf);
    for h in &req.head.headers {
        let name = h.name(rbuf);
        if forwardable(name, &nominees, provider) {
            saw_content_type |= name.eq_ignore_ascii_case(b"content-type");
            push_header(out, name, h.value(rbuf));
        }
    }
    if !saw_content_type {
        push_header(out, b"content-type", b"application/json");
    }
    push_header(out, b"x-request-id", id.as_bytes());
    push_header_u64(
        out,
        b"content-length",
        spliced_len(body, &model_range, upstream_model) as u64,
    );
    out.extend_from_slice(b"\r\n");
    splice_model(out, body, &model_range, upstream_model);
    Ok(())
}

/// Append `segment` percent-encoded as one URL path segment (RFC 3986 unreserved kept).
fn push_path_segment(out: &mut Vec<u8>, segment: &str) {
    crate::http::percent::push_encoded_bytes(out, segment.as_bytes());
}

/// Status line and headers of a relayed response: the upstream's, less
/// hop-by-hop and framing headers, plus the gateway's own. Framing, the
/// connection header and the blank line are the caller's.
fn push_relayed_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    buf: &[u8],
    provider: &Provider,
    id: &RequestId,
) {
    push_status_line(out, head.status);
    let nominees = connection_nominees(&head.headers, buf);
    for h in &head.headers {
        let name = h.name(buf);
        if is_hop_by_hop_here(name, &nominees) || name.eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-request-id") {
            push_header(out, b"x-upstream-request-id", h.value(buf));
        } else {
            push_header(out, name, h.value(buf));
        }
    }
    push_header(out, b"x-request-id", id.as_bytes());
    push_header(out, b"x-ringbridge-provider", provider.name().as_bytes());
}

/// What became of a response relayed whole.
struct WholeOutcome {
    status: u16,
    client_reusable: bool,
    upstream_wait: Duration,
}

/// Relay an error answer after reading it whole, credentials masked.
async fn relay_whole(ctx: &Routed<'_>, client: &mut Client, mut resp: Response) -> WholeOutcome {
    let (worker, provider) = (ctx.worker, ctx.provider);
    provider.mask_credentials(&mut resp.buf[..resp.head.head_len]);
    let mut out = std::mem::take(&mut client.wbuf);
    out.clear();
    push_relayed_head(&mut out, &resp.head, &resp.buf, provider, ctx.id);
    let status = resp.head.status;
    let mut upstream_wait = resp.upstream_wait;
    let mut payload = worker.take_buf();
    let read = super::translate::read_whole(ctx, resp, &mut payload, &mut upstream_wait).await;
    if let Err(e) = read {
        client.wbuf = out;
        worker.give_buf(payload);
        let status = e.status();
        tracing::warn!(provider = provider.name(), request_id = %String::from_utf8_lossy(ctx.id.as_bytes()), error = %e, "upstream response failed");
        let err = ApiError::new(
            status,
            format!("upstream provider `{}` failed: {e}", provider.name()),
        );
        let ok = respond::error(client, &err, ctx.keep_alive, Some(ctx.id)).await;
        return WholeOutcome {
            status,
            client_reusable: ok,
            upstream_wait,
        };
    }
    provider.mask_credentials(&mut payload);
    push_header_u64(&mut out, b"content-length", payload.len() as u64);
    if !ctx.keep_alive {
        push_header(&mut out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    if !client.head_only {
        out.extend_from_slice(&payload);
    }
    worker.give_buf(payload);
    let (res, out) = write_all(&mut client.stream, out).await;
    client.wbuf = out;
    WholeOutcome {
        status,
        client_reusable: res.is_ok(),
        upstream_wait,
    }
}

struct RelayOutcome {
    /// The client connection is intact and the response was complete.
    client_reusable: bool,
    upstream_wait: Duration,
}

async fn relay(
    worker: &Worker,
    client: &mut Client,
    resp: Response,
    provider: &Provider,
    id: &RequestId,
    keep_alive: bool,
    tail: &mut Tail,
) -> RelayOutcome {
    let Response {
        mut conn,
        mut buf,
        head,
        mut upstream_wait,
        ..
    } = resp;
    let stream_idle = provider.settings.timeouts.stream_idle;

    provider.mask_credentials(&mut buf[..head.head_len]);
    let mut out = std::mem::take(&mut client.wbuf);
    out.clear();
    push_relayed_head(&mut out, &head, &buf, provider, id);
    let mut state = match head.framing {
        ResponseFraming::Empty => {
            if head.status != 204 && head.status != 304 {
                push_header(&mut out, b"content-length", b"0");
            }
            BodyState::Done
        }
        ResponseFraming::Length(n) => {
            push_header_u64(&mut out, b"content-length", n);
            if n == 0 {
                BodyState::Done
            } else {
                BodyState::Length(n)
            }
        }
        ResponseFraming::Chunked => {
            push_header(&mut out, b"transfer-encoding", b"chunked");
            BodyState::Chunked(ChunkedScanner::new())
        }
        ResponseFraming::UntilClose => {
            push_header(&mut out, b"transfer-encoding", b"chunked");
            BodyState::UntilClose
        }
    };
    if !keep_alive {
        push_header(&mut out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");

    let mut upstream_reusable = head.keep_alive;
    let first = &buf[head.head_len..];
    let (mut done, failure) = match state.consume(first, |p| tail.push(p)) {
        Ok((n, done)) => {
            if matches!(state, BodyState::UntilClose) {
                push_chunk(&mut out, &first[..n]);
            } else {
                out.extend_from_slice(&first[..n]);
            }
            upstream_reusable &= n == first.len();
            (done, None)
        }
        Err(e) => (false, Some(UpstreamError::BadResponse(e.0))),
    };
    if failure.is_none() {
        let (res, o) = write_all(&mut client.stream, out).await;
        out = o;
        if res.is_err() {
            client.wbuf = out;
            worker.pools.discard(conn);
            return RelayOutcome {
                client_reusable: false,
                upstream_wait,
            };
        }
    }
    let mut failure = failure;

    while !done && failure.is_none() {
        buf.clear();
        let waited = Instant::now();
        let read = read_append_timeout(&mut conn, buf, stream_idle);
        let (res, b) = worker.drain.or_cut(read).await;
        buf = b;
        upstream_wait += waited.elapsed();
        match res {
            Ok(0) if matches!(state, BodyState::UntilClose) => {
                out.clear();
                out.extend_from_slice(LAST_CHUNK);
                upstream_reusable = false;
                done = true;
                let (res, o) = write_all(&mut client.stream, std::mem::take(&mut out)).await;
                out = o;
                if res.is_err() {
                    break;
                }
                continue;
            }
            Ok(0) => {
                failure = Some(UpstreamError::Truncated);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                failure = Some(UpstreamError::from_body_read(e, is_shutdown_cut));
                continue;
            }
        }
        let (n, finished) = match state.consume(&buf, |p| tail.push(p)) {
            Ok(r) => r,
            Err(e) => {
                failure = Some(UpstreamError::BadResponse(e.0));
                continue;
            }
        };
        done = finished;
        let res = if matches!(state, BodyState::UntilClose) {
            out.clear();
            push_chunk(&mut out, &buf);
            let (res, o) = write_all(&mut client.stream, std::mem::take(&mut out)).await;
            out = o;
            res
        } else {
            if n < buf.len() {
                upstream_reusable = false;
                buf.truncate(n);
            }
            let (res, b) = write_all(&mut client.stream, buf).await;
            buf = b;
            res
        };
        if res.is_err() {
            // The client left: cancel the upstream request by closing its connection.
            client.wbuf = out;
            worker.pools.discard(conn);
            return RelayOutcome {
                client_reusable: false,
                upstream_wait,
            };
        }
    }

    let client_reusable = match failure {
        None => {
            if done && upstream_reusable {
                worker.pools.checkin(
                    &provider.origin,
                    conn,
                    provider.settings.max_idle_connections,
                );
            } else {
                worker.pools.discard(conn);
            }
            done
        }
        Some(err) => {
            tracing::warn!(provider = provider.name(), request_id = %String::from_utf8_lossy(id.as_bytes()), error = %err, "upstream response broke off");
            worker.pools.discard(conn);
            if head.event_stream && state.can_append_chunk() {
                // End the stream with an error event rather than a silent truncation.
                let err = ApiError::new(
                    err.status(),
                    format!(
                        "upstream provider `{}` stream interrupted: {err}",
                        provider.name()
                    ),
                );
                let mut event = Vec::with_capacity(256);
                event.extend_from_slice(b"data: ");
                err.push_body(&mut event);
                event.extend_from_slice(b"\n\n");
                out.clear();
                push_chunk(&mut out, &event);
                out.extend_from_slice(LAST_CHUNK);
                let (_, o) = write_all(&mut client.stream, out).await;
                out = o;
            }
            false
        }
    };
    client.wbuf = out;
    worker.give_buf(buf);
    worker.pools.recycle_headers(head.headers);
    RelayOutcome {
        client_reusable,
        upstream_wait,
    }
}

#[allow(clippy::too_many_arguments)]
async fn answer_from_mock(
    worker: &Worker,
    client: &mut Client,
    req: &Request,
    endpoint: Endpoint,
    id: &RequestId,
    keep_alive: bool,
    provider: &Provider,
    model: &str,
    body: &[u8],
) -> bool {
    let which = match endpoint {
        Endpoint::ChatCompletions => MockEndpoint::ChatCompletions,
        Endpoint::Completions => MockEndpoint::Completions,
        Endpoint::Embeddings => MockEndpoint::Embeddings,
    };
    let reply = mock::respond(which, model, body);
    let mut out = std::mem::take(&mut client.wbuf);
    out.clear();
    let provider_header: (&[u8], &[u8]) = (b"x-ringbridge-provider", provider.name().as_bytes());
    let usage;
    match &reply.body {
        MockBody::Full(bytes) => {
            usage = crate::schema::usage::scan_usage(bytes);
            respond::push_head(
                &mut out,
                reply.status,
                reply.content_type.as_bytes(),
                Some(bytes.len()),
                keep_alive,
                Some(id),
            );
            push_header(&mut out, provider_header.0, provider_header.1);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(bytes);
        }
        MockBody::Events(events) => {
            let mut tail = Tail::new();
            respond::push_head(
                &mut out,
                reply.status,
                reply.content_type.as_bytes(),
                None,
                keep_alive,
                Some(id),
            );
            push_header(&mut out, provider_header.0, provider_header.1);
            out.extend_from_slice(b"\r\n");
            for e in events {
                tail.push(e);
                push_chunk(&mut out, e);
            }
            out.extend_from_slice(LAST_CHUNK);
            usage = tail.usage();
        }
    }
    let (res, out) = write_all(&mut client.stream, out).await;
    client.wbuf = out;
    record(
        worker,
        endpoint,
        req.started,
        &Finished {
            provider: provider.name(),
            model,
            status: reply.status,
            upstream_wait: Duration::ZERO,
            ttfb: None,
            usage,
        },
    );
    res.is_ok() && keep_alive
}
