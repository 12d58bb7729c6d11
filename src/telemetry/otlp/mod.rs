//! Trace export over OTLP/HTTP with protobuf bodies
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).
//!
//! - [`SpanData`] is one finished span as the gateway records it.
//! - [`encode_export_request`] writes an `ExportTraceServiceRequest` by hand (no protobuf
//!   crate; the field numbers are those of opentelemetry-proto's `trace.proto`,
//!   `common.proto`, `resource.proto` and `trace_service.proto`).
//! - [`OtlpExporter`] posts batches of at most [`MAX_SPANS_PER_REQUEST`] spans to a
//!   collector from a blocking thread (the control plane), never from a worker.
//! - [`semconv`] names the span attributes.

mod encode;
mod exporter;
#[cfg(test)]
mod golden;
mod protobuf;
pub mod semconv;
#[cfg(test)]
mod tests;

pub use encode::encode_export_request;
pub use exporter::{OtlpExporter, OtlpExporterConfig, DEFAULT_TRACES_PATH, MAX_SPANS_PER_REQUEST};

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanData {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// Low-cardinality operation name, e.g. `chat gpt-4o` or `POST /v1/chat/completions`.
    pub name: String,
    pub kind: SpanKind,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub status: SpanStatus,
    /// Names are the [`semconv`] constants; a name given twice is sent twice.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

/// `Span.SpanKind`; the numbers are the proto enum's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The gateway serving a client's request.
    Server = 2,
    /// The gateway calling a provider.
    Client = 3,
}

/// `Status`: what the span's outcome was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// No status is sent (the proto default).
    #[default]
    Unset,
    Ok,
    /// Sent with code 2 and this description.
    Error(String),
}

/// An attribute value (`AnyValue`'s scalar members).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_owned())
    }
}

impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}

impl From<u64> for AttrValue {
    /// Saturates at `i64::MAX`: OTLP integers are signed.
    fn from(v: u64) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u16> for AttrValue {
    fn from(v: u16) -> Self {
        AttrValue::Int(i64::from(v))
    }
}

impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Double(v)
    }
}

impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
