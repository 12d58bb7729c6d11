//! The client's side of the wire: [`Client`] and the writing of every
//! response head, body piece and error, with the framing this client can
//! take (HTTP/1.0 gets a close-delimited body where HTTP/1.1 gets chunks).

use monoio::net::TcpStream;

use super::error::{Committed, GatewayError};
use crate::http::io::write_all;
use crate::http::response::{
    push_chunk, push_header, push_header_u64, push_status_line, LAST_CHUNK,
};
use crate::schema::dialect::Dialect;
use crate::worker::Worker;

/// The writing side of a client connection: its socket, response buffer and
/// what the current request allows.
pub struct Client {
    pub stream: TcpStream,
    /// Response staging buffer, reused for every response.
    pub wbuf: Vec<u8>,
    /// The current request is `HEAD`: write heads without bodies.
    pub head_only: bool,
    /// The current request is HTTP/1.0: no chunked bodies.
    pub http10: bool,
    /// CORS header lines for the current request's origin (empty when none).
    pub cors: Vec<u8>,
    /// The response body as written, up to a cap, while the request log
    /// keeps bodies (`[store] log_bodies`).
    pub capture: std::cell::RefCell<Option<Capture>>,
}

/// The first `cap` bytes of a response body, for the request log.
#[derive(Debug, Default)]
pub struct Capture {
    pub bytes: Vec<u8>,
    pub cap: usize,
}

impl Capture {
    pub fn push(&mut self, piece: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&piece[..piece.len().min(room)]);
    }
}

/// How a response body is delimited for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// No body by its status (204, 304): no length header.
    NoBody,
    Known(u64),
    /// Streamed: chunked in HTTP/1.1, closed at the end in HTTP/1.0.
    Unknown,
}

impl Client {
    /// Framing, connection, CORS and the blank line that end a response head.
    /// Returns whether the connection can serve another request after it
    /// (a close-delimited body cannot).
    pub fn finish_head(&self, out: &mut Vec<u8>, length: Length, keep_alive: bool) -> bool {
        let keep_alive = match length {
            Length::NoBody => keep_alive,
            Length::Known(n) => {
                push_header_u64(out, b"content-length", n);
                keep_alive
            }
            Length::Unknown if self.http10 => false,
            Length::Unknown => {
                push_header(out, b"transfer-encoding", b"chunked");
                keep_alive
            }
        };
        if !keep_alive {
            push_header(out, b"connection", b"close");
        }
        out.extend_from_slice(&self.cors);
        out.extend_from_slice(b"\r\n");
        keep_alive
    }

    /// Append one piece of a streamed body.
    pub fn push_piece(&self, out: &mut Vec<u8>, piece: &[u8]) {
        self.captured(piece);
        if self.http10 {
            out.extend_from_slice(piece);
        } else {
            push_chunk(out, piece);
        }
    }

    /// Keep `piece` of the body for the request log, when it keeps bodies.
    pub fn captured(&self, piece: &[u8]) {
        if let Some(c) = self.capture.borrow_mut().as_mut() {
            c.push(piece);
        }
    }

    /// Append the end of a streamed body.
    pub fn push_end(&self, out: &mut Vec<u8>) {
        if !self.http10 {
            out.extend_from_slice(LAST_CHUNK);
        }
    }

    /// How an error after a stream's head can still reach this client.
    pub fn stream_committed(&self, at_event_boundary: bool) -> Committed {
        if at_event_boundary {
            Committed::EventStream {
                chunked: !self.http10,
            }
        } else {
            Committed::Closed
        }
    }

    /// Write `out` (from `wbuf`), keeping the buffer; whether it was written.
    pub async fn write(&mut self, out: Vec<u8>) -> bool {
        let (res, out) = write_all(&mut self.stream, out).await;
        self.wbuf = out;
        res.is_ok()
    }

    /// The staging buffer, empty.
    pub fn take_wbuf(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.wbuf);
        out.clear();
        out
    }
}

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

    /// For log fields.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

/// Status line, content type and request id of a response the gateway
/// writes itself; [`Client::finish_head`] ends it.
pub fn push_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &[u8],
    request_id: Option<&RequestId>,
) {
    push_status_line(out, status);
    push_header(out, b"content-type", content_type);
    if let Some(id) = request_id {
        push_header(out, b"x-request-id", id.as_bytes());
    }
}

/// Write a complete response with a fixed body; returns whether the write succeeded.
pub async fn full(
    client: &mut Client,
    status: u16,
    content_type: &[u8],
    body: &[u8],
    keep_alive: bool,
    request_id: Option<&RequestId>,
    extra_headers: &[(&[u8], &[u8])],
) -> bool {
    let head = |out: &mut Vec<u8>| {
        for (n, v) in extra_headers {
            push_header(out, n, v);
        }
    };
    write_full(
        client,
        status,
        content_type,
        body,
        keep_alive,
        request_id,
        head,
    )
    .await
}

/// [`full`] with its extra header lines ready-made.
pub async fn full_with_lines(
    client: &mut Client,
    status: u16,
    content_type: &[u8],
    body: &[u8],
    keep_alive: bool,
    request_id: Option<&RequestId>,
    header_lines: &[u8],
) -> bool {
    let head = |out: &mut Vec<u8>| out.extend_from_slice(header_lines);
    write_full(
        client,
        status,
        content_type,
        body,
        keep_alive,
        request_id,
        head,
    )
    .await
}

async fn write_full(
    client: &mut Client,
    status: u16,
    content_type: &[u8],
    body: &[u8],
    keep_alive: bool,
    request_id: Option<&RequestId>,
    push_extra: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let mut out = client.take_wbuf();
    push_head(&mut out, status, content_type, request_id);
    push_extra(&mut out);
    client.finish_head(&mut out, Length::Known(body.len() as u64), keep_alive);
    client.captured(body);
    if !client.head_only {
        out.extend_from_slice(body);
    }
    client.write(out).await
}

/// Render `err` for the client in `dialect`: a whole error response, a last
/// event of a stream already open, or nothing when the client can take no
/// more. Returns whether the connection can serve another request.
pub async fn error(
    client: &mut Client,
    dialect: Dialect,
    err: &GatewayError,
    keep_alive: bool,
    request_id: Option<&RequestId>,
) -> bool {
    match err.committed {
        Committed::Closed => false,
        Committed::EventStream { .. } => {
            let mut out = client.take_wbuf();
            let mut event = Vec::with_capacity(160 + err.message.len());
            err.push_event(dialect, &mut event);
            client.push_piece(&mut out, &event);
            client.push_end(&mut out);
            client.write(out).await;
            false
        }
        Committed::Nothing => {
            let mut out = client.take_wbuf();
            push_status_line(&mut out, err.status);
            let mut generated;
            let body: &[u8] = match &err.answer {
                Some(answer) => {
                    out.extend_from_slice(&answer.header_lines);
                    let content_type = answer.content_type.as_deref();
                    push_header(
                        &mut out,
                        b"content-type",
                        content_type.unwrap_or(b"application/json"),
                    );
                    &answer.body
                }
                None => {
                    push_header(&mut out, b"content-type", b"application/json");
                    if let Some(after) = err.retry_after {
                        // Whole seconds, rounded up; and exactly, as OpenAI's SDKs read it.
                        let millis = after.as_millis() as u64;
                        push_header_u64(&mut out, b"retry-after", millis.div_ceil(1000).max(1));
                        push_header_u64(&mut out, b"retry-after-ms", millis);
                    }
                    generated = Vec::with_capacity(160 + err.message.len());
                    err.push_body(dialect, &mut generated);
                    &generated
                }
            };
            if let Some(id) = request_id {
                push_header(&mut out, b"x-request-id", id.as_bytes());
            }
            if let Some(provider) = &err.provider {
                push_header(&mut out, b"x-ringbridge-provider", provider.as_bytes());
            }
            if let Some(lines) = &err.header_lines {
                out.extend_from_slice(lines);
            }
            let keep = client.finish_head(&mut out, Length::Known(body.len() as u64), keep_alive);
            if !client.head_only {
                out.extend_from_slice(body);
            }
            client.write(out).await && keep
        }
    }
}

/// [`error`] in the default dialect, for answers outside the API endpoints.
pub async fn plain_error(
    client: &mut Client,
    err: &GatewayError,
    keep_alive: bool,
    request_id: Option<&RequestId>,
) -> bool {
    error(client, Dialect::OpenAiChat, err, keep_alive, request_id).await
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::api::error::UpstreamAnswer;
    use crate::upstream::UpstreamError;

    /// What a client reads after `render` writes to it and the socket closes.
    fn rendered(http10: bool, render: impl AsyncFnOnce(&mut Client)) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        });
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let stream = monoio::net::TcpStream::connect(addr).await.unwrap();
            let mut client = Client {
                stream,
                wbuf: Vec::new(),
                head_only: false,
                http10,
                cors: b"access-control-allow-origin: https://a.example\r\n".to_vec(),
                capture: Default::default(),
            };
            render(&mut client).await;
        });
        reader.join().unwrap()
    }

    #[test]
    fn an_error_before_any_byte_is_a_whole_response() {
        let err = GatewayError::upstream("groq", &UpstreamError::FirstByteTimeout);
        let out = rendered(false, async |c| {
            assert!(error(c, Dialect::OpenAiChat, &err, true, None).await);
        });
        assert!(out.starts_with("HTTP/1.1 504 "), "{out}");
        assert!(out.contains("x-ringbridge-provider: groq\r\n"), "{out}");
        assert!(out.contains("access-control-allow-origin: https://a.example\r\n"));
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "gateway_timeout");
    }

    #[test]
    fn an_upstream_answer_is_relayed_with_its_headers() {
        let answer = UpstreamAnswer {
            header_lines: b"retry-after: 7\r\n".to_vec(),
            content_type: Some(b"application/json; charset=utf-8".to_vec()),
            body: br#"{"error":{"message":"slow down"}}"#.to_vec(),
        };
        let err = GatewayError::upstream_status("groq", 429, answer, None);
        let out = rendered(false, async |c| {
            assert!(!error(c, Dialect::OpenAiChat, &err, false, None).await);
        });
        assert!(out.starts_with("HTTP/1.1 429 "), "{out}");
        assert!(out.contains("retry-after: 7\r\n"));
        assert!(out.contains("content-type: application/json; charset=utf-8\r\n"));
        assert!(out.contains("connection: close\r\n"));
        assert!(out.ends_with(r#"{"error":{"message":"slow down"}}"#));
    }

    #[test]
    fn an_error_inside_a_stream_is_its_last_event() {
        for http10 in [false, true] {
            let err = GatewayError::upstream("groq", &UpstreamError::Truncated)
                .after(Committed::EventStream { chunked: !http10 });
            let out = rendered(http10, async |c| {
                assert!(!error(c, Dialect::OpenAiChat, &err, true, None).await);
            });
            assert!(out.contains("data: {\"error\":{"), "{out}");
            assert_eq!(out.ends_with("\n\n\r\n0\r\n\r\n"), !http10, "{out:?}");
            assert_eq!(out.ends_with("}}\n\n"), http10, "{out:?}");
        }
        let closed = GatewayError::client_closed();
        let out = rendered(false, async |c| {
            assert!(!error(c, Dialect::OpenAiChat, &closed, true, None).await);
        });
        assert!(out.is_empty());
    }
}
