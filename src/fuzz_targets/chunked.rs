//! Chunked transfer coding: `http::chunked`, decoded in place and scanned.

use super::*;

/// Control bit 15: build a valid chunked body from the input instead of
/// reading the input as one (the round trip must give the input back).
pub(super) const CHUNKED_ROUND_TRIP: u16 = 0x8000;
/// Bytes after a generated body: the next pipelined request, left untouched.
pub(super) const AFTER_BODY: &[u8] = b"NEXT";

/// What decoding a chunked body produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Dechunked {
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

pub(super) fn check_chunked_splits(control: u16, input: &[u8]) -> Dechunked {
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
pub(super) fn decode_in_place(
    input: &[u8],
    pieces: &[Range<usize>],
    before_len: usize,
) -> Dechunked {
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
            Ok(DecodeStep::NeedMore) => {
                // Consumed framing is dropped: the buffer holds the head and
                // the decoded payload, nothing more.
                assert_eq!(buf.len(), decoder.write, "consumed framing was kept");
            }
            Ok(DecodeStep::Done { leftover }) => {
                // The raw bytes after the message are the tail of what was fed.
                let end_in_input = piece.end - (buf.len() - leftover);
                assert_eq!(
                    &buf[leftover..],
                    &input[end_in_input..piece.end],
                    "bytes after the body changed"
                );
                end = Ok(Some(end_in_input));
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

pub(super) fn scan(input: &[u8], pieces: &[Range<usize>]) -> Dechunked {
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
pub(super) fn encode_chunked(control: u16, payload: &[u8]) -> Vec<u8> {
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

pub(super) fn chunked_seeds() -> Vec<Vec<u8>> {
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
