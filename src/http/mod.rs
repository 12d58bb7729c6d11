//! HTTP/1.1 wire codecs: request-head parsing with limits, chunked framing
//! (request decoding and response scanning), response-head parsing and
//! building. Plain functions over byte slices; no sockets and no knowledge of
//! LLMs. `io` holds the few socket helpers that hide monoio's owned-buffer API.

pub mod chunked;
pub mod io;
pub mod percent;
pub mod request;
pub mod response;
pub mod sse;
pub mod url;

pub use chunked::{ChunkedDecoder, ChunkedScanner, DecodeStep};
pub use request::{parse_request_head, BodyFraming, HeadError, RequestHead};
pub use response::{parse_response_head, ResponseFraming, ResponseHead};

/// Largest number of headers accepted in a request or response head.
pub const MAX_HEADERS: usize = 128;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the gateway re-frames itself.
/// Compared case-insensitively.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    const HOP: [&[u8]; 9] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The values of a message's `Connection` headers that name other headers,
/// which are then hop-by-hop too (RFC 9110 §7.6.1). Empty, without allocating,
/// for the usual `keep-alive` or `close`.
pub fn connection_nominees<'b>(headers: &[request::HeaderSpan], buf: &'b [u8]) -> Vec<&'b [u8]> {
    let mut nominees = Vec::new();
    for h in headers {
        if !h.name(buf).eq_ignore_ascii_case(b"connection") {
            continue;
        }
        let value = h.value(buf);
        let names_others = value.split(|&b| b == b',').any(|t| {
            let t = trim_ows(t);
            !t.is_empty()
                && !t.eq_ignore_ascii_case(b"close")
                && !t.eq_ignore_ascii_case(b"keep-alive")
        });
        if names_others {
            nominees.push(value);
        }
    }
    nominees
}

/// Whether header `name` must not be forwarded: hop-by-hop by name, or named
/// in one of the message's `Connection` headers (`nominees`).
pub fn is_hop_by_hop_here(name: &[u8], nominees: &[&[u8]]) -> bool {
    is_hop_by_hop(name) || nominees.iter().any(|v| header_has_token(v, name))
}

/// Trim ASCII whitespace (SP, HTAB) at both ends.
pub fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Parse a decimal Content-Length value; rejects signs, spaces and overflow.
pub fn parse_content_length(v: &[u8]) -> Option<u64> {
    let v = trim_ows(v);
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// True when a comma-separated header value contains `token` (case-insensitive).
pub fn header_has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim_ows(t).eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_named_in_connection_are_hop_by_hop() {
        let raw = b"GET / HTTP/1.1\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nX-Kept: 2\r\n\r\n";
        let head = parse_request_head(raw, 65536, Vec::new()).unwrap().unwrap();
        let nominees = connection_nominees(&head.headers, raw);
        assert!(is_hop_by_hop_here(b"x-secret-hop", &nominees));
        assert!(!is_hop_by_hop_here(b"x-kept", &nominees));
        assert!(is_hop_by_hop_here(b"Keep-Alive", &nominees));
        let plain = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let head = parse_request_head(plain, 65536, Vec::new())
            .unwrap()
            .unwrap();
        assert!(connection_nominees(&head.headers, plain).is_empty());
    }

    #[test]
    fn content_length_rejects_garbage() {
        assert_eq!(parse_content_length(b" 42 "), Some(42));
        assert_eq!(parse_content_length(b"+4"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"1 2"), None);
        assert_eq!(parse_content_length(b"99999999999999999999"), None);
    }

    #[test]
    fn token_lists_match_case_insensitively() {
        assert!(header_has_token(b"gzip, Chunked", b"chunked"));
        assert!(!header_has_token(b"chunkedx", b"chunked"));
    }
}
