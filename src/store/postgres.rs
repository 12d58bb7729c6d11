//! The Postgres backend, for several gateways sharing one store. Sync
//! `postgres` client without TLS (`NoTls`): use it over loopback or a
//! private network only; a URL asking for `sslmode=require` fails to
//! connect. Tables carry a `ringbridge_` prefix since the database may be
//! shared; `connect_with_schema` puts them in a schema of their own.
//!
//! Migrations are numbered; the applied count lives in `ringbridge_schema`,
//! and `connect` applies the missing ones in one transaction holding a
//! transaction-scoped advisory lock, so gateways starting together take
//! turns. Log batches go in with one binary `COPY`; spend is added with an
//! `INSERT .. ON CONFLICT DO UPDATE .. RETURNING`, atomic across instances.
//!
//! Errors are rebuilt from the server's message and SQLSTATE, with the
//! URL's password scrubbed; a lost connection is `Unavailable`, and the
//! next call reconnects.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};

use super::rollup;
use super::sql::{self, LogLookup, Placeholder, SqlParam};
use super::{
    EntityKind, LogFilter, LogPage, LogRow, Store, StoreError, StoredEntity, StoredLogRow,
    UsageQuery, UsageRow,
};

/// Used when the URL sets no `connect_timeout`: the store thread should
/// learn that the server is away, not hang on it.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `pg_advisory_xact_lock` key that serialises migrations: "rbschema"
/// in ASCII, unlikely to collide with another application's key.
const MIGRATION_LOCK_KEY: i64 = 0x7262_7363_6865_6d61;

/// Prepared statements kept per connection; the set of distinct statements
/// is small (log filters combine into at most a few hundred), so a full
/// cache is simply emptied.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Numbered migrations: `MIGRATIONS[n]` takes the schema from version `n` to
/// `n + 1`. Append only; never edit one that has shipped. The SQLite twin
/// in `sqlite.rs` has the same tables with SQLite's types.
const MIGRATIONS: &[&str] = &[
    // 1: the request log, entities, spend and the entities version.
    "CREATE TABLE ringbridge_logs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts_ms BIGINT NOT NULL,
        request_id TEXT NOT NULL,
        key_id TEXT,
        team_id TEXT,
        customer_id TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        dialect TEXT NOT NULL,
        status BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        latency_us BIGINT NOT NULL,
        ttfb_us BIGINT,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL,
        cost_nanos BIGINT NOT NULL,
        priced BOOLEAN NOT NULL,
        error TEXT,
        request_body TEXT,
        response_body TEXT,
        trace_id TEXT,
        span_id TEXT
    );
    CREATE INDEX ringbridge_logs_ts ON ringbridge_logs (ts_ms);
    CREATE INDEX ringbridge_logs_key ON ringbridge_logs (key_id, id);
    CREATE INDEX ringbridge_logs_team ON ringbridge_logs (team_id, id);
    CREATE INDEX ringbridge_logs_customer ON ringbridge_logs (customer_id, id);
    CREATE INDEX ringbridge_logs_provider_model ON ringbridge_logs (provider, model, id);
    CREATE INDEX ringbridge_logs_status ON ringbridge_logs (status, id);
    CREATE TABLE ringbridge_entities (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        -- UNIQUE treats NULLs as distinct: only set hashes collide.
        secret_hash BYTEA UNIQUE,
        doc TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE ringbridge_spend (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        period_start BIGINT NOT NULL,
        spent_nanos BIGINT NOT NULL,
        PRIMARY KEY (kind, id, period_start)
    );
    CREATE TABLE ringbridge_meta (
        singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
        entities_version BIGINT NOT NULL
    );
    INSERT INTO ringbridge_meta (entities_version) VALUES (0);",
    // 2: usage totals per hour (`store::rollup`), written with each batch;
    // usage reports read them.
    "CREATE TABLE ringbridge_usage (
        hour_ms BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        team_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL,
        cost_nanos BIGINT NOT NULL,
        unpriced BIGINT NOT NULL,
        -- The log ids the bucket's rows span; NULL here, where the log
        -- keeps indexes of its own and COPY does not say which ids it gave.
        min_id BIGINT,
        max_id BIGINT,
        PRIMARY KEY (hour_ms, key_id, team_id, customer_id, provider, model)
    );
    INSERT INTO ringbridge_usage (hour_ms, key_id, team_id, customer_id, provider, model,
        requests, errors, input_tokens, output_tokens, cached_tokens, cost_nanos, unpriced,
        min_id, max_id)
    SELECT (ts_ms / 3600000) * 3600000, COALESCE(key_id, ''), COALESCE(team_id, ''),
        COALESCE(customer_id, ''), provider, model, COUNT(*),
        SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END),
        SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cost_nanos),
        SUM(CASE WHEN priced THEN 0 ELSE 1 END), NULL, NULL
    FROM ringbridge_logs
    GROUP BY 1, 2, 3, 4, 5, 6;",
];

/// Column types of `sql::LOG_COLUMNS`, in order, for the binary `COPY`.
const LOG_COLUMN_TYPES: [Type; 22] = [
    Type::INT8, // ts_ms
    Type::TEXT, // request_id
    Type::TEXT, // key_id
    Type::TEXT, // team_id
    Type::TEXT, // customer_id
    Type::TEXT, // provider
    Type::TEXT, // model
    Type::TEXT, // dialect
    Type::INT8, // status
    Type::INT8, // attempts
    Type::INT8, // latency_us
    Type::INT8, // ttfb_us
    Type::INT8, // input_tokens
    Type::INT8, // output_tokens
    Type::INT8, // cached_tokens
    Type::INT8, // cost_nanos
    Type::BOOL, // priced
    Type::TEXT, // error
    Type::TEXT, // request_body
    Type::TEXT, // response_body
    Type::TEXT, // trace_id
    Type::TEXT, // span_id
];

/// A [`Store`] on one Postgres connection.
pub struct PostgresStore {
    client: Client,
    /// Kept to reconnect after the connection is lost.
    config: Config,
    redactor: Redactor,
    statements: HashMap<String, Statement>,
    migrations_applied: usize,
}

/// Connects to `url` (`postgres://user:password@host:port/db`, or the
/// `key=value` form), without TLS, and applies pending migrations. The
/// tables go wherever the connection's `search_path` puts them.
pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
    connect_to(url, None)
}

/// Like [`connect`], with the tables in `schema` (created if missing;
/// lowercase ASCII letters, digits and `_`, at most 63 bytes): several
/// deployments or test runs can share one database.
pub fn connect_with_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
    if !crate::config::valid_schema_name(schema) {
        return Err(StoreError::Other(format!(
            "invalid Postgres schema name {schema:?}: use lowercase letters, digits and _"
        )));
    }
    connect_to(url, Some(schema))
}

fn connect_to(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
    let mut redactor = Redactor::for_url(url);
    let mut config: Config = url.parse().map_err(|err: postgres::Error| {
        StoreError::Other(redactor.scrub(format!("invalid Postgres URL: {err}")))
    })?;
    if let Some(password) = config.get_password() {
        redactor.add(String::from_utf8_lossy(password).into_owned());
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if let Some(schema) = schema {
        // A startup option rather than a `SET`, so a reconnect keeps it.
        let options = match config.get_options() {
            Some(options) => format!("{options} -c search_path={schema}"),
            None => format!("-c search_path={schema}"),
        };
        config.options(&options);
    }
    // The default callback logs every notice ("schema already exists,
    // skipping") at info through `log`; they are expected here.
    config.notice_callback(|notice| {
        tracing::debug!(
            severity = notice.severity(),
            message = notice.message(),
            "postgres notice"
        )
    });
    let mut client = config
        .connect(NoTls)
        .map_err(|err| redactor.unavailable(err))?;
    let migrations_applied = migrate(&mut client, schema, &redactor)?;
    Ok(PostgresStore {
        client,
        config,
        redactor,
        statements: HashMap::new(),
        migrations_applied,
    })
}

/// Applies `MIGRATIONS` beyond the stored version in one transaction. The
/// advisory lock makes a second gateway wait here, then find nothing to do;
/// it also covers the `CREATE .. IF NOT EXISTS`, which can fail when two
/// sessions run it at once.
fn migrate(
    client: &mut Client,
    schema: Option<&str>,
    redactor: &Redactor,
) -> Result<usize, StoreError> {
    let fail = |err| redactor.error(err);
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .map_err(fail)?;
    if let Some(schema) = schema {
        // The name was checked to be a plain identifier.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .map_err(fail)?;
    }
    tx.batch_execute("CREATE TABLE IF NOT EXISTS ringbridge_schema (version BIGINT NOT NULL)")
        .map_err(fail)?;
    let stored = tx
        .query_opt("SELECT version FROM ringbridge_schema", &[])
        .map_err(fail)?;
    let current: i64 = match stored {
        Some(row) => row.try_get(0).map_err(fail)?,
        None => {
            tx.execute("INSERT INTO ringbridge_schema (version) VALUES (0)", &[])
                .map_err(fail)?;
            0
        }
    };
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Other(format!(
            "Postgres schema version {current} is newer than this build's {}",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[current..] {
        tx.batch_execute(migration).map_err(fail)?;
    }
    let version = MIGRATIONS.len() as i64;
    tx.execute("UPDATE ringbridge_schema SET version = $1", &[&version])
        .map_err(fail)?;
    tx.commit().map_err(fail)?;
    Ok(MIGRATIONS.len() - current)
}

impl PostgresStore {
    /// How many migrations `connect` applied: 0 when the schema was current.
    pub fn migrations_applied(&self) -> usize {
        self.migrations_applied
    }

    /// The schema version recorded in `ringbridge_schema`.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.reconnect_if_closed()?;
        let row = self
            .client
            .query_one("SELECT version FROM ringbridge_schema", &[])
            .map_err(|err| self.redactor.error(err))?;
        row.try_get(0).map_err(|err| self.redactor.error(err))
    }

    /// After a lost connection, every call first tries a new one (the
    /// server may be back); migrations ran on the first connect already.
    fn reconnect_if_closed(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.statements.clear();
            self.client = self
                .config
                .connect(NoTls)
                .map_err(|err| self.redactor.unavailable(err))?;
        }
        Ok(())
    }

    /// A prepared statement for `sql`, from the cache when it has one.
    fn prepare(&mut self, sql: &str) -> Result<Statement, StoreError> {
        self.reconnect_if_closed()?;
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .client
            .prepare(sql)
            .map_err(|err| self.redactor.error(err))?;
        if self.statements.len() >= STATEMENT_CACHE_CAPACITY {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, StoreError> {
        let statement = self.prepare(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|param| match param {
                SqlParam::Int(value) => value as &(dyn ToSql + Sync),
                SqlParam::Text(value) => value as &(dyn ToSql + Sync),
            })
            .collect();
        self.client
            .query(&statement, &params)
            .map_err(|err| self.redactor.error(err))
    }

    fn write_logs(&mut self, rows: &[LogRow]) -> Result<(), postgres::Error> {
        let copy = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            sql::LOGS_TABLE,
            sql::LOG_COLUMNS.join(", ")
        );
        let mut tx = self.client.transaction()?;
        let mut writer = BinaryCopyInWriter::new(tx.copy_in(&copy)?, &LOG_COLUMN_TYPES);
        for row in rows {
            let status = i64::from(row.status);
            let attempts = i64::from(row.attempts);
            let latency_us = sql::to_i64(row.latency_us);
            let ttfb_us = row.ttfb_us.map(sql::to_i64);
            let input_tokens = sql::to_i64(row.input_tokens);
            let output_tokens = sql::to_i64(row.output_tokens);
            let cached_tokens = sql::to_i64(row.cached_tokens);
            let cost_nanos = sql::to_i64(row.cost_nanos);
            writer.write(&[
                &row.ts_ms,
                &text(&row.request_id),
                &optional_text(&row.key_id),
                &optional_text(&row.team_id),
                &optional_text(&row.customer_id),
                &text(&row.provider),
                &text(&row.model),
                &text(&row.dialect),
                &status,
                &attempts,
                &latency_us,
                &ttfb_us,
                &input_tokens,
                &output_tokens,
                &cached_tokens,
                &cost_nanos,
                &row.priced,
                &optional_text(&row.error),
                &optional_text(&row.request_body),
                &optional_text(&row.response_body),
                &optional_text(&row.trace_id),
                &optional_text(&row.span_id),
            ])?;
        }
        writer.finish()?;
        let add_usage = tx.prepare(&sql::upsert_usage(Placeholder::Dollar))?;
        for b in rollup::hourly(rows, None) {
            let counts = [
                b.requests,
                b.errors,
                b.input_tokens,
                b.output_tokens,
                b.cached_tokens,
                b.cost_nanos,
                b.unpriced,
            ]
            .map(sql::to_i64);
            tx.execute(
                &add_usage,
                &[
                    &b.hour_ms,
                    &text(b.key_id),
                    &text(b.team_id),
                    &text(b.customer_id),
                    &text(b.provider),
                    &text(b.model),
                    &counts[0],
                    &counts[1],
                    &counts[2],
                    &counts[3],
                    &counts[4],
                    &counts[5],
                    &counts[6],
                    &b.min_id,
                    &b.max_id,
                ],
            )?;
        }
        tx.commit()
    }
}

/// Postgres `TEXT` cannot hold U+0000, and one such byte in a logged body
/// would fail the whole batch; it becomes U+FFFD instead.
fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

fn optional_text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(text)
}

fn stored_log_row(row: &Row) -> Result<StoredLogRow, postgres::Error> {
    Ok(StoredLogRow {
        id: row.try_get(0)?,
        row: LogRow {
            ts_ms: row.try_get(1)?,
            request_id: row.try_get(2)?,
            key_id: row.try_get(3)?,
            team_id: row.try_get(4)?,
            customer_id: row.try_get(5)?,
            provider: row.try_get(6)?,
            model: row.try_get(7)?,
            dialect: row.try_get(8)?,
            status: sql::to_u16(row.try_get(9)?),
            attempts: sql::to_u32(row.try_get(10)?),
            latency_us: sql::to_u64(row.try_get(11)?),
            ttfb_us: row.try_get::<_, Option<i64>>(12)?.map(sql::to_u64),
            input_tokens: sql::to_u64(row.try_get(13)?),
            output_tokens: sql::to_u64(row.try_get(14)?),
            cached_tokens: sql::to_u64(row.try_get(15)?),
            cost_nanos: sql::to_u64(row.try_get(16)?),
            priced: row.try_get(17)?,
            error: row.try_get(18)?,
            request_body: row.try_get(19)?,
            response_body: row.try_get(20)?,
            trace_id: row.try_get(21)?,
            span_id: row.try_get(22)?,
            parent_span_id: None,
            finished_us: 0,
        },
    })
}

fn usage_row(row: &Row) -> Result<UsageRow, postgres::Error> {
    Ok(UsageRow {
        group: row.try_get(0)?,
        requests: sql::to_u64(row.try_get(1)?),
        errors: sql::to_u64(row.try_get(2)?),
        input_tokens: sql::to_u64(row.try_get(3)?),
        output_tokens: sql::to_u64(row.try_get(4)?),
        cached_tokens: sql::to_u64(row.try_get(5)?),
        cost_nanos: sql::to_u64(row.try_get(6)?),
        unpriced: sql::to_u64(row.try_get(7)?),
    })
}

fn stored_entity(row: &Row) -> Result<StoredEntity, StoreError> {
    let column_error = |err: postgres::Error| StoreError::Other(err.to_string());
    let kind: String = row.try_get(0).map_err(column_error)?;
    Ok(StoredEntity {
        kind: sql::parse_kind(&kind)?,
        id: row.try_get(1).map_err(column_error)?,
        secret_hash: sql::parse_secret_hash(row.try_get(2).map_err(column_error)?)?,
        doc: row.try_get(3).map_err(column_error)?,
        created_ms: row.try_get(4).map_err(column_error)?,
        updated_ms: row.try_get(5).map_err(column_error)?,
    })
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn insert_logs(&mut self, rows: &[LogRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.reconnect_if_closed()?;
        self.write_logs(rows)
            .map_err(|err| self.redactor.error(err))
    }

    fn query_logs(&mut self, filter: &LogFilter) -> Result<LogPage, StoreError> {
        let statement = sql::query_logs(filter, Placeholder::Dollar, LogLookup::Indexes);
        let rows = self
            .query(&statement.sql, &statement.params)?
            .iter()
            .map(stored_log_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| self.redactor.error(err))?;
        let page_full = rows.len() == sql::page_rows(filter) as usize;
        let next_before = if page_full {
            rows.last().map(|last| last.id)
        } else {
            None
        };
        Ok(LogPage { rows, next_before })
    }

    fn usage(&mut self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let statement = sql::usage(query, Placeholder::Dollar, LogLookup::Indexes);
        self.query(&statement.sql, &statement.params)?
            .iter()
            .map(usage_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| self.redactor.error(err))
    }

    fn prune_logs(
        &mut self,
        older_than_ms: Option<i64>,
        max_rows: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.reconnect_if_closed()?;
        let prune = |client: &mut Client| -> Result<u64, postgres::Error> {
            let mut tx = client.transaction()?;
            let mut deleted = 0;
            if let Some(older_than) = older_than_ms {
                let by_age = sql::prune_older_than(Placeholder::Dollar, LogLookup::Indexes);
                deleted += tx.execute(&by_age, &[&older_than])?;
            }
            if let Some(max_rows) = max_rows {
                let by_count = sql::prune_beyond_count(Placeholder::Dollar);
                deleted += tx.execute(&by_count, &[&sql::to_i64(max_rows)])?;
            }
            tx.commit()?;
            Ok(deleted)
        };
        prune(&mut self.client).map_err(|err| self.redactor.error(err))
    }

    fn prune_usage(&mut self, older_than_ms: i64) -> Result<u64, StoreError> {
        self.reconnect_if_closed()?;
        let sql = sql::prune_usage_older_than(Placeholder::Dollar);
        self.client
            .execute(&sql, &[&older_than_ms])
            .map_err(|err| self.redactor.error(err))
    }

    fn entities(&mut self) -> Result<Vec<StoredEntity>, StoreError> {
        self.query(sql::SELECT_ENTITIES, &[])?
            .iter()
            .map(stored_entity)
            .collect()
    }

    fn entities_version(&mut self) -> Result<i64, StoreError> {
        let rows = self.query(sql::SELECT_ENTITIES_VERSION, &[])?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Other("ringbridge_meta has no row".to_string()))?;
        row.try_get(0).map_err(|err| self.redactor.error(err))
    }

    fn put_entity(&mut self, entity: &StoredEntity) -> Result<(), StoreError> {
        let upsert = self.prepare(&sql::upsert_entity(Placeholder::Dollar))?;
        let bump = self.prepare(sql::BUMP_ENTITIES_VERSION)?;
        let put = |client: &mut Client| -> Result<(), postgres::Error> {
            let mut tx = client.transaction()?;
            let secret_hash = entity.secret_hash.as_ref().map(|hash| &hash[..]);
            tx.execute(
                &upsert,
                &[
                    &entity.kind.as_str(),
                    &entity.id,
                    &secret_hash,
                    &entity.doc,
                    &entity.created_ms,
                    &entity.updated_ms,
                ],
            )?;
            tx.execute(&bump, &[])?;
            tx.commit()
        };
        put(&mut self.client).map_err(|err| self.redactor.error(err))
    }

    fn delete_entity(&mut self, kind: EntityKind, id: &str) -> Result<bool, StoreError> {
        let delete = self.prepare(&sql::delete_entity(Placeholder::Dollar))?;
        let bump = self.prepare(sql::BUMP_ENTITIES_VERSION)?;
        let remove = |client: &mut Client| -> Result<bool, postgres::Error> {
            let mut tx = client.transaction()?;
            let deleted = tx.execute(&delete, &[&kind.as_str(), &id])? > 0;
            if deleted {
                tx.execute(&bump, &[])?;
            }
            tx.commit()?;
            Ok(deleted)
        };
        remove(&mut self.client).map_err(|err| self.redactor.error(err))
    }

    fn add_spend(
        &mut self,
        kind: EntityKind,
        id: &str,
        period_start: i64,
        delta_nanos: u64,
    ) -> Result<u64, StoreError> {
        let add = self.prepare(&sql::add_spend(Placeholder::Dollar))?;
        let delta = sql::to_i64(delta_nanos);
        let total: i64 = self
            .client
            .query_one(&add, &[&kind.as_str(), &id, &period_start, &delta])
            .and_then(|row| row.try_get(0))
            .map_err(|err| self.redactor.error(err))?;
        Ok(sql::to_u64(total))
    }
}

/// Turns client errors into `StoreError`s whose text holds no password.
struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Scrubs the password as it appears in the URL (percent-encoded or
    /// not) even before the URL parses, since a parse error quotes it.
    fn for_url(url: &str) -> Self {
        let mut redactor = Redactor {
            secrets: Vec::new(),
        };
        if let Some(password) = url_password(url) {
            redactor.add(password.to_string());
        }
        redactor
    }

    fn add(&mut self, secret: String) {
        if !secret.is_empty() && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
        }
    }

    fn scrub(&self, mut message: String) -> String {
        for secret in &self.secrets {
            message = message.replace(secret.as_str(), "***");
        }
        message
    }

    /// Connecting failed: whatever the cause (refused, timed out, bad
    /// password), the store cannot be reached now.
    fn unavailable(&self, err: postgres::Error) -> StoreError {
        StoreError::Unavailable(self.scrub(describe(&err)))
    }

    fn error(&self, err: postgres::Error) -> StoreError {
        let message = self.scrub(describe(&err));
        let Some(code) = err.code() else {
            let io_failure = std::error::Error::source(&err)
                .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
            return if err.is_closed() || io_failure {
                StoreError::Unavailable(message)
            } else {
                StoreError::Other(message)
            };
        };
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(message);
        }
        // Connection exceptions, server shutdown, too many connections,
        // serialisation failures: all worth retrying later.
        let class = &code.code()[..2];
        let retry_later = matches!(class, "08" | "53" | "57" | "40");
        if retry_later {
            StoreError::Unavailable(message)
        } else {
            StoreError::Other(message)
        }
    }
}

/// The server's message and SQLSTATE, without its DETAIL (which quotes row
/// values such as a duplicate secret hash), or the client's own text.
fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.constraint() {
            Some(constraint) => format!(
                "{}: {} (SQLSTATE {}, constraint {constraint})",
                db.severity(),
                db.message(),
                db.code().code()
            ),
            None => format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            ),
        },
        None => err.to_string(),
    }
}

/// The password in `scheme://user:password@host...`, raw and as written
/// (percent-encoded); `None` for the `key=value` form or no password.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let userinfo = rest[..authority_end].rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
