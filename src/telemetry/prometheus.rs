//! Merging the cores' published series and writing Prometheus text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>).
//!
//! Runs on whichever thread serves `/metrics`; it allocates freely and holds each core's slot
//! lock only while reading that slot.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Write;
use std::sync::Mutex;

use super::series::{Snapshot, Timing};

/// Upper bounds of `ringbridge_request_duration_seconds` and `ringbridge_upstream_ttfb_seconds`
/// buckets, in seconds (`+Inf` is implicit).
pub(super) const DURATION_BUCKETS_S: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Upper bounds of `ringbridge_gateway_overhead_seconds` buckets, in seconds.
pub(super) const OVERHEAD_BUCKETS_S: [f64; 11] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
];

/// Quantiles exported as `ringbridge_gateway_overhead_quantile_seconds`.
pub(super) const OVERHEAD_QUANTILES: [(f64, &str); 4] =
    [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999")];

/// Sums of the per-core atomics.
#[derive(Debug, Default)]
pub(super) struct Gauges {
    pub(super) workers: u64,
    pub(super) inflight: i64,
    pub(super) conn_open: i64,
    pub(super) conn_idle: u64,
    pub(super) conn_opened: u64,
    pub(super) conn_closed: u64,
    pub(super) conn_reused: u64,
}

pub(super) struct Build<'a> {
    pub(super) version: &'a str,
    pub(super) driver: &'a str,
}

/// Prometheus buckets filled from hdr histograms. `per_bucket[i]` counts values that fall in
/// bucket `i` alone; the last entry is the `+Inf` overflow. Rendering makes them cumulative.
#[derive(Clone)]
struct Buckets<const N: usize> {
    bounds_us: [u64; N],
    per_bucket: [u64; N],
    overflow: u64,
    count: u64,
    sum_us: u64,
}

impl<const N: usize> Buckets<N> {
    fn new(bounds_s: &[f64; N]) -> Self {
        Buckets {
            bounds_us: bounds_s.map(|s| (s * 1e6).round() as u64),
            per_bucket: [0; N],
            overflow: 0,
            count: 0,
            sum_us: 0,
        }
    }

    /// Adds a histogram. A recorded value is `<= le` when the lowest value equivalent to it at
    /// the histogram's resolution (3 significant digits) is `<= le`, i.e. the same rule as
    /// `Histogram::count_between(0, le)`; bounds below 2,048 µs are exact.
    fn add(&mut self, t: &Timing) {
        for v in t.hist.iter_recorded() {
            let low = t.hist.lowest_equivalent(v.value_iterated_to());
            let n = v.count_at_value();
            match self.bounds_us.iter().position(|&b| low <= b) {
                Some(i) => self.per_bucket[i] = self.per_bucket[i].saturating_add(n),
                None => self.overflow = self.overflow.saturating_add(n),
            }
        }
        self.count = self.count.saturating_add(t.hist.len());
        self.sum_us = self.sum_us.saturating_add(t.sum_us);
    }

    /// Writes `_bucket` lines (cumulative), `_sum` and `_count`. `labels` are written before `le`.
    fn write(&self, out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)], bounds_s: &[f64; N]) {
        let les = bounds_s.map(|b| b.to_string());
        let mut cumulative = 0u64;
        let mut le_labels: Vec<(&str, &str)> = labels.to_vec();
        le_labels.push(("le", ""));
        let last = le_labels.len() - 1;
        for (le, n) in les.iter().zip(self.per_bucket) {
            cumulative = cumulative.saturating_add(n);
            le_labels[last].1 = le;
            sample(out, name, "_bucket", &le_labels, cumulative);
        }
        le_labels[last].1 = "+Inf";
        sample(out, name, "_bucket", &le_labels, self.count);
        sample(out, name, "_sum", labels, Seconds(self.sum_us));
        sample(out, name, "_count", labels, self.count);
    }
}

/// Everything the cores published, merged across cores.
struct Merged {
    /// `(provider, model, endpoint, status)` → requests.
    requests: BTreeMap<(String, String, String, u16), u64>,
    /// `(provider, model)` → (prompt, completion) tokens.
    tokens: BTreeMap<(String, String), (u64, u64)>,
    duration: BTreeMap<String, Buckets<16>>,
    ttfb: BTreeMap<String, Buckets<16>>,
    overhead: Timing,
}

impl Merged {
    fn new() -> Merged {
        Merged {
            requests: BTreeMap::new(),
            tokens: BTreeMap::new(),
            duration: BTreeMap::new(),
            ttfb: BTreeMap::new(),
            overhead: Timing::new(),
        }
    }

    fn add(&mut self, snap: &Snapshot) {
        for set in &snap.requests {
            let (provider, model) = snap.names(set);
            let key = (
                provider.to_owned(),
                model.to_owned(),
                set.endpoint.to_string(),
                set.status,
            );
            *self.requests.entry(key).or_default() += set.count;
        }
        for m in &snap.models {
            let provider = &snap.providers[m.provider as usize].name;
            let t = self
                .tokens
                .entry((provider.to_string(), m.model.to_string()))
                .or_default();
            t.0 = t.0.saturating_add(m.prompt_tokens);
            t.1 = t.1.saturating_add(m.completion_tokens);
        }
        for p in &snap.providers {
            self.duration
                .entry(p.name.to_string())
                .or_insert_with(|| Buckets::new(&DURATION_BUCKETS_S))
                .add(&p.duration);
            self.ttfb
                .entry(p.name.to_string())
                .or_insert_with(|| Buckets::new(&DURATION_BUCKETS_S))
                .add(&p.ttfb);
        }
        self.overhead.merge(&snap.overhead);
    }
}

pub(super) fn render(
    gauges: &Gauges,
    slots: &[Mutex<Snapshot>],
    build: &Build<'_>,
    out: &mut Vec<u8>,
) {
    let mut merged = Merged::new();
    for slot in slots {
        merged.add(&super::lock(slot));
    }

    header(
        out,
        "ringbridge_requests_total",
        "counter",
        "Requests finished, by provider, model, endpoint and status.",
    );
    for ((provider, model, endpoint, status), n) in &merged.requests {
        let status = status.to_string();
        let labels = [
            ("provider", provider.as_str()),
            ("model", model.as_str()),
            ("endpoint", endpoint.as_str()),
            ("status", status.as_str()),
        ];
        sample(out, "ringbridge_requests_total", "", &labels, n);
    }

    histogram_family(
        out,
        "ringbridge_request_duration_seconds",
        "Time from request head received to response finished.",
        &merged.duration,
    );

    let name = "ringbridge_gateway_overhead_seconds";
    header(
        out,
        name,
        "histogram",
        "Request duration minus time spent awaiting the upstream.",
    );
    let mut overhead = Buckets::new(&OVERHEAD_BUCKETS_S);
    overhead.add(&merged.overhead);
    overhead.write(out, name, &[], &OVERHEAD_BUCKETS_S);

    let name = "ringbridge_gateway_overhead_quantile_seconds";
    header(
        out,
        name,
        "gauge",
        "Quantiles of ringbridge_gateway_overhead_seconds since start (NaN before any request).",
    );
    let hist = &merged.overhead.hist;
    for (q, label) in OVERHEAD_QUANTILES {
        let value = if hist.is_empty() {
            f64::NAN
        } else {
            hist.value_at_quantile(q) as f64 / 1e6
        };
        sample(out, name, "", &[("quantile", label)], Float(value));
    }

    histogram_family(
        out,
        "ringbridge_upstream_ttfb_seconds",
        "Time from request sent upstream to first response byte.",
        &merged.ttfb,
    );

    for (name, help, pick) in [
        (
            "ringbridge_prompt_tokens_total",
            "Prompt tokens reported by upstreams.",
            0,
        ),
        (
            "ringbridge_completion_tokens_total",
            "Completion tokens reported by upstreams.",
            1,
        ),
    ] {
        header(out, name, "counter", help);
        for ((provider, model), tokens) in &merged.tokens {
            let n = if pick == 0 { tokens.0 } else { tokens.1 };
            // A pair that never reported tokens of this kind (an embedding's completion
            // tokens, a request that failed before routing) has no series.
            if n == 0 {
                continue;
            }
            let labels = [("provider", provider.as_str()), ("model", model.as_str())];
            sample(out, name, "", &labels, n);
        }
    }

    let plain: [(&str, &str, &str, &dyn Display); 7] = [
        (
            "ringbridge_inflight_requests",
            "gauge",
            "Requests being served now.",
            &gauges.inflight,
        ),
        (
            "ringbridge_upstream_connections_open",
            "gauge",
            "Upstream connections open now.",
            &gauges.conn_open,
        ),
        (
            "ringbridge_upstream_connections_idle",
            "gauge",
            "Idle pooled upstream connections.",
            &gauges.conn_idle,
        ),
        (
            "ringbridge_upstream_connections_opened_total",
            "counter",
            "Upstream connections opened.",
            &gauges.conn_opened,
        ),
        (
            "ringbridge_upstream_connections_closed_total",
            "counter",
            "Upstream connections closed.",
            &gauges.conn_closed,
        ),
        (
            "ringbridge_upstream_connections_reused_total",
            "counter",
            "Requests sent on a reused pooled upstream connection.",
            &gauges.conn_reused,
        ),
        (
            "ringbridge_workers",
            "gauge",
            "Data-plane worker threads.",
            &gauges.workers,
        ),
    ];
    for (name, kind, help, value) in plain {
        header(out, name, kind, help);
        sample(out, name, "", &[], value);
    }

    let name = "ringbridge_build_info";
    header(out, name, "gauge", "Version and I/O driver; always 1.");
    let labels = [("version", build.version), ("driver", build.driver)];
    sample(out, name, "", &labels, 1);
}

fn histogram_family(
    out: &mut Vec<u8>,
    name: &str,
    help: &str,
    by_provider: &BTreeMap<String, Buckets<16>>,
) {
    header(out, name, "histogram", help);
    // A provider with no samples (e.g. `ttfb` of "none", which never reaches an upstream)
    // has no series.
    for (provider, buckets) in by_provider.iter().filter(|(_, b)| b.count > 0) {
        buckets.write(
            out,
            name,
            &[("provider", provider.as_str())],
            &DURATION_BUCKETS_S,
        );
    }
}

// Writing into a `Vec<u8>` cannot fail, so the `io::Result`s below are ignored.

pub(super) fn header(out: &mut Vec<u8>, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

pub(super) fn sample(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    value: impl Display,
) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if !labels.is_empty() {
        out.push(b'{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"=\"");
            escape_label_value(out, value);
            out.push(b'"');
        }
        out.push(b'}');
    }
    let _ = writeln!(out, " {value}");
}

/// Writes `v` with `\`, `"` and newline escaped as the exposition format requires.
pub(super) fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    let mut start = 0;
    for at in memchr::memchr3_iter(b'\\', b'"', b'\n', bytes) {
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(match bytes[at] {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            _ => b"\\n",
        });
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Microseconds displayed as seconds.
struct Seconds(u64);

impl Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Float(self.0 as f64 / 1e6).fmt(f)
    }
}

/// A float as the exposition format spells it: shortest round-trip decimal, `NaN`, `+Inf`, `-Inf`.
struct Float(f64);

impl Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{v}")
        }
    }
}
