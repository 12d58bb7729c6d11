//! The golden export request shared with the Python side: `tests/sdk/otlp_golden_request.hex`
//! is exactly what [`golden_spans`] encode to, and `tests/sdk/test_otlp_receiver.py` decodes
//! that file with the official protobuf bindings (opentelemetry-proto) and checks every
//! field. Both sides must agree, so a change to the encoder shows up here first.
//!
//! After an intended change to the encoding, rewrite the file with
//! `RINGBRIDGE_BLESS=1 cargo test --lib otlp::golden` and run `scripts/sdk-tests.sh -k otlp`
//! to have the real decoder check the new bytes.

use super::encode::encode_with_scope_version;
use super::semconv::*;
use super::{AttrValue, SpanData, SpanKind, SpanStatus};

const GOLDEN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sdk/otlp_golden_request.hex"
);

/// Hex digits per line of the golden file.
const HEX_PER_LINE: usize = 64;

/// Three spans of one trace that together use every field and attribute type the encoder
/// writes: a server span with a remote parent, a failed client span under it, and a root
/// span with no status whose long name needs a two-byte length.
fn golden_spans() -> Vec<SpanData> {
    let trace_id = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    let server = SpanData {
        trace_id,
        span_id: [0x53, 0x45, 0x52, 0x56, 0x45, 0x52, 0x00, 0x01],
        parent_span_id: Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]),
        name: "chat gpt-4o-mini".into(),
        kind: SpanKind::Server,
        start_unix_nanos: 1_754_000_000_123_456_789,
        end_unix_nanos: 1_754_000_001_987_654_321,
        status: SpanStatus::Ok,
        attributes: vec![
            (GEN_AI_OPERATION_NAME, OPERATION_CHAT.into()),
            (GEN_AI_PROVIDER_NAME, gen_ai_provider_name("bedrock").into()),
            (GEN_AI_SYSTEM, gen_ai_system("bedrock").into()),
            (GEN_AI_REQUEST_MODEL, "gpt-4o-mini".into()),
            (GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18".into()),
            (GEN_AI_USAGE_INPUT_TOKENS, 1234u64.into()),
            (GEN_AI_USAGE_OUTPUT_TOKENS, 0u64.into()),
            (HTTP_RESPONSE_STATUS_CODE, 200u16.into()),
            (RINGBRIDGE_COST_USD, 0.00042.into()),
            (RINGBRIDGE_ATTEMPTS, AttrValue::Int(-7)),
            (RINGBRIDGE_KEY_ID, "key_01".into()),
            (RINGBRIDGE_TEAM_ID, "".into()),
            (RINGBRIDGE_DIALECT, "anthropic – ünïcode".into()),
            ("ringbridge.cached", false.into()),
            ("ringbridge.streamed", true.into()),
        ],
    };
    let client = SpanData {
        span_id: [0x43, 0x4c, 0x49, 0x45, 0x4e, 0x54, 0x00, 0x02],
        parent_span_id: Some(server.span_id),
        name: "chat".into(),
        kind: SpanKind::Client,
        start_unix_nanos: 1_754_000_000_200_000_000,
        end_unix_nanos: 1_754_000_001_900_000_000,
        status: SpanStatus::Error("upstream timed out".into()),
        attributes: vec![
            (
                SERVER_ADDRESS,
                "bedrock-runtime.us-east-1.amazonaws.com".into(),
            ),
            (HTTP_RESPONSE_STATUS_CODE, 504u16.into()),
            (RINGBRIDGE_PROVIDER, "bedrock-east".into()),
        ],
        ..server.clone()
    };
    let root = SpanData {
        span_id: [0xff; 8],
        parent_span_id: None,
        name: "x".repeat(200),
        kind: SpanKind::Server,
        start_unix_nanos: u64::MAX,
        end_unix_nanos: 0,
        status: SpanStatus::Unset,
        attributes: Vec::new(),
        ..server.clone()
    };
    vec![server, client, root]
}

fn golden_request() -> Vec<u8> {
    let mut out = Vec::new();
    encode_with_scope_version(
        "ringbridge-golden",
        "1.2.3",
        "0.0.0-golden",
        &golden_spans(),
        &mut out,
    );
    out
}

fn to_hex_lines(bytes: &[u8]) -> String {
    let mut hex = Vec::with_capacity(bytes.len() * 2);
    crate::telemetry::trace_context::push_hex(bytes, &mut hex);
    let mut text = String::new();
    for line in hex.chunks(HEX_PER_LINE) {
        text.push_str(std::str::from_utf8(line).expect("hex is ASCII"));
        text.push('\n');
    }
    text
}

#[test]
fn encoding_matches_the_golden_request_the_python_decoder_checks() {
    let got = to_hex_lines(&golden_request());
    if std::env::var_os("RINGBRIDGE_BLESS").is_some() {
        std::fs::write(GOLDEN_PATH, &got).expect("writing the golden request");
        return;
    }
    let want = std::fs::read_to_string(GOLDEN_PATH).expect("reading the golden request");
    assert!(
        got == want,
        "the encoding changed: if intended, run `RINGBRIDGE_BLESS=1 cargo test --lib \
         otlp::golden` and then `scripts/sdk-tests.sh -k otlp`\n got: {got}\nwant: {want}"
    );
}
