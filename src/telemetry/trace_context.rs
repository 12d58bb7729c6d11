//! W3C Trace Context: parsing the client's `traceparent` header, making new trace and span
//! ids, and writing the `traceparent` the gateway sends upstream.
//!
//! Format (Trace Context Level 1, <https://www.w3.org/TR/trace-context/#traceparent-header>):
//! `version "-" trace-id "-" parent-id "-" trace-flags`, all lowercase hex, e.g.
//! `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. This runs on the request path:
//! parsing borrows, writing appends to the caller's buffer, and ids come from the caller's
//! random source (each worker has a cheap per-core RNG), never from an RNG of our own.
//! `tracestate` is not handled.

/// Header name, lowercase as HTTP/1.1 field names are compared.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Length of a version-00 `traceparent` value; later versions are at least this long.
pub const TRACEPARENT_LEN: usize = 55;

/// The only version this code writes.
const VERSION_00: u8 = 0x00;
/// Reserved by the spec as invalid so that a version byte can never be all ones.
const VERSION_INVALID: u8 = 0xff;
/// `trace-flags` bit 0.
const FLAG_SAMPLED: u8 = 0x01;

/// Offsets of the fields inside a `traceparent` value.
const TRACE_ID_AT: usize = 3;
const PARENT_ID_AT: usize = TRACE_ID_AT + 32 + 1;
const FLAGS_AT: usize = PARENT_ID_AT + 16 + 1;

/// The trace a request belongs to, as the client propagated it or as the gateway started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// Never all zeros.
    pub trace_id: [u8; 16],
    /// The caller's span (the client's `parent-id`); `None` for a trace the gateway started.
    pub parent_span_id: Option<[u8; 8]>,
    /// The caller's sampling decision (`trace-flags` bit 0).
    pub sampled: bool,
}

impl TraceContext {
    /// Parses a `traceparent` header value. `None` when it is invalid, in which case the spec
    /// says to ignore it and start a new trace ([`TraceContext::new_root`]).
    ///
    /// Rejects: wrong length, uppercase or non-hex digits, missing dashes, version `ff`, an
    /// all-zero trace id or parent id, and a version-00 value with anything after the flags.
    /// A later version is parsed as far as version 00 goes, as the spec's versioning rules
    /// ask: at least 55 characters, and anything after the flags must start with a dash.
    /// Leading and trailing spaces or tabs (HTTP optional whitespace) are ignored.
    pub fn parse(value: &[u8]) -> Option<TraceContext> {
        let value = trim_ows(value);
        if value.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex_byte(value[0], value[1])?;
        if version == VERSION_INVALID {
            return None;
        }
        let rest_ok = match version {
            VERSION_00 => value.len() == TRACEPARENT_LEN,
            _ => value.len() == TRACEPARENT_LEN || value[TRACEPARENT_LEN] == b'-',
        };
        if !rest_ok
            || value[TRACE_ID_AT - 1] != b'-'
            || value[PARENT_ID_AT - 1] != b'-'
            || value[FLAGS_AT - 1] != b'-'
        {
            return None;
        }
        let trace_id: [u8; 16] = hex_array(&value[TRACE_ID_AT..PARENT_ID_AT - 1])?;
        let parent_id: [u8; 8] = hex_array(&value[PARENT_ID_AT..FLAGS_AT - 1])?;
        let flags = hex_byte(value[FLAGS_AT], value[FLAGS_AT + 1])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            parent_span_id: Some(parent_id),
            sampled: flags & FLAG_SAMPLED != 0,
        })
    }

    /// A new trace with no parent, its id drawn from `random`.
    pub fn new_root(random: impl FnMut() -> u64, sampled: bool) -> TraceContext {
        TraceContext {
            trace_id: new_trace_id(random),
            parent_span_id: None,
            sampled,
        }
    }

    /// The client's context when its `traceparent` is present and valid, else a new root
    /// (sampled as `sampled_if_new` says).
    pub fn continue_or_start(
        traceparent: Option<&[u8]>,
        random: impl FnMut() -> u64,
        sampled_if_new: bool,
    ) -> TraceContext {
        match traceparent.and_then(TraceContext::parse) {
            Some(ctx) => ctx,
            None => TraceContext::new_root(random, sampled_if_new),
        }
    }

    /// Appends the `traceparent` value for a child of this trace whose parent is `span_id`
    /// (the gateway's own span), keeping the sampling decision: what goes upstream.
    pub fn write_child_traceparent(&self, span_id: &[u8; 8], out: &mut Vec<u8>) {
        write_traceparent(&self.trace_id, span_id, self.sampled, out);
    }
}

/// A random trace id from two draws of `random`; drawn again in the (2^-128) case that it
/// comes out all zeros, which the spec forbids.
pub fn new_trace_id(mut random: impl FnMut() -> u64) -> [u8; 16] {
    loop {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&random().to_be_bytes());
        id[8..].copy_from_slice(&random().to_be_bytes());
        if id != [0; 16] {
            return id;
        }
    }
}

/// A random span id from one draw of `random`, never all zeros.
pub fn new_span_id(mut random: impl FnMut() -> u64) -> [u8; 8] {
    loop {
        let id = random().to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

/// Appends a version-00 `traceparent` value (55 bytes, no allocation beyond `out` growing).
pub fn write_traceparent(
    trace_id: &[u8; 16],
    parent_id: &[u8; 8],
    sampled: bool,
    out: &mut Vec<u8>,
) {
    out.reserve(TRACEPARENT_LEN);
    out.extend_from_slice(b"00-");
    push_hex(trace_id, out);
    out.push(b'-');
    push_hex(parent_id, out);
    out.extend_from_slice(if sampled { b"-01" } else { b"-00" });
}

/// Appends `bytes` as lowercase hex.
pub fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// A lowercase hex digit's value; the spec's `HEXDIGLC` excludes uppercase.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    Some(hex_digit(hi)? << 4 | hex_digit(lo)?)
}

fn hex_array<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    debug_assert_eq!(hex.len(), 2 * N);
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = hex_byte(pair[0], pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's example values (§3.2.2.5 and §3.2.4).
    const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const NOT_SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    const TRACE_ID: [u8; 16] = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    const PARENT_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

    fn parse(s: &str) -> Option<TraceContext> {
        TraceContext::parse(s.as_bytes())
    }

    #[test]
    fn spec_examples_parse_with_their_sampling_flag() {
        let want = TraceContext {
            trace_id: TRACE_ID,
            parent_span_id: Some(PARENT_ID),
            sampled: true,
        };
        assert_eq!(parse(SAMPLED), Some(want));
        assert_eq!(
            parse(NOT_SAMPLED),
            Some(TraceContext {
                sampled: false,
                ..want
            })
        );
    }

    #[test]
    fn unknown_flag_bits_are_ignored_and_only_bit_zero_means_sampled() {
        let base = &SAMPLED[..53];
        assert!(parse(&format!("{base}ff")).unwrap().sampled);
        assert!(!parse(&format!("{base}fe")).unwrap().sampled);
        assert!(parse(&format!("{base}09")).unwrap().sampled);
    }

    #[test]
    fn surrounding_optional_whitespace_is_ignored() {
        assert!(parse(&format!(" \t{SAMPLED} ")).is_some());
    }

    #[test]
    fn all_zero_ids_are_rejected() {
        assert_eq!(
            parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            None
        );
    }

    #[test]
    fn version_ff_is_rejected_even_when_otherwise_valid() {
        assert_eq!(
            parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        for bad in [
            "",
            "00",
            &SAMPLED[..54],
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn version_00_with_trailing_data_is_rejected() {
        assert_eq!(parse(&format!("{SAMPLED}-")), None);
        assert_eq!(parse(&format!("{SAMPLED}-extra")), None);
        assert_eq!(parse(&format!("{SAMPLED}0")), None);
    }

    #[test]
    fn non_hex_and_uppercase_digits_are_rejected() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-.1",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn future_versions_parse_as_far_as_version_00_goes() {
        let tail = &SAMPLED[2..];
        let same = parse(&format!("cc{tail}")).unwrap();
        assert_eq!(same.trace_id, TRACE_ID);
        assert_eq!(same.parent_span_id, Some(PARENT_ID));
        assert!(same.sampled);
        assert_eq!(
            parse(&format!("cc{tail}-what-the-future-will-be-like")),
            Some(same)
        );
        // After the flags a later version may add fields, but only after a dash.
        assert_eq!(parse(&format!("cc{tail}x")), None);
        assert_eq!(parse(&format!("01{}", &SAMPLED[2..54])), None);
    }

    #[test]
    fn written_value_round_trips_and_matches_the_spec_example() {
        let mut out = b"traceparent: ".to_vec();
        write_traceparent(&TRACE_ID, &PARENT_ID, true, &mut out);
        assert_eq!(out, format!("traceparent: {SAMPLED}").as_bytes());
        let mut out = Vec::new();
        write_traceparent(&TRACE_ID, &PARENT_ID, false, &mut out);
        assert_eq!(out, NOT_SAMPLED.as_bytes());
        assert_eq!(out.len(), TRACEPARENT_LEN);
    }

    #[test]
    fn child_traceparent_keeps_trace_and_sampling_and_names_the_gateway_span() {
        let client = parse(NOT_SAMPLED).unwrap();
        let gateway_span = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut out = Vec::new();
        client.write_child_traceparent(&gateway_span, &mut out);
        let child = TraceContext::parse(&out).unwrap();
        assert_eq!(child.trace_id, TRACE_ID);
        assert_eq!(child.parent_span_id, Some(gateway_span));
        assert!(!child.sampled);
    }

    #[test]
    fn new_ids_come_from_the_callers_source_and_skip_all_zeros() {
        let mut draws = [0u64, 0, 0x0102030405060708, 0x1112131415161718].into_iter();
        let id = new_trace_id(|| draws.next().unwrap());
        assert_eq!(
            id,
            [1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
        );
        let mut draws = [0u64, 0, 42].into_iter();
        assert_eq!(
            new_span_id(|| draws.next().unwrap()),
            [0, 0, 0, 0, 0, 0, 0, 42]
        );
    }

    #[test]
    fn invalid_or_missing_header_starts_a_new_sampled_root() {
        let mut n = 0u64;
        let mut counter = || {
            n += 1;
            n
        };
        let started = TraceContext::continue_or_start(Some(b"garbage"), &mut counter, true);
        assert_eq!(started.parent_span_id, None);
        assert!(started.sampled);
        assert_ne!(started.trace_id, [0; 16]);
        let fresh = TraceContext::continue_or_start(None, &mut counter, false);
        assert!(!fresh.sampled);
        assert_ne!(fresh.trace_id, started.trace_id);
        let kept = TraceContext::continue_or_start(Some(SAMPLED.as_bytes()), &mut counter, false);
        assert_eq!(kept.parent_span_id, Some(PARENT_ID));
    }
}
