//! Fuzz target bodies for the byte-level parsers, kept in the library so the
//! cargo-fuzz campaign (`fuzz/`) and the stable smoke test
//! (`tests/fuzz_smoke.rs`) run the same checks. Each target takes arbitrary
//! bytes and panics only when an invariant of the parser under test breaks;
//! `fuzz/README.md` lists what each one checks.
//!
//! Targets that feed a parser in pieces read their first two input bytes as a
//! control word (see [`pieces`]) and the rest as the parser's input, so the
//! fuzzer chooses the split as well as the bytes.

mod chunked;
mod eventstream;
mod peek;
mod request_head;
mod sse;

pub use chunked::chunked;
use chunked::chunked_seeds;
pub use eventstream::eventstream;
use eventstream::eventstream_seeds;
pub use peek::peek;
use peek::peek_seeds;
pub use request_head::request_head;
use request_head::request_head_seeds;
pub use sse::sse;
use sse::sse_seeds;

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
use crate::schema::peek::{peek as peek_body, splice_model, spliced_len, unescape, Member, Splice};

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

/// Bytes before the body in the decoder's buffer (a request head).
pub(super) const BEFORE_BODY: &[u8] = b"HEAD";

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
