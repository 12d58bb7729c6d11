//! The request log's row for each finished API request: built from the
//! request's [`Record`] once it ends and handed to this core's queue to the
//! store thread. The request path only allocates the row and tries the
//! queue; a full queue drops the row (counted).

use std::time::Instant;

use super::error::GatewayError;
use super::exchange::{Exchange, Record};
use super::respond::RequestId;
use crate::schema::dialect::Dialect;
use crate::store::LogRow;
use crate::worker::Worker;

/// Log a request that went through the driver.
pub(super) fn finished(
    x: &Exchange<'_>,
    rec: &Record<'_>,
    error: Option<&GatewayError>,
    cost: (u64, bool),
    response_body: Option<Vec<u8>>,
) {
    let mut row = base(x.dialect, x.req.started, Some(x.id), rec.status, error);
    if let Some(k) = x.caller.virtual_key {
        let governance = &x.req.config.governance;
        for (level, holder) in governance
            .holders(&governance.keys[k])
            .into_iter()
            .flatten()
        {
            let id = Some(holder.id.clone());
            match level {
                crate::governance::Level::Key => row.key_id = id,
                crate::governance::Level::Team => row.team_id = id,
                crate::governance::Level::Customer => row.customer_id = id,
                crate::governance::Level::Model => {}
            }
        }
    }
    row.provider = rec.provider.to_owned();
    row.model = rec.model.to_owned();
    row.attempts = rec.failed_attempts + u32::from(!rec.provider.is_empty());
    row.ttfb_us = rec.ttfb.map(|t| t.as_micros() as u64);
    row.input_tokens = rec.usage.prompt_tokens;
    row.output_tokens = rec.usage.completion_tokens;
    (row.cost_nanos, row.priced) = cost;
    if let Some(t) = &x.trace {
        let hex = |bytes: &[u8]| {
            let mut out = Vec::with_capacity(2 * bytes.len());
            crate::telemetry::trace_context::push_hex(bytes, &mut out);
            String::from_utf8(out).ok()
        };
        row.trace_id = hex(&t.context.trace_id);
        row.span_id = hex(&t.span_id);
        row.parent_span_id = t.context.parent_span_id.and_then(|p| hex(&p));
    }
    if let Some(cap) = x.req.config.settings.store.log_bodies {
        row.request_body = Some(capped(x.body(), cap));
        row.response_body = response_body.map(|b| capped(&b, cap));
    }
    x.worker.gw.log.push(x.worker.index, row);
}

/// Count and log a request refused before the driver (auth, limits, a
/// bad body).
pub(super) fn refused(
    worker: &Worker,
    dialect: Dialect,
    started: Instant,
    id: Option<&RequestId>,
    error: &GatewayError,
) {
    super::exchange::record_rejection(worker, dialect, started, error.status);
    let row = base(dialect, started, id, error.status, Some(error));
    worker.gw.log.push(worker.index, row);
}

fn base(
    dialect: Dialect,
    started: Instant,
    id: Option<&RequestId>,
    status: u16,
    error: Option<&GatewayError>,
) -> LogRow {
    let elapsed = started.elapsed();
    let now_us = crate::config::calendar::unix_now_us();
    LogRow {
        ts_ms: (now_us - elapsed.as_micros() as i64).div_euclid(1000),
        finished_us: now_us,
        request_id: id.map(|i| i.lossy().into_owned()).unwrap_or_default(),
        dialect: dialect.label().to_owned(),
        status,
        latency_us: elapsed.as_micros() as u64,
        error: error.map(|e| e.message.clone()),
        ..LogRow::default()
    }
}

/// The first `cap` bytes of a body as text (cut at a character boundary).
fn capped(body: &[u8], cap: usize) -> String {
    let mut end = body.len().min(cap);
    while end > 0 && end < body.len() && (body[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::capped;

    #[test]
    fn bodies_are_cut_at_the_cap_on_a_character_boundary() {
        assert_eq!(capped(b"hello", 3), "hel");
        assert_eq!(capped("h\u{e9}llo".as_bytes(), 2), "h");
        assert_eq!(capped(b"hi", 10), "hi");
    }
}
