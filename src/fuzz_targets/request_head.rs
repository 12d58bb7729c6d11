//! Request head: `http::request::parse_request_head`.

use super::*;

/// `parse_request_head`: offsets stay inside the head, framing follows from
/// the headers it reports, prefixes of the input are "need more" (or the same
/// refusal), and the size limit gives 431.
pub fn request_head(data: &[u8]) {
    // A limit the input can never reach, so only the explicit checks below hit it.
    let roomy = data.len() + 1;
    let full = parse_head(data, roomy);
    match &full {
        Ok(Some(head)) => {
            check_head_spans(data, head);
            check_framing_follows_headers(data, head);
            let alone = parse_head(&data[..head.head_len], roomy);
            assert!(
                matches!(&alone, Ok(Some(h)) if same_head(h, head)),
                "the bytes after the head changed it: {alone:?} vs {head:?}"
            );
            let at_limit = parse_head(data, head.head_len);
            assert!(
                matches!(&at_limit, Ok(Some(h)) if same_head(h, head)),
                "a limit equal to the head's size refused it: {at_limit:?}"
            );
            let below_limit = parse_head(data, head.head_len - 1);
            assert!(
                matches!(below_limit, Err(HeadError::TooLarge(_))),
                "a head one byte over the limit gave {below_limit:?}, not 431"
            );
        }
        Ok(None) => {
            // The caller reads until the limit; reaching it must end in 431.
            let at_limit = parse_head(data, data.len());
            assert!(
                matches!(at_limit, Err(HeadError::TooLarge(_))),
                "an incomplete head at the limit gave {at_limit:?}, not 431"
            );
        }
        Err(_) => {}
    }

    let complete_at = match &full {
        Ok(Some(head)) => head.head_len,
        _ => data.len(),
    };
    for cut in sample_cuts(data, complete_at) {
        let prefix = parse_head(&data[..cut], roomy);
        match (&full, &prefix) {
            (_, Ok(None)) => {}
            (Err(whole), Err(part)) => assert_eq!(
                part.status(),
                whole.status(),
                "the first {cut} bytes gave {part:?}, the whole input {whole:?}"
            ),
            _ => panic!("the first {cut} bytes gave {prefix:?}, the whole input {full:?}"),
        }
    }
}

pub(super) fn parse_head(
    buf: &[u8],
    max_head_bytes: usize,
) -> Result<Option<RequestHead>, HeadError> {
    // Reused storage arrives holding the previous request's spans.
    let stale = HeaderSpan {
        name: (u32::MAX, u32::MAX),
        value: (u32::MAX, u32::MAX),
    };
    parse_request_head(buf, max_head_bytes, vec![stale; 3]).map_err(|(e, _)| e)
}

pub(super) fn same_head(a: &RequestHead, b: &RequestHead) -> bool {
    a.head_len == b.head_len
        && a.method == b.method
        && a.path == b.path
        && a.framing == b.framing
        && a.expect_continue == b.expect_continue
        && a.keep_alive == b.keep_alive
        && a.headers == b.headers
}

/// A few cut points below `end`: both ends, the middle and three picked by
/// the input's hash (every cut would make long inputs slow).
pub(super) fn sample_cuts(data: &[u8], end: usize) -> Vec<usize> {
    if end == 0 {
        return Vec::new();
    }
    let mut rng = XorShift::new(fnv1a(data));
    let mut cuts = vec![0, end / 2, end - 1];
    cuts.extend((0..3).map(|_| rng.below(end)));
    cuts
}

pub(super) fn check_head_spans(data: &[u8], head: &RequestHead) {
    let head_len = head.head_len;
    assert!(
        head_len <= data.len() && data[..head_len].ends_with(b"\n"),
        "head_len {head_len} of {} bytes",
        data.len()
    );
    assert!(
        head.path.start <= head.path.end && head.path.end <= head_len,
        "path {:?} outside the {head_len}-byte head",
        head.path
    );
    let path = head.path(data);
    assert!(
        !path
            .iter()
            .any(|b| matches!(b, b'?' | b' ' | b'\r' | b'\n')),
        "path {path:?} holds a query, space or line break"
    );
    assert!(head.headers.len() <= MAX_HEADERS);
    let mut previous_end = head.path.end;
    for span in &head.headers {
        let (ns, ne) = (span.name.0 as usize, span.name.1 as usize);
        let (vs, ve) = (span.value.0 as usize, span.value.1 as usize);
        assert!(
            previous_end <= ns && ns < ne && ne <= vs && vs <= ve && ve <= head_len,
            "span {span:?} out of order or outside the {head_len}-byte head"
        );
        previous_end = ve;
        let name = span.name(data);
        assert!(
            !name
                .iter()
                .any(|b| matches!(b, b':' | b' ' | b'\t' | b'\r' | b'\n')),
            "header name {name:?} is not a token"
        );
        // Values are copied upstream verbatim: a line break would inject a header.
        let value = span.value(data);
        assert!(
            !value.iter().any(|b| matches!(b, b'\r' | b'\n')),
            "header value {value:?} holds a line break"
        );
        assert!(head.header(data, name).is_some());
    }
}

pub(super) fn check_framing_follows_headers(data: &[u8], head: &RequestHead) {
    let values = |name: &'static [u8]| {
        head.headers
            .iter()
            .filter(move |h| h.name(data).eq_ignore_ascii_case(name))
            .map(|h| trim_spaces(h.value(data)))
    };
    let lengths: Vec<Option<u64>> = values(b"content-length").map(decimal).collect();
    let codings: Vec<&[u8]> = values(b"transfer-encoding").collect();
    match head.framing {
        BodyFraming::Chunked => assert!(
            lengths.is_empty()
                && !codings.is_empty()
                && codings.iter().all(|c| c.eq_ignore_ascii_case(b"chunked")),
            "chunked framing from content-length {lengths:?}, transfer-encoding {codings:?}"
        ),
        BodyFraming::Length(n) => assert!(
            n > 0
                && codings.is_empty()
                && !lengths.is_empty()
                && lengths.iter().all(|l| *l == Some(n)),
            "length {n} from content-length {lengths:?}, transfer-encoding {codings:?}"
        ),
        BodyFraming::None => assert!(
            codings.is_empty() && lengths.iter().all(|l| *l == Some(0)),
            "no body from content-length {lengths:?}, transfer-encoding {codings:?}"
        ),
    }
    // Any Expect value other than 100-continue is refused, so one seen means 100-continue.
    assert_eq!(head.expect_continue, values(b"expect").next().is_some());
    // RFC 9112 §9.6: a server that receives "close" must close after responding.
    let close = values(b"connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| trim_spaces(t).eq_ignore_ascii_case(b"close"))
    });
    assert!(
        !(close && head.keep_alive),
        "the client sent Connection: close but the connection stays open"
    );
}

pub(super) fn trim_spaces(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

pub(super) fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

pub(super) fn request_head_seeds() -> Vec<Vec<u8>> {
    [
        &b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-1\r\nContent-Length: 17\r\n\r\n{\"model\":\"gpt\"}\n",
        b"POST /v1/embeddings HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /v1/models HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
        b"POST /x HTTP/1.1\nContent-Length: 0\nX-A:  spaced  \n\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nConnection: upgrade, Keep-Alive\r\nExpect: nope\r\n\r\n",
        b"GET /partial HTTP/1.1\r\nHost: a\r\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}
