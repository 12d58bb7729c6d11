//! One client connection: read a request (head, then body) under the limits and
//! timeouts, dispatch it, repeat while keep-alive holds. Pipelined requests are
//! answered in order because each is handled to completion before the next
//! head is parsed from the bytes already buffered.

use std::ops::Range;
use std::rc::Rc;
use std::time::Instant;

use monoio::net::TcpStream;

use super::context::Worker;
use super::error::ApiError;
use super::respond;
use crate::config::Limits;
use crate::http::chunked::{ChunkedDecoder, DecodeStep};
use crate::http::io::{read_append_timeout, write_all};
use crate::http::request::{parse_request_head, BodyFraming, HeaderSpan, RequestHead};

/// Initial read buffer per connection; grows for large bodies.
const READ_BUF_BYTES: usize = 16 * 1024;
/// Above this, the read buffer is shrunk back after the request.
const MAX_IDLE_READ_BUF_BYTES: usize = 256 * 1024;

/// The writing side of a client connection: its socket and response buffer.
pub struct Client {
    pub stream: TcpStream,
    /// Response staging buffer, reused for every response.
    pub wbuf: Vec<u8>,
    /// The current request is `HEAD`: write heads without bodies.
    pub head_only: bool,
}

/// A client connection and the buffers it owns for life.
struct Downstream {
    client: Client,
    /// Bytes read and not yet consumed: the current request, then any pipelined ones.
    rbuf: Vec<u8>,
    headers: Vec<HeaderSpan>,
}

/// A request whose head and body are in `rbuf`.
pub struct Request {
    pub head: RequestHead,
    pub body: Range<usize>,
    /// First byte of the next request in `rbuf`.
    pub end: usize,
    /// Head fully received.
    pub started: Instant,
}

enum Read {
    Request(Request),
    /// Peer closed, idled out, or broke off; nothing to answer.
    Gone,
    /// Answer with this error, then close.
    Reject(ApiError),
}

pub async fn serve_connection(worker: Rc<Worker>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let limits = worker.gw.settings.limits.clone();
    let mut conn = Downstream {
        client: Client {
            stream,
            wbuf: Vec::with_capacity(READ_BUF_BYTES),
            head_only: false,
        },
        rbuf: Vec::with_capacity(READ_BUF_BYTES),
        headers: Vec::with_capacity(32),
    };
    loop {
        match read_request(&mut conn, &limits).await {
            Read::Gone => return,
            Read::Reject(err) => {
                conn.client.head_only = false;
                respond::error(&mut conn.client, &err, false, None).await;
                return;
            }
            Read::Request(req) => {
                worker.active_requests.set(worker.active_requests.get() + 1);
                let _inflight = worker.metrics.inflight();
                let keep_alive = super::dispatch(&worker, &conn.rbuf, &mut conn.client, &req).await;
                worker.active_requests.set(worker.active_requests.get() - 1);
                conn.headers = req.head.headers;
                conn.rbuf.drain(..req.end);
                if conn.rbuf.capacity() > MAX_IDLE_READ_BUF_BYTES {
                    // A large body grew the buffer; don't keep it for an idle connection.
                    conn.rbuf.shrink_to(READ_BUF_BYTES.max(conn.rbuf.len()));
                }
                if !keep_alive || worker.gw.shutting_down() {
                    return;
                }
            }
        }
    }
}

async fn read_request(conn: &mut Downstream, limits: &Limits) -> Read {
    let head = match read_head(conn, limits).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let started = Instant::now();
    match read_body(conn, &head, limits).await {
        Ok((body, end)) => Read::Request(Request {
            head,
            body,
            end,
            started,
        }),
        Err(r) => {
            conn.headers = head.headers;
            r
        }
    }
}

async fn read_head(conn: &mut Downstream, limits: &Limits) -> Result<RequestHead, Read> {
    let mut first_byte_at: Option<Instant> = None;
    loop {
        if !conn.rbuf.is_empty() {
            first_byte_at.get_or_insert_with(Instant::now);
            let headers = std::mem::take(&mut conn.headers);
            match parse_request_head(&conn.rbuf, limits.max_head_bytes, headers) {
                Ok(Some(head)) => return Ok(head),
                Ok(None) => {}
                Err((e, headers)) => {
                    conn.headers = headers;
                    return Err(Read::Reject(ApiError::new(e.status(), e.to_string())));
                }
            }
        }
        let wait = match first_byte_at {
            None => limits.idle_timeout,
            Some(t) => match limits.header_read_timeout.checked_sub(t.elapsed()) {
                Some(d) if !d.is_zero() => d,
                _ => return Err(timeout_408("request head")),
            },
        };
        let (res, buf) = read_append_timeout(
            &mut conn.client.stream,
            std::mem::take(&mut conn.rbuf),
            wait,
        )
        .await;
        conn.rbuf = buf;
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
    Read::Reject(ApiError::new(
        408,
        format!("timed out waiting for the {what}"),
    ))
}

fn too_large(limit: usize) -> Read {
    Read::Reject(ApiError::new(
        413,
        format!("request body exceeds the limit of {limit} bytes"),
    ))
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
                return Err(too_large(limits.max_body_bytes));
            }
            let end = start + n as usize;
            if conn.rbuf.len() < end {
                if head.expect_continue {
                    send_continue(conn).await?;
                }
                conn.rbuf.reserve(end - conn.rbuf.len());
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
                    Err(e) => return Err(Read::Reject(ApiError::new(400, e.to_string()))),
                }
                if decoder.write - start > limits.max_body_bytes {
                    return Err(too_large(limits.max_body_bytes));
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
    let (res, buf) = read_append_timeout(
        &mut conn.client.stream,
        std::mem::take(&mut conn.rbuf),
        left,
    )
    .await;
    conn.rbuf = buf;
    match res {
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
