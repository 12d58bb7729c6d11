//! Request spans to an OTLP/HTTP collector: the store thread hands each
//! batch of log rows to [`TraceSink`], which turns the traced ones into
//! spans (GenAI semantic conventions) and passes them to an exporter thread
//! of its own, so a slow collector delays neither the store nor a request.
//! When the exporter falls behind, spans are dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::store::RowSink;
use crate::config::OtlpSettings;
use crate::store::LogRow;
use crate::telemetry::otlp::semconv::*;
use crate::telemetry::otlp::{
    AttrValue, OtlpExporter, OtlpExporterConfig, SpanData, SpanKind, SpanStatus,
};
use crate::worker::Gateway;

/// Batches waiting for the exporter thread, at most.
const QUEUED_BATCHES: usize = 64;

pub struct TraceSink {
    gw: Arc<Gateway>,
    to_exporter: SyncSender<Vec<SpanData>>,
    dropped: Arc<AtomicU64>,
}

/// Start the exporter thread; the sink feeds it.
pub fn start(
    gw: Arc<Gateway>,
    settings: &OtlpSettings,
) -> Result<(TraceSink, JoinHandle<()>), String> {
    let exporter = OtlpExporter::new(
        OtlpExporterConfig {
            endpoint: settings.endpoint.clone(),
            headers: settings.headers.clone(),
            timeout: settings.timeout,
            service_name: settings.service_name.clone(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        gw.dns.clone(),
        gw.tls.clone(),
    )?;
    let (to_exporter, batches) = sync_channel(QUEUED_BATCHES);
    let dropped = Arc::new(AtomicU64::new(0));
    let thread = std::thread::Builder::new()
        .name("ringbridge-otlp".into())
        .spawn(move || export_loop(exporter, batches))
        .map_err(|e| format!("cannot start the trace exporter: {e}"))?;
    Ok((
        TraceSink {
            gw,
            to_exporter,
            dropped,
        },
        thread,
    ))
}

/// Ends when the sink (the store thread) is gone and the queue is empty.
fn export_loop(mut exporter: OtlpExporter, batches: Receiver<Vec<SpanData>>) {
    super::store::lower_priority();
    let mut last_warning: Option<std::time::Instant> = None;
    for spans in batches {
        if let Err(e) = exporter.export(&spans) {
            if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) {
                tracing::warn!(error = %e, collector = exporter.endpoint_host(), "trace export failed; spans dropped");
                last_warning = Some(std::time::Instant::now());
            }
        }
    }
}

impl RowSink for TraceSink {
    fn rows(&mut self, rows: &[LogRow]) {
        let config = self.gw.config.load();
        let spans: Vec<SpanData> = rows
            .iter()
            .filter_map(|row| {
                let kind = config
                    .routes
                    .provider_by_name(&row.provider)
                    .map(|i| config.routes.provider(i).kind().name());
                span_of(row, kind)
            })
            .collect();
        if spans.is_empty() {
            return;
        }
        let n = spans.len() as u64;
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.to_exporter.try_send(spans)
        {
            let before = self.dropped.fetch_add(n, Ordering::Relaxed);
            if before == 0 {
                tracing::warn!("the trace exporter falls behind; spans are dropped");
            }
        }
    }
}

/// A row's span, if the request was traced.
pub fn span_of(row: &LogRow, provider_kind: Option<&str>) -> Option<SpanData> {
    let trace_id = unhex::<16>(row.trace_id.as_deref()?)?;
    let span_id = unhex::<8>(row.span_id.as_deref()?)?;
    let parent_span_id = row.parent_span_id.as_deref().and_then(unhex::<8>);
    let operation = match row.dialect.as_str() {
        "embeddings" => OPERATION_EMBEDDINGS,
        "completions" => OPERATION_TEXT_COMPLETION,
        _ => OPERATION_CHAT,
    };
    let start = (row.ts_ms.max(0) as u64).saturating_mul(1_000_000);
    let mut attributes: Vec<(&'static str, AttrValue)> = vec![
        (GEN_AI_OPERATION_NAME, operation.into()),
        (HTTP_RESPONSE_STATUS_CODE, row.status.into()),
        (RINGBRIDGE_DIALECT, row.dialect.as_str().into()),
        (RINGBRIDGE_ATTEMPTS, u64::from(row.attempts).into()),
    ];
    if let Some(kind) = provider_kind {
        attributes.push((GEN_AI_PROVIDER_NAME, gen_ai_provider_name(kind).into()));
        attributes.push((GEN_AI_SYSTEM, gen_ai_system(kind).into()));
    }
    if !row.provider.is_empty() {
        attributes.push((RINGBRIDGE_PROVIDER, row.provider.as_str().into()));
        attributes.push((GEN_AI_REQUEST_MODEL, row.model.as_str().into()));
        attributes.push((GEN_AI_USAGE_INPUT_TOKENS, row.input_tokens.into()));
        attributes.push((GEN_AI_USAGE_OUTPUT_TOKENS, row.output_tokens.into()));
        attributes.push((RINGBRIDGE_COST_USD, (row.cost_nanos as f64 / 1e9).into()));
    }
    if let Some(key) = &row.key_id {
        attributes.push((RINGBRIDGE_KEY_ID, key.as_str().into()));
    }
    if let Some(team) = &row.team_id {
        attributes.push((RINGBRIDGE_TEAM_ID, team.as_str().into()));
    }
    let failed = row.status >= 500 || (row.status == 0 && row.error.is_some());
    Some(SpanData {
        trace_id,
        span_id,
        parent_span_id,
        name: match row.model.is_empty() {
            true => operation.to_owned(),
            false => format!("{operation} {}", row.model),
        },
        kind: SpanKind::Server,
        start_unix_nanos: start,
        end_unix_nanos: start.saturating_add(row.latency_us.saturating_mul(1000)),
        status: match (failed, &row.error) {
            (true, Some(e)) => SpanStatus::Error(e.clone()),
            (true, None) => SpanStatus::Error(format!("status {}", row.status)),
            (false, _) => SpanStatus::Unset,
        },
        attributes,
    })
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traced_row_becomes_a_genai_span() {
        let row = LogRow {
            ts_ms: 1_000,
            provider: "eu".into(),
            model: "gpt-4o".into(),
            dialect: "chat_completions".into(),
            status: 502,
            attempts: 2,
            latency_us: 1_500,
            input_tokens: 7,
            error: Some("upstream failed".into()),
            key_id: Some("vk-ci".into()),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            span_id: Some("00f067aa0ba902b7".into()),
            parent_span_id: Some("b7ad6b7169203331".into()),
            ..LogRow::default()
        };
        let span = span_of(&row, Some("openai")).unwrap();
        assert_eq!(span.name, "chat gpt-4o");
        assert_eq!(span.trace_id[0], 0x4b);
        assert_eq!(span.parent_span_id.unwrap()[7], 0x31);
        assert_eq!(
            (span.start_unix_nanos, span.end_unix_nanos),
            (1_000_000_000, 1_001_500_000)
        );
        assert_eq!(span.status, SpanStatus::Error("upstream failed".into()));
        let attr = |name| {
            span.attributes
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            attr(GEN_AI_PROVIDER_NAME),
            Some(AttrValue::Str("openai".into()))
        );
        assert_eq!(attr(GEN_AI_USAGE_INPUT_TOKENS), Some(AttrValue::Int(7)));
        assert_eq!(
            attr(RINGBRIDGE_KEY_ID),
            Some(AttrValue::Str("vk-ci".into()))
        );
        assert!(
            span_of(&LogRow::default(), None).is_none(),
            "untraced rows make no span"
        );
    }
}
