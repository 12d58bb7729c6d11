//! Per-core and gateway-wide state the request path reads: [`Gateway`] is
//! shared by every core and immutable apart from atomics and snapshot swaps;
//! [`Worker`] is one core's own. It sits below `api` so routing, limits and
//! governance can own per-core state without importing the HTTP side.

pub mod admin_calls;
pub mod capacity;
pub mod drain;
pub mod models;
pub mod reload;
pub mod snapshot;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Settings;
use crate::router::CoreRouting;
use crate::store::queue::LogQueues;
use crate::telemetry::cost::CostMetrics;
use crate::telemetry::{CoreMetrics, Registry};
use crate::upstream::{DnsCache, Pools};
use capacity::{Capacity, IdleConnections};
use drain::Drain;
use snapshot::{CoreSnapshot, Held, Published};

/// Shared by all workers and the control plane.
pub struct Gateway {
    /// Settings, routes and inbound keys; a request holds one snapshot.
    pub config: Published,
    /// Worker count, fixed at start.
    pub workers: usize,
    /// The served model list, replaced by the control plane.
    pub models: ArcSwap<models::ModelList>,
    pub registry: Arc<Registry>,
    pub dns: Arc<DnsCache>,
    pub tls: Arc<rustls::ClientConfig>,
    /// Workers whose listener is bound and accepting.
    pub workers_ready: AtomicUsize,
    /// Set by SIGINT/SIGTERM.
    pub shutdown: Arc<AtomicBool>,
    /// Open client connections and buffered body bytes, against their limits.
    pub capacity: Capacity,
    /// Configuration reloads asked for and their outcomes.
    pub reloads: reload::Reloads,
    /// Finished requests' log rows, one queue per core, to the store thread.
    pub log: LogQueues,
    /// Admin calls for the store thread and their answers.
    pub admin_calls: admin_calls::AdminCalls,
    /// Spend by provider, model, key and team; the log's own counters.
    pub costs: CostMetrics,
    /// Set once the workers are gone: the store thread drains and stops.
    pub store_stop: AtomicBool,
}

impl Gateway {
    pub fn new(
        settings: Settings,
        registry: Arc<Registry>,
        shutdown: Arc<AtomicBool>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        let capacity = Capacity::new(
            settings
                .limits
                .max_connections
                .unwrap_or(capacity::DEFAULT_MAX_CONNECTIONS),
            settings.limits.max_buffered_body_bytes,
        );
        let log = LogQueues::new(settings.workers, settings.store.queue_rows);
        Self {
            capacity,
            workers: settings.workers,
            config: Published::new(settings),
            models: ArcSwap::from_pointee(models::ModelList::new(&[], Vec::new())),
            registry,
            dns: Arc::new(DnsCache::new()),
            tls,
            workers_ready: AtomicUsize::new(0),
            shutdown,
            reloads: reload::Reloads::default(),
            log,
            admin_calls: admin_calls::AdminCalls::default(),
            costs: CostMetrics::default(),
            store_stop: AtomicBool::new(false),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.workers_ready.load(Ordering::Acquire) >= self.workers && !self.shutting_down()
    }

    pub fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// Who sends a request, as inbound auth established it: what budgets,
/// limits and request logs attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caller {
    /// Index of the plain inbound key presented (`[auth] keys`); `None`
    /// when inbound auth is off or the key is a virtual one.
    pub key: Option<usize>,
    /// Index of the virtual key presented (`Snapshot::governance.keys`).
    pub virtual_key: Option<usize>,
}

/// One core's state: its pools, metrics and counters. `!Send` on purpose.
pub struct Worker {
    pub gw: Arc<Gateway>,
    /// This core's number, 0-based (its log queue).
    pub index: usize,
    pub pools: Pools,
    pub metrics: Rc<CoreMetrics>,
    /// Requests being handled on this core (graceful shutdown waits for 0).
    pub active_requests: Cell<usize>,
    /// This core's client connections, for closing the longest idle first.
    pub idle: IdleConnections,
    /// Cuts this core's requests in flight when a shutdown drain runs out.
    pub drain: Drain,
    /// The router's per-core state (key rotation).
    pub routing: CoreRouting,
    /// This core's cached copy of the published configuration.
    config: CoreSnapshot,
    /// Free list of upstream request buffers.
    spare_bufs: RefCell<Vec<Vec<u8>>>,
    /// Large client read buffers, kept for the next large body.
    spare_read_bufs: RefCell<Vec<Vec<u8>>>,
}

/// Bytes of large read buffers a core keeps between requests.
const SPARE_READ_BUF_BYTES: usize = 32 * 1024 * 1024;

/// Buffers kept on a worker's free list, and the largest kept.
const SPARE_BUFS: usize = 64;
const SPARE_BUF_MAX_BYTES: usize = 1024 * 1024;

impl Worker {
    pub fn new(gw: Arc<Gateway>, index: usize) -> Self {
        let metrics = Rc::new(gw.registry.core(index));
        let pools = Pools::new(gw.tls.clone(), gw.dns.clone(), metrics.clone());
        Self {
            index,
            pools,
            metrics,
            active_requests: Cell::new(0),
            idle: IdleConnections::default(),
            drain: Drain::default(),
            routing: CoreRouting::new(index),
            config: CoreSnapshot::new(&gw.config),
            spare_bufs: RefCell::new(Vec::new()),
            spare_read_bufs: RefCell::new(Vec::new()),
            gw,
        }
    }

    /// The configuration a request starting now holds to its end.
    pub fn config(&self) -> Held {
        self.config.get(&self.gw.config)
    }

    /// An empty buffer from this core's free list.
    pub fn take_buf(&self) -> Vec<u8> {
        self.spare_bufs
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(16 * 1024))
    }

    /// Return a buffer to the free list (huge ones are freed instead).
    pub fn give_buf(&self, mut buf: Vec<u8>) {
        let mut spare = self.spare_bufs.borrow_mut();
        if spare.len() < SPARE_BUFS && buf.capacity() <= SPARE_BUF_MAX_BYTES {
            buf.clear();
            spare.push(buf);
        }
    }

    /// An empty kept read buffer of at least `bytes`, the smallest that fits.
    pub fn take_read_buf(&self, bytes: usize) -> Option<Vec<u8>> {
        let mut spare = self.spare_read_bufs.borrow_mut();
        let best = spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= bytes)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        Some(spare.swap_remove(best))
    }

    /// Keep a large read buffer for the next large body, within this core's
    /// budget (the oldest kept go first).
    pub fn keep_read_buf(&self, mut buf: Vec<u8>) {
        if buf.capacity() > SPARE_READ_BUF_BYTES {
            return;
        }
        buf.clear();
        let mut spare = self.spare_read_bufs.borrow_mut();
        spare.push(buf);
        let mut total: usize = spare.iter().map(Vec::capacity).sum();
        while total > SPARE_READ_BUF_BYTES {
            total -= spare.remove(0).capacity();
        }
    }

    /// 64 random bits; for request ids, not for secrets.
    pub fn random(&self) -> u64 {
        self.routing.random()
    }
}
