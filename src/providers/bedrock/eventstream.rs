//! Decoder for `application/vnd.amazon.eventstream`, the binary framing of
//! Bedrock's `ConverseStream` response body.
//!
//! A message is
//!
//! ```text
//! total_length u32 BE | headers_length u32 BE | prelude CRC32 u32 BE   (the 12-byte prelude)
//! headers (headers_length bytes)
//! payload (total_length - headers_length - 16 bytes)
//! message CRC32 u32 BE (of every byte before it)
//! ```
//!
//! and a header is `name_len u8 | name | type u8 | value`, where the value's
//! size follows from the type (types 6 and 7 carry a u16 BE length).
//! Reference: <https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html>.
//!
//! Bytes arrive in whatever pieces the HTTP body gives; [`Decoder`] buffers
//! until `total_length` bytes are there, and refuses a message larger than
//! [`MAX_MESSAGE_BYTES`] as soon as its (checksummed) prelude is in, so the
//! buffer never holds more than one message plus what the caller fed since
//! the last [`Decoder::next_message`].

use super::crc32::crc32;

/// `total_length` (4) + `headers_length` (4) + prelude CRC (4).
pub const EVENTSTREAM_PRELUDE_LEN: usize = 12;

/// The trailing message CRC.
const MESSAGE_CRC_LEN: usize = 4;

/// A message with no headers and no payload: prelude plus message CRC.
pub const MIN_MESSAGE_BYTES: usize = EVENTSTREAM_PRELUDE_LEN + MESSAGE_CRC_LEN;

/// Largest message accepted; the AWS SDKs use the same 16 MiB limit.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Consumed bytes are dropped from the front of the buffer once at least this
/// many have piled up (or the buffer is fully consumed), so a stream of small
/// messages does not memmove on every call.
const COMPACT_THRESHOLD_BYTES: usize = 4096;

/// A typed header value (type byte in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// `[0]` true, `[1]` false; no value bytes.
    Bool(bool),
    /// `[2]` one signed byte.
    Byte(i8),
    /// `[3]`
    Int16(i16),
    /// `[4]`
    Int32(i32),
    /// `[5]`
    Int64(i64),
    /// `[6]` u16 BE length, then bytes.
    Bytes(Vec<u8>),
    /// `[7]` u16 BE length, then UTF-8.
    String(String),
    /// `[8]` milliseconds since the Unix epoch, i64 BE.
    Timestamp(i64),
    /// `[9]` 16 bytes.
    Uuid([u8; 16]),
}

impl HeaderValue {
    /// The wire type byte.
    pub fn type_id(&self) -> u8 {
        match self {
            HeaderValue::Bool(true) => 0,
            HeaderValue::Bool(false) => 1,
            HeaderValue::Byte(_) => 2,
            HeaderValue::Int16(_) => 3,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) => 5,
            HeaderValue::Bytes(_) => 6,
            HeaderValue::String(_) => 7,
            HeaderValue::Timestamp(_) => 8,
            HeaderValue::Uuid(_) => 9,
        }
    }
}

/// One decoded, checksum-verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Headers in wire order.
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Vec<u8>,
}

impl Message {
    /// The value of the first string header called `name` (e.g. `:event-type`).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Why the byte stream is not a valid event stream. Every variant is fatal:
/// without a trustworthy length there is no way to find the next message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventStreamError {
    #[error("Prelude checksum mismatch: prelude says {expected:#010x}, computed {computed:#010x}")]
    PreludeChecksum { expected: u32, computed: u32 },
    #[error("Message checksum mismatch: message says {expected:#010x}, computed {computed:#010x}")]
    MessageChecksum { expected: u32, computed: u32 },
    #[error(
        "message total_length {total_length} bytes is below the {MIN_MESSAGE_BYTES}-byte minimum"
    )]
    MessageTooShort { total_length: u32 },
    #[error(
        "message total_length {total_length} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"
    )]
    MessageTooLong { total_length: u32 },
    #[error("headers_length {headers_length} bytes does not fit in a {total_length}-byte message")]
    HeadersTooLong {
        headers_length: u32,
        total_length: u32,
    },
    #[error("invalid header at offset {offset}: {reason}")]
    BadHeader { offset: usize, reason: &'static str },
    #[error("unknown header value type {type_id} at offset {offset}")]
    BadHeaderType { offset: usize, type_id: u8 },
    #[error("event stream ended inside a message ({buffered} bytes buffered)")]
    Truncated { buffered: usize },
}

/// Incremental event-stream decoder: [`feed`](Self::feed) bytes as they
/// arrive, then call [`next_message`](Self::next_message) until it returns
/// `Ok(None)`.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset are consumed.
    start: usize,
    /// Set on the first error; every later call returns it again.
    failed: Option<EventStreamError>,
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Appends body bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && (self.start == self.buf.len() || self.start >= COMPACT_THRESHOLD_BYTES)
        {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes fed but not yet returned as a message.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    ///
    /// The prelude CRC is checked as soon as 12 bytes are in, before the
    /// length is trusted; the message CRC once the whole message is in. After
    /// an error the decoder stays failed and returns that error again.
    pub fn next_message(&mut self) -> Result<Option<Message>, EventStreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.try_decode() {
            Ok(Some((message, len))) => {
                self.start += len;
                Ok(Some(message))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Call at end of body: fails if a partial message is left over.
    pub fn finish(&self) -> Result<(), EventStreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.buffered_len() {
            0 => Ok(()),
            buffered => Err(EventStreamError::Truncated { buffered }),
        }
    }

    fn try_decode(&self) -> Result<Option<(Message, usize)>, EventStreamError> {
        let avail = &self.buf[self.start..];
        if avail.len() < EVENTSTREAM_PRELUDE_LEN {
            return Ok(None);
        }
        let expected = be_u32(&avail[8..12]);
        let computed = crc32(&avail[..8]);
        if expected != computed {
            return Err(EventStreamError::PreludeChecksum { expected, computed });
        }
        let total_length = be_u32(&avail[0..4]);
        let headers_length = be_u32(&avail[4..8]);
        let total = total_length as usize;
        if total < MIN_MESSAGE_BYTES {
            return Err(EventStreamError::MessageTooShort { total_length });
        }
        if total > MAX_MESSAGE_BYTES {
            return Err(EventStreamError::MessageTooLong { total_length });
        }
        if headers_length as usize > total - MIN_MESSAGE_BYTES {
            return Err(EventStreamError::HeadersTooLong {
                headers_length,
                total_length,
            });
        }
        if avail.len() < total {
            return Ok(None);
        }
        let msg = &avail[..total];
        let crc_at = total - MESSAGE_CRC_LEN;
        let expected = be_u32(&msg[crc_at..]);
        let computed = crc32(&msg[..crc_at]);
        if expected != computed {
            return Err(EventStreamError::MessageChecksum { expected, computed });
        }
        let headers_end = EVENTSTREAM_PRELUDE_LEN + headers_length as usize;
        let headers = parse_headers(&msg[EVENTSTREAM_PRELUDE_LEN..headers_end])?;
        let payload = msg[headers_end..crc_at].to_vec();
        Ok(Some((Message { headers, payload }, total)))
    }
}

/// Parses a checksum-verified header block; `offset`s in errors are relative
/// to the start of the block.
fn parse_headers(block: &[u8]) -> Result<Vec<(String, HeaderValue)>, EventStreamError> {
    let mut headers = Vec::new();
    let mut r = Reader { block, pos: 0 };
    while r.pos < block.len() {
        let at = r.pos;
        let name_len = r.take(1, "truncated name length")?[0] as usize;
        if name_len == 0 {
            return Err(EventStreamError::BadHeader {
                offset: at,
                reason: "empty header name",
            });
        }
        let name = std::str::from_utf8(r.take(name_len, "truncated name")?)
            .map_err(|_| EventStreamError::BadHeader {
                offset: at,
                reason: "header name is not UTF-8",
            })?
            .to_owned();
        let type_at = r.pos;
        let type_id = r.take(1, "truncated value type")?[0];
        let value = match type_id {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(r.array::<1>()?)),
            3 => HeaderValue::Int16(i16::from_be_bytes(r.array::<2>()?)),
            4 => HeaderValue::Int32(i32::from_be_bytes(r.array::<4>()?)),
            5 => HeaderValue::Int64(i64::from_be_bytes(r.array::<8>()?)),
            6 | 7 => {
                let len = u16::from_be_bytes(r.array::<2>()?) as usize;
                let bytes = r.take(len, "truncated value")?;
                if type_id == 6 {
                    HeaderValue::Bytes(bytes.to_vec())
                } else {
                    HeaderValue::String(
                        std::str::from_utf8(bytes)
                            .map_err(|_| EventStreamError::BadHeader {
                                offset: at,
                                reason: "string header value is not UTF-8",
                            })?
                            .to_owned(),
                    )
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(r.array::<8>()?)),
            9 => HeaderValue::Uuid(r.array::<16>()?),
            type_id => {
                return Err(EventStreamError::BadHeaderType {
                    offset: type_at,
                    type_id,
                })
            }
        };
        headers.push((name, value));
    }
    Ok(headers)
}

struct Reader<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, reason: &'static str) -> Result<&'a [u8], EventStreamError> {
        let bytes = self
            .block
            .get(self.pos..self.pos + n)
            .ok_or(EventStreamError::BadHeader {
                offset: self.pos,
                reason,
            })?;
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EventStreamError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, "truncated value")?);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only encoder, to build messages the fixtures do not cover.
    fn encode(headers: &[(&str, u8, &[u8])], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, type_id, value) in headers {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(*type_id);
            h.extend_from_slice(value);
        }
        let total = (MIN_MESSAGE_BYTES + h.len() + payload.len()) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&total.to_be_bytes());
        m.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let crc = crc32(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m.extend_from_slice(&h);
        m.extend_from_slice(payload);
        let crc = crc32(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m
    }

    fn string_value(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<Message>, EventStreamError> {
        let mut d = Decoder::new();
        d.feed(bytes);
        let mut out = Vec::new();
        while let Some(m) = d.next_message()? {
            out.push(m);
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn header_str_finds_string_headers_only() {
        let et = string_value("contentBlockDelta");
        let bytes = encode(
            &[(":event-type", 7, &et), ("n", 4, &7i32.to_be_bytes())],
            b"{}",
        );
        let m = &decode_all(&bytes).unwrap()[0];
        assert_eq!(m.header_str(":event-type"), Some("contentBlockDelta"));
        assert_eq!(m.header_str("n"), None);
        assert_eq!(m.header_str(":message-type"), None);
        assert_eq!(m.payload, b"{}");
    }

    #[test]
    fn unknown_header_type_is_rejected() {
        let bytes = encode(&[("x", 10, b"")], b"");
        assert_eq!(
            decode_all(&bytes).unwrap_err(),
            EventStreamError::BadHeaderType {
                offset: 2,
                type_id: 10
            }
        );
    }

    #[test]
    fn header_value_running_past_the_header_block_is_rejected() {
        // A string header claiming 200 bytes in a 5-byte block.
        let bytes = encode(&[("x", 7, &[0, 200, b'a'])], b"payload");
        assert!(matches!(
            decode_all(&bytes).unwrap_err(),
            EventStreamError::BadHeader { .. }
        ));
    }

    #[test]
    fn non_utf8_string_header_is_rejected() {
        let bytes = encode(&[("x", 7, &[0, 2, 0xff, 0xfe])], b"");
        assert!(matches!(
            decode_all(&bytes).unwrap_err(),
            EventStreamError::BadHeader { .. }
        ));
    }

    fn prelude(total: u32, headers: u32) -> Vec<u8> {
        let mut m = total.to_be_bytes().to_vec();
        m.extend_from_slice(&headers.to_be_bytes());
        let crc = crc32(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m
    }

    #[test]
    fn oversized_message_is_rejected_from_its_prelude_alone() {
        let mut d = Decoder::new();
        d.feed(&prelude(MAX_MESSAGE_BYTES as u32 + 1, 0));
        assert!(matches!(
            d.next_message(),
            Err(EventStreamError::MessageTooLong { .. })
        ));
        // Stays failed.
        d.feed(&encode(&[], b""));
        assert!(d.next_message().is_err());
    }

    #[test]
    fn bad_lengths_are_rejected() {
        for (total, headers) in [(15, 0), (0, 0), (20, 5), (16, 1)] {
            let mut d = Decoder::new();
            d.feed(&prelude(total, headers));
            d.feed(&[0; 64]);
            let err = d.next_message().unwrap_err();
            assert!(
                matches!(
                    err,
                    EventStreamError::MessageTooShort { .. }
                        | EventStreamError::HeadersTooLong { .. }
                ),
                "{total}/{headers}: {err}"
            );
        }
    }

    #[test]
    fn partial_message_waits_and_truncated_stream_is_reported() {
        let bytes = encode(&[], b"hello");
        let mut d = Decoder::new();
        d.feed(&bytes[..bytes.len() - 1]);
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(
            d.finish(),
            Err(EventStreamError::Truncated {
                buffered: bytes.len() - 1
            })
        );
        d.feed(&bytes[bytes.len() - 1..]);
        assert_eq!(d.next_message().unwrap().unwrap().payload, b"hello");
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(seed as u8);
            }
            let _ = decode_all(&bytes);
            // A valid prelude followed by garbage.
            let mut framed = prelude(MIN_MESSAGE_BYTES as u32 + len as u32, len as u32 / 2);
            framed.extend_from_slice(&bytes);
            let crc = crc32(&framed);
            framed.extend_from_slice(&crc.to_be_bytes());
            let _ = decode_all(&framed);
        }
    }
}
