//! Upstream side: per-core keep-alive pools per origin, connecting (TCP + TLS),
//! sending one request and reading the response head. The body relay belongs to
//! the caller, which owns the client socket.
//!
//! Resend rule: a request goes out a second time only when the upstream cannot
//! have received it, because writing it to a *reused* connection failed (the
//! upstream had closed it while idle). Once the write succeeded, a reset or a
//! close before any response byte is a 502, never a resend: the upstream may
//! have read the request and started on it, and for an LLM call a resend is a
//! second execution and a second bill (RFC 9112 §9.3.1). A pooled connection
//! the upstream has visibly closed is found before the write, by a probe on
//! every checkout, and never used.

pub mod blocking;
pub mod body;
mod conn;
pub mod dns;
pub mod request;
#[cfg(test)]
mod tests;
mod tls;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use rustls::pki_types::ServerName;

pub use body::BodyReader;
pub use conn::Conn;
use conn::Io;
pub use dns::DnsCache;
pub use request::{OutgoingRequest, Part};
pub use tls::client_config;

use crate::http::io::read_append_timeout;
use crate::http::request::HeaderSpan;
use crate::http::response::{parse_response_head, ResponseHead};
use crate::http::url::{BaseUrl, Scheme};
use crate::telemetry::CoreMetrics;

/// A pooled connection idle longer than this is closed instead of reused
/// (shorter than the common 120 s idle timeouts of provider load balancers).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// A connection pooled less than this long ago is reused without the probe
/// syscall: under load connections come back within milliseconds, and an
/// upstream that closes a kept-alive connection this soon without saying
/// `Connection: close` costs a 502 (never a second execution). Servers' idle
/// timeouts are seconds, so anything idle longer is probed.
const POOL_TRUST_UNPROBED: Duration = Duration::from_millis(50);
/// Largest upstream response head accepted.
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Upstream timeouts, per provider.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTimeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// From request sent to the first byte of the response head.
    pub first_byte: Duration,
    /// Longest silence between two reads of a response body.
    pub stream_idle: Duration,
}

/// Where a provider's requests go: one pool key.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Pool key, e.g. `https://api.groq.com:443`.
    pub key: String,
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Value of the `Host` header.
    pub host_header: String,
    server_name: Option<ServerName<'static>>,
}

impl Origin {
    pub fn new(url: &BaseUrl) -> Self {
        let default_port = match url.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let bracketed = if url.host.contains(':') {
            format!("[{}]", url.host)
        } else {
            url.host.clone()
        };
        let host_header = if url.port == default_port {
            bracketed.clone()
        } else {
            format!("{bracketed}:{}", url.port)
        };
        let scheme = match url.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let server_name = match url.scheme {
            Scheme::Https => match url.host.parse::<IpAddr>() {
                Ok(ip) => Some(ServerName::IpAddress(ip.into())),
                Err(_) => ServerName::try_from(url.host.clone()).ok(),
            },
            Scheme::Http => None,
        };
        Self {
            key: format!("{scheme}://{bracketed}:{}", url.port),
            scheme: url.scheme,
            host: url.host.clone(),
            port: url.port,
            host_header,
            server_name,
        }
    }
}

/// Why an upstream exchange failed. Timeouts become 504, the rest 502.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not resolve host {0}")]
    Dns(String),
    #[error("connect failed: {0}")]
    Connect(io::Error),
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("sending the request failed: {0}")]
    Send(io::Error),
    #[error("connection closed before a response arrived")]
    ClosedBeforeResponse,
    #[error("no response within the first-byte timeout")]
    FirstByteTimeout,
    #[error("invalid response: {0}")]
    BadResponse(&'static str),
    #[error("reading the response failed: {0}")]
    Read(io::Error),
    #[error("no data within the stream-idle timeout")]
    StreamIdleTimeout,
    #[error("response ended early")]
    Truncated,
    #[error("the gateway is shutting down")]
    Shutdown,
}

impl UpstreamError {
    /// The status a client gets for this failure: 504 for timeouts, 503 when
    /// the gateway itself is stopping, else 502.
    pub fn status(&self) -> u16 {
        match self {
            _ if self.is_timeout() => 504,
            Self::Shutdown => 503,
            _ => 502,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::ConnectTimeout | Self::FirstByteTimeout | Self::StreamIdleTimeout
        )
    }

    /// The request did not reach the upstream whole, so sending it again on
    /// a fresh connection cannot run it twice.
    fn request_undelivered(&self) -> bool {
        matches!(self, Self::Send(_))
    }
}

/// A response whose head has arrived.
pub struct Response {
    pub conn: Conn,
    /// The head (`buf[..head.head_len]`) and the body bytes read with it.
    pub buf: Vec<u8>,
    pub head: ResponseHead,
    /// Time spent waiting on the upstream so far (connect, head).
    pub upstream_wait: Duration,
    /// Request written -> first byte of the response head.
    pub ttfb: Duration,
}

/// This core's upstream connections.
pub struct Pools {
    idle: RefCell<HashMap<String, Vec<Conn>>>,
    /// Recycled header-offset vectors for response heads.
    spare_headers: RefCell<Vec<Vec<HeaderSpan>>>,
    idle_count: Cell<usize>,
    tls: monoio_rustls::TlsConnector,
    dns: Arc<DnsCache>,
    metrics: Rc<CoreMetrics>,
}

impl Pools {
    pub fn new(
        tls: Arc<rustls::ClientConfig>,
        dns: Arc<DnsCache>,
        metrics: Rc<CoreMetrics>,
    ) -> Self {
        Self {
            idle: RefCell::new(HashMap::new()),
            spare_headers: RefCell::new(Vec::new()),
            idle_count: Cell::new(0),
            tls: tls.into(),
            dns,
            metrics,
        }
    }

    /// Send `request` and read the response head into `response_buf`. The
    /// request comes back, for its buffer.
    pub async fn send(
        &self,
        origin: &Origin,
        request: OutgoingRequest,
        response_buf: Vec<u8>,
        timeouts: &UpstreamTimeouts,
    ) -> (Result<Response, UpstreamError>, OutgoingRequest) {
        let started = Instant::now();
        let mut request = request;
        let mut response_buf = Some(response_buf);
        let mut fresh_only = false;
        loop {
            let conn = match (!fresh_only).then(|| self.checkout(origin)).flatten() {
                Some(c) => c,
                None => match self.connect(origin, timeouts.connect).await {
                    Ok(c) => c,
                    Err(e) => return (Err(e), request),
                },
            };
            let reused = conn.reused;
            let buf = response_buf.take().unwrap_or_default();
            let (res, req) = self.exchange(conn, request, buf, timeouts, started).await;
            request = req;
            match res {
                Err(e) if reused && e.request_undelivered() => {
                    tracing::debug!(origin = %origin.key, error = %e, "stale pooled connection, resending on a fresh one");
                    fresh_only = true;
                }
                other => return (other, request),
            }
        }
    }

    async fn exchange(
        &self,
        mut conn: Conn,
        request: OutgoingRequest,
        mut buf: Vec<u8>,
        timeouts: &UpstreamTimeouts,
        started: Instant,
    ) -> (Result<Response, UpstreamError>, OutgoingRequest) {
        let (res, request) = request.write_to(&mut conn).await;
        if let Err(e) = res {
            return (Err(UpstreamError::Send(e)), request);
        }
        let sent = Instant::now();
        let deadline = sent + timeouts.first_byte;
        buf.clear();
        let mut ttfb = None;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(UpstreamError::FirstByteTimeout);
            }
            let (res, b) = read_append_timeout(&mut conn, buf, left).await;
            buf = b;
            match res {
                Ok(0) if buf.is_empty() => break Err(UpstreamError::ClosedBeforeResponse),
                Ok(0) => {
                    break Err(UpstreamError::BadResponse(
                        "connection closed inside the response head",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    break Err(UpstreamError::FirstByteTimeout)
                }
                Err(e) => break Err(UpstreamError::Read(e)),
            }
            ttfb.get_or_insert_with(|| sent.elapsed());
            let spans = self.spare_headers.borrow_mut().pop().unwrap_or_default();
            match parse_response_head(&buf, spans) {
                Ok(Some(head)) if (100..200).contains(&head.status) && head.status != 101 => {
                    // Interim response (100 Continue, 103 Early Hints): drop it, keep reading.
                    buf.drain(..head.head_len);
                }
                Ok(Some(head)) => break Ok(head),
                Ok(None) if buf.len() > MAX_RESPONSE_HEAD_BYTES => {
                    break Err(UpstreamError::BadResponse("response head too large"))
                }
                Ok(None) => {}
                Err(e) => break Err(UpstreamError::BadResponse(e.0)),
            }
        };
        match result {
            Ok(head) => (
                Ok(Response {
                    conn,
                    buf,
                    head,
                    upstream_wait: started.elapsed(),
                    ttfb: ttfb.unwrap_or_default(),
                }),
                request,
            ),
            Err(e) => (Err(e), request),
        }
    }

    /// Take a live idle connection for `origin`, newest first.
    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(origin.key.as_str())?;
        while let Some(mut conn) = list.pop() {
            self.idle_count.set(self.idle_count.get() - 1);
            // The probe is what lets a request avoid a connection the upstream
            // closed: after the write, a close can no longer be told from a
            // request the upstream read and dropped, and is not resent.
            let idle = conn.idle_since.elapsed();
            if idle < POOL_TRUST_UNPROBED || (idle < POOL_IDLE_TIMEOUT && conn.is_quiet()) {
                conn.reused = true;
                self.metrics.upstream_connection_reused();
                self.metrics.set_upstream_idle(self.idle_count.get());
                return Some(conn);
            }
        }
        self.metrics.set_upstream_idle(self.idle_count.get());
        None
    }

    /// Give back a response head's header vector for reuse.
    pub fn recycle_headers(&self, mut spans: Vec<HeaderSpan>) {
        let mut spare = self.spare_headers.borrow_mut();
        if spare.len() < 64 {
            spans.clear();
            spare.push(spans);
        }
    }

    /// Return a connection whose last response was read completely.
    pub fn checkin(&self, origin: &Origin, mut conn: Conn, max_idle: usize) {
        let mut idle = self.idle.borrow_mut();
        let list = match idle.get_mut(origin.key.as_str()) {
            Some(l) => l,
            None => idle.entry(origin.key.clone()).or_default(),
        };
        if max_idle == 0 {
            return;
        }
        if list.len() >= max_idle {
            list.remove(0);
            self.idle_count.set(self.idle_count.get() - 1);
        }
        conn.idle_since = Instant::now();
        list.push(conn);
        self.idle_count.set(self.idle_count.get() + 1);
        self.metrics.set_upstream_idle(self.idle_count.get());
    }

    /// Close a connection that cannot be reused (error, cancelled, cut).
    pub fn discard(&self, conn: Conn) {
        drop(conn);
    }

    /// Close idle connections past their idle timeout; run from a per-core timer.
    pub fn evict_expired(&self) {
        let mut idle = self.idle.borrow_mut();
        let mut closed = 0;
        for list in idle.values_mut() {
            let before = list.len();
            list.retain(|c| c.idle_since.elapsed() < POOL_IDLE_TIMEOUT && c.is_quiet());
            closed += before - list.len();
        }
        self.idle_count.set(self.idle_count.get() - closed);
        self.metrics.set_upstream_idle(self.idle_count.get());
    }

    async fn connect(&self, origin: &Origin, limit: Duration) -> Result<Conn, UpstreamError> {
        match monoio::time::timeout(limit, self.connect_inner(origin)).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::ConnectTimeout),
        }
    }

    async fn connect_inner(&self, origin: &Origin) -> Result<Conn, UpstreamError> {
        use std::os::fd::AsRawFd;
        let addrs = self
            .dns
            .lookup(&origin.host, origin.port)
            .ok_or_else(|| UpstreamError::Dns(origin.host.clone()))?;
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_addr(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match stream {
            Some(s) => s,
            None => {
                return Err(UpstreamError::Connect(
                    last.unwrap_or_else(|| io::ErrorKind::AddrNotAvailable.into()),
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        let fd = stream.as_raw_fd();
        let io = match &origin.server_name {
            None => Io::Plain(stream),
            Some(name) => match self.tls.connect(name.clone(), stream).await {
                Ok(s) => Io::Tls(Box::new(s)),
                Err(e) => return Err(UpstreamError::Tls(e.to_string())),
            },
        };
        Ok(Conn::new(io, fd, self.metrics.clone()))
    }
}
