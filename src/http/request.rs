//! Request-head parsing. The head is parsed in place with `httparse`; what the
//! gateway keeps are byte offsets into the connection's read buffer, so nothing
//! is copied or allocated per header and the buffer can move between reads.

use std::ops::Range;

use super::{header_has_token, parse_content_length, trim_ows, MAX_HEADERS};

/// Offsets of one header's name and value in the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderSpan {
    pub name: (u32, u32),
    pub value: (u32, u32),
}

impl HeaderSpan {
    pub fn name<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.name.0 as usize..self.name.1 as usize]
    }
    pub fn value<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.value.0 as usize..self.value.1 as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    /// CORS preflight.
    Options,
    Other,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request head: offsets into the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Bytes taken by the head, including the final CRLF CRLF.
    pub head_len: usize,
    pub method: Method,
    /// Request target without the query string.
    pub path: Range<usize>,
    /// The query string, without its `?` (empty when none).
    pub query: Range<usize>,
    /// The method as sent (for relaying methods the gateway does not name).
    pub method_text: Range<usize>,
    pub framing: BodyFraming,
    pub expect_continue: bool,
    /// Whether the connection may serve another request after this one.
    pub keep_alive: bool,
    /// HTTP/1.0: no chunked responses, so a body of unknown length is
    /// delimited by closing the connection.
    pub http10: bool,
    pub headers: Vec<HeaderSpan>,
}

impl RequestHead {
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.path.clone()]
    }

    pub fn query<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.query.clone()]
    }

    /// First value of a header, by case-insensitive name.
    pub fn header<'b>(&self, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name(buf).eq_ignore_ascii_case(name))
            .map(|h| trim_ows(h.value(buf)))
    }
}

/// Why a request head was refused; each maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    #[error("request has more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("unsupported transfer-encoding (only chunked is accepted)")]
    UnsupportedTransferEncoding,
}

impl HeadError {
    pub fn status(self) -> u16 {
        match self {
            HeadError::TooLarge(_) | HeadError::TooManyHeaders => 431,
            HeadError::Malformed(_) => 400,
            HeadError::UnsupportedTransferEncoding => 501,
        }
    }
}

/// Whether `buf[from..]` holds the blank line that ends a head (`\n\n` or
/// `\n\r\n`, the line endings httparse accepts). Callers pass where the last
/// call stopped, less three bytes, so a head sent in pieces is scanned once.
pub fn has_head_end(buf: &[u8], from: usize) -> bool {
    let from = from.min(buf.len());
    memchr::memchr_iter(b'\n', &buf[from..]).any(|i| {
        let next = &buf[from + i + 1..];
        next.first() == Some(&b'\n') || next.starts_with(b"\r\n")
    })
}

/// Parse a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed (and the head may still fit in
/// `max_head_bytes`), `Ok(Some(head))` when complete. `headers` is reused storage.
pub fn parse_request_head(
    buf: &[u8],
    max_head_bytes: usize,
    mut headers: Vec<HeaderSpan>,
) -> Result<Option<RequestHead>, (HeadError, Vec<HeaderSpan>)> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max_head_bytes {
                Err((HeadError::TooLarge(max_head_bytes), headers))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err((HeadError::TooManyHeaders, headers)),
        Err(_) => {
            return Err((
                HeadError::Malformed("invalid request line or header"),
                headers,
            ))
        }
    };
    if head_len > max_head_bytes {
        return Err((HeadError::TooLarge(max_head_bytes), headers));
    }
    let base = buf.as_ptr() as usize;
    let offset = |s: &[u8]| s.as_ptr() as usize - base;

    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "OPTIONS" => Method::Options,
        _ => Method::Other,
    };
    let target = req.path.unwrap_or("").as_bytes();
    let start = offset(target);
    let path_len = memchr::memchr(b'?', target).unwrap_or(target.len());
    let path = start..start + path_len;
    let query = (start + path_len + 1).min(start + target.len())..start + target.len();
    let method_bytes = req.method.unwrap_or("").as_bytes();
    let method_text = offset(method_bytes)..offset(method_bytes) + method_bytes.len();
    let minor = req.version.unwrap_or(1);

    headers.clear();
    let mut framing = BodyFraming::None;
    let mut saw_length = false;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut keep_alive = minor >= 1;
    // RFC 9112 §9.6: "close" in any Connection header ends the connection,
    // whatever another one says.
    let mut close = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let (ns, vs) = (offset(name), offset(h.value));
        headers.push(HeaderSpan {
            name: (ns as u32, (ns + name.len()) as u32),
            value: (vs as u32, (vs + h.value.len()) as u32),
        });
        if name.eq_ignore_ascii_case(b"content-length") {
            let Some(n) = parse_content_length(h.value) else {
                return Err((HeadError::Malformed("invalid content-length"), headers));
            };
            if saw_length && framing != BodyFraming::Length(n) {
                return Err((
                    HeadError::Malformed("conflicting content-length headers"),
                    headers,
                ));
            }
            saw_length = true;
            framing = BodyFraming::Length(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let v = trim_ows(h.value);
            if !v.eq_ignore_ascii_case(b"chunked") {
                return Err((HeadError::UnsupportedTransferEncoding, headers));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if header_has_token(h.value, b"close") {
                close = true;
            } else if header_has_token(h.value, b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if !trim_ows(h.value).eq_ignore_ascii_case(b"100-continue") {
                return Err((HeadError::Malformed("unsupported expect value"), headers));
            }
            expect_continue = true;
        }
    }
    if chunked {
        // RFC 9112 §6.3: both framings at once is a smuggling vector; refuse it.
        if saw_length {
            return Err((
                HeadError::Malformed("both content-length and transfer-encoding"),
                headers,
            ));
        }
        framing = BodyFraming::Chunked;
    }
    if framing == BodyFraming::Length(0) {
        framing = BodyFraming::None;
    }
    Ok(Some(RequestHead {
        head_len,
        method,
        path,
        query,
        method_text,
        framing,
        expect_continue,
        keep_alive: keep_alive && !close,
        http10: minor == 0,
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<RequestHead>, HeadError> {
        parse_request_head(raw, 65536, Vec::new()).map_err(|(e, _)| e)
    }

    #[test]
    fn complete_head_yields_offsets_into_buffer() {
        let raw = b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Request-Id: abc\r\n\r\nhello";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(head.head_len, raw.len() - 5);
        assert_eq!(head.method, Method::Post);
        assert_eq!(head.path(raw), b"/v1/chat/completions");
        assert_eq!(head.query(raw), b"x=1");
        assert_eq!(&raw[head.method_text.clone()], b"POST");
        assert_eq!(head.framing, BodyFraming::Length(5));
        assert_eq!(head.header(raw, b"x-request-id"), Some(&b"abc"[..]));
        assert!(head.keep_alive);
    }

    #[test]
    fn no_query_is_an_empty_one() {
        for raw in [
            &b"DELETE /v1/files/f1 HTTP/1.1\r\n\r\n"[..],
            b"GET /x? HTTP/1.1\r\n\r\n",
        ] {
            let head = parse(raw).unwrap().unwrap();
            assert_eq!(head.query(raw), b"");
        }
        let raw = b"DELETE /v1/files/f1 HTTP/1.1\r\n\r\n";
        let head = parse(raw).unwrap().unwrap();
        assert_eq!(
            (head.method, &raw[head.method_text.clone()]),
            (Method::Other, &b"DELETE"[..])
        );
    }

    #[test]
    fn every_split_point_is_partial_until_complete() {
        let raw = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..raw.len() {
            assert!(parse(&raw[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        assert!(parse(raw).unwrap().is_some());
    }

    #[test]
    fn oversized_partial_head_is_431() {
        let mut raw = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        raw.resize(2000, b'a');
        let err = parse_request_head(&raw, 1024, Vec::new()).unwrap_err().0;
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn smuggling_and_bad_lengths_are_400() {
        let both = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status(), 400);
        let two = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(parse(two).unwrap_err().status(), 400);
        let neg = b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n";
        assert_eq!(parse(neg).unwrap_err().status(), 400);
        let gz = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse(gz).unwrap_err().status(), 501);
    }

    #[test]
    fn head_end_is_found_at_any_split_and_from_any_resume_point() {
        for raw in [
            &b"GET / HTTP/1.1\r\nA: b\r\n\r\n"[..],
            b"GET / HTTP/1.1\nA: b\n\n",
        ] {
            for cut in 0..raw.len() {
                assert!(!has_head_end(&raw[..cut], 0), "cut {cut}");
                let resume = cut.saturating_sub(3);
                assert!(has_head_end(raw, resume), "resume {resume}");
            }
        }
        assert!(!has_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0));
    }

    #[test]
    fn too_many_headers_is_431_and_says_so() {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            raw.extend_from_slice(format!("X-{i}: a\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let err = parse(&raw).unwrap_err();
        assert_eq!(err.status(), 431);
        assert!(err.to_string().contains("header fields"), "{err}");
    }

    #[test]
    fn garbage_is_400() {
        assert_eq!(
            parse(b"\x00\x01\x02 nonsense\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn http10_closes_and_connection_close_is_honoured() {
        let h10 = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h10.keep_alive);
        let close = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!close.keep_alive);
        // Found by the request_head fuzz target's check: a later keep-alive
        // header used to undo the close.
        let both = parse(b"GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!both.keep_alive);
        let expect = parse(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(expect.expect_continue);
    }
}
