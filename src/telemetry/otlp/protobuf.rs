//! The few protobuf wire-format pieces OTLP needs, by hand
//! (<https://protobuf.dev/programming-guides/encoding/>): a writer for varint, fixed64,
//! and length-delimited fields, and a reader that walks a message's fields (for the
//! collector's response and for tests).
//!
//! The writer always writes the field it is asked for; leaving out proto3 defaults is the
//! caller's choice, because a `oneof` member (an attribute's `AnyValue`) must be written even
//! when it holds its default, or the decoder cannot tell which member was set.

/// Wire types used here (the group types 3 and 4 are deprecated and never sent by OTLP).
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// A varint is at most ten bytes (64 bits, 7 per byte).
const MAX_VARINT_BYTES: usize = 10;

/// Appends `v` as a base-128 varint, least significant group first.
pub(super) fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; MAX_VARINT_BYTES];
    let n = varint_into(v, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

fn varint_into(mut v: u64, buf: &mut [u8; MAX_VARINT_BYTES]) -> usize {
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    n + 1
}

fn put_tag(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

/// A varint field: `uint32`, `uint64`, `bool`, enums, and `int64` (negative values take ten
/// bytes as their two's complement, which is what `int64` means on the wire).
pub(super) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_tag(out, field, VARINT);
    put_varint(out, v);
}

/// A `fixed64` or `double` field (little-endian).
pub(super) fn put_fixed64_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_tag(out, field, I64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A `bytes` or `string` field.
pub(super) fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// An embedded message field whose body `write_body` appends.
///
/// The length comes before the body but is known only after it, so one byte is reserved
/// and, in the rare case the body is 128 bytes or longer, widened in place: that moves the
/// body once per enclosing message (a few levels in OTLP), cheaper and simpler than a
/// separate sizing pass over every message.
pub(super) fn put_message_field(
    out: &mut Vec<u8>,
    field: u32,
    write_body: impl FnOnce(&mut Vec<u8>),
) {
    put_tag(out, field, LEN);
    let len_at = out.len();
    out.push(0);
    write_body(out);
    let body_len = out.len() - len_at - 1;
    let mut len = [0u8; MAX_VARINT_BYTES];
    let n = varint_into(body_len as u64, &mut len);
    if n == 1 {
        out[len_at] = len[0];
    } else {
        out.splice(len_at..len_at + 1, len[..n].iter().copied());
    }
}

/// One field's value as read off the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in wire order; stops at the first malformed byte with
/// `Err(())` (truncation, an overlong varint, a group or unknown wire type).
pub(super) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(super) fn new(message: &'a [u8]) -> Self {
        Fields { rest: message }
    }

    fn varint(&mut self) -> Result<u64, ()> {
        let mut v = 0u64;
        for (i, &b) in self.rest.iter().enumerate().take(MAX_VARINT_BYTES) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok(v);
            }
        }
        Err(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ()> {
        if self.rest.len() < n {
            return Err(());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u32, WireValue<'a>), ()> {
        let tag = self.varint()?;
        let field = u32::try_from(tag >> 3).map_err(|_| ())?;
        let value = match (tag & 0x7) as u8 {
            VARINT => WireValue::Varint(self.varint()?),
            I64 => WireValue::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| ())?,
            )),
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| ())?;
                WireValue::Bytes(self.take(n)?)
            }
            I32 => WireValue::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().map_err(|_| ())?,
            )),
            _ => return Err(()),
        };
        Ok((field, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_guide() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (150, &[0x96, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for &(v, want) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, want, "{v}");
        }
    }

    #[test]
    fn negative_int64_takes_ten_bytes() {
        let mut out = Vec::new();
        put_varint_field(&mut out, 3, -1i64 as u64);
        assert_eq!(out.len(), 1 + MAX_VARINT_BYTES);
        let (field, value) = Fields::new(&out).next().unwrap().unwrap();
        assert_eq!((field, value), (3, WireValue::Varint(u64::MAX)));
    }

    #[test]
    fn field_tags_and_fixed_widths_match_the_guide() {
        let mut out = Vec::new();
        put_varint_field(&mut out, 1, 150);
        assert_eq!(out, [0x08, 0x96, 0x01]);
        out.clear();
        put_bytes_field(&mut out, 2, b"testing");
        assert_eq!(out, b"\x12\x07testing");
        out.clear();
        put_fixed64_field(&mut out, 7, 0x0102030405060708);
        assert_eq!(out, [0x39, 8, 7, 6, 5, 4, 3, 2, 1]);
        // Field numbers from 16 on take a two-byte tag.
        out.clear();
        put_varint_field(&mut out, 16, 1);
        assert_eq!(out, [0x80, 0x01, 0x01]);
    }

    #[test]
    fn message_lengths_are_widened_in_place_when_the_body_is_long() {
        for body_len in [0usize, 1, 127, 128, 300, 16_384, 20_000] {
            let body = vec![b'x'; body_len];
            let mut out = vec![0xaa];
            put_message_field(&mut out, 1, |out| put_bytes_field(out, 2, &body));
            let mut outer = Fields::new(&out[1..]);
            let Some(Ok((1, WireValue::Bytes(inner)))) = outer.next() else {
                panic!("no message field for {body_len}");
            };
            assert!(outer.next().is_none());
            let fields: Vec<_> = Fields::new(inner).collect();
            assert_eq!(fields, [Ok((2, WireValue::Bytes(&body[..])))], "{body_len}");
        }
    }

    #[test]
    fn malformed_input_ends_the_walk_with_an_error() {
        for bad in [&[0x0a, 0x05, b'a'][..], &[0x08], &[0x0b], &[0x39, 1, 2]] {
            let fields: Vec<_> = Fields::new(bad).collect();
            assert_eq!(fields, [Err(())], "{bad:?}");
        }
    }
}
