//! Per-core request metrics and their Prometheus exposition; traces: W3C trace context
//! ([`trace_context`]) and span export over OTLP ([`otlp`]).
//!
//! The data plane never shares a counter it writes on every request:
//!
//! - [`Registry`] is created once and shared (`Arc`) by every worker and the metrics endpoint.
//!   It owns, per worker, a cache-line-padded block of atomics for the unlabelled numbers
//!   (in-flight requests, upstream connections) and a `Mutex` slot holding that worker's last
//!   published labelled series.
//! - [`CoreMetrics`] is taken once inside each worker thread (`!Send`). [`CoreMetrics::record`]
//!   writes labelled counters and `hdrhistogram`s in a core-local `RefCell`: no atomic, no lock,
//!   no syscall, and no allocation once the label set has been seen.
//! - A per-core timer calls [`CoreMetrics::publish`] every [`PUBLISH_INTERVAL_MS`] (and the
//!   worker serving `/metrics` calls it before rendering); it copies the core-local series into
//!   that core's slot under the slot's `Mutex`, which only [`Registry::render_prometheus`] ever
//!   contends for.
//! - [`Registry::render_prometheus`] locks each slot in turn, merges, and writes text exposition
//!   format 0.0.4. Other cores' figures are therefore up to one publish interval old.
//!
//! Label cardinality is bounded per core: see [`MAX_LABEL_SETS`], [`MAX_MODEL_LABEL_BYTES`] and
//! [`MAX_PROVIDERS`].

pub mod cost;
pub mod otlp;
mod prometheus;
mod series;
pub mod trace_context;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use series::{
    MAX_LABEL_SETS, MAX_MODEL_LABEL_BYTES, MAX_MODEL_LABEL_LEN, MAX_PROVIDERS, NO_PROVIDER_LABEL,
    OVERFLOW_LABEL,
};

/// How often each worker should call [`CoreMetrics::publish`], in milliseconds.
pub const PUBLISH_INTERVAL_MS: u64 = 500;

/// One finished request, as the connection loop hands it to [`CoreMetrics::record`].
#[derive(Debug, Clone, Copy)]
pub struct RequestRecord<'a> {
    /// Provider the request was routed to; `""` when it never reached routing (e.g. a 400
    /// before routing), rendered as the label `"none"`.
    pub provider: &'a str,
    /// Upstream model name as the client asked for it (after the `provider/` prefix).
    pub model: &'a str,
    /// `"chat_completions"`, `"completions"`, `"embeddings"`, `"models"` or `"other"`.
    pub endpoint: &'a str,
    /// Status sent to the client.
    pub status: u16,
    /// Request head received to response finished.
    pub total: Duration,
    /// Time spent awaiting the upstream (connect, reads). `total - upstream_wait` is the
    /// gateway's own overhead.
    pub upstream_wait: Duration,
    /// Request sent to first response byte from the upstream; `None` when nothing was sent.
    pub upstream_ttfb: Option<Duration>,
    /// Prompt tokens reported by the upstream (0 if unknown).
    pub prompt_tokens: u64,
    /// Completion tokens reported by the upstream (0 if unknown).
    pub completion_tokens: u64,
}

/// Metrics shared by all workers: per-core atomics, per-core published slots, build info.
pub struct Registry {
    gauges: Box<[CoreGauges]>,
    slots: Box<[Mutex<series::Snapshot>]>,
    build_info: Mutex<BuildInfo>,
}

struct BuildInfo {
    version: String,
    driver: String,
}

/// One core's unlabelled numbers. Only the owning worker writes them (see [`bump`]); the
/// renderer reads them. 128-byte alignment keeps two cores' blocks off the same cache line
/// and off adjacent-line prefetch pairs.
#[repr(align(128))]
#[derive(Default)]
struct CoreGauges {
    /// Set while a [`CoreMetrics`] for this worker exists.
    claimed: AtomicBool,
    inflight: AtomicI64,
    conn_open: AtomicI64,
    conn_idle: AtomicU64,
    conn_opened: AtomicU64,
    conn_closed: AtomicU64,
    conn_reused: AtomicU64,
}

/// Adds `delta` to a cell that only the owning core writes.
///
/// A plain load and store suffices, without a locked read-modify-write: [`Registry::core`]
/// hands out at most one live [`CoreMetrics`] per worker and it is `!Send`, so every write to
/// this cell comes from one thread; readers on other threads see the old or the new value.
fn bump_i64(cell: &AtomicI64, delta: i64) {
    cell.store(cell.load(Relaxed).wrapping_add(delta), Relaxed);
}

/// [`bump_i64`] for unsigned counters.
fn bump_u64(cell: &AtomicU64) {
    cell.store(cell.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Locks a slot, ignoring poisoning: the data is plain counters, valid at every step.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    /// Creates the registry for `workers` data-plane threads.
    pub fn new(workers: usize) -> Arc<Registry> {
        Arc::new(Registry {
            gauges: (0..workers).map(|_| CoreGauges::default()).collect(),
            slots: (0..workers)
                .map(|_| Mutex::new(series::Snapshot::default()))
                .collect(),
            build_info: Mutex::new(BuildInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                driver: "unknown".to_owned(),
            }),
        })
    }

    /// Number of workers this registry was created for.
    pub fn workers(&self) -> usize {
        self.gauges.len()
    }

    /// Returns worker `worker`'s handle. Call it once, inside that worker's thread.
    ///
    /// The handle starts from the worker's last published series, so counters stay monotonic if
    /// a worker is restarted after its previous handle was dropped.
    ///
    /// # Panics
    ///
    /// If `worker >= workers`, or if a handle for this worker is still alive (two writers
    /// would break the single-writer counters and overwrite each other's slot).
    pub fn core(self: &Arc<Self>, worker: usize) -> CoreMetrics {
        let gauges = &self.gauges[worker];
        assert!(
            !gauges.claimed.swap(true, Acquire),
            "telemetry: CoreMetrics for worker {worker} taken twice"
        );
        let local = series::Series::resume(&lock(&self.slots[worker]));
        CoreMetrics {
            core: Rc::new(Core {
                registry: Arc::clone(self),
                worker,
                series: RefCell::new(local),
            }),
        }
    }

    /// Records the version and I/O driver (`"io_uring"` or `"epoll"`) for `ringbridge_build_info`.
    pub fn set_build_info(&self, version: &str, driver: &str) {
        let mut info = lock(&self.build_info);
        info.version = version.to_owned();
        info.driver = driver.to_owned();
    }

    /// Merges every core's last published data and renders Prometheus text exposition format
    /// 0.0.4 into `out` (appending).
    pub fn render_prometheus(&self, out: &mut Vec<u8>) {
        let info = lock(&self.build_info);
        let build = prometheus::Build {
            version: &info.version,
            driver: &info.driver,
        };
        prometheus::render(&self.gauges_view(), &self.slots, &build, out);
    }

    fn gauges_view(&self) -> prometheus::Gauges {
        let mut g = prometheus::Gauges {
            workers: self.gauges.len() as u64,
            ..Default::default()
        };
        for c in self.gauges.iter() {
            g.inflight += c.inflight.load(Relaxed);
            g.conn_open += c.conn_open.load(Relaxed);
            g.conn_idle += c.conn_idle.load(Relaxed);
            g.conn_opened += c.conn_opened.load(Relaxed);
            g.conn_closed += c.conn_closed.load(Relaxed);
            g.conn_reused += c.conn_reused.load(Relaxed);
        }
        g
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("workers", &self.gauges.len())
            .finish_non_exhaustive()
    }
}

/// One worker's metrics handle. `!Send`; cloning shares the same core-local state.
#[derive(Clone)]
pub struct CoreMetrics {
    core: Rc<Core>,
}

struct Core {
    registry: Arc<Registry>,
    worker: usize,
    series: RefCell<series::Series>,
}

impl Core {
    fn gauges(&self) -> &CoreGauges {
        &self.registry.gauges[self.worker]
    }

    fn publish(&self) {
        let mut local = self.series.borrow_mut();
        let mut slot = lock(&self.registry.slots[self.worker]);
        local.publish_into(&mut slot);
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.publish();
        self.gauges().claimed.store(false, Release);
    }
}

impl CoreMetrics {
    /// The worker index this handle belongs to.
    pub fn worker(&self) -> usize {
        self.core.worker
    }

    /// Counts one finished request. No lock, no atomic, no syscall; allocates only the first
    /// time a label set is seen on this core.
    pub fn record(&self, r: &RequestRecord<'_>) {
        self.core.series.borrow_mut().record(r);
    }

    /// Counts one request in flight until the guard drops.
    pub fn inflight(&self) -> InflightGuard {
        bump_i64(&self.core.gauges().inflight, 1);
        InflightGuard {
            core: Rc::clone(&self.core),
        }
    }

    /// An upstream connection was opened: counts it and raises the open gauge.
    pub fn upstream_connection_opened(&self) {
        let g = self.core.gauges();
        bump_u64(&g.conn_opened);
        bump_i64(&g.conn_open, 1);
    }

    /// An upstream connection was closed: counts it and lowers the open gauge.
    pub fn upstream_connection_closed(&self) {
        let g = self.core.gauges();
        bump_u64(&g.conn_closed);
        bump_i64(&g.conn_open, -1);
    }

    /// A pooled upstream connection was reused for a request.
    pub fn upstream_connection_reused(&self) {
        bump_u64(&self.core.gauges().conn_reused);
    }

    /// Sets the number of idle pooled upstream connections on this core.
    pub fn set_upstream_idle(&self, idle: usize) {
        self.core.gauges().conn_idle.store(idle as u64, Relaxed);
    }

    /// Copies this core's labelled counters and histograms into its shared slot (takes the
    /// slot's `Mutex`). Call from a per-core timer every [`PUBLISH_INTERVAL_MS`] and before
    /// rendering; never per request. Histograms unchanged since the last publish are skipped;
    /// a changed one costs a memset and a memcpy of its ~184 KiB of counts.
    pub fn publish(&self) {
        self.core.publish();
    }
}

impl fmt::Debug for CoreMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreMetrics")
            .field("worker", &self.core.worker)
            .finish_non_exhaustive()
    }
}

/// Keeps one request counted in `ringbridge_inflight_requests` until dropped. `!Send`: drop it
/// on the worker that created it.
pub struct InflightGuard {
    core: Rc<Core>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        bump_i64(&self.core.gauges().inflight, -1);
    }
}

impl fmt::Debug for InflightGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InflightGuard")
            .field("worker", &self.core.worker)
            .finish()
    }
}

/// One gauge family's `# HELP`/`# TYPE` lines, for gauges kept outside the
/// registry (the router's health state).
pub fn push_gauge_header(out: &mut Vec<u8>, name: &str, help: &str) {
    prometheus::header(out, name, "gauge", help);
}

/// One gauge sample, label values escaped.
pub fn push_gauge_sample(
    out: &mut Vec<u8>,
    name: &str,
    labels: &[(&str, &str)],
    value: impl std::fmt::Display,
) {
    prometheus::sample(out, name, "", labels, value);
}

#[cfg(test)]
mod tests;
