//! Posting span batches to an OTLP/HTTP collector through the control plane's blocking
//! client ([`crate::upstream::blocking::post`]), plain HTTP or HTTPS.
//!
//! Response handling follows the OTLP/HTTP spec
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp-response>): any 2xx is success, with
//! `partial_success` in the body naming spans the collector rejected (not to be retried);
//! 429, 502, 503 and 504 are retryable, anything else is not. The exporter itself never
//! retries or sleeps: it reports, and the caller decides whether to keep the batch.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::protobuf::{Fields, WireValue};
use super::{encode_export_request, SpanData};
use crate::credentials::Secret;
use crate::http::url::BaseUrl;
use crate::upstream::blocking::{self, PostRequest};
use crate::upstream::{DnsCache, Origin};

/// Spans per POST; a larger export is split. 512 is the OpenTelemetry SDKs' default
/// `maxExportBatchSize`, and keeps a request around 200 KB with GenAI attributes.
pub const MAX_SPANS_PER_REQUEST: usize = 512;

/// Path used when the endpoint URL has none (`http://collector:4318`).
pub const DEFAULT_TRACES_PATH: &str = "/v1/traces";

const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";

/// Longest collector `error_message` quoted in an error, in bytes.
const MAX_QUOTED_MESSAGE_BYTES: usize = 256;

/// Header names the client writes itself; a configured header may not repeat them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "accept",
    "connection",
];

/// What [`OtlpExporter::new`] needs.
#[derive(Debug, Clone)]
pub struct OtlpExporterConfig {
    /// Where to POST, e.g. `http://127.0.0.1:4318/v1/traces`: used as it is, except that an
    /// empty path becomes [`DEFAULT_TRACES_PATH`].
    pub endpoint: BaseUrl,
    /// Sent with every request, e.g. `authorization` for a hosted collector.
    pub headers: Vec<(String, Secret)>,
    /// Connect, write and each read, separately.
    pub timeout: Duration,
    /// Resource attribute `service.name`.
    pub service_name: String,
    /// Resource attribute `service.version`.
    pub service_version: String,
}

/// Exports spans to one collector. Blocking: call it from the control plane (or another
/// ordinary thread), never from a worker.
pub struct OtlpExporter {
    origin: Origin,
    path: String,
    /// The configured headers as `name: value\r\n` lines. Holds credentials: never printed.
    header_lines: Vec<u8>,
    timeout: Duration,
    service_name: String,
    service_version: String,
    dns: Arc<DnsCache>,
    tls: Arc<rustls::ClientConfig>,
    /// Set after a failed connection, so the next export looks the host up again.
    resolve_again: bool,
    /// Reused request body.
    body: Vec<u8>,
}

impl OtlpExporter {
    /// Checks the configured headers and prepares the requests. The error names a bad
    /// header by its name or position, never by its value.
    pub fn new(
        config: OtlpExporterConfig,
        dns: Arc<DnsCache>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<OtlpExporter, String> {
        let mut header_lines = Vec::new();
        for (i, (name, value)) in config.headers.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(format!(
                    "OTLP header #{}: the name is not an HTTP token",
                    i + 1
                ));
            }
            let name = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&name.as_str()) {
                return Err(format!(
                    "OTLP header {name:?} is set by the exporter itself"
                ));
            }
            let value = value.expose().trim_matches([' ', '\t']);
            if !value.bytes().all(is_field_value_byte) {
                return Err(format!(
                    "OTLP header {name:?}: the value has control characters"
                ));
            }
            header_lines.extend_from_slice(name.as_bytes());
            header_lines.extend_from_slice(b": ");
            header_lines.extend_from_slice(value.as_bytes());
            header_lines.extend_from_slice(b"\r\n");
        }
        let path = match config.endpoint.path.as_str() {
            "" => DEFAULT_TRACES_PATH.to_owned(),
            p => p.to_owned(),
        };
        Ok(OtlpExporter {
            origin: Origin::new(&config.endpoint),
            path,
            header_lines,
            timeout: config.timeout,
            service_name: config.service_name,
            service_version: config.service_version,
            dns,
            tls,
            resolve_again: false,
            body: Vec::new(),
        })
    }

    /// The collector's host: add it to the hosts the control plane keeps resolved. Until it
    /// is there the exporter resolves it itself, on first use and after a failed connection.
    pub fn endpoint_host(&self) -> &str {
        &self.origin.host
    }

    /// Posts `spans` in batches of at most [`MAX_SPANS_PER_REQUEST`], in order.
    ///
    /// Stops at the first batch that fails to reach the collector or is refused with a
    /// non-2xx status; the error says how many spans were not sent and whether the status
    /// is one the spec calls retryable. Spans the collector accepted the request for but
    /// rejected (`partial_success`) are reported once every batch has been sent. No error
    /// quotes a header value.
    pub fn export(&mut self, spans: &[SpanData]) -> Result<(), String> {
        let mut rejected: Option<String> = None;
        for (i, batch) in spans.chunks(MAX_SPANS_PER_REQUEST).enumerate() {
            match self.post_batch(batch) {
                Ok(Batch::Accepted) => {}
                Ok(Batch::PartlyRejected(why)) => {
                    rejected.get_or_insert_with(|| format!("{}: {why}", self.describe()));
                }
                Err(why) => {
                    let not_sent = spans.len() - i * MAX_SPANS_PER_REQUEST;
                    return Err(format!(
                        "{}: {why}; {not_sent} of {} spans not sent",
                        self.describe(),
                        spans.len()
                    ));
                }
            }
        }
        rejected.map_or(Ok(()), Err)
    }

    /// The start of every error: where the spans were going.
    fn describe(&self) -> String {
        format!("OTLP export to {}{}", self.origin.key, self.path)
    }

    fn post_batch(&mut self, batch: &[SpanData]) -> Result<Batch, String> {
        self.body.clear();
        encode_export_request(
            &self.service_name,
            &self.service_version,
            batch,
            &mut self.body,
        );
        if self.resolve_again
            || self
                .dns
                .lookup(&self.origin.host, self.origin.port)
                .is_none()
        {
            // Blocking, like everything here; a failure shows up as the post's own error.
            self.dns.refresh(std::slice::from_ref(&self.origin.host));
            self.resolve_again = false;
        }
        let request = PostRequest {
            path: &self.path,
            content_type: CONTENT_TYPE_PROTOBUF,
            extra_headers: &self.header_lines,
            body: &self.body,
        };
        let (status, answer) =
            match blocking::post(&self.dns, &self.tls, &self.origin, &request, self.timeout) {
                Ok(answered) => answered,
                Err(e) => {
                    self.resolve_again = true;
                    return Err(e);
                }
            };
        match status {
            200..=299 => Ok(match partial_success(&answer) {
                Some((count, message)) => Batch::PartlyRejected(rejection(count, &message)),
                None => Batch::Accepted,
            }),
            429 | 502 | 503 | 504 => Err(format!("collector answered {status} (retryable)")),
            _ => Err(format!("collector answered {status}")),
        }
    }
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field(
                "endpoint",
                &format_args!("{}{}", self.origin.key, self.path),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

enum Batch {
    Accepted,
    /// The collector took the request but dropped some spans; the text says why.
    PartlyRejected(String),
}

fn rejection(count: i64, message: &str) -> String {
    let mut end = message.len().min(MAX_QUOTED_MESSAGE_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let message = &message[..end];
    match (count, message.is_empty()) {
        (0, _) => format!("collector warned: {message}"),
        (n, true) => format!("collector rejected {n} spans"),
        (n, false) => format!("collector rejected {n} spans: {message}"),
    }
}

/// `ExportTraceServiceResponse.partial_success` when it says something: the rejected span
/// count and the collector's message. `None` for an empty, absent or unreadable one (a
/// collector may answer 200 with an empty or non-protobuf body).
pub(super) fn partial_success(response: &[u8]) -> Option<(i64, String)> {
    /// `ExportTraceServiceResponse.partial_success`.
    const PARTIAL_SUCCESS: u32 = 1;
    /// `ExportTracePartialSuccess.rejected_spans` (int64).
    const REJECTED_SPANS: u32 = 1;
    /// `ExportTracePartialSuccess.error_message`.
    const ERROR_MESSAGE: u32 = 2;

    let mut partial = None;
    for field in Fields::new(response) {
        if let (PARTIAL_SUCCESS, WireValue::Bytes(inner)) = field.ok()? {
            partial = Some(inner);
        }
    }
    let (mut count, mut message) = (0i64, String::new());
    for field in Fields::new(partial?) {
        match field.ok()? {
            (REJECTED_SPANS, WireValue::Varint(n)) => count = n as i64,
            (ERROR_MESSAGE, WireValue::Bytes(text)) => {
                message = String::from_utf8_lossy(text).into_owned()
            }
            _ => {}
        }
    }
    (count != 0 || !message.is_empty()).then_some((count, message))
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `field-vchar`, space and tab: no CR, LF or other control character.
fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}
