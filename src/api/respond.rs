//! Writing gateway-made responses (errors, health, models, metrics, mock answers).

use super::connection::Client;
use super::context::Worker;
use super::error::ApiError;
use crate::http::io::write_all;
use crate::http::response::{push_header, push_header_u64, push_status_line};

/// Identifies a request in logs and headers: the client's `x-request-id` when
/// sane, else 32 random hex digits.
pub struct RequestId {
    buf: [u8; 128],
    len: usize,
}

impl RequestId {
    pub fn from_client_or_new(worker: &Worker, client: Option<&[u8]>) -> Self {
        let mut id = RequestId {
            buf: [0; 128],
            len: 0,
        };
        if let Some(v) = client {
            if !v.is_empty() && v.len() <= 128 && v.iter().all(|c| c.is_ascii_graphic()) {
                id.buf[..v.len()].copy_from_slice(v);
                id.len = v.len();
                return id;
            }
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for half in 0..2 {
            let r = worker.random();
            for i in 0..16 {
                id.buf[half * 16 + i] = HEX[((r >> (i * 4)) & 15) as usize];
            }
        }
        id.len = 32;
        id
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Head of a response the gateway writes itself.
pub fn push_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &[u8],
    content_length: Option<usize>,
    keep_alive: bool,
    request_id: Option<&RequestId>,
) {
    push_status_line(out, status);
    push_header(out, b"content-type", content_type);
    match content_length {
        Some(n) => push_header_u64(out, b"content-length", n as u64),
        None => push_header(out, b"transfer-encoding", b"chunked"),
    }
    if let Some(id) = request_id {
        push_header(out, b"x-request-id", id.as_bytes());
    }
    if !keep_alive {
        push_header(out, b"connection", b"close");
    }
}

/// Write a complete response with a fixed body; returns whether the write succeeded.
pub async fn full(
    conn: &mut Client,
    status: u16,
    content_type: &[u8],
    body: &[u8],
    keep_alive: bool,
    request_id: Option<&RequestId>,
    extra_headers: &[(&[u8], &[u8])],
) -> bool {
    let mut out = std::mem::take(&mut conn.wbuf);
    out.clear();
    push_head(
        &mut out,
        status,
        content_type,
        Some(body.len()),
        keep_alive,
        request_id,
    );
    for (n, v) in extra_headers {
        push_header(&mut out, n, v);
    }
    out.extend_from_slice(b"\r\n");
    if !conn.head_only {
        out.extend_from_slice(body);
    }
    let (res, out) = write_all(&mut conn.stream, out).await;
    conn.wbuf = out;
    res.is_ok()
}

/// Write an OpenAI-style error response.
pub async fn error(
    conn: &mut Client,
    err: &ApiError,
    keep_alive: bool,
    request_id: Option<&RequestId>,
) -> bool {
    let mut body = Vec::with_capacity(160 + err.message.len());
    err.push_body(&mut body);
    let retry: &[(&[u8], &[u8])] = if err.status == 503 {
        &[(b"retry-after", b"1")]
    } else {
        &[]
    };
    full(
        conn,
        err.status,
        b"application/json",
        &body,
        keep_alive,
        request_id,
        retry,
    )
    .await
}
