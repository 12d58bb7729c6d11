//! Encoding checked by decoding it again with a strict walker that knows the proto's field
//! numbers and wire types (and panics on anything else), and the exporter checked against a
//! fake collector on an ephemeral port. The real protobuf decoder's check lives in
//! `tests/sdk/test_otlp_receiver.py`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use super::protobuf::{put_bytes_field, put_message_field, put_varint_field, Fields, WireValue};
use super::semconv::*;
use super::*;
use crate::credentials::Secret;
use crate::http::url::{BaseUrl, Scheme};
use crate::upstream::{client_config, DnsCache};

/// One decoded `Span`.
#[derive(Debug, Default, PartialEq)]
struct Decoded {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Option<Vec<u8>>,
    name: String,
    kind: u64,
    start: u64,
    end: u64,
    attributes: Vec<(String, AttrValue)>,
    /// `(code, message)` when a `Status` was sent.
    status: Option<(u64, String)>,
}

/// What one `ExportTraceServiceRequest` holds.
#[derive(Debug, Default)]
struct DecodedRequest {
    resource: Vec<(String, AttrValue)>,
    scope: (String, String),
    spans: Vec<Decoded>,
}

fn fields(message: &[u8]) -> impl Iterator<Item = (u32, WireValue<'_>)> {
    Fields::new(message).map(|f| f.expect("well-formed protobuf"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 string field")
}

fn only_bytes(message: &[u8], want: u32) -> Vec<&[u8]> {
    fields(message)
        .map(|(n, v)| match (n, v) {
            (n, WireValue::Bytes(b)) if n == want => b,
            other => panic!("unexpected field {other:?}, wanted {want} as LEN"),
        })
        .collect()
}

fn decode_request(body: &[u8]) -> DecodedRequest {
    let mut req = DecodedRequest::default();
    let resource_spans = only_bytes(body, 1);
    assert_eq!(resource_spans.len(), 1, "one ResourceSpans");
    for (n, v) in fields(resource_spans[0]) {
        match (n, v) {
            (1, WireValue::Bytes(resource)) => {
                req.resource = only_bytes(resource, 1).into_iter().map(key_value).collect();
            }
            (2, WireValue::Bytes(scope_spans)) => {
                for (n, v) in fields(scope_spans) {
                    match (n, v) {
                        (1, WireValue::Bytes(scope)) => {
                            for (n, v) in fields(scope) {
                                match (n, v) {
                                    (1, WireValue::Bytes(b)) => req.scope.0 = text(b),
                                    (2, WireValue::Bytes(b)) => req.scope.1 = text(b),
                                    other => panic!("InstrumentationScope {other:?}"),
                                }
                            }
                        }
                        (2, WireValue::Bytes(span)) => req.spans.push(decode_span(span)),
                        other => panic!("ScopeSpans {other:?}"),
                    }
                }
            }
            other => panic!("ResourceSpans {other:?}"),
        }
    }
    req
}

fn decode_span(span: &[u8]) -> Decoded {
    let mut d = Decoded::default();
    let mut last_field = 0;
    for (n, v) in fields(span) {
        assert!(
            n >= last_field,
            "fields out of order: {n} after {last_field}"
        );
        last_field = n;
        match (n, v) {
            (1, WireValue::Bytes(b)) => d.trace_id = b.to_vec(),
            (2, WireValue::Bytes(b)) => d.span_id = b.to_vec(),
            (4, WireValue::Bytes(b)) => d.parent_span_id = Some(b.to_vec()),
            (5, WireValue::Bytes(b)) => d.name = text(b),
            (6, WireValue::Varint(k)) => d.kind = k,
            (7, WireValue::Fixed64(t)) => d.start = t,
            (8, WireValue::Fixed64(t)) => d.end = t,
            (9, WireValue::Bytes(kv)) => d.attributes.push(key_value(kv)),
            (15, WireValue::Bytes(status)) => {
                let (mut code, mut message) = (0, String::new());
                for (n, v) in fields(status) {
                    match (n, v) {
                        (2, WireValue::Bytes(b)) => message = text(b),
                        (3, WireValue::Varint(c)) => code = c,
                        other => panic!("Status {other:?}"),
                    }
                }
                d.status = Some((code, message));
            }
            other => panic!("Span {other:?}"),
        }
    }
    d
}

fn key_value(kv: &[u8]) -> (String, AttrValue) {
    let (mut key, mut value) = (None, None);
    for (n, v) in fields(kv) {
        match (n, v) {
            (1, WireValue::Bytes(b)) => key = Some(text(b)),
            (2, WireValue::Bytes(any)) => {
                let mut members = fields(any).map(|(n, v)| match (n, v) {
                    (1, WireValue::Bytes(b)) => AttrValue::Str(text(b)),
                    (2, WireValue::Varint(b)) => AttrValue::Bool(b != 0),
                    (3, WireValue::Varint(i)) => AttrValue::Int(i as i64),
                    (4, WireValue::Fixed64(bits)) => AttrValue::Double(f64::from_bits(bits)),
                    other => panic!("AnyValue {other:?}"),
                });
                value = members.next();
                assert!(members.next().is_none(), "one oneof member");
            }
            other => panic!("KeyValue {other:?}"),
        }
    }
    (
        key.expect("KeyValue.key"),
        value.expect("AnyValue member set"),
    )
}

fn sample_spans() -> Vec<SpanData> {
    let server = SpanData {
        trace_id: *b"0123456789abcdef",
        span_id: *b"serverid",
        parent_span_id: Some(*b"clientsp"),
        name: "chat gpt-4o-mini".into(),
        kind: SpanKind::Server,
        start_unix_nanos: 1_754_000_000_123_456_789,
        end_unix_nanos: 1_754_000_001_987_654_321,
        status: SpanStatus::Ok,
        attributes: vec![
            (GEN_AI_OPERATION_NAME, OPERATION_CHAT.into()),
            (GEN_AI_PROVIDER_NAME, gen_ai_provider_name("bedrock").into()),
            (GEN_AI_REQUEST_MODEL, "gpt-4o-mini".into()),
            (GEN_AI_USAGE_INPUT_TOKENS, 1234u64.into()),
            (GEN_AI_USAGE_OUTPUT_TOKENS, 0u64.into()),
            (HTTP_RESPONSE_STATUS_CODE, 200u16.into()),
            (RINGBRIDGE_COST_USD, 0.000_42.into()),
            (RINGBRIDGE_ATTEMPTS, AttrValue::Int(-7)),
            ("ringbridge.cached", false.into()),
            (RINGBRIDGE_TEAM_ID, "".into()),
            (RINGBRIDGE_DIALECT, "anthropic – ünïcode".into()),
        ],
    };
    let client = SpanData {
        span_id: *b"upstream",
        parent_span_id: Some(*b"serverid"),
        name: "chat".into(),
        kind: SpanKind::Client,
        status: SpanStatus::Error("upstream timed out".into()),
        attributes: vec![(SERVER_ADDRESS, "api.openai.com".into())],
        ..server.clone()
    };
    let root = SpanData {
        parent_span_id: None,
        span_id: *b"rootspan",
        status: SpanStatus::Unset,
        attributes: Vec::new(),
        name: "x".repeat(300),
        ..server.clone()
    };
    vec![server, client, root]
}

fn decoded(s: &SpanData) -> Decoded {
    Decoded {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        parent_span_id: s.parent_span_id.map(|p| p.to_vec()),
        name: s.name.clone(),
        kind: s.kind as u64,
        start: s.start_unix_nanos,
        end: s.end_unix_nanos,
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        status: match &s.status {
            SpanStatus::Unset => None,
            SpanStatus::Ok => Some((1, String::new())),
            SpanStatus::Error(m) => Some((2, m.clone())),
        },
    }
}

#[test]
fn every_span_field_survives_encoding_and_decoding() {
    let spans = sample_spans();
    let mut body = b"kept".to_vec();
    encode_export_request("ringbridge-test", "9.9.9", &spans, &mut body);
    assert_eq!(&body[..4], b"kept", "appends");
    let req = decode_request(&body[4..]);
    assert_eq!(
        req.resource,
        [
            (
                "service.name".to_string(),
                AttrValue::from("ringbridge-test")
            ),
            ("service.version".to_string(), AttrValue::from("9.9.9")),
        ]
    );
    assert_eq!(
        req.scope,
        (
            "ringbridge".to_string(),
            env!("CARGO_PKG_VERSION").to_string()
        )
    );
    let want: Vec<Decoded> = spans.iter().map(decoded).collect();
    assert_eq!(req.spans, want);
}

#[test]
fn an_empty_batch_still_names_the_resource_and_scope() {
    let mut body = Vec::new();
    encode_export_request("s", "v", &[], &mut body);
    let req = decode_request(&body);
    assert!(req.spans.is_empty());
    assert_eq!(req.scope.0, "ringbridge");
}

#[test]
fn a_full_batch_with_long_fields_decodes_whole() {
    // Lengths past one and two varint bytes at every nesting level.
    let mut spans = Vec::new();
    for i in 0..MAX_SPANS_PER_REQUEST {
        let mut s = sample_spans().remove(0);
        s.name = "n".repeat(i % 200);
        s.attributes
            .push((GEN_AI_RESPONSE_MODEL, "m".repeat(i * 40).into()));
        spans.push(s);
    }
    let mut body = Vec::new();
    encode_export_request("s", "v", &spans, &mut body);
    assert!(
        body.len() > 2 << 21,
        "{} bytes: needs a 4-byte length",
        body.len()
    );
    let req = decode_request(&body);
    let want: Vec<Decoded> = spans.iter().map(decoded).collect();
    assert_eq!(req.spans, want);
}

#[test]
fn partial_success_is_read_from_the_collectors_answer() {
    let answer = |rejected: u64, message: &str| {
        let mut out = Vec::new();
        put_message_field(&mut out, 1, |out| {
            if rejected != 0 {
                put_varint_field(out, 1, rejected);
            }
            if !message.is_empty() {
                put_bytes_field(out, 2, message.as_bytes());
            }
        });
        out
    };
    assert_eq!(exporter::partial_success(b""), None);
    assert_eq!(exporter::partial_success(&answer(0, "")), None);
    assert_eq!(
        exporter::partial_success(&answer(3, "bad span")),
        Some((3, "bad span".to_string()))
    );
    assert_eq!(
        exporter::partial_success(&answer(0, "slow down")),
        Some((0, "slow down".to_string()))
    );
    assert_eq!(exporter::partial_success(b"{\"partialSuccess\":{}}"), None);
}

/// One request as the fake collector saw it.
struct Received {
    head: String,
    body: Vec<u8>,
}

/// A collector on an ephemeral port that answers each connection with the next of
/// `answers` (status, body) and reports what it received.
fn fake_collector(answers: Vec<(u16, Vec<u8>)>) -> (u16, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (status, answer) in answers {
            let (mut conn, _) = listener.accept().unwrap();
            let got = read_request(&mut conn);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(&answer).unwrap();
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

fn read_request(conn: &mut TcpStream) -> Received {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "request ended before its head");
        raw.extend_from_slice(&chunk[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("content-length")
        .parse()
        .unwrap();
    while raw.len() < head_end + length {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "request ended before its body");
        raw.extend_from_slice(&chunk[..n]);
    }
    Received {
        head,
        body: raw[head_end..].to_vec(),
    }
}

const TOKEN: &str = "Bearer very-secret-token";

fn exporter_to(port: u16, path: &str) -> OtlpExporter {
    OtlpExporter::new(
        OtlpExporterConfig {
            endpoint: BaseUrl {
                scheme: Scheme::Http,
                host: "127.0.0.1".into(),
                port,
                path: path.into(),
            },
            headers: vec![
                ("Authorization".into(), Secret::new(TOKEN)),
                ("x-tenant".into(), Secret::new(" blue ")),
            ],
            timeout: Duration::from_secs(5),
            service_name: "ringbridge".into(),
            service_version: "1.2.3".into(),
        },
        Arc::new(DnsCache::new()),
        client_config(None).unwrap(),
    )
    .unwrap()
}

fn many_spans(n: usize) -> Vec<SpanData> {
    let template = sample_spans().remove(1);
    (0..n)
        .map(|i| SpanData {
            start_unix_nanos: i as u64,
            ..template.clone()
        })
        .collect()
}

#[test]
fn exporter_posts_protobuf_batches_of_at_most_512_spans_with_the_configured_headers() {
    let ok = || (200, Vec::new());
    let (port, seen) = fake_collector(vec![ok(), ok(), ok()]);
    let mut exporter = exporter_to(port, "");
    let spans = many_spans(2 * MAX_SPANS_PER_REQUEST + 76);
    exporter.export(&spans).unwrap();
    let mut starts = Vec::new();
    for want in [MAX_SPANS_PER_REQUEST, MAX_SPANS_PER_REQUEST, 76] {
        let got = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            got.head.starts_with("POST /v1/traces HTTP/1.1\r\n"),
            "{}",
            got.head
        );
        for line in [
            "content-type: application/x-protobuf\r\n",
            "authorization: Bearer very-secret-token\r\n",
            "x-tenant: blue\r\n",
            &format!("host: 127.0.0.1:{port}\r\n"),
        ] {
            assert!(
                got.head.contains(line),
                "{line:?} missing from {}",
                got.head
            );
        }
        let req = decode_request(&got.body);
        assert_eq!(req.spans.len(), want);
        assert_eq!(req.resource[1].1, AttrValue::from("1.2.3"));
        starts.extend(req.spans.iter().map(|s| s.start));
    }
    assert_eq!(
        starts,
        (0..spans.len() as u64).collect::<Vec<_>>(),
        "in order"
    );
}

#[test]
fn an_endpoint_path_is_used_as_given() {
    let (port, seen) = fake_collector(vec![(200, Vec::new())]);
    exporter_to(port, "/otlp/v1/traces")
        .export(&many_spans(1))
        .unwrap();
    let got = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        got.head.starts_with("POST /otlp/v1/traces "),
        "{}",
        got.head
    );
}

#[test]
fn a_refusing_collector_stops_the_export_and_says_whether_to_retry() {
    let (port, seen) = fake_collector(vec![(200, Vec::new()), (503, Vec::new())]);
    let err = exporter_to(port, "")
        .export(&many_spans(MAX_SPANS_PER_REQUEST + 10))
        .unwrap_err();
    assert!(err.contains("503 (retryable)"), "{err}");
    assert!(err.contains("10 of 522 spans not sent"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert_eq!(seen.iter().count(), 2);

    let (port, _seen) = fake_collector(vec![(400, Vec::new())]);
    let err = exporter_to(port, "").export(&many_spans(1)).unwrap_err();
    assert!(
        err.contains("answered 400") && !err.contains("retryable"),
        "{err}"
    );
}

#[test]
fn spans_the_collector_rejected_are_reported_after_every_batch_is_sent() {
    let mut partial = Vec::new();
    put_message_field(&mut partial, 1, |out| {
        put_varint_field(out, 1, 2);
        put_bytes_field(out, 2, b"span name too long");
    });
    let (port, seen) = fake_collector(vec![(200, partial), (200, Vec::new())]);
    let err = exporter_to(port, "")
        .export(&many_spans(MAX_SPANS_PER_REQUEST + 1))
        .unwrap_err();
    assert!(
        err.contains("collector rejected 2 spans: span name too long"),
        "{err}"
    );
    assert_eq!(seen.iter().count(), 2, "the second batch was still sent");
}

#[test]
fn an_unreachable_collector_is_an_error_without_header_values() {
    // Bind then drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = exporter_to(port, "").export(&many_spans(3)).unwrap_err();
    assert!(
        err.contains(&format!("127.0.0.1:{port}/v1/traces")),
        "{err}"
    );
    assert!(err.contains("3 of 3 spans not sent"), "{err}");
    assert!(!err.contains("secret") && !err.contains("blue"), "{err}");
}

#[test]
fn bad_configured_headers_are_refused_without_quoting_their_value() {
    let config = |name: &str, value: &str| OtlpExporterConfig {
        endpoint: BaseUrl {
            scheme: Scheme::Https,
            host: "collector.example".into(),
            port: 443,
            path: String::new(),
        },
        headers: vec![(name.into(), Secret::new(value))],
        timeout: Duration::from_secs(1),
        service_name: "s".into(),
        service_version: "v".into(),
    };
    let tls = client_config(None).unwrap();
    let new = |name: &str, value: &str| {
        OtlpExporter::new(config(name, value), Arc::new(DnsCache::new()), tls.clone())
    };
    for (name, value, says) in [
        (
            "authorization",
            "Bearer sec\r\nx-injected: ret",
            "control characters",
        ),
        ("authorization", "Bearer sec\nret", "control characters"),
        ("Authorization: Bearer secret", "x", "not an HTTP token"),
        ("", "secret", "not an HTTP token"),
        ("Content-Type", "secret", "set by the exporter"),
    ] {
        let err = new(name, value).unwrap_err();
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("sec"), "{err}");
    }
    let ok = new("x-api-key", "the-key-value").unwrap();
    assert_eq!(ok.endpoint_host(), "collector.example");
    assert!(!format!("{ok:?}").contains("the-key-value"), "{ok:?}");
}
