//! The store thread, part of the control plane: it writes the workers'
//! log rows to the store in batches, serves the admin API's store calls,
//! keeps budget spend in step with the store (and through it with other
//! instances), notices keys made by other instances, and prunes old rows.
//! Anything here may block; no worker ever waits on it. A store that is
//! slow or down costs log rows (counted), never a request.

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::calendar::{unix_now, unix_now_ms};
use crate::config::{StoreBackend, StoreSettings};
use crate::governance::admin::{self, Admin, Answer, SystemRandom};
use crate::governance::ApiEntities;
use crate::store::{LogRow, Store, StoreError};
use crate::worker::admin_calls::AdminCall;
use crate::worker::Gateway;

/// Rows written in one transaction, at most. Larger batches spread each
/// commit's page writes over more rows (bench-governance.sh: 2,048 rows
/// 0.925 of logging off, 8,192 rows 0.955); at 50k requests a second a
/// batch fills in about 160 ms, within `FLUSH_EVERY`.
const MAX_BATCH: usize = 8192;
/// Longest a row waits for its batch.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Budgets with new spend are synced this often; all of them (to learn
/// other instances' spend) every `SPEND_READ_EVERY`.
const SPEND_SYNC_EVERY: Duration = Duration::from_secs(1);
const SPEND_READ_EVERY: Duration = Duration::from_secs(3);
/// How often the store is asked whether another instance changed a key.
const ENTITY_POLL_EVERY: Duration = Duration::from_secs(2);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Between attempts to reach a store that is down.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);
/// A failing store is logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(30);
const IDLE: Duration = Duration::from_millis(5);

/// Opens the configured backend (again, after it failed).
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn Store>, StoreError> + Send>;

/// What the thread does with each batch of rows besides storing them.
pub trait RowSink: Send {
    fn rows(&mut self, rows: &[LogRow]);
    /// Called every loop; for sinks that flush on their own clock.
    fn tick(&mut self) {}
}

/// Open the store and publish what the admin API made before any worker
/// serves (so API-made keys work from the first request); then run the
/// thread. A SQLite file that cannot be opened stops the start (a wrong
/// path or permission is a configuration error); a Postgres server that
/// cannot be reached now is retried in the background.
/// `spare_cores`: cores no worker is pinned to; the thread keeps to them
/// (when there are any) so its batches never preempt a worker.
pub fn start(
    gw: Arc<Gateway>,
    sinks: Vec<Box<dyn RowSink>>,
    spare_cores: Vec<usize>,
) -> Result<JoinHandle<()>, String> {
    let mut state = State::new(gw.clone(), sinks);
    let backend = state.settings.backend.clone();
    let mut opener: Option<Opener> = match &backend {
        StoreBackend::Off => None,
        backend => {
            let backend = backend.clone();
            Some(Box::new(move || crate::store::open(&backend)))
        }
    };
    if let Some(open) = opener.as_mut() {
        if let Err(e) = state.connect(open) {
            if let StoreBackend::Sqlite(path) = &backend {
                return Err(format!("cannot open the store {}: {e}", path.display()));
            }
        }
    }
    std::thread::Builder::new()
        .name("ringbridge-store".into())
        .spawn(move || state.run(opener, spare_cores))
        .map_err(|e| format!("cannot start the store thread: {e}"))
}

struct State {
    gw: Arc<Gateway>,
    receivers: Vec<Receiver<LogRow>>,
    store: Option<Box<dyn Store>>,
    settings: StoreSettings,
    batch: Vec<LogRow>,
    /// How many rows of `batch` the cost series and sinks have seen.
    reported: usize,
    sinks: Vec<Box<dyn RowSink>>,
    version: Option<i64>,
    random: SystemRandom,
    last_flush: Instant,
    last_spend_sync: Instant,
    last_spend_read: Instant,
    last_poll: Instant,
    last_prune: Instant,
    last_connect: Instant,
    last_warning: Option<Instant>,
    /// Rows the queues had dropped when last reported, and when.
    dropped_reported: (u64, Instant),
}

impl State {
    fn new(gw: Arc<Gateway>, sinks: Vec<Box<dyn RowSink>>) -> Self {
        let now = Instant::now();
        let settings = gw.config.load().settings.store.clone();
        Self {
            receivers: gw.log.take_receivers().unwrap_or_default(),
            gw,
            store: None,
            settings,
            // Grows to `MAX_BATCH` only under load.
            batch: Vec::new(),
            reported: 0,
            sinks,
            version: None,
            random: SystemRandom::default(),
            last_flush: now,
            last_spend_sync: now,
            last_spend_read: now - SPEND_READ_EVERY,
            last_poll: now,
            last_prune: now - PRUNE_EVERY + Duration::from_secs(5),
            last_connect: now,
            last_warning: None,
            dropped_reported: (0, now),
        }
    }

    fn run(mut self, mut opener: Option<Opener>, spare_cores: Vec<usize>) {
        lower_priority();
        super::pin_to_cores(&spare_cores);
        loop {
            let stopping = self
                .gw
                .store_stop
                .load(std::sync::atomic::Ordering::Acquire);
            // Rows arriving one by one are no reason to stay awake: the
            // thread sleeps between drains unless it just wrote a full
            // batch (a backlog), so under load it wakes ~200 times a second
            // instead of spinning on the queues (its CPU is the workers').
            self.drain_rows();
            let mut busy = self.serve_admin_calls();
            let full = self.batch.len() >= MAX_BATCH;
            // Without a store the rows only feed the cost series and spans:
            // no reason to let the batch (and its memory) grow.
            let due = self.last_flush.elapsed() >= FLUSH_EVERY
                || self.settings.backend == StoreBackend::Off;
            if full || (!self.batch.is_empty() && due) {
                busy |= self.flush() && full;
            }
            for sink in &mut self.sinks {
                sink.tick();
            }
            if self.store.is_none() {
                if let Some(open) = opener.as_mut() {
                    if self.last_connect.elapsed() >= RECONNECT_EVERY {
                        let _ = self.connect(open);
                    }
                }
            }
            if stopping || self.last_spend_sync.elapsed() >= SPEND_SYNC_EVERY {
                let all = self.last_spend_read.elapsed() >= SPEND_READ_EVERY;
                self.sync_spend(all);
            }
            if self.last_poll.elapsed() >= ENTITY_POLL_EVERY {
                self.poll_entities();
            }
            if self.last_prune.elapsed() >= PRUNE_EVERY {
                self.prune();
            }
            self.report_dropped();
            if stopping {
                // Every row the workers queued, batch by batch.
                loop {
                    self.drain_rows();
                    if self.batch.is_empty() {
                        return;
                    }
                    if !self.flush() {
                        self.give_up_batch();
                        return;
                    }
                }
            }
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
    }

    /// Open the backend; on success load what the admin API made.
    fn connect(&mut self, open: &mut Opener) -> Result<(), StoreError> {
        self.last_connect = Instant::now();
        match open() {
            Ok(store) => {
                tracing::info!(backend = store.backend(), "store open");
                self.store = Some(store);
                self.last_warning = None;
                self.poll_entities();
                self.sync_spend(true);
                Ok(())
            }
            Err(e) => {
                self.warn("cannot open the store; retrying", &e);
                Err(e)
            }
        }
    }

    /// Move every waiting row into the batch, past `MAX_BATCH` (shutdown
    /// only); whether there were any.
    fn drain_more(&mut self) -> bool {
        let before = self.batch.len();
        for rx in &self.receivers {
            self.batch.extend(rx.try_iter());
        }
        self.batch.len() > before
    }

    /// Move waiting rows into the batch, up to `MAX_BATCH`.
    fn drain_rows(&mut self) {
        for rx in &self.receivers {
            while self.batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(row) => self.batch.push(row),
                    Err(_) => break,
                }
            }
        }
    }

    /// Write the batch. While the store is unreachable the batch is kept
    /// (and the queues fill behind it), so a short outage, a restart or a
    /// failover of the server, loses nothing; only rows the full queues
    /// cannot take are dropped.
    /// Returns whether the batch went (written, or cleared).
    fn flush(&mut self) -> bool {
        self.last_flush = Instant::now();
        if self.batch.is_empty() {
            return false;
        }
        self.report_batch();
        let n = self.batch.len() as u64;
        let result = match self.store.as_mut() {
            Some(store) => store.insert_logs(&self.batch),
            None if self.settings.backend == StoreBackend::Off => {
                self.batch.clear();
                self.reported = 0;
                return true;
            }
            None => return false,
        };
        use std::sync::atomic::Ordering::Relaxed;
        match result {
            Ok(()) => {
                self.gw.costs.rows_written.fetch_add(n, Relaxed);
            }
            Err(e @ StoreError::Unavailable(_)) => {
                // Kept for the next connection.
                self.failed("the store is unreachable; log rows wait for it", e);
                return false;
            }
            Err(e) => {
                self.gw.costs.rows_failed.fetch_add(n, Relaxed);
                self.failed("log rows lost: the store did not take them", e);
            }
        }
        self.batch.clear();
        self.reported = 0;
        true
    }

    /// The batch's rows not yet counted in the cost series and handed to
    /// the sinks (spans), in the order their requests finished.
    fn report_batch(&mut self) {
        if self.reported == self.batch.len() {
            return;
        }
        let fresh = &mut self.batch[self.reported..];
        // Each core's queue is already in completion order: the stable sort
        // finds one run per core and merges them, moving few rows.
        fresh.sort_by_key(|r| r.finished_us);
        self.gw.costs.add_rows(fresh.iter().map(|row| {
            (
                row.provider.as_str(),
                row.model.as_str(),
                row.key_id.as_deref().unwrap_or(""),
                row.team_id.as_deref().unwrap_or(""),
                row.cost_nanos,
                row.priced,
            )
        }));
        for sink in &mut self.sinks {
            sink.rows(fresh);
        }
        self.reported = self.batch.len();
    }

    /// At shutdown with the store unreachable: what is left, in the batch
    /// and the queues, is lost, counted.
    fn give_up_batch(&mut self) {
        while self.drain_more() {}
        if self.batch.is_empty() {
            return;
        }
        self.report_batch();
        let n = self.batch.len() as u64;
        self.gw
            .costs
            .rows_failed
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(
            rows = n,
            "shutting down with the store unreachable; log rows lost"
        );
        self.batch.clear();
        self.reported = 0;
    }

    /// After a failed call: warn (at most every `WARN_EVERY`), and let go of
    /// a store that is unreachable, to reconnect later.
    fn failed(&mut self, what: &str, e: StoreError) {
        self.warn(what, &e);
        if matches!(e, StoreError::Unavailable(_)) && self.store.is_some() {
            self.store = None;
            self.last_connect = Instant::now();
        }
    }

    fn warn(&mut self, what: &str, e: &StoreError) {
        let quiet = self
            .last_warning
            .is_some_and(|at| at.elapsed() < WARN_EVERY);
        if !quiet {
            let dropped = self.gw.log.dropped();
            tracing::warn!(error = %e, rows_dropped_by_queues = dropped, "{what}");
            self.last_warning = Some(Instant::now());
        }
    }

    /// Say, at most every `WARN_EVERY`, how many rows the full queues
    /// dropped since the last time (a store too slow for the traffic).
    fn report_dropped(&mut self) {
        let (before, at) = self.dropped_reported;
        if at.elapsed() < WARN_EVERY {
            return;
        }
        let now = self.gw.log.dropped();
        if now > before {
            tracing::warn!(
                rows = now - before,
                total = now,
                "request-log rows dropped: the store falls behind (see [store] queue_rows)"
            );
        }
        self.dropped_reported = (now, Instant::now());
    }

    /// Add each budget's new spend to the store's total and take back the
    /// total every instance reported; with `all`, also budgets with no new
    /// spend here (to learn what the others spent).
    fn sync_spend(&mut self, all: bool) {
        self.last_spend_sync = Instant::now();
        if all {
            self.last_spend_read = Instant::now();
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let config = self.gw.config.load();
        let now = unix_now();
        let mut failure = None;
        for (kind, id, budget) in config.governance.budgets() {
            let (period, delta) = budget.take_unsynced(now);
            if delta == 0 && !all {
                continue;
            }
            match store.add_spend(kind, id, period, delta) {
                Ok(total) => budget.set_synced(period, total),
                Err(e) => {
                    budget.untake(period, delta);
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            self.failed("budget spend not synced with the store", e);
        }
    }

    /// Publish the entities anew when the store's version moved (a change
    /// by another instance, or the first load).
    fn poll_entities(&mut self) {
        self.last_poll = Instant::now();
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let loaded = store
            .entities_version()
            .and_then(|v| match self.version == Some(v) {
                true => Ok(None),
                false => admin::load(store.as_mut()).map(|e| Some((v, e))),
            });
        match loaded {
            Ok(None) => {}
            Ok(Some((version, entities))) => {
                let first = self.version.is_none();
                self.version = Some(version);
                let empty = entities.keys.is_empty()
                    && entities.teams.is_empty()
                    && entities.customers.is_empty();
                if first && empty {
                    // Nothing made through the API yet: the snapshot has it right.
                    return;
                }
                let generation = self.gw.config.publish_entities(entities);
                tracing::debug!(
                    generation,
                    version,
                    "keys, teams and customers from the store published"
                );
            }
            Err(e) => self.failed("cannot read keys from the store", e),
        }
    }

    fn prune(&mut self) {
        self.last_prune = Instant::now();
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let now = unix_now_ms();
        let age = |kept: Option<Duration>| kept.map(|r| now - r.as_millis() as i64);
        let older_than = age(self.settings.retention);
        let pruned = if older_than.is_some() || self.settings.max_rows.is_some() {
            store.prune_logs(older_than, self.settings.max_rows)
        } else {
            Ok(0)
        };
        let pruned = pruned.and_then(|rows| {
            let hours = match age(self.settings.usage_retention) {
                Some(older_than) => store.prune_usage(older_than)?,
                None => 0,
            };
            Ok((rows, hours))
        });
        match pruned {
            Ok((0, 0)) => {}
            Ok((rows, hours)) => {
                tracing::info!(rows, usage_hours = hours, "old request-log rows pruned")
            }
            Err(e) => self.failed("pruning the request log failed", e),
        }
    }

    fn serve_admin_calls(&mut self) -> bool {
        let calls = self.gw.admin_calls.take_waiting();
        if calls.is_empty() {
            return false;
        }
        for (ticket, call) in calls {
            let answer = self.serve(call);
            self.gw.admin_calls.answered(ticket, answer);
        }
        true
    }

    fn serve(&mut self, call: AdminCall) -> Answer {
        let Some(store) = self.store.as_mut() else {
            let why = match self.settings.backend {
                StoreBackend::Off => {
                    "the store is off (`store = false`): keys, teams, customers and logs are not kept"
                }
                _ => "the store is unavailable; see the gateway's log",
            };
            return Answer::error(503, "store_unavailable", why);
        };
        match call {
            AdminCall::Logs(filter) => {
                return match store.query_logs(&filter) {
                    Ok(page) => Answer {
                        status: 200,
                        body: crate::store::report::page_json(&page),
                    },
                    Err(e) => e.into(),
                }
            }
            AdminCall::Usage(query) => {
                return match store.usage(&query) {
                    Ok(rows) => Answer {
                        status: 200,
                        body: crate::store::report::usage_json(&query, &rows),
                    },
                    Err(e) => e.into(),
                }
            }
            _ => {}
        }
        let config = self.gw.config.load();
        let current: &ApiEntities = &config.api_entities;
        let mut admin = Admin {
            store: store.as_mut(),
            governance: &config.governance,
            current,
            now_ms: unix_now_ms(),
        };
        let (answer, next) = match call {
            AdminCall::List(kind) => (admin.list(kind), None),
            AdminCall::Get(kind, id) => (admin.get(kind, &id), None),
            AdminCall::Create(kind, body) => admin.create(kind, &body, &mut self.random),
            AdminCall::Update(kind, id, patch) => admin.update(kind, &id, &patch),
            AdminCall::Delete(kind, id) => admin.delete(kind, &id),
            AdminCall::Logs(_) | AdminCall::Usage(_) => unreachable!("served above"),
        };
        if let Some(next) = next {
            // Our own change: note the version so the poll does not load it again.
            self.version = store.entities_version().ok();
            self.gw.config.publish_entities(next);
        }
        answer
    }
}

/// Where the store thread and the workers share a core, the workers come
/// first: the store catches up when they wait (its queues hold seconds of
/// rows), and drops rows, counted, only when they never do.
pub(super) fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread's own id.
    let failed = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, STORE_NICE) != 0
    };
    if failed {
        tracing::debug!("could not lower the store thread's priority");
    }
}

/// `nice` of the control plane's store and export threads.
const STORE_NICE: libc::c_int = 10;
