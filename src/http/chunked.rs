//! Chunked transfer coding (RFC 9112 §7.1), incrementally.
//!
//! [`ChunkedFramer`] is the one state machine; it never copies. Two users sit on
//! top: [`ChunkedDecoder`] decodes a request body in place (payload bytes move
//! left over the framing, which is always at least as long), and
//! [`ChunkedScanner`] follows a response being relayed byte for byte, reporting
//! payload slices (for usage scanning) and where the message ends.

use std::ops::Range;

/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_CONTROL_LINE_BYTES: u32 = 4096;
/// Most bytes of chunk extensions and trailers together over a whole message.
/// Nothing the gateway talks to uses either; the bound keeps a client from
/// sending unlimited framing that is not payload (hyper allows 16 KiB of
/// extensions too).
pub const MAX_EXTENSION_AND_TRAILER_BYTES: u32 = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked encoding: {0}")]
pub struct ChunkError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    SizeExt,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

/// One step of progress over an input slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Input bytes consumed by this step.
    pub consumed: usize,
    /// Payload bytes within the consumed prefix (possibly empty).
    pub payload: Range<usize>,
    /// The terminating chunk and trailers have been consumed.
    pub done: bool,
}

#[derive(Debug, Clone)]
pub struct ChunkedFramer {
    state: State,
    size: u64,
    digits: u32,
    line_len: u32,
    /// Extension and trailer bytes so far, against the limit above.
    extra_bytes: u32,
}

impl Default for ChunkedFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedFramer {
    pub fn new() -> Self {
        Self {
            state: State::Size,
            size: 0,
            digits: 0,
            line_len: 0,
            extra_bytes: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Between chunks: a whole chunk could be inserted here without breaking the framing.
    pub fn at_chunk_boundary(&self) -> bool {
        self.state == State::Size && self.digits == 0
    }

    /// Advance over `input`. Stops after the first payload slice, at the end of
    /// the message, or when `input` is exhausted (then `consumed == input.len()`).
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Data => {
                    let take = (input.len() - i).min(self.size as usize);
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Step {
                        consumed: i + take,
                        payload: i..i + take,
                        done: false,
                    });
                }
                State::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits == 15 {
                            return Err(ChunkError("chunk size too large"));
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.size = self.size * 16 + d;
                        self.digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => {
                        self.state = State::SizeExt;
                        self.line_len = 0;
                    }
                    b'\r' if self.digits > 0 => self.state = State::SizeLf,
                    _ => return Err(ChunkError("bad chunk size")),
                },
                State::SizeExt => {
                    self.line_len += 1;
                    self.extra_bytes += 1;
                    if self.line_len > MAX_CONTROL_LINE_BYTES {
                        return Err(ChunkError("chunk extension too long"));
                    }
                    if self.extra_bytes > MAX_EXTENSION_AND_TRAILER_BYTES {
                        return Err(ChunkError("too many chunk extension bytes"));
                    }
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError("missing LF after chunk size"));
                    }
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError("missing CRLF after chunk data"));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError("missing CRLF after chunk data"));
                    }
                    self.state = State::Size;
                    self.size = 0;
                    self.digits = 0;
                }
                State::TrailerStart => {
                    if b == b'\r' {
                        self.state = State::FinalLf;
                    } else {
                        self.state = State::Trailer;
                        self.line_len = 1;
                        self.extra_bytes += 1;
                    }
                }
                State::Trailer => {
                    self.line_len += 1;
                    self.extra_bytes += 1;
                    if self.line_len > MAX_CONTROL_LINE_BYTES {
                        return Err(ChunkError("trailer line too long"));
                    }
                    if self.extra_bytes > MAX_EXTENSION_AND_TRAILER_BYTES {
                        return Err(ChunkError("trailer section too long"));
                    }
                    if b == b'\r' {
                        self.state = State::TrailerLf;
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkError("missing LF after trailer"));
                    }
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(ChunkError("missing final LF"));
                    }
                    self.state = State::Done;
                    return Ok(Step {
                        consumed: i + 1,
                        payload: 0..0,
                        done: true,
                    });
                }
                State::Done => {
                    return Ok(Step {
                        consumed: i,
                        payload: 0..0,
                        done: true,
                    })
                }
            }
            i += 1;
        }
        Ok(Step {
            consumed: input.len(),
            payload: 0..0,
            done: self.state == State::Done,
        })
    }
}

/// Outcome of feeding the in-place decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeStep {
    NeedMore,
    /// Body complete; raw bytes after the body start at `leftover`.
    Done {
        leftover: usize,
    },
}

/// Decodes a chunked body in place inside a buffer: `buf[start..write]` is the
/// decoded body so far, `buf[read..]` the raw bytes not yet consumed.
///
/// Consumed framing is dropped from the buffer as it is decoded, so the buffer
/// never holds more than the decoded body plus the bytes of the last read: a
/// client cannot grow it with framing (extensions, trailers, tiny chunks).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    framer: ChunkedFramer,
    /// End of decoded payload.
    pub write: usize,
    /// Next raw byte to decode.
    pub read: usize,
}

impl ChunkedDecoder {
    pub fn new(body_start: usize) -> Self {
        Self {
            framer: ChunkedFramer::new(),
            write: body_start,
            read: body_start,
        }
    }

    /// Decode what `buf[self.read..]` holds. On `NeedMore` every raw byte has
    /// been consumed and `buf` ends at the decoded payload (`buf.len() == write`).
    pub fn feed(&mut self, buf: &mut Vec<u8>) -> Result<DecodeStep, ChunkError> {
        loop {
            let step = self.framer.step(&buf[self.read..])?;
            if !step.payload.is_empty() {
                let src = self.read + step.payload.start..self.read + step.payload.end;
                let len = src.len();
                buf.copy_within(src, self.write);
                self.write += len;
            }
            self.read += step.consumed;
            if step.done {
                return Ok(DecodeStep::Done {
                    leftover: self.read,
                });
            }
            if self.read == buf.len() {
                buf.truncate(self.write);
                self.read = self.write;
                return Ok(DecodeStep::NeedMore);
            }
        }
    }
}

/// Follows a chunked response relayed unchanged.
#[derive(Debug, Clone, Default)]
pub struct ChunkedScanner {
    framer: ChunkedFramer,
}

impl ChunkedScanner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn at_chunk_boundary(&self) -> bool {
        self.framer.at_chunk_boundary()
    }

    /// Scan `data`; calls `on_payload` for each payload slice. Returns
    /// `Some(n)` when the message ended after `n` bytes of `data`.
    pub fn scan(
        &mut self,
        data: &[u8],
        mut on_payload: impl FnMut(&[u8]),
    ) -> Result<Option<usize>, ChunkError> {
        let mut pos = 0;
        while pos < data.len() || self.framer.is_done() {
            let step = self.framer.step(&data[pos..])?;
            if !step.payload.is_empty() {
                on_payload(&data[pos + step.payload.start..pos + step.payload.end]);
            }
            pos += step.consumed;
            if step.done {
                return Ok(Some(pos));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: a\r\n\r\nNEXT";

    fn decode_in_pieces(raw: &[u8], piece: usize) -> (Vec<u8>, Vec<u8>) {
        // Simulate reads arriving `piece` bytes at a time into one buffer.
        let mut buf = Vec::new();
        let mut dec = ChunkedDecoder::new(0);
        let mut fed = 0;
        for part in raw.chunks(piece) {
            buf.extend_from_slice(part);
            fed += part.len();
            if let DecodeStep::Done { leftover } = dec.feed(&mut buf).unwrap() {
                let mut rest = buf[leftover..].to_vec();
                rest.extend_from_slice(&raw[fed..]);
                return (buf[..dec.write].to_vec(), rest);
            }
        }
        panic!("not done");
    }

    #[test]
    fn decodes_whole_and_byte_at_a_time_alike() {
        for piece in [1, 2, 3, 7, BODY.len()] {
            let (body, rest) = decode_in_pieces(BODY, piece);
            assert_eq!(body, b"hello world", "piece {piece}");
            assert_eq!(rest, b"NEXT", "piece {piece}");
        }
    }

    #[test]
    fn scanner_reports_payload_and_end_at_every_split() {
        let msg = &BODY[..BODY.len() - 4];
        for cut in 0..=msg.len() {
            let mut sc = ChunkedScanner::new();
            let mut payload = Vec::new();
            let a = sc
                .scan(&msg[..cut], |p| payload.extend_from_slice(p))
                .unwrap();
            let end = match a {
                Some(n) => n,
                None => {
                    cut + sc
                        .scan(&BODY[cut..], |p| payload.extend_from_slice(p))
                        .unwrap()
                        .unwrap()
                }
            };
            assert_eq!(end, msg.len(), "cut {cut}");
            assert_eq!(payload, b"hello world");
        }
    }

    #[test]
    fn consumed_framing_leaves_the_buffer() {
        // Extensions and trailers are consumed, never kept: the buffer holds
        // the decoded payload only, whatever the framing around it.
        let mut dec = ChunkedDecoder::new(0);
        let mut buf = b"3;a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\nabc\r\n0\r\nX-T: 1\r\n".to_vec();
        assert_eq!(dec.feed(&mut buf), Ok(DecodeStep::NeedMore));
        assert_eq!(buf, b"abc");
        buf.extend_from_slice(b"X-U: 2\r\n");
        assert_eq!(dec.feed(&mut buf), Ok(DecodeStep::NeedMore));
        assert_eq!(buf, b"abc");
        buf.extend_from_slice(b"\r\nNEXT");
        assert_eq!(dec.feed(&mut buf), Ok(DecodeStep::Done { leftover: 5 }));
        assert_eq!(&buf[..dec.write], b"abc");
        assert_eq!(&buf[5..], b"NEXT");
    }

    #[test]
    fn framing_beyond_its_limits_is_refused() {
        let mut sc = ChunkedScanner::new();
        let mut trailers = b"1\r\na\r\n0\r\n".to_vec();
        while trailers.len() < 2 * MAX_EXTENSION_AND_TRAILER_BYTES as usize {
            trailers.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(
            sc.scan(&trailers, |_| {}),
            Err(ChunkError("trailer section too long"))
        );
        let mut sc = ChunkedScanner::new();
        let mut exts = Vec::new();
        while exts.len() < 2 * MAX_EXTENSION_AND_TRAILER_BYTES as usize {
            exts.extend_from_slice(b"1;name=valuevaluevaluevalue\r\na\r\n");
        }
        assert_eq!(
            sc.scan(&exts, |_| {}),
            Err(ChunkError("too many chunk extension bytes"))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b"zz\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"fffffffffffffffff\r\n",
        ] {
            let mut sc = ChunkedScanner::new();
            assert!(sc.scan(bad, |_| {}).is_err(), "{bad:?}");
        }
    }
}
