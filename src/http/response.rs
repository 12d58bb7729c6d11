//! Response heads: parsing what an upstream sends, and writing what the client gets.

use super::request::HeaderSpan;
use super::{header_has_token, parse_content_length, trim_ows, MAX_HEADERS};

/// How a response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body (204, 304, 1xx).
    Empty,
    Length(u64),
    Chunked,
    /// Body runs until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head: offsets into the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub head_len: usize,
    pub status: u16,
    pub framing: ResponseFraming,
    /// The upstream allows reusing the connection after this response.
    pub keep_alive: bool,
    /// `Content-Type: text/event-stream`.
    pub event_stream: bool,
    pub headers: Vec<HeaderSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream response head: {0}")]
pub struct ResponseHeadError(pub &'static str);

/// Parse a response head from the start of `buf`; `Ok(None)` means more bytes are needed.
pub fn parse_response_head(
    buf: &[u8],
    mut headers: Vec<HeaderSpan>,
) -> Result<Option<ResponseHead>, ResponseHeadError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut raw);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ResponseHeadError("unparsable status line or header")),
    };
    let status = resp.code.unwrap_or(0);
    let minor = resp.version.unwrap_or(1);
    let base = buf.as_ptr() as usize;
    headers.clear();
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = minor >= 1;
    let mut event_stream = false;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        let ns = name.as_ptr() as usize - base;
        let vs = h.value.as_ptr() as usize - base;
        headers.push(HeaderSpan {
            name: (ns as u32, (ns + name.len()) as u32),
            value: (vs as u32, (vs + h.value.len()) as u32),
        });
        if name.eq_ignore_ascii_case(b"content-length") {
            let n =
                parse_content_length(h.value).ok_or(ResponseHeadError("invalid content-length"))?;
            if length.is_some_and(|m| m != n) {
                return Err(ResponseHeadError("conflicting content-length"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = header_has_token(h.value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if header_has_token(h.value, b"close") {
                keep_alive = false;
            } else if header_has_token(h.value, b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"content-type") {
            let v = trim_ows(h.value);
            event_stream = v.len() >= 17 && v[..17].eq_ignore_ascii_case(b"text/event-stream");
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        ResponseFraming::Empty
    } else if chunked {
        ResponseFraming::Chunked
    } else if let Some(n) = length {
        ResponseFraming::Length(n)
    } else {
        keep_alive = false;
        ResponseFraming::UntilClose
    };
    Ok(Some(ResponseHead {
        head_len,
        status,
        framing,
        keep_alive,
        event_stream,
        headers,
    }))
}

/// Canonical reason phrase for the status codes the gateway produces or relays.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Unknown",
    }
}

/// Append `HTTP/1.1 <status> <reason>\r\n`.
pub fn push_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut b = itoa_buf();
    out.extend_from_slice(fmt_u64(&mut b, n));
}

/// Append `name: value\r\n`.
pub fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Append `name: <n>\r\n`.
pub fn push_header_u64(out: &mut Vec<u8>, name: &[u8], n: u64) {
    let mut b = itoa_buf();
    push_header(out, name, fmt_u64(&mut b, n));
}

/// Append one chunk (size line, data, CRLF) of the chunked coding.
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut hex = [0u8; 16];
    let mut n = data.len();
    let mut i = hex.len();
    while n > 0 {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
    }
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Format `n` in decimal into `buf`, returning the digits.
pub fn fmt_u64(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_rfc_9112_order() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n";
        let h = parse_response_head(chunked, Vec::new()).unwrap().unwrap();
        assert_eq!(h.framing, ResponseFraming::Chunked);
        assert!(h.event_stream && h.keep_alive);
        let len = b"HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\nConnection: close\r\n\r\n";
        let h = parse_response_head(len, Vec::new()).unwrap().unwrap();
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (404, ResponseFraming::Length(12), false)
        );
        let close = b"HTTP/1.0 200 OK\r\n\r\n";
        let h = parse_response_head(close, Vec::new()).unwrap().unwrap();
        assert_eq!(h.framing, ResponseFraming::UntilClose);
        assert!(!h.keep_alive);
        assert!(
            parse_response_head(b"HTTP/1.1 200 OK\r\nA: b\r\n", Vec::new())
                .unwrap()
                .is_none()
        );
        assert!(parse_response_head(b"SMTP ready\r\n\r\n", Vec::new()).is_err());
    }

    #[test]
    fn chunk_and_number_formatting() {
        let mut out = Vec::new();
        push_chunk(&mut out, &[b'x'; 26]);
        assert_eq!(&out[..4], b"1a\r\n");
        let mut b = [0u8; 20];
        assert_eq!(fmt_u64(&mut b, 0), b"0");
        assert_eq!(
            fmt_u64(&mut b, 18446744073709551615),
            b"18446744073709551615"
        );
    }
}
