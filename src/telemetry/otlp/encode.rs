//! `ExportTraceServiceRequest` in protobuf wire format. The field numbers below are copied
//! from opentelemetry-proto (`opentelemetry/proto/{collector/trace,trace,resource,common}/v1/`);
//! every message is written in field-number order, as protobuf encoders do.

use super::protobuf::{put_bytes_field, put_fixed64_field, put_message_field, put_varint_field};
use super::semconv::{SERVICE_NAME, SERVICE_VERSION};
use super::{AttrValue, SpanData, SpanStatus};

/// `InstrumentationScope.name` of every span: the code that made them.
const SCOPE_NAME: &str = "ringbridge";

/// `collector.trace.v1.ExportTraceServiceRequest`.
mod export_request {
    pub(super) const RESOURCE_SPANS: u32 = 1;
}

/// `trace.v1.ResourceSpans`.
mod resource_spans {
    pub(super) const RESOURCE: u32 = 1;
    pub(super) const SCOPE_SPANS: u32 = 2;
}

/// `resource.v1.Resource`.
mod resource {
    pub(super) const ATTRIBUTES: u32 = 1;
}

/// `trace.v1.ScopeSpans`.
mod scope_spans {
    pub(super) const SCOPE: u32 = 1;
    pub(super) const SPANS: u32 = 2;
}

/// `common.v1.InstrumentationScope`.
mod scope {
    pub(super) const NAME: u32 = 1;
    pub(super) const VERSION: u32 = 2;
}

/// `trace.v1.Span`.
mod span {
    pub(super) const TRACE_ID: u32 = 1;
    pub(super) const SPAN_ID: u32 = 2;
    pub(super) const PARENT_SPAN_ID: u32 = 4;
    pub(super) const NAME: u32 = 5;
    pub(super) const KIND: u32 = 6;
    /// `fixed64`.
    pub(super) const START_TIME_UNIX_NANO: u32 = 7;
    /// `fixed64`.
    pub(super) const END_TIME_UNIX_NANO: u32 = 8;
    pub(super) const ATTRIBUTES: u32 = 9;
    pub(super) const STATUS: u32 = 15;
}

/// `trace.v1.Status` (field 1 is reserved).
mod status {
    pub(super) const MESSAGE: u32 = 2;
    pub(super) const CODE: u32 = 3;
    pub(super) const CODE_OK: u64 = 1;
    pub(super) const CODE_ERROR: u64 = 2;
}

/// `common.v1.KeyValue`.
mod key_value {
    pub(super) const KEY: u32 = 1;
    pub(super) const VALUE: u32 = 2;
}

/// `common.v1.AnyValue`, a `oneof`.
mod any_value {
    pub(super) const STRING_VALUE: u32 = 1;
    pub(super) const BOOL_VALUE: u32 = 2;
    pub(super) const INT_VALUE: u32 = 3;
    /// `double`: wire type I64.
    pub(super) const DOUBLE_VALUE: u32 = 4;
}

/// Appends one `ExportTraceServiceRequest` holding `spans` under a single resource
/// (`service.name`, `service.version`) and the instrumentation scope `ringbridge` at this
/// crate's version. The body to POST to `/v1/traces` as `application/x-protobuf`.
pub fn encode_export_request(
    service_name: &str,
    service_version: &str,
    spans: &[SpanData],
    out: &mut Vec<u8>,
) {
    encode_with_scope_version(
        service_name,
        service_version,
        env!("CARGO_PKG_VERSION"),
        spans,
        out,
    );
}

/// [`encode_export_request`] with the scope version given, so that a golden request stays
/// the same across releases.
pub(super) fn encode_with_scope_version(
    service_name: &str,
    service_version: &str,
    scope_version: &str,
    spans: &[SpanData],
    out: &mut Vec<u8>,
) {
    put_message_field(out, export_request::RESOURCE_SPANS, |out| {
        put_message_field(out, resource_spans::RESOURCE, |out| {
            put_str_attribute(out, resource::ATTRIBUTES, SERVICE_NAME, service_name);
            put_str_attribute(out, resource::ATTRIBUTES, SERVICE_VERSION, service_version);
        });
        put_message_field(out, resource_spans::SCOPE_SPANS, |out| {
            put_message_field(out, scope_spans::SCOPE, |out| {
                put_bytes_field(out, scope::NAME, SCOPE_NAME.as_bytes());
                put_bytes_field(out, scope::VERSION, scope_version.as_bytes());
            });
            for s in spans {
                put_message_field(out, scope_spans::SPANS, |out| put_span(out, s));
            }
        });
    });
}

fn put_span(out: &mut Vec<u8>, s: &SpanData) {
    put_bytes_field(out, span::TRACE_ID, &s.trace_id);
    put_bytes_field(out, span::SPAN_ID, &s.span_id);
    if let Some(parent) = &s.parent_span_id {
        put_bytes_field(out, span::PARENT_SPAN_ID, parent);
    }
    // Proto3 leaves fields at their default (empty, zero) out; so do we, which keeps the
    // encoding byte-for-byte what the official encoders write.
    if !s.name.is_empty() {
        put_bytes_field(out, span::NAME, s.name.as_bytes());
    }
    put_varint_field(out, span::KIND, s.kind as u64);
    if s.start_unix_nanos != 0 {
        put_fixed64_field(out, span::START_TIME_UNIX_NANO, s.start_unix_nanos);
    }
    if s.end_unix_nanos != 0 {
        put_fixed64_field(out, span::END_TIME_UNIX_NANO, s.end_unix_nanos);
    }
    for (key, value) in &s.attributes {
        put_attribute(out, span::ATTRIBUTES, key, value);
    }
    match &s.status {
        SpanStatus::Unset => {}
        SpanStatus::Ok => put_message_field(out, span::STATUS, |out| {
            put_varint_field(out, status::CODE, status::CODE_OK);
        }),
        SpanStatus::Error(message) => put_message_field(out, span::STATUS, |out| {
            if !message.is_empty() {
                put_bytes_field(out, status::MESSAGE, message.as_bytes());
            }
            put_varint_field(out, status::CODE, status::CODE_ERROR);
        }),
    }
}

/// A `KeyValue` as field `field` of the enclosing message.
fn put_attribute(out: &mut Vec<u8>, field: u32, key: &str, value: &AttrValue) {
    put_message_field(out, field, |out| {
        put_bytes_field(out, key_value::KEY, key.as_bytes());
        // The oneof member is written even when it holds its default (`""`, 0, false):
        // that is how the decoder learns which member is set.
        put_message_field(out, key_value::VALUE, |out| match value {
            AttrValue::Str(v) => put_bytes_field(out, any_value::STRING_VALUE, v.as_bytes()),
            AttrValue::Bool(v) => put_varint_field(out, any_value::BOOL_VALUE, u64::from(*v)),
            AttrValue::Int(v) => put_varint_field(out, any_value::INT_VALUE, *v as u64),
            AttrValue::Double(v) => put_fixed64_field(out, any_value::DOUBLE_VALUE, v.to_bits()),
        });
    });
}

fn put_str_attribute(out: &mut Vec<u8>, field: u32, key: &str, value: &str) {
    put_message_field(out, field, |out| {
        put_bytes_field(out, key_value::KEY, key.as_bytes());
        put_message_field(out, key_value::VALUE, |out| {
            put_bytes_field(out, any_value::STRING_VALUE, value.as_bytes())
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::otlp::SpanKind;

    /// Bytes worked out by hand from the proto definitions, independent of the test decoder.
    #[test]
    fn a_minimal_span_encodes_to_the_hand_computed_bytes() {
        let s = SpanData {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            name: "n".into(),
            kind: SpanKind::Server,
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            status: SpanStatus::Unset,
            attributes: Vec::new(),
        };
        let mut out = Vec::new();
        put_span(&mut out, &s);
        let mut want = vec![0x0a, 16]; // trace_id: field 1, LEN, 16 bytes
        want.extend([1; 16]);
        want.extend([0x12, 8]); // span_id: field 2, LEN
        want.extend([2; 8]);
        want.extend([0x2a, 1, b'n']); // name: field 5, LEN
        want.extend([0x30, 2]); // kind: field 6, VARINT, SERVER
        want.extend([0x39, 1, 0, 0, 0, 0, 0, 0, 0]); // start: field 7, I64
        want.extend([0x41, 2, 0, 0, 0, 0, 0, 0, 0]); // end: field 8, I64
        assert_eq!(out, want);
    }

    #[test]
    fn parent_and_error_status_encode_to_the_hand_computed_bytes() {
        let s = SpanData {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: Some([3; 8]),
            name: String::new(),
            kind: SpanKind::Client,
            start_unix_nanos: 0,
            end_unix_nanos: 0,
            status: SpanStatus::Error("x".into()),
            attributes: Vec::new(),
        };
        let mut out = Vec::new();
        put_span(&mut out, &s);
        let tail = [
            0x22, 8, 3, 3, 3, 3, 3, 3, 3, 3, // parent_span_id: field 4, LEN
            // No name and no times: empty and zero are proto3 defaults, left out.
            0x30, 3, // kind: CLIENT
            0x7a, 5, // status: field 15, LEN, 5 bytes
            0x12, 1, b'x', // Status.message: field 2
            0x18, 2, // Status.code: field 3, ERROR
        ];
        assert_eq!(&out[28..], &tail[..]);
    }

    #[test]
    fn each_attribute_type_encodes_to_the_hand_computed_bytes() {
        let cases: &[(AttrValue, &[u8])] = &[
            (AttrValue::Str("v".into()), &[0x0a, 1, b'v']),
            (AttrValue::Str(String::new()), &[0x0a, 0]),
            (AttrValue::Bool(true), &[0x10, 1]),
            (AttrValue::Bool(false), &[0x10, 0]),
            (AttrValue::Int(0), &[0x18, 0]),
            (AttrValue::Int(300), &[0x18, 0xac, 0x02]),
            (
                AttrValue::Double(1.5),
                &[0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f],
            ),
        ];
        for (value, any_value) in cases {
            let mut out = Vec::new();
            put_attribute(&mut out, 9, "k", value);
            // Span.attributes (9, LEN), KeyValue.key (1) = "k", KeyValue.value (2) = AnyValue.
            let mut want = vec![0x4a, (5 + any_value.len()) as u8, 0x0a, 1, b'k'];
            want.extend([0x12, any_value.len() as u8]);
            want.extend_from_slice(any_value);
            assert_eq!(out, want, "{value:?}");
        }
    }
}
