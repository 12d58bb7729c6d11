//! One client connection: read a request (head, then body) under the limits and
//! timeouts, dispatch it, repeat while keep-alive holds. Pipelined requests are
//! answered in order because each is handled to completion before the next
//! head is parsed from the bytes already buffered.

use std::ops::Range;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;

use super::dispatch::{begin_request, dispatch};
use super::error::GatewayError;
use super::respond;
use super::respond::Client;
use super::target::{target_of, Request, Target};
use crate::config::Limits;
use crate::http::chunked::{ChunkedDecoder, DecodeStep};
use crate::http::io::{read_append_timeout, write_all, READ_CHUNK_BYTES};
use crate::http::request::{
    has_head_end, parse_request_head, BodyFraming, HeaderSpan, RequestHead,
};
use crate::schema::dialect::Dialect;
use crate::worker::capacity::UNCOUNTED_BODY_BYTES;
use crate::worker::Worker;

/// Initial read buffer per connection; grows for large bodies.
const READ_BUF_BYTES: usize = 16 * 1024;
/// Above this, the read buffer is shrunk back after the request.
const MAX_IDLE_READ_BUF_BYTES: usize = 256 * 1024;
/// After refusing a request whose body was not read, keep reading (and
/// dropping) what the client still sends for this long or this many bytes
/// before closing, so the client reads the answer instead of a reset
/// (nginx's lingering close).
const LINGER_MS: u64 = 2_000;
const LINGER_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Bodies at least this large are shared with the upstream write instead of
/// copied into the upstream request (below it the copy is cheaper than the
/// bookkeeping).
const SHARED_BODY_MIN_BYTES: usize = 64 * 1024;
/// A chunked body's budget reservation grows in steps of this much.
const CHUNKED_RESERVE_STEP_BYTES: usize = 1024 * 1024;

/// A client connection and the buffers it owns for life. Dropping it gives
/// back what it holds of the gateway's capacity.
struct Downstream {
    worker: Rc<Worker>,
    client: Client,
    /// Bytes read and not yet consumed: the current request, then any pipelined ones.
    rbuf: Vec<u8>,
    headers: Vec<HeaderSpan>,
    /// This connection's entry in the core's idle table.
    slot: u32,
    /// Body bytes reserved against the gateway-wide budget for the current request.
    reserved: usize,
    /// Whose error shape a refusal of the current request takes, once its
    /// target is known (an Anthropic client reads Anthropic's errors).
    error_dialect: Dialect,
}

impl Downstream {
    /// Append what the client sends next to `rbuf`, waiting at most `limit`
    /// (on expiry the read is cancelled: `ErrorKind::TimedOut`).
    async fn read_within(&mut self, limit: Duration) -> std::io::Result<usize> {
        let rbuf = std::mem::take(&mut self.rbuf);
        let (res, buf) = read_append_timeout(&mut self.client.stream, rbuf, limit).await;
        self.rbuf = buf;
        res
    }

    fn release_body(&mut self) {
        self.worker
            .gw
            .capacity
            .release_body(std::mem::take(&mut self.reserved));
    }

    /// Grow this request's body reservation to cover `bytes`.
    fn reserve_body(&mut self, bytes: usize) -> Result<(), GatewayError> {
        if bytes <= UNCOUNTED_BODY_BYTES || bytes <= self.reserved {
            return Ok(());
        }
        let more = bytes - self.reserved;
        if !self.worker.gw.capacity.reserve_body(more) {
            return Err(GatewayError::new(
                503,
                "the gateway is buffering too many request bodies; retry shortly",
            ));
        }
        self.reserved = bytes;
        Ok(())
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.release_body();
        self.worker.idle.unregister(self.slot);
        self.worker.gw.capacity.closed();
    }
}

enum Read {
    Request(Request),
    /// Peer closed, idled out, or broke off; nothing to answer.
    Gone,
    /// Answer with this error, then close.
    Reject(GatewayError),
    /// Answer with this error before the body was read, then close after a
    /// lingering read of what the client still sends.
    Refuse(GatewayError),
}

/// Serve one client connection, already counted in the gateway's capacity.
pub async fn serve_connection(worker: Rc<Worker>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let slot = worker.idle.register(stream.as_raw_fd());
    let mut conn = Downstream {
        worker: worker.clone(),
        client: Client {
            stream,
            wbuf: Vec::with_capacity(READ_BUF_BYTES),
            head_only: false,
            http10: false,
            cors: Vec::new(),
            capture: Default::default(),
        },
        rbuf: Vec::with_capacity(READ_BUF_BYTES),
        headers: Vec::with_capacity(32),
        slot,
        reserved: 0,
        error_dialect: Dialect::OpenAiChat,
    };
    loop {
        match read_request(&mut conn).await {
            Read::Gone => return,
            Read::Reject(err) => {
                conn.client.head_only = false;
                respond::error(&mut conn.client, conn.error_dialect, &err, false, None).await;
                return;
            }
            Read::Refuse(err) => {
                if respond::error(&mut conn.client, conn.error_dialect, &err, false, None).await {
                    linger_close(&mut conn).await;
                }
                return;
            }
            Read::Request(req) => {
                worker.active_requests.set(worker.active_requests.get() + 1);
                let _inflight = worker.metrics.inflight();
                let keep_alive = if req.body.len() >= SHARED_BODY_MIN_BYTES {
                    // A large body is written upstream from this buffer
                    // (writev) rather than copied: the request shares it.
                    let shared = Rc::new(std::mem::take(&mut conn.rbuf));
                    let keep =
                        dispatch(&worker, &shared, Some(&shared), &mut conn.client, &req).await;
                    // A cancelled write may still hold the buffer in the
                    // kernel's queue; then only the unread rest is kept.
                    conn.rbuf = Rc::try_unwrap(shared).unwrap_or_else(|held| held.to_vec());
                    keep
                } else {
                    dispatch(&worker, &conn.rbuf, None, &mut conn.client, &req).await
                };
                worker.active_requests.set(worker.active_requests.get() - 1);
                conn.headers = req.head.headers;
                conn.rbuf.drain(..req.end);
                conn.release_body();
                if conn.rbuf.capacity() > MAX_IDLE_READ_BUF_BYTES
                    && conn.rbuf.len() <= READ_BUF_BYTES
                {
                    // A large body grew the buffer: an idle connection does not
                    // keep it, the core does, for the next large body (giving
                    // the pages back and faulting them in again per request
                    // cost more than reading the body).
                    let mut small = Vec::with_capacity(READ_BUF_BYTES);
                    small.extend_from_slice(&conn.rbuf);
                    worker.keep_read_buf(std::mem::replace(&mut conn.rbuf, small));
                }
                if !keep_alive || worker.gw.shutting_down() {
                    return;
                }
            }
        }
    }
}

async fn read_request(conn: &mut Downstream) -> Read {
    // Until a head is read, nothing of the previous request applies.
    conn.client.http10 = false;
    conn.client.cors.clear();
    conn.error_dialect = Dialect::OpenAiChat;
    let head = match read_head(conn, &conn.worker.config().settings.limits).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let started = Instant::now();
    // The configuration this request holds to its end (a keep-alive
    // connection may have idled through a publish while waiting for the head).
    let config = conn.worker.config();
    begin_request(&config, &conn.rbuf, &head, &mut conn.client);
    let target = target_of(&config, &conn.rbuf, &head);
    conn.error_dialect = target.dialect().unwrap_or(Dialect::OpenAiChat);
    if let Target::Unauthorized(dialect, err) = &target {
        if head.framing != BodyFraming::None {
            // Refused from the head: a caller without a valid key never gets
            // the gateway to buffer a body.
            if let Some(dialect) = dialect {
                super::request_log::refused(&conn.worker, *dialect, started, None, err);
            }
            let err = err.clone();
            conn.headers = head.headers;
            return Read::Refuse(err);
        }
    }
    match read_body(conn, &head, &config.settings.limits).await {
        Ok((body, end)) => Read::Request(Request {
            head,
            body,
            end,
            started,
            target,
            config,
        }),
        Err(r) => {
            conn.headers = head.headers;
            r
        }
    }
}

async fn read_head(conn: &mut Downstream, limits: &Limits) -> Result<RequestHead, Read> {
    let mut first_byte_at: Option<Instant> = None;
    // Bytes already known to hold no end of head: the head is parsed once it
    // is complete (or too large), not again from the start after every read,
    // which a client sending one byte at a time would make quadratic.
    let mut scanned = 0;
    let mut parsed_once = false;
    loop {
        if !conn.rbuf.is_empty() {
            if first_byte_at.is_none() {
                first_byte_at = Some(Instant::now());
                // RFC 9112 §2.2: empty lines before a request line are ignored.
                let blank = conn.rbuf.iter().take_while(|&&b| b == b'\r' || b == b'\n');
                let blank = blank.count();
                if blank > 0 {
                    conn.rbuf.drain(..blank);
                    first_byte_at = None;
                    continue;
                }
            }
            let complete = has_head_end(&conn.rbuf, scanned);
            if complete || !parsed_once || conn.rbuf.len() >= limits.max_head_bytes {
                // The first parse refuses garbage early; later ones only when
                // the head can be whole.
                parsed_once = true;
                let headers = std::mem::take(&mut conn.headers);
                match parse_request_head(&conn.rbuf, limits.max_head_bytes, headers) {
                    Ok(Some(head)) => return Ok(head),
                    Ok(None) => {}
                    Err((e, headers)) => {
                        conn.headers = headers;
                        return Err(Read::Reject(GatewayError::new(e.status(), e.to_string())));
                    }
                }
            }
            scanned = conn.rbuf.len().saturating_sub(3);
        }
        let wait = match first_byte_at {
            None => limits.idle_timeout,
            Some(t) => match limits.header_read_timeout.checked_sub(t.elapsed()) {
                Some(d) if !d.is_zero() => d,
                _ => return Err(timeout_408("request head")),
            },
        };
        let idle = conn.rbuf.is_empty();
        if idle {
            conn.worker.idle.set_idle(conn.slot);
        }
        let res = conn.read_within(wait).await;
        if idle {
            conn.worker.idle.set_busy(conn.slot);
        }
        match res {
            Ok(0) => return Err(Read::Gone),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut && first_byte_at.is_some() => {
                return Err(timeout_408("request head"))
            }
            Err(_) => return Err(Read::Gone),
        }
    }
}

fn timeout_408(what: &str) -> Read {
    Read::Reject(GatewayError::new(
        408,
        format!("timed out waiting for the {what}"),
    ))
}

fn too_large(limit: usize) -> GatewayError {
    GatewayError::new(
        413,
        format!("request body exceeds the limit of {limit} bytes"),
    )
}

/// Make room for `end` bytes in `rbuf`, with a large buffer the core kept
/// when there is one.
fn grow_read_buf(conn: &mut Downstream, end: usize) {
    // A read wants room for a whole chunk: without the slack, the last
    // read of the body would reallocate (and copy) the buffer.
    let end = end + READ_CHUNK_BYTES;
    if conn.rbuf.capacity() >= end {
        return;
    }
    match conn.worker.take_read_buf(end) {
        Some(mut big) => {
            big.extend_from_slice(&conn.rbuf);
            conn.rbuf = big;
        }
        None => conn.rbuf.reserve_exact(end - conn.rbuf.len()),
    }
}

/// Read the body into `rbuf` right after the head; returns (body range, end of request).
async fn read_body(
    conn: &mut Downstream,
    head: &RequestHead,
    limits: &Limits,
) -> Result<(Range<usize>, usize), Read> {
    let start = head.head_len;
    let deadline = Instant::now() + limits.body_read_timeout;
    match head.framing {
        BodyFraming::None => Ok((start..start, start)),
        BodyFraming::Length(n) => {
            if n > limits.max_body_bytes as u64 {
                return Err(Read::Refuse(too_large(limits.max_body_bytes)));
            }
            let n = n as usize;
            conn.reserve_body(n).map_err(Read::Refuse)?;
            let end = start + n;
            if conn.rbuf.len() < end {
                if head.expect_continue {
                    send_continue(conn).await?;
                }
                grow_read_buf(conn, end);
            }
            while conn.rbuf.len() < end {
                read_more(conn, deadline).await?;
            }
            Ok((start..end, end))
        }
        BodyFraming::Chunked => {
            if head.expect_continue && conn.rbuf.len() == start {
                send_continue(conn).await?;
            }
            let mut decoder = ChunkedDecoder::new(start);
            loop {
                match decoder.feed(&mut conn.rbuf) {
                    Ok(DecodeStep::Done { leftover }) => {
                        // Close the gap left by the chunk framing so the next
                        // pipelined request starts right after the decoded body.
                        let end = decoder.write;
                        conn.rbuf.copy_within(leftover.., end);
                        conn.rbuf.truncate(end + (conn.rbuf.len() - leftover));
                        return Ok((start..end, end));
                    }
                    Ok(DecodeStep::NeedMore) => {}
                    Err(e) => return Err(Read::Reject(GatewayError::new(400, e.to_string()))),
                }
                let decoded = decoder.write - start;
                if decoded > limits.max_body_bytes {
                    return Err(Read::Refuse(too_large(limits.max_body_bytes)));
                }
                if decoded > conn.reserved {
                    let step = decoded.next_multiple_of(CHUNKED_RESERVE_STEP_BYTES);
                    conn.reserve_body(step.min(limits.max_body_bytes).max(decoded))
                        .map_err(Read::Refuse)?;
                }
                read_more(conn, deadline).await?;
            }
        }
    }
}

async fn read_more(conn: &mut Downstream, deadline: Instant) -> Result<(), Read> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timeout_408("request body"));
    }
    match conn.read_within(left).await {
        Ok(0) => Err(Read::Gone),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(timeout_408("request body")),
        Err(_) => Err(Read::Gone),
    }
}

async fn send_continue(conn: &mut Downstream) -> Result<(), Read> {
    let mut out = std::mem::take(&mut conn.client.wbuf);
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    let (res, out) = write_all(&mut conn.client.stream, out).await;
    conn.client.wbuf = out;
    res.map_err(|_| Read::Gone)
}

/// Close after an answer sent before the body was read: stop writing, then
/// read and drop what the client still sends, within bounds, so that closing
/// does not reset the connection before the client has read the answer.
async fn linger_close(conn: &mut Downstream) {
    let _ = conn.client.stream.shutdown().await;
    let deadline = Instant::now() + Duration::from_millis(LINGER_MS);
    let mut dropped = 0;
    while dropped < LINGER_MAX_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        conn.rbuf.clear();
        match conn.read_within(left).await {
            Ok(n) if n > 0 => dropped += n,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests;
