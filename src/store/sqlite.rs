//! The SQLite backend: one file, WAL journal, `synchronous=NORMAL` (a power
//! loss may drop the last commits, never corrupt the file), a 2 s busy
//! timeout so two connections to the same file wait for each other instead
//! of failing. The schema version lives in `PRAGMA user_version`; `open`
//! applies the missing numbered migrations in one write transaction.
//! SQLite is compiled in (`rusqlite`'s `bundled`): no system library needed.

use std::path::Path;
use std::time::Duration;

use rusqlite::{ffi, Connection, ErrorCode, Row, ToSql, TransactionBehavior};

use super::rollup;
use super::sql::{self, LogLookup, Placeholder, SqlParam};
use super::{
    EntityKind, LogFilter, LogPage, LogRow, Store, StoreError, StoredEntity, StoredLogRow,
    UsageQuery, UsageRow,
};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Numbered migrations: `MIGRATIONS[n]` takes the schema from version `n` to
/// `n + 1`. Append only; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the request log, entities, spend and the entities version.
    "CREATE TABLE ringbridge_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        key_id TEXT,
        team_id TEXT,
        customer_id TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        dialect TEXT NOT NULL,
        status INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        latency_us INTEGER NOT NULL,
        ttfb_us INTEGER,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost_nanos INTEGER NOT NULL,
        priced INTEGER NOT NULL,
        error TEXT,
        request_body TEXT,
        response_body TEXT,
        trace_id TEXT,
        span_id TEXT
    );
    -- Each index costs every insert about a microsecond of the store
    -- thread's time (loadtest/bench-governance.sh): only the time range and
    -- the two filters a page of logs is most often asked for have one; the
    -- others scan newest first and stop at a page.
    CREATE INDEX ringbridge_logs_ts ON ringbridge_logs (ts_ms);
    CREATE INDEX ringbridge_logs_key ON ringbridge_logs (key_id, id);
    CREATE INDEX ringbridge_logs_team ON ringbridge_logs (team_id, id);
    CREATE TABLE ringbridge_entities (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        secret_hash BLOB,
        doc TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    );
    -- NULLs are distinct in a SQLite unique index: only set hashes collide.
    CREATE UNIQUE INDEX ringbridge_entities_secret_hash ON ringbridge_entities (secret_hash);
    CREATE TABLE ringbridge_spend (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        spent_nanos INTEGER NOT NULL,
        PRIMARY KEY (kind, id, period_start)
    );
    CREATE TABLE ringbridge_meta (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        entities_version INTEGER NOT NULL
    );
    INSERT INTO ringbridge_meta (singleton, entities_version) VALUES (1, 0);",
    // 2: the log without AUTOINCREMENT and without indexes, and usage
    // totals per hour (`store::rollup`) written with each batch. A bucket
    // keeps the span of log ids its rows have, which serves as the log's
    // index for time, key, team, customer, provider and model; each index
    // on the log cost ~0.4 us per row, and one per key a dirty page per
    // active key per batch (`cargo bench --bench store`). Ids stay rising
    // after a prune empties the log through `log_id_floor`.
    "CREATE TABLE ringbridge_logs_v2 (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        key_id TEXT,
        team_id TEXT,
        customer_id TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        dialect TEXT NOT NULL,
        status INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        latency_us INTEGER NOT NULL,
        ttfb_us INTEGER,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost_nanos INTEGER NOT NULL,
        priced INTEGER NOT NULL,
        error TEXT,
        request_body TEXT,
        response_body TEXT,
        trace_id TEXT,
        span_id TEXT
    );
    INSERT INTO ringbridge_logs_v2 SELECT * FROM ringbridge_logs;
    ALTER TABLE ringbridge_meta ADD COLUMN log_id_floor INTEGER NOT NULL DEFAULT 0;
    UPDATE ringbridge_meta SET log_id_floor = COALESCE(
        (SELECT seq FROM sqlite_sequence WHERE name = 'ringbridge_logs'), 0);
    DROP TABLE ringbridge_logs;
    ALTER TABLE ringbridge_logs_v2 RENAME TO ringbridge_logs;
    CREATE TABLE ringbridge_usage (
        hour_ms INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost_nanos INTEGER NOT NULL,
        unpriced INTEGER NOT NULL,
        min_id INTEGER,
        max_id INTEGER,
        PRIMARY KEY (hour_ms, key_id, team_id, customer_id, provider, model)
    ) WITHOUT ROWID;
    INSERT INTO ringbridge_usage (hour_ms, key_id, team_id, customer_id, provider, model,
        requests, errors, input_tokens, output_tokens, cached_tokens, cost_nanos, unpriced,
        min_id, max_id)
    SELECT (ts_ms / 3600000) * 3600000, COALESCE(key_id, ''), COALESCE(team_id, ''),
        COALESCE(customer_id, ''), provider, model, COUNT(*),
        SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END),
        SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cost_nanos),
        SUM(CASE WHEN priced THEN 0 ELSE 1 END), MIN(id), MAX(id)
    FROM ringbridge_logs
    GROUP BY 1, 2, 3, 4, 5, 6;",
];

/// The id the next log row gets: past every row there is, and past every
/// row a prune removed.
const NEXT_LOG_ID: &str = "SELECT MAX(COALESCE((SELECT MAX(id) FROM ringbridge_logs), 0), \
     log_id_floor) + 1 FROM ringbridge_meta";

const KEEP_LOG_ID_FLOOR: &str = "UPDATE ringbridge_meta SET log_id_floor = \
     MAX(log_id_floor, COALESCE((SELECT MAX(id) FROM ringbridge_logs), 0))";

/// A [`Store`] on one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    insert_log_sql: String,
    upsert_usage_sql: String,
    /// How many migrations `open` applied (0 when the file was current).
    migrations_applied: usize,
}

/// Opens (creating if needed) the database file at `path`, sets WAL mode
/// and applies pending migrations. A file whose schema is newer than this
/// build knows is refused rather than misread.
pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
    let mut conn = Connection::open(path)
        .map_err(|err| StoreError::Unavailable(format!("cannot open {}: {err}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let journal_mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) cannot share memory for WAL;
        // SQLite keeps the old journal, which is slower but correct.
        tracing::warn!(path = %path.display(), journal_mode, "SQLite store is not in WAL mode");
    }
    // NORMAL: WAL commits without fsync (a crash may lose the last batch,
    // never corrupt the file). The log has no index, so inserts touch only
    // its last pages and the usage buckets: 4 MiB of page cache is plenty
    // (16 MiB made the gateway's RSS grow by as much under load).
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -4096")?;
    let migrations_applied = migrate(&mut conn)?;
    Ok(SqliteStore {
        conn,
        insert_log_sql: sql::insert_log(Placeholder::Question),
        upsert_usage_sql: sql::upsert_usage(Placeholder::Question),
        migrations_applied,
    })
}

/// Applies `MIGRATIONS` beyond `user_version`, all in one IMMEDIATE
/// transaction: a second process opening the same file at the same time
/// waits on the write lock, then finds the schema current.
fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Other(format!(
            "SQLite schema version {current} is newer than this build's {}",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[current..] {
        tx.execute_batch(migration)?;
    }
    // PRAGMA takes no bound parameters; the value is our own constant.
    tx.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))?;
    tx.commit()?;
    Ok(MIGRATIONS.len() - current)
}

impl SqliteStore {
    /// The schema version of the open file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// How many migrations `open` applied: 0 when the file was current.
    pub fn migrations_applied(&self) -> usize {
        self.migrations_applied
    }
}

fn bind(params: &[SqlParam]) -> Vec<&dyn ToSql> {
    params
        .iter()
        .map(|param| match param {
            SqlParam::Int(value) => value as &dyn ToSql,
            SqlParam::Text(value) => value as &dyn ToSql,
        })
        .collect()
}

/// Reads `id, LOG_COLUMNS...` in `sql::LOG_COLUMNS` order.
fn stored_log_row(row: &Row<'_>) -> rusqlite::Result<StoredLogRow> {
    Ok(StoredLogRow {
        id: row.get(0)?,
        row: LogRow {
            ts_ms: row.get(1)?,
            request_id: row.get(2)?,
            key_id: row.get(3)?,
            team_id: row.get(4)?,
            customer_id: row.get(5)?,
            provider: row.get(6)?,
            model: row.get(7)?,
            dialect: row.get(8)?,
            status: sql::to_u16(row.get(9)?),
            attempts: sql::to_u32(row.get(10)?),
            latency_us: sql::to_u64(row.get(11)?),
            ttfb_us: row.get::<_, Option<i64>>(12)?.map(sql::to_u64),
            input_tokens: sql::to_u64(row.get(13)?),
            output_tokens: sql::to_u64(row.get(14)?),
            cached_tokens: sql::to_u64(row.get(15)?),
            cost_nanos: sql::to_u64(row.get(16)?),
            priced: row.get(17)?,
            error: row.get(18)?,
            request_body: row.get(19)?,
            response_body: row.get(20)?,
            trace_id: row.get(21)?,
            span_id: row.get(22)?,
            parent_span_id: None,
            finished_us: 0,
        },
    })
}

fn usage_row(row: &Row<'_>) -> rusqlite::Result<UsageRow> {
    Ok(UsageRow {
        group: row.get(0)?,
        requests: sql::to_u64(row.get(1)?),
        errors: sql::to_u64(row.get(2)?),
        input_tokens: sql::to_u64(row.get(3)?),
        output_tokens: sql::to_u64(row.get(4)?),
        cached_tokens: sql::to_u64(row.get(5)?),
        cost_nanos: sql::to_u64(row.get(6)?),
        unpriced: sql::to_u64(row.get(7)?),
    })
}

type RawEntity = (String, String, Option<Vec<u8>>, String, i64, i64);

fn raw_entity(row: &Row<'_>) -> rusqlite::Result<RawEntity> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn insert_logs(&mut self, rows: &[LogRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            // The write lock is ours: the ids from here on are the batch's.
            let first_id: i64 = tx
                .prepare_cached(NEXT_LOG_ID)?
                .query_row([], |row| row.get(0))?;
            let mut insert = tx.prepare_cached(&self.insert_log_sql)?;
            for (id, row) in (first_id..).zip(rows) {
                insert.execute(rusqlite::params![
                    id,
                    row.ts_ms,
                    row.request_id,
                    row.key_id,
                    row.team_id,
                    row.customer_id,
                    row.provider,
                    row.model,
                    row.dialect,
                    i64::from(row.status),
                    i64::from(row.attempts),
                    sql::to_i64(row.latency_us),
                    row.ttfb_us.map(sql::to_i64),
                    sql::to_i64(row.input_tokens),
                    sql::to_i64(row.output_tokens),
                    sql::to_i64(row.cached_tokens),
                    sql::to_i64(row.cost_nanos),
                    row.priced,
                    row.error,
                    row.request_body,
                    row.response_body,
                    row.trace_id,
                    row.span_id,
                ])?;
            }
            let mut add_usage = tx.prepare_cached(&self.upsert_usage_sql)?;
            for b in rollup::hourly(rows, Some(first_id)) {
                add_usage.execute(rusqlite::params![
                    b.hour_ms,
                    b.key_id,
                    b.team_id,
                    b.customer_id,
                    b.provider,
                    b.model,
                    sql::to_i64(b.requests),
                    sql::to_i64(b.errors),
                    sql::to_i64(b.input_tokens),
                    sql::to_i64(b.output_tokens),
                    sql::to_i64(b.cached_tokens),
                    sql::to_i64(b.cost_nanos),
                    sql::to_i64(b.unpriced),
                    b.min_id,
                    b.max_id,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn query_logs(&mut self, filter: &LogFilter) -> Result<LogPage, StoreError> {
        let statement = sql::query_logs(filter, Placeholder::Question, LogLookup::UsageSpans);
        let mut query = self.conn.prepare_cached(&statement.sql)?;
        let rows = query
            .query_map(&*bind(&statement.params), stored_log_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let page_full = rows.len() == sql::page_rows(filter) as usize;
        let next_before = if page_full {
            rows.last().map(|last| last.id)
        } else {
            None
        };
        Ok(LogPage { rows, next_before })
    }

    fn usage(&mut self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let statement = sql::usage(query, Placeholder::Question, LogLookup::UsageSpans);
        let mut select = self.conn.prepare_cached(&statement.sql)?;
        let rows = select
            .query_map(&*bind(&statement.params), usage_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn prune_logs(
        &mut self,
        older_than_ms: Option<i64>,
        max_rows: Option<u64>,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Whatever goes, the next id stays above it.
        tx.execute(KEEP_LOG_ID_FLOOR, [])?;
        let mut deleted = 0;
        if let Some(older_than) = older_than_ms {
            let by_age = sql::prune_older_than(Placeholder::Question, LogLookup::UsageSpans);
            deleted += tx.execute(&by_age, [older_than])?;
        }
        if let Some(max_rows) = max_rows {
            deleted += tx.execute(
                &sql::prune_beyond_count(Placeholder::Question),
                [sql::to_i64(max_rows)],
            )?;
        }
        tx.commit()?;
        Ok(deleted as u64)
    }

    fn prune_usage(&mut self, older_than_ms: i64) -> Result<u64, StoreError> {
        let sql = sql::prune_usage_older_than(Placeholder::Question);
        Ok(self.conn.execute(&sql, [older_than_ms])? as u64)
    }

    fn entities(&mut self) -> Result<Vec<StoredEntity>, StoreError> {
        let mut select = self.conn.prepare_cached(sql::SELECT_ENTITIES)?;
        let raw = select
            .query_map([], raw_entity)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|(kind, id, secret_hash, doc, created_ms, updated_ms)| {
                Ok(StoredEntity {
                    kind: sql::parse_kind(&kind)?,
                    id,
                    secret_hash: sql::parse_secret_hash(secret_hash)?,
                    doc,
                    created_ms,
                    updated_ms,
                })
            })
            .collect()
    }

    fn entities_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(sql::SELECT_ENTITIES_VERSION, [], |row| row.get(0))?)
    }

    fn put_entity(&mut self, entity: &StoredEntity) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(&sql::upsert_entity(Placeholder::Question))?
            .execute(rusqlite::params![
                entity.kind.as_str(),
                entity.id,
                entity.secret_hash.as_ref().map(|hash| &hash[..]),
                entity.doc,
                entity.created_ms,
                entity.updated_ms,
            ])?;
        tx.execute(sql::BUMP_ENTITIES_VERSION, [])?;
        tx.commit()?;
        Ok(())
    }

    fn delete_entity(&mut self, kind: EntityKind, id: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = tx.execute(
            &sql::delete_entity(Placeholder::Question),
            [kind.as_str(), id],
        )?;
        if deleted > 0 {
            tx.execute(sql::BUMP_ENTITIES_VERSION, [])?;
        }
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn add_spend(
        &mut self,
        kind: EntityKind,
        id: &str,
        period_start: i64,
        delta_nanos: u64,
    ) -> Result<u64, StoreError> {
        // One statement, so atomic on its own, even across processes.
        let total: i64 = self
            .conn
            .prepare_cached(&sql::add_spend(Placeholder::Question))?
            .query_row(
                rusqlite::params![kind.as_str(), id, period_start, sql::to_i64(delta_nanos)],
                |row| row.get(0),
            )?;
        Ok(sql::to_u64(total))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        let message = err.to_string();
        match &err {
            rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::ConstraintViolation
                    if matches!(
                        failure.extended_code,
                        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
                {
                    StoreError::Conflict(message)
                }
                // Still locked after the busy timeout, or the file went away.
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull => StoreError::Unavailable(message),
                _ => StoreError::Other(message),
            },
            _ => StoreError::Other(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::conformance;

    /// A database file in the temp dir, removed (with its WAL and shared
    /// memory files) when dropped.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let file = format!("ringbridge-store-{}-{n}-{name}.sqlite", std::process::id());
            let db = TempDb(std::env::temp_dir().join(file));
            db.remove();
            db
        }

        fn open(&self) -> SqliteStore {
            open(&self.0).expect("open the SQLite store")
        }

        fn remove(&self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            self.remove();
        }
    }

    #[test]
    fn sqlite_passes_the_whole_conformance_suite_on_one_store() {
        let db = TempDb::new("all");
        let mut store = db.open();
        assert_eq!(store.backend(), "sqlite");
        conformance::run_all(&mut store);
    }

    #[test]
    fn sqlite_log_rows_round_trip_exactly() {
        let db = TempDb::new("round-trip");
        conformance::log_rows_round_trip_exactly(&mut db.open());
    }

    #[test]
    fn sqlite_filters_select_exactly_the_matching_rows() {
        let db = TempDb::new("filters");
        conformance::filters_select_exactly_the_matching_rows(&mut db.open());
    }

    #[test]
    fn sqlite_pages_cover_every_row_once() {
        let db = TempDb::new("pages");
        conformance::pages_cover_every_row_once(&mut db.open());
    }

    #[test]
    fn sqlite_usage_totals_match_a_model_of_the_rows() {
        let db = TempDb::new("usage");
        conformance::usage_totals_match_a_model_of_the_rows(&mut db.open());
    }

    #[test]
    fn sqlite_usage_over_hours_adds_rollup_and_edges_exactly() {
        let db = TempDb::new("usage-hours");
        conformance::usage_over_hours_adds_rollup_and_edges_exactly(&mut db.open());
    }

    #[test]
    fn sqlite_prune_removes_by_age_then_by_count() {
        let db = TempDb::new("prune");
        conformance::prune_removes_by_age_then_by_count(&mut db.open());
    }

    #[test]
    fn sqlite_entities_are_replaced_deleted_and_versioned() {
        let db = TempDb::new("entities");
        conformance::entities_are_replaced_deleted_and_versioned(&mut db.open());
    }

    #[test]
    fn sqlite_spend_accumulates_per_entity_and_period() {
        let db = TempDb::new("spend");
        conformance::spend_accumulates_per_entity_and_period(&mut db.open());
    }

    #[test]
    fn reopening_keeps_the_data_and_applies_no_migration_twice() {
        let db = TempDb::new("reopen");
        let row = LogRow {
            request_id: "kept".into(),
            error: Some("a NUL \0 survives in SQLite".to_string()),
            ..LogRow::default()
        };
        let key = StoredEntity {
            kind: EntityKind::Key,
            id: "k".into(),
            secret_hash: Some([9; 32]),
            doc: "{}".into(),
            created_ms: 1,
            updated_ms: 2,
        };
        {
            let mut store = db.open();
            assert_eq!(store.migrations_applied(), MIGRATIONS.len());
            assert_eq!(store.schema_version(), Ok(MIGRATIONS.len() as i64));
            store.insert_logs(std::slice::from_ref(&row)).unwrap();
            store.put_entity(&key).unwrap();
            assert_eq!(store.add_spend(EntityKind::Key, "k", 0, 40), Ok(40));
        }
        let mut store = db.open();
        assert_eq!(store.migrations_applied(), 0);
        assert_eq!(store.schema_version(), Ok(MIGRATIONS.len() as i64));
        let page = store
            .query_logs(&LogFilter {
                limit: 10,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(page.rows.len(), 1);
        assert_eq!(page.rows[0].row, row);
        assert_eq!(store.entities(), Ok(vec![key]));
        assert_eq!(store.entities_version(), Ok(1));
        assert_eq!(store.add_spend(EntityKind::Key, "k", 0, 2), Ok(42));
        let journal: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn a_version_one_file_gets_its_usage_rolled_up_from_the_log() {
        let db = TempDb::new("v1");
        {
            let conn = Connection::open(&db.0).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch("PRAGMA user_version = 1").unwrap();
        }
        // Rows written by a version-one build, straight into the table.
        let rows: Vec<LogRow> = (0..30)
            .map(|i| LogRow {
                ts_ms: 1_700_000_000_000 + i * 600_000,
                key_id: (i % 3 != 0).then(|| format!("k{}", i % 2)),
                provider: "openai".into(),
                model: "m".into(),
                status: if i % 5 == 0 { 500 } else { 200 },
                input_tokens: 10,
                output_tokens: 1,
                cost_nanos: 7,
                priced: i % 4 != 0,
                ..LogRow::default()
            })
            .collect();
        {
            let conn = Connection::open(&db.0).unwrap();
            for r in &rows {
                conn.execute(
                    "INSERT INTO ringbridge_logs (ts_ms, request_id, key_id, provider, model, \
                     dialect, status, attempts, latency_us, input_tokens, output_tokens, \
                     cached_tokens, cost_nanos, priced) \
                     VALUES (?1, '', ?2, ?3, ?4, '', ?5, 1, 0, ?6, ?7, 0, ?8, ?9)",
                    rusqlite::params![
                        r.ts_ms,
                        r.key_id,
                        r.provider,
                        r.model,
                        r.status,
                        r.input_tokens as i64,
                        r.output_tokens as i64,
                        r.cost_nanos as i64,
                        r.priced
                    ],
                )
                .unwrap();
            }
        }
        let mut store = db.open();
        assert_eq!(store.migrations_applied(), MIGRATIONS.len() - 1);
        let by_key = |store: &mut SqliteStore, since_ms| {
            store
                .usage(&UsageQuery {
                    since_ms,
                    until_ms: None,
                    group_by: super::super::GroupBy::Key,
                })
                .unwrap()
        };
        // Whole hours only (from the rollup) and with a partial first hour.
        for since in [None, Some(1_700_000_000_000 + 3_000_000)] {
            let kept: Vec<&LogRow> = rows
                .iter()
                .filter(|r| since.is_none_or(|s| r.ts_ms >= s))
                .collect();
            let usage = by_key(&mut store, since);
            let requests: u64 = usage.iter().map(|u| u.requests).sum();
            let errors: u64 = usage.iter().map(|u| u.errors).sum();
            let unpriced: u64 = usage.iter().map(|u| u.unpriced).sum();
            assert_eq!(requests, kept.len() as u64);
            assert_eq!(
                errors,
                kept.iter().filter(|r| r.status == 500).count() as u64
            );
            assert_eq!(unpriced, kept.iter().filter(|r| !r.priced).count() as u64);
            assert_eq!(usage.last().unwrap().group, None);
        }
        let hours: i64 = store
            .conn
            .query_row(
                "SELECT COUNT(DISTINCT hour_ms) FROM ringbridge_usage",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(hours >= 5, "{hours}");
        // The backfilled buckets lead to the old rows.
        let k1 = store
            .query_logs(&LogFilter {
                key_id: Some("k1".into()),
                since_ms: Some(1_700_000_000_000 + 3_000_000),
                limit: 100,
                ..LogFilter::default()
            })
            .unwrap();
        let expected = rows
            .iter()
            .filter(|r| r.key_id.as_deref() == Some("k1") && r.ts_ms >= 1_700_003_000_000)
            .count();
        assert_eq!(k1.rows.len(), expected);
        assert!(expected > 0);
        // Ids go on from AUTOINCREMENT's, even once the log is emptied.
        store.prune_logs(None, Some(0)).unwrap();
        store.insert_logs(&rows[..1]).unwrap();
        let page = store
            .query_logs(&LogFilter {
                limit: 10,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(page.rows[0].id, 31);
    }

    #[test]
    fn a_schema_newer_than_this_build_is_refused() {
        let db = TempDb::new("newer");
        let store = db.open();
        let newer = MIGRATIONS.len() + 1;
        store
            .conn
            .execute_batch(&format!("PRAGMA user_version = {newer}"))
            .unwrap();
        drop(store);
        match open(&db.0) {
            Err(StoreError::Other(message)) => assert!(message.contains("newer"), "{message}"),
            Err(other) => panic!("expected Other, got {other:?}"),
            Ok(_) => panic!("a newer schema was opened"),
        }
    }

    #[test]
    fn two_connections_add_spend_without_losing_an_update() {
        let db = TempDb::new("shared");
        drop(db.open());
        let adders: Vec<_> = (0..2)
            .map(|_| {
                let mut store = db.open();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        store.add_spend(EntityKind::Team, "t", 7, 3).unwrap();
                    }
                    store
                        .put_entity(&StoredEntity {
                            kind: EntityKind::Team,
                            id: "t".into(),
                            secret_hash: None,
                            doc: "{}".into(),
                            created_ms: 0,
                            updated_ms: 0,
                        })
                        .unwrap();
                })
            })
            .collect();
        for adder in adders {
            adder.join().unwrap();
        }
        let mut store = db.open();
        assert_eq!(
            store.add_spend(EntityKind::Team, "t", 7, 0),
            Ok(2 * 200 * 3)
        );
        assert_eq!(store.entities_version(), Ok(2));
    }

    #[test]
    fn an_unopenable_path_is_unavailable() {
        let path = std::env::temp_dir()
            .join("ringbridge-no-such-dir")
            .join("x")
            .join("db.sqlite");
        assert!(matches!(open(&path), Err(StoreError::Unavailable(_))));
    }
}
