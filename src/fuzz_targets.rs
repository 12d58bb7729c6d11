//! Fuzz target bodies for the byte-level parsers, kept in the library so the
//! cargo-fuzz campaign (`fuzz/`) and the stable smoke test
//! (`tests/fuzz_smoke.rs`) run the same checks. Each target takes arbitrary
//! bytes and panics only when an invariant of the parser under test breaks;
//! `fuzz/README.md` lists what each one checks.
//!
//! Targets that feed a parser in pieces read their first two input bytes as a
//! control word (see [`pieces`]) and the rest as the parser's input, so the
//! fuzzer chooses the split as well as the bytes.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::http::chunked::{ChunkError, ChunkedDecoder, ChunkedScanner, DecodeStep};
use crate::http::request::{parse_request_head, BodyFraming, HeadError, HeaderSpan, RequestHead};
use crate::http::sse::{Event, EventTooLarge, SseParser};
use crate::http::MAX_HEADERS;
use crate::providers::bedrock::eventstream::{
    Decoder, EventStreamError, HeaderValue, Message, EVENTSTREAM_PRELUDE_LEN, MIN_MESSAGE_BYTES,
};
use crate::schema::peek::{peek as peek_body, splice_model, spliced_len, unescape};

/// The parsers under test; [`Target::name`] is also the cargo-fuzz target name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    RequestHead,
    Chunked,
    Sse,
    EventStream,
    Peek,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::RequestHead,
        Target::Chunked,
        Target::Sse,
        Target::EventStream,
        Target::Peek,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::RequestHead => "request_head",
            Target::Chunked => "chunked",
            Target::Sse => "sse",
            Target::EventStream => "eventstream",
            Target::Peek => "peek",
        }
    }

    pub fn run(self, data: &[u8]) {
        match self {
            Target::RequestHead => request_head(data),
            Target::Chunked => chunked(data),
            Target::Sse => sse(data),
            Target::EventStream => eventstream(data),
            Target::Peek => peek(data),
        }
    }

    /// Hand-written starting inputs: valid messages of each shape plus a few
    /// refusals, control words included where the target reads one.
    pub fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Target::RequestHead => request_head_seeds(),
            Target::Chunked => chunked_seeds(),
            Target::Sse => sse_seeds(),
            Target::EventStream => eventstream_seeds(),
            Target::Peek => peek_seeds(),
        }
    }
}

/// xorshift64: deterministic, so a fuzz input always replays the same way.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Any state but zero works; the multiply spreads small seeds out.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Splits off the two-byte control word that [`pieces`] reads.
fn split_control(data: &[u8]) -> (u16, &[u8]) {
    match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, &[]),
    }
}

/// Cuts `0..len` into consecutive pieces, as reads would deliver them. The
/// low three bits of `control` pick the largest piece (1 byte up to 1 KiB),
/// the whole word seeds the sizes. Empty pieces are included: a read can
/// carry only chunked framing, which hands the parser an empty payload.
fn pieces(control: u16, len: usize) -> Vec<Range<usize>> {
    const LARGEST_PIECE: [usize; 8] = [1, 2, 3, 5, 8, 17, 64, 1024];
    let largest = LARGEST_PIECE[usize::from(control & 7)];
    let mut rng = XorShift::new(u64::from(control));
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let size = rng.below(largest + 1).min(len - at);
        out.push(at..at + size);
        at += size;
    }
    out
}

/// The whole input as a single piece.
fn one_piece(len: usize) -> Vec<Range<usize>> {
    std::iter::once(0..len).collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn with_control(control: u16, input: &[u8]) -> Vec<u8> {
    let mut v = control.to_le_bytes().to_vec();
    v.extend_from_slice(input);
    v
}

// ---------------------------------------------------------------------------
// 1. Request head

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

fn parse_head(buf: &[u8], max_head_bytes: usize) -> Result<Option<RequestHead>, HeadError> {
    // Reused storage arrives holding the previous request's spans.
    let stale = HeaderSpan {
        name: (u32::MAX, u32::MAX),
        value: (u32::MAX, u32::MAX),
    };
    parse_request_head(buf, max_head_bytes, vec![stale; 3]).map_err(|(e, _)| e)
}

fn same_head(a: &RequestHead, b: &RequestHead) -> bool {
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
fn sample_cuts(data: &[u8], end: usize) -> Vec<usize> {
    if end == 0 {
        return Vec::new();
    }
    let mut rng = XorShift::new(fnv1a(data));
    let mut cuts = vec![0, end / 2, end - 1];
    cuts.extend((0..3).map(|_| rng.below(end)));
    cuts
}

fn check_head_spans(data: &[u8], head: &RequestHead) {
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

fn check_framing_follows_headers(data: &[u8], head: &RequestHead) {
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

fn trim_spaces(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn request_head_seeds() -> Vec<Vec<u8>> {
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

// ---------------------------------------------------------------------------
// 2. Chunked

/// Control bit 15: build a valid chunked body from the input instead of
/// reading the input as one (the round trip must give the input back).
const CHUNKED_ROUND_TRIP: u16 = 0x8000;
/// Bytes after a generated body: the next pipelined request, left untouched.
const AFTER_BODY: &[u8] = b"NEXT";
/// Bytes before the body in the decoder's buffer (a request head).
const BEFORE_BODY: &[u8] = b"HEAD";

/// What decoding a chunked body produced.
#[derive(Debug, PartialEq, Eq)]
struct Dechunked {
    payload: Vec<u8>,
    /// `Ok(Some(n))`: the message ended after `n` input bytes; `Ok(None)`: more needed.
    end: Result<Option<usize>, ChunkError>,
}

/// `ChunkedDecoder` and `ChunkedScanner`: whole and split, both agree on the
/// payload, where the message ends, and the error; decoding in place never
/// touches the bytes before the body or after it; generated bodies decode to
/// what they were built from.
pub fn chunked(data: &[u8]) {
    let (control, input) = split_control(data);
    if control & CHUNKED_ROUND_TRIP == 0 {
        check_chunked_splits(control, input);
        return;
    }
    let encoded = encode_chunked(control, input);
    let decoded = check_chunked_splits(control, &encoded);
    assert_eq!(
        decoded,
        Dechunked {
            payload: input.to_vec(),
            end: Ok(Some(encoded.len() - AFTER_BODY.len())),
        },
        "round trip of {:?}",
        String::from_utf8_lossy(&encoded)
    );
}

fn check_chunked_splits(control: u16, input: &[u8]) -> Dechunked {
    let whole_piece = one_piece(input.len());
    let split = pieces(control, input.len());
    let before_len = usize::from(control >> 3) % (BEFORE_BODY.len() + 1);
    let whole = decode_in_place(input, &whole_piece, before_len);
    assert_eq!(
        decode_in_place(input, &split, before_len),
        whole,
        "decoder, whole vs pieces {split:?}"
    );
    assert_eq!(scan(input, &whole_piece), whole, "scanner vs decoder");
    assert_eq!(
        scan(input, &split),
        whole,
        "scanner in pieces {split:?} vs decoder"
    );
    whole
}

/// Reads arrive into one growing buffer after `before_len` bytes of head,
/// as in `api::connection`.
fn decode_in_place(input: &[u8], pieces: &[Range<usize>], before_len: usize) -> Dechunked {
    let mut buf = BEFORE_BODY[..before_len].to_vec();
    let mut decoder = ChunkedDecoder::new(before_len);
    let mut end = Ok(None);
    for piece in pieces {
        buf.extend_from_slice(&input[piece.clone()]);
        let step = decoder.feed(&mut buf);
        assert!(
            decoder.write <= decoder.read,
            "decoded bytes overtook raw ones"
        );
        match step {
            Ok(DecodeStep::NeedMore) => {}
            Ok(DecodeStep::Done { leftover }) => {
                assert_eq!(
                    &buf[leftover..],
                    &input[leftover - before_len..piece.end],
                    "bytes after the body changed"
                );
                end = Ok(Some(leftover - before_len));
                break;
            }
            Err(e) => {
                end = Err(e);
                break;
            }
        }
    }
    assert_eq!(
        &buf[..before_len],
        &BEFORE_BODY[..before_len],
        "bytes before the body changed"
    );
    Dechunked {
        payload: buf[before_len..decoder.write].to_vec(),
        end,
    }
}

fn scan(input: &[u8], pieces: &[Range<usize>]) -> Dechunked {
    let mut scanner = ChunkedScanner::new();
    let mut payload = Vec::new();
    let mut end = Ok(None);
    for piece in pieces {
        match scanner.scan(&input[piece.clone()], |p| payload.extend_from_slice(p)) {
            Ok(None) => {}
            Ok(Some(n)) => {
                assert!(
                    n <= piece.len(),
                    "end {n} past a {}-byte piece",
                    piece.len()
                );
                end = Ok(Some(piece.start + n));
                break;
            }
            Err(e) => {
                end = Err(e);
                break;
            }
        }
    }
    Dechunked { payload, end }
}

/// A valid chunked body carrying `payload`, with the spellings senders use:
/// either hex case, leading zeros, extensions, trailers. [`AFTER_BODY`]
/// follows it. Chunks are 1 to 64 bytes: one-byte chunks everywhere would
/// make the body ten times the payload and the target ten times slower,
/// while the pieces the body is then fed in still go down to one byte.
fn encode_chunked(control: u16, payload: &[u8]) -> Vec<u8> {
    const LARGEST_CHUNK: usize = 64;
    const EXTENSIONS: [&[u8]; 5] = [b"", b"", b";a=b", b";name=\"v;\\\"x\"", b" ;x\t"];
    const TRAILERS: [&[u8]; 3] = [b"", b"X-Trailer: a\r\n", b"A: 1\r\nB: two words\r\n"];
    let mut rng = XorShift::new(u64::from(control) ^ payload.len() as u64);
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at((1 + rng.below(LARGEST_CHUNK)).min(rest.len()));
        rest = after;
        // Leading zeros (sizes are 1-2 digits, widths up to 4) stay far below the 15-digit limit.
        let mut size = format!("{:0width$x}", chunk.len(), width = rng.below(5));
        if rng.below(2) == 0 {
            size.make_ascii_uppercase();
        }
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(EXTENSIONS[rng.below(EXTENSIONS.len())]);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0");
    out.extend_from_slice(EXTENSIONS[rng.below(EXTENSIONS.len())]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(TRAILERS[rng.below(TRAILERS.len())]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(AFTER_BODY);
    out
}

fn chunked_seeds() -> Vec<Vec<u8>> {
    let bodies: [&[u8]; 8] = [
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: a\r\n\r\nNEXT",
        b"0\r\n\r\n",
        b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\nA\r\n0123456789\r\n0\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
        b"00000000000001\r\nx\r\n0;last\r\nA: 1\r\nB: 2\r\n\r\n",
        b"5\r\nhel",
        b"5\r\nhelloXX\r\n",
        b"fffffffffffffff\r\n",
        b"zz\r\n",
    ];
    let mut seeds: Vec<Vec<u8>> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| with_control(i as u16 * 9, b))
        .collect();
    seeds.push(with_control(CHUNKED_ROUND_TRIP | 2, b"hello world"));
    seeds.push(with_control(
        CHUNKED_ROUND_TRIP | 0x1236,
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
    ));
    seeds
}

// ---------------------------------------------------------------------------
// 3. SSE

type OwnedEvent = (String, Vec<u8>);

/// Events in the order produced, apart by whether `feed` or `finish` gave them.
#[derive(Debug, Default, PartialEq, Eq)]
struct SseEvents {
    fed: Vec<OwnedEvent>,
    finished: Vec<OwnedEvent>,
}

/// `SseParser`: any split of the bytes (empty pieces included) gives the same
/// events, from `feed` and from `finish`, as the whole input does, and the
/// same as a line-by-line reading of the whole input.
pub fn sse(data: &[u8]) {
    let (control, input) = split_control(data);
    let whole = sse_events(input, &one_piece(input.len()));
    let split = pieces(control, input.len());
    assert_eq!(sse_events(input, &split), whole, "pieces {split:?}");
    assert_eq!(reference_sse_events(input), whole, "parser vs reference");
}

fn sse_events(input: &[u8], pieces: &[Range<usize>]) -> SseEvents {
    let owned = |e: Event<'_>| (e.name.to_owned(), e.data.to_vec());
    let mut parser = SseParser::new();
    let mut events = SseEvents::default();
    for piece in pieces {
        parser
            .feed(&input[piece.clone()], |e: Event<'_>| {
                events.fed.push(owned(e));
                Ok::<(), EventTooLarge>(())
            })
            .expect("fuzz inputs are far below MAX_EVENT_BYTES");
    }
    parser
        .finish(|e: Event<'_>| {
            events.finished.push(owned(e));
            Ok::<(), EventTooLarge>(())
        })
        .expect("fuzz inputs are far below MAX_EVENT_BYTES");
    events
}

/// The framing `http::sse` documents, read the plain way over the whole
/// input: lines end in CRLF, LF or CR; a blank line dispatches an event that
/// has at least one `data` line; at the end an unterminated line still counts
/// and a pending event is dispatched.
fn reference_sse_events(input: &[u8]) -> SseEvents {
    #[derive(Default)]
    struct Pending {
        name: String,
        data: Vec<u8>,
        has_data: bool,
    }
    fn take_line(pending: &mut Pending, line: &[u8], out: &mut Vec<OwnedEvent>) {
        if line.is_empty() {
            let done = std::mem::take(pending);
            if done.has_data {
                out.push((done.name, done.data));
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if pending.has_data {
                    pending.data.push(b'\n');
                }
                pending.data.extend_from_slice(value);
                pending.has_data = true;
            }
            b"event" => pending.name = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
    let mut events = SseEvents::default();
    let mut pending = Pending::default();
    let mut rest = input;
    while let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        take_line(&mut pending, &rest[..i], &mut events.fed);
        let crlf = rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n');
        rest = &rest[i + 1 + usize::from(crlf)..];
    }
    if !rest.is_empty() {
        take_line(&mut pending, rest, &mut events.finished);
    }
    take_line(&mut pending, b"", &mut events.finished);
    events
}

fn sse_seeds() -> Vec<Vec<u8>> {
    let streams: [&[u8]; 8] = [
        b"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n",
        b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"delta\":{\"text\":\"x\"}}\n\nevent: ping\ndata: {}\n\n",
        b"data: {\"candidates\":[]}\r\n\r\ndata: {\"x\": 2}",
        b": OPENROUTER PROCESSING\n\n: keep-alive\r\rdata: a\rdata:b\r\r",
        b"data: line1\r\ndata:line2\r\n\r\nid: 7\nretry: 10\nevent\ndata\n\n",
        b"event: error\ndata: {\"error\":{}}\r\n",
        b"data: split \xe2\x82\xac\r",
        b"\n\n\r\r\r\n::\ndata:  two spaces\n\n",
    ];
    streams
        .iter()
        .enumerate()
        .map(|(i, s)| with_control(i as u16 * 0x111, s))
        .collect()
}

// ---------------------------------------------------------------------------
// 4. AWS event stream

/// Control bits 14–15: 0 or 1 reads the input as it is; 2 rewrites its
/// checksums so lengths and headers get tested past the CRC checks; 3 builds
/// well-framed messages from it (header block and payload lengths, then bytes).
const EVENTSTREAM_MODE_SHIFT: u32 = 14;
const EVENTSTREAM_CHECKSUMS_REPAIRED: u16 = 2;
const EVENTSTREAM_FRAMED: u16 = 3;

#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    messages: Vec<Message>,
    error: Option<EventStreamError>,
    finish: Result<(), EventStreamError>,
}

/// `eventstream::Decoder`: whole and split give the same messages, error and
/// end-of-stream verdict; errors stick; it buffers exactly the bytes not yet
/// returned; decoded messages re-encode to the very bytes they came from.
pub fn eventstream(data: &[u8]) {
    let (control, input) = split_control(data);
    let mode = control >> EVENTSTREAM_MODE_SHIFT;
    let stream = match mode {
        EVENTSTREAM_CHECKSUMS_REPAIRED => with_checksums_repaired(input),
        EVENTSTREAM_FRAMED => frames_from_parts(input),
        _ => input.to_vec(),
    };
    let whole = decode_messages(&stream, &one_piece(stream.len()));
    let split = pieces(control, stream.len());
    assert_eq!(decode_messages(&stream, &split), whole, "pieces {split:?}");
    let mut reencoded = Vec::new();
    for m in &whole.messages {
        push_message(&mut reencoded, m);
    }
    assert!(
        stream.starts_with(&reencoded),
        "decoded messages {:?} do not re-encode to the bytes they came from",
        whole.messages
    );
    if mode == EVENTSTREAM_FRAMED {
        // Lengths and checksums are right by construction: only a header block can be refused.
        assert!(
            matches!(
                whole.error,
                None | Some(EventStreamError::BadHeader { .. })
                    | Some(EventStreamError::BadHeaderType { .. })
            ),
            "well-framed messages refused: {:?}",
            whole.error
        );
        if whole.error.is_none() {
            assert_eq!(reencoded, stream, "well-framed messages left over");
        }
    }
}

fn decode_messages(stream: &[u8], pieces: &[Range<usize>]) -> Decoded {
    let mut decoder = Decoder::new();
    let mut messages = Vec::new();
    let mut error = None;
    let (mut fed, mut returned) = (0, 0);
    'feed: for piece in pieces {
        decoder.feed(&stream[piece.clone()]);
        fed += piece.len();
        loop {
            match decoder.next_message() {
                Ok(Some(m)) => {
                    returned += encoded_len(&m);
                    messages.push(m);
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
        assert_eq!(
            decoder.buffered_len(),
            fed - returned,
            "the decoder must hold exactly the bytes not yet returned"
        );
    }
    if let Some(e) = &error {
        decoder.feed(stream);
        assert_eq!(
            decoder.next_message(),
            Err(e.clone()),
            "a failed decoder recovered"
        );
    }
    let finish = decoder.finish();
    if let Some(e) = &error {
        assert_eq!(finish, Err(e.clone()), "finish after an error");
    }
    Decoded {
        messages,
        error,
        finish,
    }
}

/// CRC-32 (IEEE, reflected), bit by bit: written here rather than shared so
/// the fuzzer's frames do not depend on the decoder's own checksum code.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Rewrites each prelude CRC, and each message CRC where `total_length` fits
/// in what is left, walking message by message.
fn with_checksums_repaired(input: &[u8]) -> Vec<u8> {
    let mut s = input.to_vec();
    let mut at = 0;
    while s.len() - at >= EVENTSTREAM_PRELUDE_LEN {
        let crc = crc32(&s[at..at + 8]);
        s[at + 8..at + 12].copy_from_slice(&crc.to_be_bytes());
        let total = be_u32(&s[at..at + 4]) as usize;
        if total < MIN_MESSAGE_BYTES || total > s.len() - at {
            break;
        }
        let end = at + total;
        let crc = crc32(&s[at..end - 4]);
        s[end - 4..end].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
    s
}

/// Reads `headers_len u8, payload_len u8, headers, payload` repeatedly (lengths
/// cut to what is left) and frames each pair as a correct message.
fn frames_from_parts(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [headers_len, payload_len, rest @ ..] = input {
        let (headers, rest) = rest.split_at(usize::from(*headers_len).min(rest.len()));
        let (payload, rest) = rest.split_at(usize::from(*payload_len).min(rest.len()));
        push_frame(&mut out, headers, payload);
        input = rest;
    }
    out
}

fn push_frame(out: &mut Vec<u8>, header_block: &[u8], payload: &[u8]) {
    let total = MIN_MESSAGE_BYTES + header_block.len() + payload.len();
    let start = out.len();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(header_block.len() as u32).to_be_bytes());
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(header_block);
    out.extend_from_slice(payload);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn header_block(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in &m.headers {
        out.push(u8::try_from(name.len()).expect("names come from a u8 length"));
        out.extend_from_slice(name.as_bytes());
        out.push(value.type_id());
        let with_len = |out: &mut Vec<u8>, bytes: &[u8]| {
            let len = u16::try_from(bytes.len()).expect("values come from a u16 length");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        };
        match value {
            HeaderValue::Bool(_) => {}
            HeaderValue::Byte(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValue::Int16(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValue::Int32(v) => out.extend_from_slice(&v.to_be_bytes()),
            HeaderValue::Int64(v) | HeaderValue::Timestamp(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            HeaderValue::Bytes(v) => with_len(&mut out, v),
            HeaderValue::String(v) => with_len(&mut out, v.as_bytes()),
            HeaderValue::Uuid(v) => out.extend_from_slice(v),
        }
    }
    out
}

fn push_message(out: &mut Vec<u8>, m: &Message) {
    push_frame(out, &header_block(m), &m.payload);
}

fn encoded_len(m: &Message) -> usize {
    MIN_MESSAGE_BYTES + header_block(m).len() + m.payload.len()
}

fn bedrock_event(event_type: &str, payload: &[u8]) -> Message {
    let string = |s: &str| HeaderValue::String(s.to_owned());
    Message {
        headers: vec![
            (":event-type".into(), string(event_type)),
            (":content-type".into(), string("application/json")),
            (":message-type".into(), string("event")),
        ],
        payload: payload.to_vec(),
    }
}

fn eventstream_seeds() -> Vec<Vec<u8>> {
    let every_type = Message {
        headers: vec![
            ("t".into(), HeaderValue::Bool(true)),
            ("f".into(), HeaderValue::Bool(false)),
            ("b".into(), HeaderValue::Byte(-2)),
            ("i16".into(), HeaderValue::Int16(-300)),
            ("i32".into(), HeaderValue::Int32(70_000)),
            ("i64".into(), HeaderValue::Int64(-1)),
            ("bytes".into(), HeaderValue::Bytes(vec![0, 0xff, 7])),
            ("s".into(), HeaderValue::String("é".into())),
            ("ts".into(), HeaderValue::Timestamp(1_700_000_000_000)),
            ("id".into(), HeaderValue::Uuid([0x5a; 16])),
        ],
        payload: Vec::new(),
    };
    let exception = Message {
        headers: vec![
            (
                ":exception-type".into(),
                HeaderValue::String("throttlingException".into()),
            ),
            (
                ":message-type".into(),
                HeaderValue::String("exception".into()),
            ),
        ],
        payload: br#"{"message":"slow down"}"#.to_vec(),
    };
    let conversation = [
        bedrock_event("messageStart", br#"{"role":"assistant"}"#),
        bedrock_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
        ),
        bedrock_event("contentBlockStop", br#"{"contentBlockIndex":0}"#),
        bedrock_event("messageStop", br#"{"stopReason":"end_turn"}"#),
        bedrock_event(
            "metadata",
            br#"{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}"#,
        ),
    ];
    let encode = |messages: &[Message]| {
        let mut out = Vec::new();
        for m in messages {
            push_message(&mut out, m);
        }
        out
    };
    let mut whole = encode(&conversation);
    let mut seeds = vec![
        with_control(0, &whole),
        with_control(0x0101, &encode(std::slice::from_ref(&every_type))),
        with_control(0x0202, &encode(&[exception])),
        with_control(
            0x0003,
            &encode(&[Message {
                headers: Vec::new(),
                payload: Vec::new(),
            }]),
        ),
    ];
    whole.truncate(whole.len() - 3);
    seeds.push(with_control(0x0104, &whole));
    // Checksums left as zeros for the repairing mode to fill in.
    let mut unrepaired = encode(&[every_type]);
    unrepaired[8..12].fill(0);
    seeds.push(with_control(
        EVENTSTREAM_CHECKSUMS_REPAIRED << EVENTSTREAM_MODE_SHIFT,
        &unrepaired,
    ));
    // Framed mode: a header block of one string header, then a payload.
    let mut parts = vec![12, 2];
    parts.extend_from_slice(b"\x05:type\x07\x00\x03abc{}");
    parts.extend_from_slice(&[3, 0, 1, b'x', 0]);
    seeds.push(with_control(
        EVENTSTREAM_FRAMED << EVENTSTREAM_MODE_SHIFT | 5,
        &parts,
    ));
    seeds
}

// ---------------------------------------------------------------------------
// 5. Body peek

/// A top-level key as serde_json read it.
#[derive(Debug)]
struct TopKey {
    name: String,
    /// Written with escapes (`"mod\u0065l"`).
    escaped: bool,
}

impl fmt::Display for TopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name)?;
        if self.escaped {
            f.write_str(" (written with escapes)")?;
        }
        Ok(())
    }
}

/// Keys for a failure message, saying which were written with escapes.
fn describe_keys<'a>(keys: impl IntoIterator<Item = &'a TopKey>) -> String {
    let keys: Vec<String> = keys.into_iter().map(ToString::to_string).collect();
    format!("[{}]", keys.join(", "))
}

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            // Reading from a slice, serde_json lends the input's own bytes
            // exactly when the key has no escapes.
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<TopKey, E> {
                Ok(TopKey {
                    name: v.to_owned(),
                    escaped: false,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TopKey, E> {
                Ok(TopKey {
                    name: v.to_owned(),
                    escaped: true,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON object's top-level entries in order, duplicates kept
/// (`serde_json::Value` keeps only the last of each key).
struct TopLevel(Vec<(TopKey, Value)>);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<TopKey>()? {
                    entries.push((key, map.next_value::<Value>()?));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// A replacement model with every character class the JSON writer escapes.
const AWKWARD_MODEL: &str = "a\"b\\c/\n\r\t\u{0}\u{1f}\u{7f}é🚀";

/// `schema::peek`, against serde_json (what an upstream reads): a JSON
/// object with at most one top-level `model` key peeks Ok; a peek that
/// succeeds saw exactly that one key, routes the very model serde_json reads
/// (after unescaping) and the same `stream` flag; and splicing a new model
/// changes that value alone and yields the length `spliced_len` promised.
pub fn peek(body: &[u8]) {
    let peeked = peek_body(body);
    let upstream = serde_json::from_slice::<TopLevel>(body).ok();
    let entries = upstream.as_ref().map(|t| t.0.as_slice());
    if let Ok(found) = &peeked {
        check_model_range(body, found.model.as_ref(), found.model_escaped);
    }
    let Some(entries) = entries else {
        if let Ok(found) = &peeked {
            if let Some(model) = &found.model {
                check_splices(body, model, None);
            }
        }
        return;
    };
    let model_keys: Vec<&TopKey> = entries
        .iter()
        .filter(|(k, _)| k.name == "model")
        .map(|(k, _)| k)
        .collect();
    let last = |name: &str| entries.iter().rev().find(|(k, _)| k.name == name);
    let upstream_model = last("model").and_then(|(_, v)| v.as_str());
    let upstream_stream = last("stream").is_some_and(|(_, v)| *v == Value::Bool(true));
    let found = match &peeked {
        Err(e) => {
            assert!(
                model_keys.len() > 1,
                "peek refused a JSON object serde_json reads: {e}"
            );
            return;
        }
        Ok(found) => found,
    };
    assert!(
        model_keys.len() <= 1,
        "peek accepted {} top-level model keys {}: the gateway may route one while the upstream reads another",
        model_keys.len(),
        describe_keys(model_keys.iter().copied())
    );
    let routed = found
        .model
        .as_ref()
        .map(|r| unescape(&body[r.clone()]).expect("serde_json read this string"));
    assert_eq!(
        routed.as_deref(),
        upstream_model,
        "the gateway routes one model, the upstream reads another (model keys {})",
        describe_keys(model_keys.iter().copied())
    );
    assert_eq!(
        found.stream,
        upstream_stream,
        "the gateway and the upstream disagree on stream (keys {})",
        describe_keys(entries.iter().map(|(k, _)| k))
    );
    if let Some(model) = &found.model {
        check_splices(body, model, Some(entries));
    }
}

fn check_model_range(body: &[u8], model: Option<&Range<usize>>, model_escaped: bool) {
    let Some(r) = model else {
        assert!(!model_escaped, "model_escaped without a model");
        return;
    };
    assert!(
        r.start >= 1 && r.start <= r.end && r.end < body.len(),
        "model {r:?} outside the {}-byte body",
        body.len()
    );
    assert!(
        body[r.start - 1] == b'"' && body[r.end] == b'"',
        "model {r:?} is not between quotes"
    );
    assert_eq!(model_escaped, body[r.clone()].contains(&b'\\'));
}

/// Splices two replacement models: [`AWKWARD_MODEL`] and one cut from the
/// body's last bytes. `entries`, when serde_json read the body, must come
/// back with only the model's value changed.
fn check_splices(body: &[u8], model: &Range<usize>, entries: Option<&[(TopKey, Value)]>) {
    let from_body = String::from_utf8_lossy(&body[body.len() - body.len() % 9..]).into_owned();
    for new_model in [AWKWARD_MODEL, from_body.as_str()] {
        // splice_model appends: what the buffer held before must stay.
        let mut out = BEFORE_BODY.to_vec();
        splice_model(&mut out, body, model, new_model);
        assert!(
            out.starts_with(BEFORE_BODY),
            "splice_model overwrote its buffer"
        );
        let spliced = &out[BEFORE_BODY.len()..];
        assert_eq!(
            spliced.len(),
            spliced_len(body, model, new_model),
            "spliced_len for {new_model:?}"
        );
        let (lead, rest) = spliced.split_at(model.start - 1);
        let tail = &body[model.end + 1..];
        assert!(
            lead == &body[..model.start - 1] && rest.ends_with(tail),
            "splice changed bytes outside the model value"
        );
        let literal = &rest[..rest.len() - tail.len()];
        assert_eq!(
            serde_json::from_slice::<String>(literal).ok().as_deref(),
            Some(new_model),
            "spliced literal {:?}",
            String::from_utf8_lossy(literal)
        );
        let Some(before) = entries else { continue };
        let TopLevel(after) =
            serde_json::from_slice(spliced).expect("a spliced valid body is valid");
        assert_eq!(after.len(), before.len(), "splicing changed the keys");
        for ((k0, v0), (k1, v1)) in before.iter().zip(&after) {
            assert_eq!(k0.name, k1.name, "splicing changed the keys");
            if k0.name == "model" {
                assert_eq!(v1.as_str(), Some(new_model), "upstream reads another model");
            } else {
                assert_eq!(v0, v1, "splicing changed {:?}", k0.name);
            }
        }
    }
}

fn peek_seeds() -> Vec<Vec<u8>> {
    [
        &br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#[..],
        br#"{"messages":[{"role":"user","content":"hi \"there\" {[}]"}],"model":"groq/llama-3","stream":true,"x":{"model":"nested"}}"#,
        br#" { "stream" : false , "n": 1.5e3, "ok": null, "model" : "anthropic/claude" } "#,
        br#"{"model":"a\/b\u00e9\"q\\","stream":true}"#,
        br#"{"model":null,"input":["a","b"],"dimensions":256}"#,
        br#"{"model":7,"temperature":-0.5,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#,
        br#"{}"#,
        b"{\"model\":\"\xc3\xa9t\xc3\xa9\",\"prompt\":\"\\ud83d\\ude80\"}\n",
        br#"{"stream":true,"stream_options":{"include_usage":true},"model":""}"#,
        br#"[{"model":"not an object"}]"#,
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn pieces_cover_the_input_in_order() {
        for control in [0u16, 1, 7, 0x8005, 0xffff] {
            let split = pieces(control, 3000);
            assert_eq!(split.first().map(|r| r.start), Some(0));
            assert_eq!(split.last().map(|r| r.end), Some(3000));
            assert!(split.windows(2).all(|w| w[0].end == w[1].start));
        }
        assert!(pieces(0, 0).is_empty());
    }

    #[test]
    fn top_level_keys_keep_duplicates_and_tell_escaped_ones() {
        let TopLevel(entries) =
            serde_json::from_slice(br#"{"model":"a","mod\u0065l":"b","n":1}"#).unwrap();
        let keys: Vec<(&str, bool)> = entries
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.escaped))
            .collect();
        assert_eq!(keys, [("model", false), ("model", true), ("n", false)]);
        assert!(serde_json::from_slice::<TopLevel>(b"[1]").is_err());
    }
}
