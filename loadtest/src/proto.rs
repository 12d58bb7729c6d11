//! HTTP/1.1 request parsing for the mock provider: pure functions over byte
//! slices, no I/O, so they are unit-testable.

use httparse::Status;

use crate::sim::{Dist, FailMix};

/// Largest request head we buffer before answering 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body we accept before answering 413.
pub const MAX_BODY: usize = 64 << 20;
/// Upper bound for `x-mock-chunks`.
pub const MAX_CHUNKS: u32 = 100_000;
/// Upper bound for `x-mock-body-bytes`.
pub const MAX_BODY_BYTES: usize = 256 << 20;
/// Upper bound for the delay headers (one hour).
pub const MAX_DELAY_MS: u64 = 3_600_000;

/// Byte range `start..end` inside the connection's read buffer.
pub type Span = (usize, usize);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method {
    Get,
    Post,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fail {
    Close,
    Reset,
    /// `x-mock-fail: cut`: a stream stops after 2 events.
    Cut,
    /// Injected `cut` (fail mix): a stream stops after half its content chunks.
    CutMid,
    Hang,
}

/// The `x-mock-*` behaviour headers of one request. `None` means "use the
/// CLI default".
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct Mock {
    pub echo: bool,
    pub status: Option<u16>,
    /// `x-mock-latency`, or `x-mock-delay-ms: N` as `fixed:N`.
    pub latency: Option<Dist>,
    pub chunks: Option<u32>,
    /// `x-mock-chunk-delay-ms: N` as `fixed:N` (ttft and inter-token).
    pub chunk_delay: Option<Dist>,
    pub ttft: Option<Dist>,
    pub inter_token: Option<Dist>,
    pub body_bytes: Option<usize>,
    pub fail: Option<Fail>,
    pub fail_mix: Option<FailMix>,
}

/// A parsed request head. Strings are kept as spans into the read buffer so
/// parsing never allocates.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Head {
    pub head_len: usize,
    pub method: Method,
    pub target: Span,
    pub auth: Option<Span>,
    /// `x-api-key` (Anthropic), trimmed.
    pub api_key: Option<Span>,
    /// `anthropic-version`, trimmed.
    pub anthropic_version: Option<Span>,
    /// `x-goog-api-key` (Gemini), trimmed.
    pub goog_api_key: Option<Span>,
    /// `api-key` (Azure OpenAI), trimmed.
    pub azure_api_key: Option<Span>,
    /// `x-amz-date` (SigV4-signed Bedrock requests), trimmed.
    pub amz_date: Option<Span>,
    pub content_length: Option<usize>,
    pub chunked: bool,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub mock: Mock,
}

/// A request we refuse; answered with `status` and then the connection closes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reject {
    pub status: u16,
    pub message: &'static str,
}

const fn reject(status: u16, message: &'static str) -> Reject {
    Reject { status, message }
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

fn parse_num<T: std::str::FromStr>(v: &[u8]) -> Option<T> {
    std::str::from_utf8(trim(v)).ok()?.parse().ok()
}

fn has_token(v: &[u8], token: &str) -> bool {
    v.split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses a request head. `Ok(None)` means more bytes are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, Reject> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(Status::Complete(n)) => n,
        Ok(Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(reject(431, "too many headers")),
        Err(_) => return Err(reject(400, "malformed request head")),
    };
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        (start, start + s.len())
    };
    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let target = span(req.path.unwrap_or("").as_bytes());
    let mut head = Head {
        head_len,
        method,
        target,
        auth: None,
        api_key: None,
        anthropic_version: None,
        goog_api_key: None,
        azure_api_key: None,
        amz_date: None,
        content_length: None,
        chunked: false,
        keep_alive: req.version == Some(1),
        expect_continue: false,
        mock: Mock::default(),
    };
    let mut only_key: Option<&[u8]> = None;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        if name.eq_ignore_ascii_case(b"content-length") {
            let n: usize = parse_num(value).ok_or(reject(400, "invalid content-length"))?;
            if head.content_length.is_some_and(|old| old != n) {
                return Err(reject(400, "conflicting content-length headers"));
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            if !trim(last).eq_ignore_ascii_case(b"chunked") {
                return Err(reject(501, "unsupported transfer-encoding"));
            }
            head.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, "close") {
                head.keep_alive = false;
            } else if has_token(value, "keep-alive") {
                head.keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"authorization") {
            head.auth = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"x-api-key") {
            head.api_key = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"anthropic-version") {
            head.anthropic_version = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"x-goog-api-key") {
            head.goog_api_key = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"api-key") {
            head.azure_api_key = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"x-amz-date") {
            head.amz_date = Some(span(trim(value)));
        } else if name.eq_ignore_ascii_case(b"expect") {
            head.expect_continue = trim(value).eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case(b"x-mock-only-key") {
            only_key = Some(trim(value));
        } else if name.len() > 7 && name[..7].eq_ignore_ascii_case(b"x-mock-") {
            parse_mock(&name[7..], value, &mut head.mock)?;
        }
    }
    // `x-mock-only-key: K`: the behaviour headers apply only to requests
    // sent with key K (to fail one key of a provider, not the others).
    if let Some(only) = only_key {
        if request_key(buf, &head) != Some(only) {
            head.mock = Mock {
                echo: head.mock.echo,
                ..Mock::default()
            };
        }
    }
    if head.chunked && head.content_length.is_some() {
        return Err(reject(
            400,
            "both transfer-encoding and content-length present",
        ));
    }
    Ok(Some(head))
}

/// The key a request was sent with: the bearer token, or an API-key header.
pub fn request_key<'b>(buf: &'b [u8], head: &Head) -> Option<&'b [u8]> {
    let (a, b) = head
        .auth
        .or(head.api_key)
        .or(head.azure_api_key)
        .or(head.goog_api_key)?;
    let value = &buf[a..b];
    Some(
        match value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ") {
            true => trim(&value[7..]),
            false => value,
        },
    )
}

fn parse_mock(suffix: &[u8], value: &[u8], m: &mut Mock) -> Result<(), Reject> {
    let is = |s: &str| suffix.eq_ignore_ascii_case(s.as_bytes());
    let v = trim(value);
    if is("echo") {
        m.echo = match v {
            b"1" | b"true" | b"yes" => true,
            b"0" | b"false" | b"no" => false,
            _ => return Err(reject(400, "invalid x-mock-echo (use 1 or 0)")),
        };
    } else if is("status") {
        let s: u16 = parse_num(v)
            .filter(|s| (200..=599).contains(s))
            .ok_or(reject(400, "invalid x-mock-status (200..=599)"))?;
        m.status = Some(s);
    } else if is("delay-ms") {
        let ms = parse_num(v)
            .filter(|d| *d <= MAX_DELAY_MS)
            .ok_or(reject(400, "invalid x-mock-delay-ms"))?;
        m.latency = Some(Dist::fixed_ms(ms));
    } else if is("latency") {
        m.latency = Some(parse_dist(v).ok_or(reject(
            400,
            "invalid x-mock-latency (fixed:MS|uniform:MIN_MS,MAX_MS|lognormal:MEDIAN_MS,SIGMA)",
        ))?);
    } else if is("ttft") {
        m.ttft = Some(parse_dist(v).ok_or(reject(
            400,
            "invalid x-mock-ttft (fixed:MS|uniform:MIN_MS,MAX_MS|lognormal:MEDIAN_MS,SIGMA)",
        ))?);
    } else if is("inter-token") {
        m.inter_token = Some(parse_dist(v).ok_or(reject(
            400,
            "invalid x-mock-inter-token (fixed:MS|uniform:MIN_MS,MAX_MS|lognormal:MEDIAN_MS,SIGMA)",
        ))?);
    } else if is("fail-mix") {
        let mix = std::str::from_utf8(v)
            .ok()
            .and_then(|s| FailMix::parse(s).ok())
            .ok_or(reject(
                400,
                "invalid x-mock-fail-mix (KIND:FRACTION,... with KIND in 500|502|503|429|reset|close|cut|hang, sum <= 1)",
            ))?;
        m.fail_mix = Some(mix);
    } else if is("chunks") {
        m.chunks = Some(
            parse_num(v)
                .filter(|n| *n <= MAX_CHUNKS)
                .ok_or(reject(400, "invalid x-mock-chunks (0..=100000)"))?,
        );
    } else if is("chunk-delay-ms") {
        let ms = parse_num(v)
            .filter(|d| *d <= MAX_DELAY_MS)
            .ok_or(reject(400, "invalid x-mock-chunk-delay-ms"))?;
        m.chunk_delay = Some(Dist::fixed_ms(ms));
    } else if is("body-bytes") {
        m.body_bytes = Some(
            parse_num(v)
                .filter(|n| *n <= MAX_BODY_BYTES)
                .ok_or(reject(400, "invalid x-mock-body-bytes"))?,
        );
    } else if is("fail") {
        m.fail = Some(if v.eq_ignore_ascii_case(b"close") {
            Fail::Close
        } else if v.eq_ignore_ascii_case(b"reset") {
            Fail::Reset
        } else if v.eq_ignore_ascii_case(b"cut") {
            Fail::Cut
        } else if v.eq_ignore_ascii_case(b"hang") {
            Fail::Hang
        } else {
            return Err(reject(400, "invalid x-mock-fail (close|reset|cut|hang)"));
        });
    }
    Ok(())
}

fn parse_dist(v: &[u8]) -> Option<Dist> {
    Dist::parse(std::str::from_utf8(v).ok()?).ok()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Chunked {
    /// More bytes needed.
    Partial,
    /// Complete; the value is the number of bytes consumed (incl. trailers).
    Done(usize),
    Invalid,
}

/// Decodes a chunked body from the start of `src` into `out` (cleared first).
/// Called again from scratch when more bytes arrive; request bodies are small.
pub fn decode_chunked(src: &[u8], out: &mut Vec<u8>) -> Chunked {
    out.clear();
    let mut pos = 0;
    loop {
        let (n, size) = match httparse::parse_chunk_size(&src[pos..]) {
            Ok(Status::Complete(x)) => x,
            Ok(Status::Partial) => return Chunked::Partial,
            Err(_) => return Chunked::Invalid,
        };
        pos += n;
        if size == 0 {
            // Trailer section: header lines up to an empty line.
            loop {
                let rest = &src[pos..];
                let Some(i) = memchr::memchr(b'\n', rest) else {
                    return Chunked::Partial;
                };
                pos += i + 1;
                if i == 0 || (i == 1 && rest[0] == b'\r') {
                    return Chunked::Done(pos);
                }
            }
        }
        let size = match usize::try_from(size) {
            Ok(s) if s <= MAX_BODY && out.len() + s <= MAX_BODY => s,
            _ => return Chunked::Invalid,
        };
        if src.len() - pos < size + 2 {
            return Chunked::Partial;
        }
        out.extend_from_slice(&src[pos..pos + size]);
        pos += size;
        if &src[pos..pos + 2] != b"\r\n" {
            return Chunked::Invalid;
        }
        pos += 2;
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    Chat,
    Completions,
    /// Anthropic Messages API.
    Messages,
    /// Anthropic's `…/v1/messages/count_tokens`.
    CountTokens,
    /// OpenAI's Responses API, `…/responses`.
    Responses,
    /// Gemini API: `…/models/{model}:{method}`.
    Gemini(crate::gemini::Op),
    /// Cohere v2 `…/v2/chat`.
    CohereChat,
    /// Cohere v2 `…/v2/embed`.
    CohereEmbed,
    /// AWS Bedrock runtime: `…/model/{id}/{operation}`.
    Bedrock(crate::bedrock::Op),
    /// An OAuth token endpoint (Google's `/token`, Entra ID's
    /// `/{tenant}/oauth2/v2.0/token`).
    Token(crate::oauth::Issuer),
    Embeddings,
    Models,
    Stats,
    ResetStats,
    NotFound,
}

impl Route {
    /// Control routes are not counted in the `requests` statistic.
    pub fn is_control(self) -> bool {
        matches!(self, Route::Stats | Route::ResetStats | Route::Token(_))
    }
}

/// Maps method + request target to a route. Any prefix before
/// `/chat/completions`, `/completions`, `/v1/messages`, `/embeddings` and
/// `/models` is accepted, and so is any prefix before `/v2/chat`, `/v2/embed`
/// (Cohere), `/models/{model}:generateContent`, `:streamGenerateContent`,
/// `:batchEmbedContents` (Gemini) and `/model/{id}/converse`,
/// `/converse-stream`, `/invoke` (Bedrock).
pub fn route(method: Method, target: &[u8]) -> Route {
    let path = match memchr::memchr(b'?', target) {
        Some(i) => &target[..i],
        None => target,
    };
    if !path.starts_with(b"/") {
        return Route::NotFound;
    }
    match (method, path) {
        (Method::Get, b"/__stats") => Route::Stats,
        (Method::Post, b"/__reset_stats") => Route::ResetStats,
        (Method::Post, p) if crate::oauth::Issuer::of_path(p).is_some() => {
            crate::oauth::Issuer::of_path(p).map_or(Route::NotFound, Route::Token)
        }
        (Method::Post, p) if p.ends_with(b"/chat/completions") => Route::Chat,
        (Method::Post, p) if p.ends_with(b"/completions") => Route::Completions,
        (Method::Post, p) if p.ends_with(b"/v1/messages") => Route::Messages,
        (Method::Post, p) if p.ends_with(b"/v1/messages/count_tokens") => Route::CountTokens,
        (Method::Post, p) if p.ends_with(b"/responses") => Route::Responses,
        (Method::Post, p) if p.ends_with(b"/v2/chat") => Route::CohereChat,
        (Method::Post, p) if p.ends_with(b"/v2/embed") => Route::CohereEmbed,
        (Method::Post, p) if crate::gemini::parse_path(p).is_some() => {
            crate::gemini::parse_path(p).map_or(Route::NotFound, |(op, _)| Route::Gemini(op))
        }
        (Method::Post, p) if crate::bedrock::parse_path(p).is_some() => {
            crate::bedrock::parse_path(p).map_or(Route::NotFound, |(op, _)| Route::Bedrock(op))
        }
        (Method::Post, p) if p.ends_with(b"/embeddings") => Route::Embeddings,
        (Method::Get, p) if p.ends_with(b"/models") => Route::Models,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_head_with_mock_headers() {
        let req = b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\n\
            Authorization:  Bearer sk-1 \r\nContent-Length: 2\r\nX-Mock-Status: 429\r\n\
            x-mock-chunks: 7\r\nX-MOCK-FAIL: Cut\r\nx-mock-echo: 1\r\n\r\n{}";
        let h = parse_head(req).unwrap().unwrap();
        assert_eq!(h.head_len, req.len() - 2);
        assert_eq!(h.method, Method::Post);
        assert_eq!(&req[h.target.0..h.target.1], b"/openai/v1/chat/completions");
        let a = h.auth.unwrap();
        assert_eq!(&req[a.0..a.1], b"Bearer sk-1");
        assert_eq!(h.content_length, Some(2));
        assert!(h.keep_alive);
        assert_eq!(h.mock.status, Some(429));
        assert_eq!(h.mock.chunks, Some(7));
        assert_eq!(h.mock.fail, Some(Fail::Cut));
        assert!(h.mock.echo);
        assert_eq!(h.mock.latency, None);
        assert_eq!(h.api_key, None);

        let req = b"POST /v1/messages HTTP/1.1\r\nX-Api-Key: sk-ant \r\n\
            Anthropic-Version: 2023-06-01\r\n\r\n";
        let h = parse_head(req).unwrap().unwrap();
        let k = h.api_key.unwrap();
        assert_eq!(&req[k.0..k.1], b"sk-ant");
        let v = h.anthropic_version.unwrap();
        assert_eq!(&req[v.0..v.1], b"2023-06-01");

        let req =
            b"POST /v1beta/models/g:generateContent HTTP/1.1\r\nX-Goog-Api-Key: g-key \r\n\r\n";
        let k = parse_head(req).unwrap().unwrap().goog_api_key.unwrap();
        assert_eq!(&req[k.0..k.1], b"g-key");

        let req = b"POST /model/m/converse HTTP/1.1\r\nX-Amz-Date: 20240101T000000Z \r\n\r\n";
        let d = parse_head(req).unwrap().unwrap().amz_date.unwrap();
        assert_eq!(&req[d.0..d.1], b"20240101T000000Z");
    }

    #[test]
    fn timing_and_fail_mix_headers() {
        let req = b"POST /v1/chat/completions HTTP/1.1\r\nx-mock-latency: uniform:1,2\r\n\
            X-Mock-TTFT: lognormal:50,0.2\r\nx-mock-inter-token: fixed:0.5\r\n\
            x-mock-fail-mix: 500:0.5, reset:0.25\r\nx-mock-chunk-delay-ms: 7\r\n\r\n";
        let m = parse_head(req).unwrap().unwrap().mock;
        assert_eq!(m.latency, Some(Dist::Uniform(1000, 2000)));
        assert_eq!(m.ttft, Some(Dist::LogNormal(50_000.0, 0.2)));
        assert_eq!(m.inter_token, Some(Dist::Fixed(500)));
        assert_eq!(m.chunk_delay, Some(Dist::Fixed(7000)));
        assert_eq!(
            m.fail_mix,
            Some(FailMix::parse("500:0.5,reset:0.25").unwrap())
        );
        let delay = parse_head(b"GET / HTTP/1.1\r\nx-mock-delay-ms: 150\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(delay.mock.latency, Some(Dist::Fixed(150_000)));
        for bad in [
            "x-mock-latency: fixed:-1",
            "x-mock-latency: 5",
            "x-mock-ttft: uniform:3,1",
            "x-mock-inter-token: lognormal:1",
            "x-mock-fail-mix: 500:0.7,503:0.7",
            "x-mock-fail-mix: 404:0.1",
        ] {
            let req = format!("GET / HTTP/1.1\r\n{bad}\r\n\r\n");
            assert_eq!(parse_head(req.as_bytes()).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn only_key_limits_the_behaviour_headers_to_one_key() {
        let req = |auth: &str| {
            format!("POST / HTTP/1.1\r\nAuthorization: Bearer {auth}\r\nx-mock-only-key: k1\r\nx-mock-status: 429\r\nx-mock-echo: 1\r\n\r\n")
        };
        let hit = req("k1");
        let head = parse_head(hit.as_bytes()).unwrap().unwrap();
        assert_eq!(head.mock.status, Some(429));
        assert_eq!(request_key(hit.as_bytes(), &head), Some(&b"k1"[..]));
        let miss = req("k2");
        let head = parse_head(miss.as_bytes()).unwrap().unwrap();
        assert_eq!(head.mock.status, None, "another key is served normally");
        assert!(head.mock.echo, "echo is kept");
    }

    #[test]
    fn partial_and_errors() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        assert_eq!(
            parse_head(b"GET / HT\x01P/1.1\r\n\r\n").unwrap_err().status,
            400
        );
        let bad = b"GET / HTTP/1.1\r\nx-mock-chunks: 100001\r\n\r\n";
        assert_eq!(parse_head(bad).unwrap_err().status, 400);
        let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse_head(te).unwrap_err().status, 501);
        let h10 = parse_head(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h10.keep_alive);
        let close = parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!close.keep_alive);
    }

    #[test]
    fn chunked_decoding() {
        let mut out = Vec::new();
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: y\r\n\r\nNEXT";
        assert_eq!(
            decode_chunked(body, &mut out),
            Chunked::Done(body.len() - 4)
        );
        assert_eq!(out, b"Wikipedia");
        for cut in 0..body.len() - 4 {
            assert_eq!(
                decode_chunked(&body[..cut], &mut out),
                Chunked::Partial,
                "{cut}"
            );
        }
        assert_eq!(decode_chunked(b"2\r\nabX\r\n", &mut out), Chunked::Invalid);
        assert_eq!(decode_chunked(b"zz\r\n", &mut out), Chunked::Invalid);
    }

    #[test]
    fn routes() {
        assert_eq!(route(Method::Post, b"/v1/chat/completions"), Route::Chat);
        assert_eq!(
            route(
                Method::Post,
                b"/openai/deployments/x/chat/completions?api-version=1"
            ),
            Route::Chat
        );
        assert_eq!(route(Method::Post, b"/v1/completions"), Route::Completions);
        assert_eq!(route(Method::Post, b"/v1/messages"), Route::Messages);
        assert_eq!(
            route(Method::Post, b"/v1/messages/count_tokens"),
            Route::CountTokens
        );
        assert_eq!(route(Method::Post, b"/v1/responses"), Route::Responses);
        assert_eq!(
            route(Method::Post, b"/anthropic/v1/messages?beta=true"),
            Route::Messages
        );
        assert_eq!(
            route(Method::Post, b"/v1/messages/batches"),
            Route::NotFound
        );
        assert_eq!(route(Method::Get, b"/v1/messages"), Route::NotFound);
        assert_eq!(route(Method::Post, b"/v1/embeddings"), Route::Embeddings);
        assert_eq!(route(Method::Get, b"/v1/models"), Route::Models);
        use crate::gemini::Op;
        assert_eq!(
            route(Method::Post, b"/v1beta/models/g-1:generateContent"),
            Route::Gemini(Op::Generate)
        );
        assert_eq!(
            route(
                Method::Post,
                b"/v1beta/models/g-1:streamGenerateContent?alt=sse"
            ),
            Route::Gemini(Op::Stream)
        );
        assert_eq!(
            route(Method::Post, b"/v1beta/models/g-1:batchEmbedContents"),
            Route::Gemini(Op::BatchEmbed)
        );
        assert_eq!(
            route(Method::Get, b"/v1beta/models/g-1:generateContent"),
            Route::NotFound
        );
        assert_eq!(
            route(Method::Post, b"/v1beta/models/g-1:countTokens"),
            Route::NotFound
        );
        assert_eq!(route(Method::Get, b"/v1beta/models"), Route::Models);
        assert_eq!(route(Method::Post, b"/v2/chat"), Route::CohereChat);
        assert_eq!(route(Method::Post, b"/cohere/v2/embed"), Route::CohereEmbed);
        assert_eq!(route(Method::Get, b"/v2/chat"), Route::NotFound);
        use crate::bedrock::Op as B;
        assert_eq!(
            route(Method::Post, b"/model/amazon.nova-lite-v1%3A0/converse"),
            Route::Bedrock(B::Converse)
        );
        assert_eq!(
            route(Method::Post, b"/model/m/converse-stream"),
            Route::Bedrock(B::ConverseStream)
        );
        assert_eq!(
            route(Method::Post, b"/model/cohere.embed-v4%3A0/invoke"),
            Route::Bedrock(B::Invoke)
        );
        assert_eq!(route(Method::Get, b"/model/m/converse"), Route::NotFound);
        assert_eq!(route(Method::Get, b"/__stats"), Route::Stats);
        assert_eq!(route(Method::Post, b"/__reset_stats"), Route::ResetStats);
        assert_eq!(route(Method::Get, b"/v1/chat/completions"), Route::NotFound);
        assert_eq!(route(Method::Post, b"/v1/nope"), Route::NotFound);
        assert_eq!(route(Method::Other, b"/v1/models"), Route::NotFound);
    }
}
