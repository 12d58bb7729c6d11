//! The per-request state every phase reads ([`Exchange`]) and fills in
//! ([`Record`]), and the phases every converter shares: sending upstream
//! while watching the client, and recording the outcome.

use std::borrow::Cow;
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::{ErrorKind, GatewayError};
use super::respond::{Client, RequestId};
use super::target::Request;
use crate::http::response::push_decimal;
use crate::router::{NoToken, Provider};
use crate::schema::dialect::Dialect;
use crate::schema::usage::Usage;
use crate::telemetry::trace_context::{new_span_id, TraceContext, TRACEPARENT_HEADER};
use crate::telemetry::RequestRecord;
use crate::upstream::{BodyReader, OutgoingRequest, Response, UpstreamError};
use crate::worker::{Caller, Worker};

/// How long a request may wait on its upstream before the gateway also watches
/// the client socket for a hang-up: a timer is nearly free, a poll operation
/// per request is not, and short requests finish before the watch starts.
const CLIENT_WATCH_AFTER: Duration = Duration::from_millis(500);

/// What a request is, fixed from its head and body: the inputs of every phase.
pub(super) struct Exchange<'a> {
    pub worker: &'a Worker,
    pub rbuf: &'a [u8],
    /// `rbuf` itself when the body is large enough to be written upstream
    /// from it (see `upstream::OutgoingRequest`).
    pub shared: Option<&'a Rc<Vec<u8>>>,
    pub req: &'a Request,
    pub dialect: Dialect,
    /// Who is calling, from inbound auth (for budgets and logs).
    pub caller: Caller,
    pub id: &'a RequestId,
    pub keep_alive: bool,
    /// `x-ringbridge-timeout-ms`: when the whole chain of attempts must
    /// have an answer started.
    pub deadline: Option<Instant>,
    /// The body as a chat body, for a dialect that goes through the hub
    /// (`api::hub`), converted on first use.
    pub hub: std::cell::OnceCell<Result<Vec<u8>, GatewayError>>,
    /// The request's span when traces are exported (`[otlp]`).
    pub trace: Option<Trace>,
}

/// A traced request: the trace it continues (or starts) and its own span.
pub(super) struct Trace {
    pub context: TraceContext,
    pub span_id: [u8; 8],
}

impl Trace {
    /// When `[otlp]` is on: continue the client's `traceparent`, or start a trace.
    pub fn of(worker: &Worker, rbuf: &[u8], req: &Request) -> Option<Trace> {
        req.config.settings.otlp.as_ref()?;
        let header = req.head.header(rbuf, TRACEPARENT_HEADER.as_bytes());
        let context = TraceContext::continue_or_start(header, || worker.random(), true);
        Some(Trace {
            context,
            span_id: new_span_id(|| worker.random()),
        })
    }
}

/// The upstream's `traceparent`: this request's span as the parent.
pub(super) fn push_traceparent(out: &mut Vec<u8>, x: &Exchange<'_>) {
    if let Some(t) = &x.trace {
        out.extend_from_slice(b"traceparent: ");
        t.context.write_child_traceparent(&t.span_id, out);
        out.extend_from_slice(b"\r\n");
    }
}

impl Exchange<'_> {
    pub fn body(&self) -> &[u8] {
        &self.rbuf[self.req.body.clone()]
    }
}

/// What the client asked for, from the body's top level.
pub(super) struct Asked<'b> {
    pub model: Cow<'b, str>,
    /// Where its string value sits in the body, for splicing.
    pub range: Range<usize>,
    /// The request's own fallback chain (`"fallbacks": ["provider/model"]`).
    pub fallbacks: Vec<String>,
    /// The `fallbacks` member, cut from the body before it goes upstream.
    pub cut: Option<Range<usize>>,
    /// `"stream": true`.
    pub stream: bool,
}

/// How long an upstream asks the client to wait: `retry-after-ms` (OpenAI,
/// Azure) or `retry-after` in seconds (the HTTP-date form is not used by
/// providers and is ignored).
pub(super) fn retry_after(reader: &BodyReader) -> Option<Duration> {
    let number = |name: &[u8]| -> Option<u64> {
        std::str::from_utf8(reader.header(name)?)
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    number(b"retry-after-ms")
        .map(Duration::from_millis)
        .or_else(|| number(b"retry-after").map(Duration::from_secs))
}

/// What is recorded of a request once it ends; phases fill it in.
#[derive(Default)]
pub(super) struct Record<'a> {
    pub provider: &'a str,
    /// Model name as sent upstream.
    pub model: &'a str,
    /// Which of the provider's keys the current attempt uses.
    pub key: usize,
    pub status: u16,
    pub upstream_wait: Duration,
    pub ttfb: Option<Duration>,
    pub usage: Usage,
    /// Candidates tried before the one that answered (or failed last).
    pub failed_attempts: u32,
    /// `provider/model=status, ` for each of them, for `x-ringbridge-attempts`.
    pub tried: Vec<u8>,
    /// Where the caller's virtual key stands, for `x-ratelimit-*`.
    pub rate: crate::governance::Admitted,
    /// The current candidate's price (`None`: unpriced).
    pub price: Option<&'a crate::pricing::Price>,
    /// The client asked for `x-ringbridge-cost` (`x-ringbridge-include-cost: true`).
    pub wants_cost: bool,
}

impl Record<'_> {
    /// What the request cost so far, in nano-dollars, and whether its model
    /// has a price.
    pub fn cost(&self) -> (u64, bool) {
        match self.price {
            Some(p) => (crate::pricing::cost_nanos(p, &self.usage), true),
            None => (0, false),
        }
    }
}

impl Record<'_> {
    /// The current attempt failed with `status`; the next one starts.
    pub fn attempt_failed(&mut self, status: u16) {
        push_attempt(&mut self.tried, self.provider, self.model, status);
        self.tried.extend_from_slice(b", ");
        self.failed_attempts += 1;
        self.ttfb = None;
    }

    /// The `x-ringbridge-attempts` value for the current attempt answering
    /// with `status`: how many tries, then each as `provider/model=status`.
    pub fn push_attempts(&self, out: &mut Vec<u8>, status: u16) {
        push_decimal(out, u64::from(self.failed_attempts) + 1);
        out.extend_from_slice(b"; ");
        out.extend_from_slice(&self.tried);
        push_attempt(out, self.provider, self.model, status);
    }

    /// The whole `x-ringbridge-attempts` header line, and the caller's
    /// `x-ratelimit-*` lines when its key has limits.
    pub fn push_attempts_header(&self, out: &mut Vec<u8>, status: u16) {
        out.extend_from_slice(b"x-ringbridge-attempts: ");
        self.push_attempts(out, status);
        out.extend_from_slice(b"\r\n");
        super::govern::push_rate_headers(out, &self.rate);
        if self.wants_cost && status < 400 {
            let (nanos, priced) = self.cost();
            out.extend_from_slice(b"x-ringbridge-cost: ");
            out.extend_from_slice(format!("{:.9}", nanos as f64 / 1e9).as_bytes());
            out.extend_from_slice(b"\r\n");
            if !priced {
                out.extend_from_slice(b"x-ringbridge-cost-unpriced: true\r\n");
            }
        }
    }
}

/// `provider/model=status`, with any byte that could break the header or
/// its list (controls, non-ASCII, space, `%,;=`) percent-encoded: model
/// names come from clients.
fn push_attempt(out: &mut Vec<u8>, provider: &str, model: &str, status: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut push_name = |name: &str| {
        for &b in name.as_bytes() {
            if b.is_ascii_graphic() && !matches!(b, b'%' | b',' | b';' | b'=') {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    };
    push_name(provider);
    push_name("/");
    push_name(model);
    out.push(b'=');
    push_decimal(out, u64::from(status));
}

/// The 503 for a provider whose refreshed access token is missing or expired
/// (the control plane keeps retrying; the reason is in the message).
pub(super) fn no_credentials(provider: &Provider, missing: NoToken) -> GatewayError {
    GatewayError::of(
        ErrorKind::CredentialsUnavailable,
        503,
        format!(
            "provider `{}` has no valid access token: {}",
            provider.name(),
            missing.0
        ),
    )
    .with_provider(provider.name())
}

/// Send `request` (head and body) upstream and wait for the response head,
/// giving up if the client hangs up meanwhile (dropping the exchange closes
/// the upstream connection: the provider stops generating for nobody).
pub(super) async fn send(
    x: &Exchange<'_>,
    client: &Client,
    provider: &Provider,
    request: OutgoingRequest,
    rec: &mut Record<'_>,
) -> Result<Response, GatewayError> {
    let worker = x.worker;
    let mut timeouts = provider.settings.timeouts;
    if let Some(deadline) = x.deadline {
        // The request's deadline bounds this attempt's wait for a head too.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(GatewayError::upstream(
                provider.name(),
                &UpstreamError::FirstByteTimeout,
            ));
        }
        timeouts.connect = timeouts.connect.min(left);
        timeouts.first_byte = timeouts.first_byte.min(left);
    }
    let sending = worker
        .pools
        .send(&provider.origin, request, worker.take_buf(), &timeouts);
    let (res, request) = monoio::select! {
        r = sending => r,
        _ = worker.drain.cut_requested() => (Err(UpstreamError::Shutdown), OutgoingRequest::whole(Vec::new())),
        _ = client_hung_up(&client.stream) => {
            tracing::debug!(provider = provider.name(), "client closed the connection before the upstream answered");
            rec.upstream_wait += x.req.started.elapsed();
            return Err(GatewayError::client_closed());
        }
    };
    worker.give_buf(request.into_bytes());
    match res {
        Ok(resp) => {
            rec.upstream_wait += resp.upstream_wait;
            rec.ttfb = Some(resp.ttfb);
            Ok(resp)
        }
        Err(e) => {
            rec.upstream_wait += x.req.started.elapsed();
            Err(GatewayError::upstream(provider.name(), &e))
        }
    }
}

/// Done with an upstream body: give the connection back to the pool (or
/// close it) and count the time waited on it.
pub(super) fn end_upstream(
    x: &Exchange<'_>,
    provider: &Provider,
    reader: BodyReader,
    rec: &mut Record<'_>,
) {
    rec.upstream_wait += reader.upstream_wait;
    let worker = x.worker;
    let max_idle = provider.settings.max_idle_connections;
    worker.give_buf(reader.finish(&worker.pools, &provider.origin, max_idle));
}

/// Read the rest of a body into `out` (payload only, at most `max` bytes),
/// then [`end_upstream`].
pub(super) async fn read_whole(
    x: &Exchange<'_>,
    provider: &Provider,
    mut reader: BodyReader,
    out: &mut Vec<u8>,
    max: usize,
    rec: &mut Record<'_>,
) -> Result<(), GatewayError> {
    let worker = x.worker;
    let read = reader
        .read_to_end(|| worker.drain.cut_requested(), out, max)
        .await;
    end_upstream(x, provider, reader, rec);
    read.map_err(|e| GatewayError::upstream(provider.name(), &e))
}

/// Resolves when the client has closed its side of the connection.
pub(super) async fn client_hung_up(stream: &monoio::net::TcpStream) {
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

pub(super) fn record(worker: &Worker, dialect: Dialect, started: Instant, rec: &Record<'_>) {
    worker.metrics.record(&RequestRecord {
        provider: rec.provider,
        model: rec.model,
        endpoint: dialect.label(),
        status: rec.status,
        total: started.elapsed(),
        upstream_wait: rec.upstream_wait,
        upstream_ttfb: rec.ttfb,
        prompt_tokens: rec.usage.prompt_tokens,
        completion_tokens: rec.usage.completion_tokens,
    });
}

/// Count a request refused before the driver (auth, body limits).
pub(super) fn record_rejection(worker: &Worker, dialect: Dialect, started: Instant, status: u16) {
    let rec = Record {
        status,
        ..Record::default()
    };
    record(worker, dialect, started, &rec);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_list_every_try_and_escape_client_chosen_names() {
        let mut rec = Record {
            provider: "groq",
            model: "llama",
            ..Record::default()
        };
        let mut one = Vec::new();
        rec.push_attempts(&mut one, 200);
        assert_eq!(one, b"1; groq/llama=200");
        rec.attempt_failed(429);
        rec.provider = "mistral";
        rec.model = "a b,c;d=e%\r\nx-evil: 1\u{e9}";
        let mut out = Vec::new();
        rec.push_attempts_header(&mut out, 502);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-ringbridge-attempts: 2; groq/llama=429, mistral/a%20b%2Cc%3Bd%3De%25%0D%0Ax-evil:%201%C3%A9=502\r\n"
        );
        assert_eq!(rec.failed_attempts, 1);
    }
}
