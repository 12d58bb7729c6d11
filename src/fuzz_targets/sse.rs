//! Server-sent events: `http::sse::SseParser`.

use super::*;

type OwnedEvent = (String, Vec<u8>);

/// Events in the order produced, apart by whether `feed` or `finish` gave them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SseEvents {
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

pub(super) fn sse_events(input: &[u8], pieces: &[Range<usize>]) -> SseEvents {
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
pub(super) fn reference_sse_events(input: &[u8]) -> SseEvents {
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

pub(super) fn sse_seeds() -> Vec<Vec<u8>> {
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
