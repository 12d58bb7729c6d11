//! `ringbridge_cost_usd_total` and the request log's own counters, kept by
//! the store thread from the rows it receives (the request path pays
//! nothing for them) and rendered with the rest of `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// `provider\0model\0key\0team` -> (nano-dollars, unpriced requests): one
/// string key, so a row that adds to a known series allocates nothing.
type Series = HashMap<String, (u64, u64)>;

#[derive(Default)]
pub struct CostMetrics {
    series: Mutex<Series>,
    /// Rows written to the store.
    pub rows_written: AtomicU64,
    /// Rows lost to a failing store (the queues' drops are counted apart).
    pub rows_failed: AtomicU64,
}

/// Most distinct series kept: model names come from clients.
const MAX_SERIES: usize = 10_000;

impl CostMetrics {
    /// Add a batch of (provider, model, key, team, nano-dollars, priced),
    /// under one lock.
    pub fn add_rows<'r>(
        &self,
        rows: impl IntoIterator<Item = (&'r str, &'r str, &'r str, &'r str, u64, bool)>,
    ) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut id = String::with_capacity(96);
        for (provider, model, key, team, nanos, priced) in rows {
            if provider.is_empty() {
                continue;
            }
            id.clear();
            for (i, part) in [provider, model, key, team].into_iter().enumerate() {
                if i > 0 {
                    id.push('\0');
                }
                id.push_str(part);
            }
            if !series.contains_key(id.as_str()) {
                if series.len() >= MAX_SERIES {
                    continue;
                }
                series.insert(id.clone(), (0, 0));
            }
            let Some(entry) = series.get_mut(id.as_str()) else {
                continue;
            };
            entry.0 += nanos;
            entry.1 += u64::from(!priced);
        }
    }

    /// The Prometheus text, with `dropped` rows from the queues.
    pub fn render(&self, dropped: u64, out: &mut Vec<u8>) {
        let mut text = String::new();
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted: Vec<(Vec<&str>, &(u64, u64))> = series
            .iter()
            .map(|(id, v)| (id.split('\0').collect(), v))
            .collect();
        sorted.sort();
        text.push_str("# HELP ringbridge_cost_usd_total Spend in USD from each request's usage and the pricing table.\n# TYPE ringbridge_cost_usd_total counter\n");
        for (id, (nanos, _)) in &sorted {
            let [provider, model, key, team] = id[..] else {
                continue;
            };
            let _ = writeln!(
                text,
                "ringbridge_cost_usd_total{{provider=\"{}\",model=\"{}\",key=\"{}\",team=\"{}\"}} {}",
                escape(provider),
                escape(model),
                escape(key),
                escape(team),
                *nanos as f64 / 1e9
            );
        }
        text.push_str("# HELP ringbridge_unpriced_requests_total Requests to a model without a known price (counted at cost 0).\n# TYPE ringbridge_unpriced_requests_total counter\n");
        for (id, (_, unpriced)) in sorted.iter().filter(|(_, v)| v.1 > 0) {
            let [provider, model, key, team] = id[..] else {
                continue;
            };
            let _ = writeln!(
                text,
                "ringbridge_unpriced_requests_total{{provider=\"{}\",model=\"{}\",key=\"{}\",team=\"{}\"}} {unpriced}",
                escape(provider),
                escape(model),
                escape(key),
                escape(team),
            );
        }
        let _ = write!(
            text,
            "# HELP ringbridge_log_rows_dropped_total Request-log rows dropped because a core's queue to the store was full.\n# TYPE ringbridge_log_rows_dropped_total counter\nringbridge_log_rows_dropped_total {dropped}\n\
             # HELP ringbridge_log_rows_written_total Request-log rows written to the store.\n# TYPE ringbridge_log_rows_written_total counter\nringbridge_log_rows_written_total {}\n\
             # HELP ringbridge_log_rows_failed_total Request-log rows lost because the store refused or could not take them.\n# TYPE ringbridge_log_rows_failed_total counter\nringbridge_log_rows_failed_total {}\n",
            self.rows_written.load(Ordering::Relaxed),
            self.rows_failed.load(Ordering::Relaxed),
        );
        out.extend_from_slice(text.as_bytes());
    }
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_add_up_per_series_and_render_escaped() {
        let m = CostMetrics::default();
        m.add_rows([
            ("openai", "gpt-4o", "vk-ci", "eng", 1_500_000, true),
            ("openai", "gpt-4o", "vk-ci", "eng", 500_000, true),
            ("mock", "a\"b", "", "", 0, false),
            ("", "refused", "", "", 0, false),
        ]);
        let mut out = Vec::new();
        m.render(3, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("ringbridge_cost_usd_total{provider=\"openai\",model=\"gpt-4o\",key=\"vk-ci\",team=\"eng\"} 0.002\n"), "{text}");
        assert!(text.contains("ringbridge_unpriced_requests_total{provider=\"mock\",model=\"a\\\"b\",key=\"\",team=\"\"} 1\n"));
        assert!(text.contains("ringbridge_log_rows_dropped_total 3\n"));
        assert!(!text.contains("model=\"refused\""));
    }
}
