//! The embedded store: request-log rows, API-made virtual keys, teams and
//! customers, and budget spend. SQLite by default (`sqlite`), Postgres when
//! configured (`postgres`); one schema, one [`Store`] trait. Only the control
//! plane's store thread calls it: every method may block.

pub mod queue;
pub mod report;
pub mod rollup;

use std::fmt;

#[cfg(test)]
mod conformance;
pub mod postgres;
mod sql;
pub mod sqlite;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;

/// One finished request, as the request log keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRow {
    /// Unix milliseconds when the request arrived.
    pub ts_ms: i64,
    pub request_id: String,
    /// Virtual key, team and customer ids (`None`: no virtual key).
    pub key_id: Option<String>,
    pub team_id: Option<String>,
    pub customer_id: Option<String>,
    /// Provider name as configured and model as sent upstream (empty when
    /// the request was refused before a candidate was chosen).
    pub provider: String,
    pub model: String,
    /// The client's dialect (`Dialect::label`): "chat", "messages", ...
    pub dialect: String,
    pub status: u16,
    /// Attempts made (1 when the first candidate answered).
    pub attempts: u32,
    pub latency_us: u64,
    pub ttfb_us: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of `input_tokens`, read from a provider's prompt cache.
    pub cached_tokens: u64,
    /// USD in nano-dollars (1e-9).
    pub cost_nanos: u64,
    /// False when no price was known for the model (cost 0).
    pub priced: bool,
    pub error: Option<String>,
    /// Only when body logging is on, capped.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    /// W3C trace context of the request's span (hex), for joining with traces.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// The client's span (from its `traceparent`); exported with the span,
    /// not stored.
    pub parent_span_id: Option<String>,
    /// Unix microseconds when the request finished: orders a batch by
    /// completion; not stored (0 when read back).
    pub finished_us: i64,
}

/// A row as read back, with its store id (newest first in pages).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLogRow {
    pub id: i64,
    pub row: LogRow,
}

/// `GET /admin/logs` filters; every `Some` must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    /// Inclusive lower and exclusive upper bound on `ts_ms`.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub key_id: Option<String>,
    pub team_id: Option<String>,
    pub customer_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: Option<u16>,
    /// Only rows with an id below this (the previous page's `next_before`).
    pub before_id: Option<i64>,
    /// Page size, 1..=1000.
    pub limit: u32,
}

/// One page of rows, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogPage {
    pub rows: Vec<StoredLogRow>,
    /// Pass as `before_id` for the next page; `None` on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Key,
    Team,
    Customer,
    Provider,
    Model,
}

/// `GET /admin/usage`: totals over `[since_ms, until_ms)` grouped by one column.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub group_by: GroupBy,
}

/// Totals of one group (`group: None` for rows without that column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub group: Option<String>,
    pub requests: u64,
    /// Rows whose status was not 2xx.
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_nanos: u64,
    /// Rows with `priced == false`.
    pub unpriced: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Key,
    Team,
    Customer,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Key => "key",
            EntityKind::Team => "team",
            EntityKind::Customer => "customer",
        }
    }
}

/// A key, team or customer made through the admin API. `doc` is its JSON
/// description (name, team_id, models, rate_limit, budget, expires_at,
/// disabled, ...) as the admin API defines it; the store keeps it opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntity {
    pub kind: EntityKind,
    pub id: String,
    /// Keys only: SHA-256 of the secret. Unique among keys.
    pub secret_hash: Option<[u8; 32]>,
    pub doc: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Why a store call failed; the message never holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store cannot be reached or opened (retry later).
    Unavailable(String),
    /// A uniqueness rule was broken (same id, same secret hash).
    Conflict(String),
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            StoreError::Conflict(m) => write!(f, "conflict: {m}"),
            StoreError::Other(m) => write!(f, "store error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Open the configured backend (`None` for `store = false`), running its
/// migrations.
pub fn open(backend: &crate::config::StoreBackend) -> Result<Box<dyn Store>, StoreError> {
    use crate::config::StoreBackend;
    match backend {
        StoreBackend::Off => Err(StoreError::Other("the store is off".into())),
        StoreBackend::Sqlite(path) => Ok(Box::new(sqlite::open(path)?)),
        StoreBackend::Postgres(url, None) => Ok(Box::new(postgres::connect(url.expose())?)),
        StoreBackend::Postgres(url, Some(schema)) => Ok(Box::new(postgres::connect_with_schema(
            url.expose(),
            schema,
        )?)),
    }
}

/// What the store thread needs of a backend. Opening a backend runs its
/// schema migrations.
pub trait Store: Send {
    /// Which backend, for logs and metrics: "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Append rows in one transaction.
    fn insert_logs(&mut self, rows: &[LogRow]) -> Result<(), StoreError>;
    fn query_logs(&mut self, filter: &LogFilter) -> Result<LogPage, StoreError>;
    /// Totals per group, largest cost first.
    fn usage(&mut self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;
    /// Delete rows older than `older_than_ms`, then the oldest beyond
    /// `max_rows`; returns how many went.
    fn prune_logs(
        &mut self,
        older_than_ms: Option<i64>,
        max_rows: Option<u64>,
    ) -> Result<u64, StoreError>;
    /// Delete usage hours that ended before `older_than_ms`; returns how
    /// many went. Kept apart from the log's pruning: usage is small and
    /// outlives the rows it sums.
    fn prune_usage(&mut self, older_than_ms: i64) -> Result<u64, StoreError>;
    fn entities(&mut self) -> Result<Vec<StoredEntity>, StoreError>;
    /// Bumped by every `put_entity` and every `delete_entity` that deleted
    /// something, by any instance sharing the store: a cheap "did anything
    /// change" poll. A refused put (a conflict) does not bump it.
    fn entities_version(&mut self) -> Result<i64, StoreError>;
    /// Insert, or replace the entity of the same kind and id.
    fn put_entity(&mut self, entity: &StoredEntity) -> Result<(), StoreError>;
    /// Whether it existed.
    fn delete_entity(&mut self, kind: EntityKind, id: &str) -> Result<bool, StoreError>;
    /// Add `delta_nanos` to the spend of (kind, id) in the period starting
    /// at `period_start` (Unix seconds; 0 for "never resets") and return
    /// the total after the addition, as all instances sharing the store
    /// have added to it (atomic in the backend).
    fn add_spend(
        &mut self,
        kind: EntityKind,
        id: &str,
        period_start: i64,
        delta_nanos: u64,
    ) -> Result<u64, StoreError>;
}
