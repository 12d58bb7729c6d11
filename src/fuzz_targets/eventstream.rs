//! AWS event stream: `providers::bedrock::eventstream::Decoder`.

use super::*;

/// Control bits 14–15: 0 or 1 reads the input as it is; 2 rewrites its
/// checksums so lengths and headers get tested past the CRC checks; 3 builds
/// well-framed messages from it (header block and payload lengths, then bytes).
pub(super) const EVENTSTREAM_MODE_SHIFT: u32 = 14;
pub(super) const EVENTSTREAM_CHECKSUMS_REPAIRED: u16 = 2;
pub(super) const EVENTSTREAM_FRAMED: u16 = 3;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Decoded {
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

pub(super) fn decode_messages(stream: &[u8], pieces: &[Range<usize>]) -> Decoded {
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
pub(super) fn crc32(bytes: &[u8]) -> u32 {
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

pub(super) fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Rewrites each prelude CRC, and each message CRC where `total_length` fits
/// in what is left, walking message by message.
pub(super) fn with_checksums_repaired(input: &[u8]) -> Vec<u8> {
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
pub(super) fn frames_from_parts(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [headers_len, payload_len, rest @ ..] = input {
        let (headers, rest) = rest.split_at(usize::from(*headers_len).min(rest.len()));
        let (payload, rest) = rest.split_at(usize::from(*payload_len).min(rest.len()));
        push_frame(&mut out, headers, payload);
        input = rest;
    }
    out
}

pub(super) fn push_frame(out: &mut Vec<u8>, header_block: &[u8], payload: &[u8]) {
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

pub(super) fn header_block(m: &Message) -> Vec<u8> {
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

pub(super) fn push_message(out: &mut Vec<u8>, m: &Message) {
    push_frame(out, &header_block(m), &m.payload);
}

pub(super) fn encoded_len(m: &Message) -> usize {
    MIN_MESSAGE_BYTES + header_block(m).len() + m.payload.len()
}

pub(super) fn bedrock_event(event_type: &str, payload: &[u8]) -> Message {
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

pub(super) fn eventstream_seeds() -> Vec<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
