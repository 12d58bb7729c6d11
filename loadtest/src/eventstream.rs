//! Encoder for the AWS event-stream framing (`application/vnd.amazon.eventstream`)
//! that Bedrock's ConverseStream answers in. Written apart from the gateway's
//! decoder on purpose: the gateway is tested against this.
//!
//! A message is
//!
//! ```text
//! total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (u32 BE)
//! headers | payload | message CRC32 (u32 BE)
//! ```
//!
//! where the prelude CRC covers the first 8 bytes, the message CRC every byte
//! before it, and each header is `name length (u8) | name | type (u8) |
//! value`. Only string values (type 7: `length (u16 BE) | bytes`) are
//! written; they are all Bedrock uses. CRC32 is the IEEE one (reflected
//! polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).

/// Prelude (two lengths) plus its CRC.
const PRELUDE_BYTES: usize = 12;
/// The trailing message CRC.
const MESSAGE_CRC_BYTES: usize = 4;
/// Header value type tag for a string.
const HEADER_TYPE_STRING: u8 = 7;

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC32 (IEEE) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Appends one message with string `headers` and `payload` to `out`.
///
/// # Panics
///
/// As [`frame`].
#[cfg(test)]
pub fn message(out: &mut Vec<u8>, headers: &[(&str, &str)], payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(payload);
    frame(out, start, headers);
}

/// Turns `out[start..]`, a payload already written, into one message with
/// string `headers`: the prelude and headers go in front (rotated into
/// place, so nothing is allocated), the message CRC after.
///
/// # Panics
///
/// If a header name is longer than 255 bytes or a value longer than
/// 65535 bytes (the format cannot say so); the mock's headers are constants.
pub fn frame(out: &mut Vec<u8>, start: usize, headers: &[(&str, &str)]) {
    let payload_len = out.len() - start;
    let headers_len: usize = headers
        .iter()
        .map(|(n, v)| 1 + n.len() + 1 + 2 + v.len())
        .sum();
    let total = PRELUDE_BYTES + headers_len + payload_len + MESSAGE_CRC_BYTES;
    let prelude = out.len();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32(&out[prelude..]);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for (name, value) in headers {
        out.push(u8::try_from(name.len()).expect("header name fits in a u8"));
        out.extend_from_slice(name.as_bytes());
        out.push(HEADER_TYPE_STRING);
        out.extend_from_slice(
            &u16::try_from(value.len())
                .expect("header value fits in a u16")
                .to_be_bytes(),
        );
        out.extend_from_slice(value.as_bytes());
    }
    out[start..].rotate_right(PRELUDE_BYTES + headers_len);
    let message_crc = crc32(&out[start..]);
    out.extend_from_slice(&message_crc.to_be_bytes());
}

/// Frames `out[start..]`, a JSON payload already written, as a Bedrock
/// stream event: headers `:event-type`, `:content-type`
/// (`application/json`) and `:message-type` (`event`).
pub fn event(out: &mut Vec<u8>, start: usize, event_type: &str) {
    frame(
        out,
        start,
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS SDKs' event-stream test vectors, read in place from the shared
    /// fixtures (`RINGBRIDGE_FIXTURES`, else `../../shared/fixtures`).
    fn vector(name: &str) -> Option<Vec<u8>> {
        let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").into()
            });
        std::fs::read(dir.join("bedrock").join(name)).ok()
    }

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn encodes_the_aws_test_vectors_byte_for_byte() {
        let Some(one_header) = vector("eventstream-vector-payload-one-str-header.bin") else {
            panic!("shared fixtures not found: set RINGBRIDGE_FIXTURES");
        };
        let mut out = Vec::new();
        message(
            &mut out,
            &[("content-type", "application/json")],
            b"{'foo':'bar'}",
        );
        assert_eq!(out, one_header);
        let empty = vector("eventstream-vector-empty-message.bin").unwrap();
        out.clear();
        message(&mut out, &[], b"");
        assert_eq!(out, empty);
    }

    #[test]
    fn event_frames_carry_their_length_and_bedrock_headers() {
        let mut out = br#"prefix{"a":1}"#.to_vec();
        event(&mut out, 6, "contentBlockDelta");
        let m = &out[6..];
        let total = u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, m.len());
        let headers = u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize;
        assert_eq!(&m[12 + headers..total - 4], br#"{"a":1}"#);
        let h = &m[12..12 + headers];
        assert_eq!(h[0] as usize, ":event-type".len());
        assert_eq!(&h[1..12], b":event-type");
        assert_eq!(h[12], HEADER_TYPE_STRING);
        assert_eq!(&h[15..32], b"contentBlockDelta");
        assert_eq!(
            crc32(&m[..total - 4]).to_be_bytes(),
            m[total - 4..total],
            "message CRC"
        );
    }
}
