//! SQL text and value conversions shared by the SQLite and Postgres
//! backends, so both read the same filters the same way. Only the
//! placeholder syntax and the column types differ between the two; the
//! statements here use `CAST(.. AS BIGINT)`, `ON CONFLICT .. DO UPDATE` and
//! `RETURNING`, which both accept (SQLite since 3.35; the bundled one is newer).

use super::{rollup, EntityKind, GroupBy, LogFilter, StoreError, UsageQuery};

/// Request-log table; the `ringbridge_` prefix on every table keeps a shared
/// Postgres database tidy, and SQLite uses the same names to stay consistent.
pub(crate) const LOGS_TABLE: &str = "ringbridge_logs";
pub(crate) const ENTITIES_TABLE: &str = "ringbridge_entities";
pub(crate) const SPEND_TABLE: &str = "ringbridge_spend";
pub(crate) const USAGE_TABLE: &str = "ringbridge_usage";

/// The page size bounds `LogFilter::limit` is clamped to.
pub(crate) const MIN_PAGE_ROWS: u32 = 1;
pub(crate) const MAX_PAGE_ROWS: u32 = 1000;

/// Every `LogRow` column, in the order the backends bind and read them.
pub(crate) const LOG_COLUMNS: [&str; 22] = [
    "ts_ms",
    "request_id",
    "key_id",
    "team_id",
    "customer_id",
    "provider",
    "model",
    "dialect",
    "status",
    "attempts",
    "latency_us",
    "ttfb_us",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_nanos",
    "priced",
    "error",
    "request_body",
    "response_body",
    "trace_id",
    "span_id",
];

/// How a backend spells the n-th (1-based) bound parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// SQLite: `?1`.
    Question,
    /// Postgres: `$1`.
    Dollar,
}

impl Placeholder {
    fn nth(self, n: usize) -> String {
        match self {
            Placeholder::Question => format!("?{n}"),
            Placeholder::Dollar => format!("${n}"),
        }
    }
}

/// A bound value; each backend turns it into its own parameter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlParam {
    Int(i64),
    Text(String),
}

/// A statement and the values for its placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<SqlParam>,
}

/// Collects `column <op> <placeholder>` conditions joined by AND.
struct Conditions {
    style: Placeholder,
    clauses: Vec<String>,
    params: Vec<SqlParam>,
}

impl Conditions {
    fn new(style: Placeholder) -> Self {
        Conditions {
            style,
            clauses: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds `column op value`; returns the value's placeholder.
    fn push(&mut self, column: &str, op: &str, value: SqlParam) -> String {
        self.params.push(value);
        let placeholder = self.style.nth(self.params.len());
        self.clauses.push(format!("{column} {op} {placeholder}"));
        placeholder
    }

    fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Appends one more parameter that is not a condition (a LIMIT).
    fn bind_extra(&mut self, value: SqlParam) -> String {
        self.params.push(value);
        self.style.nth(self.params.len())
    }
}

/// `INSERT` of one row: its id, then every `LOG_COLUMNS` value in order.
pub(crate) fn insert_log(style: Placeholder) -> String {
    let placeholders: Vec<String> = (1..=LOG_COLUMNS.len() + 1).map(|n| style.nth(n)).collect();
    format!(
        "INSERT INTO {LOGS_TABLE} (id, {}) VALUES ({})",
        LOG_COLUMNS.join(", "),
        placeholders.join(", ")
    )
}

/// The page size a filter asks for, within 1..=1000.
pub(crate) fn page_rows(filter: &LogFilter) -> u32 {
    filter.limit.clamp(MIN_PAGE_ROWS, MAX_PAGE_ROWS)
}

/// How a backend finds a filter's rows in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLookup {
    /// Through the log's own indexes (Postgres).
    Indexes,
    /// Through the id spans of the usage buckets that match the filter's
    /// time range, key, team, customer, provider and model (SQLite, whose
    /// log has no index but its primary key; see `rollup`).
    UsageSpans,
}

/// `id` bounds from the id spans of the usage buckets `matching` selects.
/// No matching bucket: both bounds are NULL and nothing matches, as it
/// should (every row is in a bucket).
fn id_span(matching: &str) -> [String; 2] {
    [
        format!("id >= (SELECT MIN(min_id) FROM {USAGE_TABLE} WHERE {matching})"),
        format!("id <= (SELECT MAX(max_id) FROM {USAGE_TABLE} WHERE {matching})"),
    ]
}

/// `SELECT id, <LOG_COLUMNS> ...` for one page, newest (highest id) first.
pub(crate) fn query_logs(filter: &LogFilter, style: Placeholder, lookup: LogLookup) -> Statement {
    let mut conditions = Conditions::new(style);
    // What a usage bucket of a matching row must match, on the same
    // placeholders.
    let mut bucket = Vec::new();
    if let Some(since) = filter.since_ms {
        let p = conditions.push("ts_ms", ">=", SqlParam::Int(since));
        bucket.push(format!("hour_ms > {p} - {}", rollup::HOUR_MS));
    }
    if let Some(until) = filter.until_ms {
        let p = conditions.push("ts_ms", "<", SqlParam::Int(until));
        bucket.push(format!("hour_ms < {p}"));
    }
    for (column, value) in [
        ("key_id", &filter.key_id),
        ("team_id", &filter.team_id),
        ("customer_id", &filter.customer_id),
        ("provider", &filter.provider),
        ("model", &filter.model),
    ] {
        if let Some(value) = value {
            let p = conditions.push(column, "=", SqlParam::Text(value.clone()));
            bucket.push(format!("{column} = {p}"));
        }
    }
    if let Some(status) = filter.status {
        conditions.push("status", "=", SqlParam::Int(i64::from(status)));
    }
    if let Some(before) = filter.before_id {
        conditions.push("id", "<", SqlParam::Int(before));
    }
    if lookup == LogLookup::UsageSpans && !bucket.is_empty() {
        conditions.clauses.extend(id_span(&bucket.join(" AND ")));
    }
    let where_clause = conditions.where_clause();
    let limit = conditions.bind_extra(SqlParam::Int(i64::from(page_rows(filter))));
    Statement {
        sql: format!(
            "SELECT id, {} FROM {LOGS_TABLE}{where_clause} ORDER BY id DESC LIMIT {limit}",
            LOG_COLUMNS.join(", ")
        ),
        params: conditions.params,
    }
}

fn group_column(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::Key => "key_id",
        GroupBy::Team => "team_id",
        GroupBy::Customer => "customer_id",
        GroupBy::Provider => "provider",
        GroupBy::Model => "model",
    }
}

/// Totals per group: columns are group, requests, errors, input, output,
/// cached, cost, unpriced (all BIGINT but the group). Whole hours inside
/// the window come from the hourly rollup, the partial hours at its edges
/// from the log (`rollup::split`), so the answer is exact to the
/// millisecond and reads hours, not rows, for long windows. Ties in cost
/// and requests are broken by group, `NULL` last, so both backends agree.
pub(crate) fn usage(query: &UsageQuery, style: Placeholder, lookup: LogLookup) -> Statement {
    let split = rollup::split(query.since_ms, query.until_ms);
    let group = group_column(query.group_by);
    let mut params = Vec::new();
    let mut bind = |value: i64| {
        params.push(SqlParam::Int(value));
        style.nth(params.len())
    };
    let mut parts = Vec::new();
    if let Some((from, to)) = split.hours {
        // Absent ids are '' in the rollup (see `rollup::UsageBucket`).
        let rollup_group = match query.group_by {
            GroupBy::Key | GroupBy::Team | GroupBy::Customer => format!("NULLIF({group}, '')"),
            GroupBy::Provider | GroupBy::Model => group.to_string(),
        };
        let mut conditions = Vec::new();
        if let Some(from) = from {
            conditions.push(format!("hour_ms >= {}", bind(from)));
        }
        if let Some(to) = to {
            conditions.push(format!("hour_ms < {}", bind(to)));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        parts.push(format!(
            "SELECT {rollup_group} AS grp, requests, errors, input_tokens, output_tokens, \
                    cached_tokens, cost_nanos, unpriced \
             FROM {USAGE_TABLE}{where_clause}"
        ));
    }
    for (from, to) in split.edges {
        // An edge is part of one hour or two; SQLite finds its rows
        // through those hours' id spans, as `query_logs` does.
        let mut range = Vec::new();
        let mut hours = Vec::new();
        if let Some(from) = from {
            let p = bind(from);
            range.push(format!("ts_ms >= {p}"));
            hours.push(format!("hour_ms > {p} - {}", rollup::HOUR_MS));
        }
        if let Some(to) = to {
            let p = bind(to);
            range.push(format!("ts_ms < {p}"));
            hours.push(format!("hour_ms < {p}"));
        }
        if lookup == LogLookup::UsageSpans && !hours.is_empty() {
            range.extend(id_span(&hours.join(" AND ")));
        }
        parts.push(format!(
            "SELECT {group} AS grp, 1 AS requests, \
                    CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END AS errors, \
                    input_tokens, output_tokens, cached_tokens, cost_nanos, \
                    CASE WHEN priced THEN 0 ELSE 1 END AS unpriced \
             FROM {LOGS_TABLE} WHERE {}",
            range.join(" AND ")
        ));
    }
    // SUM over BIGINT is NUMERIC in Postgres; the cast brings it back (and
    // fails loudly rather than wrapping in the unreachable overflow case).
    let sql = format!(
        "SELECT grp, \
                CAST(SUM(requests) AS BIGINT) AS total_requests, \
                CAST(SUM(errors) AS BIGINT), \
                CAST(SUM(input_tokens) AS BIGINT), \
                CAST(SUM(output_tokens) AS BIGINT), \
                CAST(SUM(cached_tokens) AS BIGINT), \
                CAST(SUM(cost_nanos) AS BIGINT) AS total_cost, \
                CAST(SUM(unpriced) AS BIGINT) \
         FROM ({}) AS parts \
         GROUP BY grp \
         ORDER BY total_cost DESC, total_requests DESC, (grp IS NULL), grp",
        parts.join(" UNION ALL ")
    );
    Statement { sql, params }
}

/// Adds one bucket's totals to its rollup row and widens its id span (15
/// parameters, in `UsageBucket` field order).
pub(crate) fn upsert_usage(style: Placeholder) -> String {
    let placeholders: Vec<String> = (1..=15).map(|n| style.nth(n)).collect();
    let add = |column: &str| format!("{column} = {USAGE_TABLE}.{column} + excluded.{column}");
    let sums: Vec<String> = [
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_nanos",
        "unpriced",
    ]
    .iter()
    .map(|c| add(c))
    .collect();
    // CASE rather than MIN/MAX or LEAST/GREATEST: the two backends spell
    // those differently, and a NULL (unknown) side must not win.
    let widen = |column: &str, op: &str| {
        format!(
            "{column} = CASE WHEN excluded.{column} IS NULL \
               OR {USAGE_TABLE}.{column} {op} excluded.{column} \
             THEN {USAGE_TABLE}.{column} ELSE excluded.{column} END"
        )
    };
    format!(
        "INSERT INTO {USAGE_TABLE} (hour_ms, key_id, team_id, customer_id, provider, model, \
           requests, errors, input_tokens, output_tokens, cached_tokens, cost_nanos, unpriced, \
           min_id, max_id) \
         VALUES ({}) \
         ON CONFLICT (hour_ms, key_id, team_id, customer_id, provider, model) DO UPDATE SET {}, {}, {}",
        placeholders.join(", "),
        sums.join(", "),
        widen("min_id", "<="),
        widen("max_id", ">=")
    )
}

/// Deletes rollup hours that ended before the first parameter.
pub(crate) fn prune_usage_older_than(style: Placeholder) -> String {
    format!(
        "DELETE FROM {USAGE_TABLE} WHERE hour_ms + {} <= {}",
        rollup::HOUR_MS,
        style.nth(1)
    )
}

/// Deletes rows with `ts_ms` below the first parameter.
pub(crate) fn prune_older_than(style: Placeholder, lookup: LogLookup) -> String {
    let cut = style.nth(1);
    match lookup {
        LogLookup::Indexes => format!("DELETE FROM {LOGS_TABLE} WHERE ts_ms < {cut}"),
        // Only ids up to the last of the buckets that start before the
        // cut can hold such a row.
        LogLookup::UsageSpans => format!(
            "DELETE FROM {LOGS_TABLE} WHERE ts_ms < {cut} AND id <= \
             (SELECT MAX(max_id) FROM {USAGE_TABLE} WHERE hour_ms < {cut})"
        ),
    }
}

/// Deletes every row but the newest N (the first parameter): everything at
/// or below the id of the (N+1)-th newest row, nothing when there is none.
/// "Oldest" is by id, the order rows were logged in, which the primary key
/// serves without a sort (`ts_ms` is arrival, so a long stream logged late
/// has an early `ts_ms`).
pub(crate) fn prune_beyond_count(style: Placeholder) -> String {
    format!(
        "DELETE FROM {LOGS_TABLE} WHERE id <= \
         (SELECT id FROM {LOGS_TABLE} ORDER BY id DESC LIMIT 1 OFFSET {})",
        style.nth(1)
    )
}

/// Insert-or-replace by (kind, id). Not SQLite's `INSERT OR REPLACE`: that
/// would silently delete another key holding the same secret hash, where we
/// want the unique index to refuse.
pub(crate) fn upsert_entity(style: Placeholder) -> String {
    let p = |n| style.nth(n);
    format!(
        "INSERT INTO {ENTITIES_TABLE} (kind, id, secret_hash, doc, created_ms, updated_ms) \
         VALUES ({}, {}, {}, {}, {}, {}) \
         ON CONFLICT (kind, id) DO UPDATE SET secret_hash = excluded.secret_hash, \
         doc = excluded.doc, created_ms = excluded.created_ms, updated_ms = excluded.updated_ms",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

pub(crate) fn delete_entity(style: Placeholder) -> String {
    format!(
        "DELETE FROM {ENTITIES_TABLE} WHERE kind = {} AND id = {}",
        style.nth(1),
        style.nth(2)
    )
}

pub(crate) const SELECT_ENTITIES: &str =
    "SELECT kind, id, secret_hash, doc, created_ms, updated_ms \
     FROM ringbridge_entities ORDER BY kind, id";

pub(crate) const BUMP_ENTITIES_VERSION: &str =
    "UPDATE ringbridge_meta SET entities_version = entities_version + 1";

pub(crate) const SELECT_ENTITIES_VERSION: &str = "SELECT entities_version FROM ringbridge_meta";

/// Adds to a spend row in one statement (atomic in both backends) and
/// returns the new total, saturating at `i64::MAX` instead of overflowing.
pub(crate) fn add_spend(style: Placeholder) -> String {
    format!(
        "INSERT INTO {SPEND_TABLE} (kind, id, period_start, spent_nanos) VALUES ({}, {}, {}, {}) \
         ON CONFLICT (kind, id, period_start) DO UPDATE SET spent_nanos = CASE \
           WHEN {SPEND_TABLE}.spent_nanos > 9223372036854775807 - excluded.spent_nanos \
           THEN 9223372036854775807 \
           ELSE {SPEND_TABLE}.spent_nanos + excluded.spent_nanos END \
         RETURNING spent_nanos",
        style.nth(1),
        style.nth(2),
        style.nth(3),
        style.nth(4)
    )
}

/// u64 counters are stored as i64: saturate rather than wrap or panic.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// And back: a negative value (never written by us) reads as 0.
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(crate) fn to_u16(value: i64) -> u16 {
    u16::try_from(value.max(0)).unwrap_or(u16::MAX)
}

pub(crate) fn parse_kind(text: &str) -> Result<EntityKind, StoreError> {
    match text {
        "key" => Ok(EntityKind::Key),
        "team" => Ok(EntityKind::Team),
        "customer" => Ok(EntityKind::Customer),
        other => Err(StoreError::Other(format!(
            "unknown entity kind {other:?} in the store (written by a newer version?)"
        ))),
    }
}

pub(crate) fn parse_secret_hash(bytes: Option<Vec<u8>>) -> Result<Option<[u8; 32]>, StoreError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| {
                StoreError::Other(format!(
                    "secret hash of {} bytes in the store, expected 32",
                    bytes.len()
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_values_saturate_instead_of_wrapping() {
        assert_eq!(to_i64(u64::MAX), i64::MAX);
        assert_eq!(to_i64(42), 42);
        assert_eq!(to_u64(-1), 0);
        assert_eq!(to_u32(i64::MAX), u32::MAX);
        assert_eq!(to_u16(70_000), u16::MAX);
        assert_eq!(to_u16(-5), 0);
    }

    #[test]
    fn page_size_is_clamped_to_one_through_a_thousand() {
        let with_limit = |limit| LogFilter {
            limit,
            ..LogFilter::default()
        };
        assert_eq!(page_rows(&with_limit(0)), 1);
        assert_eq!(page_rows(&with_limit(50)), 50);
        assert_eq!(page_rows(&with_limit(5000)), 1000);
    }

    #[test]
    fn log_query_numbers_placeholders_in_bind_order() {
        let filter = LogFilter {
            since_ms: Some(10),
            team_id: Some("t".into()),
            status: Some(200),
            before_id: Some(99),
            limit: 5,
            ..LogFilter::default()
        };
        let statement = query_logs(&filter, Placeholder::Dollar, LogLookup::Indexes);
        assert!(statement.sql.ends_with(
            " WHERE ts_ms >= $1 AND team_id = $2 AND status = $3 AND id < $4 \
             ORDER BY id DESC LIMIT $5"
        ));
        assert_eq!(
            statement.params,
            vec![
                SqlParam::Int(10),
                SqlParam::Text("t".into()),
                SqlParam::Int(200),
                SqlParam::Int(99),
                SqlParam::Int(5),
            ]
        );
        let unfiltered = query_logs(
            &LogFilter::default(),
            Placeholder::Question,
            LogLookup::UsageSpans,
        );
        assert!(unfiltered
            .sql
            .ends_with("FROM ringbridge_logs ORDER BY id DESC LIMIT ?1"));
    }

    #[test]
    fn secret_hash_of_the_wrong_length_is_an_error_not_a_panic() {
        assert_eq!(parse_secret_hash(None), Ok(None));
        assert_eq!(parse_secret_hash(Some(vec![7; 32])), Ok(Some([7; 32])));
        assert!(parse_secret_hash(Some(vec![7; 31])).is_err());
        assert!(parse_kind("group").is_err());
    }
}
