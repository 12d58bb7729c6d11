//! The hourly usage rollup (`ringbridge_usage`): what each batch of log rows
//! adds to its (hour, key, team, customer, provider, model) totals. Both
//! backends write it in the same transaction as the rows, so usage reports
//! read hours instead of rows and the log needs no index per key or team.
//! That keeps a row's insert cost flat however many keys are active: with
//! an index per key, 1,000 active keys dirty a page per key per batch
//! (`cargo bench --bench store`).
//!
//! Where the backend knows the ids its rows got (SQLite), each bucket also
//! keeps the span of log ids its rows have, and serves the log as a coarse
//! index: a page of logs for a time range, key, team, provider or model
//! reads only the ids its buckets span, so the log needs no index at all.

use std::collections::HashMap;

use super::LogRow;

/// One hour, in milliseconds: the rollup's bucket.
pub const HOUR_MS: i64 = 3_600_000;

/// The start of the hour holding `ts_ms`.
pub fn hour_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The start of the first hour that begins at or after `ts_ms`.
pub fn hour_at_or_after(ts_ms: i64) -> i64 {
    let hour = hour_of(ts_ms);
    if hour == ts_ms {
        hour
    } else {
        hour + HOUR_MS
    }
}

/// Totals of one bucket. Ids absent from a row are `""` here: SQL treats
/// NULLs as distinct in a unique key, which would split a bucket per row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBucket<'r> {
    pub hour_ms: i64,
    pub key_id: &'r str,
    pub team_id: &'r str,
    pub customer_id: &'r str,
    pub provider: &'r str,
    pub model: &'r str,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_nanos: u64,
    pub unpriced: u64,
    /// Lowest and highest log id among the bucket's rows, when known.
    pub min_id: Option<i64>,
    pub max_id: Option<i64>,
}

type BucketKey<'r> = (i64, &'r str, &'r str, &'r str, &'r str, &'r str);

/// The batch's buckets, borrowing the rows' strings (no allocation per row).
/// `first_id`: the log id of `rows[0]`, the others following one by one.
pub fn hourly(rows: &[LogRow], first_id: Option<i64>) -> Vec<UsageBucket<'_>> {
    let mut buckets: HashMap<BucketKey<'_>, UsageBucket<'_>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let id = first_id.map(|first| first + i as i64);
        let key = (
            hour_of(row.ts_ms),
            row.key_id.as_deref().unwrap_or(""),
            row.team_id.as_deref().unwrap_or(""),
            row.customer_id.as_deref().unwrap_or(""),
            row.provider.as_str(),
            row.model.as_str(),
        );
        let b = buckets.entry(key).or_insert_with(|| UsageBucket {
            hour_ms: key.0,
            key_id: key.1,
            team_id: key.2,
            customer_id: key.3,
            provider: key.4,
            model: key.5,
            ..UsageBucket::default()
        });
        b.requests += 1;
        b.errors += u64::from(!(200..300).contains(&row.status));
        b.input_tokens = b.input_tokens.saturating_add(row.input_tokens);
        b.output_tokens = b.output_tokens.saturating_add(row.output_tokens);
        b.cached_tokens = b.cached_tokens.saturating_add(row.cached_tokens);
        b.cost_nanos = b.cost_nanos.saturating_add(row.cost_nanos);
        b.unpriced += u64::from(!row.priced);
        b.min_id = b.min_id.or(id);
        b.max_id = id.or(b.max_id);
    }
    buckets.into_values().collect()
}

/// How a usage query over `[since, until)` splits: whole hours read from
/// the rollup, and the partial hours at either edge read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Rollup hours `[from, to)`; `None` bounds are open. `None` as a whole
    /// when no whole hour lies inside.
    pub hours: Option<(Option<i64>, Option<i64>)>,
    /// Log ranges `[from, to)` at the edges (at most two).
    pub edges: Vec<(Option<i64>, Option<i64>)>,
}

pub fn split(since_ms: Option<i64>, until_ms: Option<i64>) -> Split {
    let first_hour = since_ms.map(hour_at_or_after);
    let end_hour = until_ms.map(hour_of);
    if let (Some(first), Some(end)) = (first_hour, end_hour) {
        if first >= end {
            return Split {
                hours: None,
                edges: vec![(since_ms, until_ms)],
            };
        }
    }
    let mut edges = Vec::new();
    if let (Some(since), Some(first)) = (since_ms, first_hour) {
        if since < first {
            edges.push((Some(since), Some(first)));
        }
    }
    if let (Some(until), Some(end)) = (until_ms, end_hour) {
        if end < until {
            edges.push((Some(end), Some(until)));
        }
    }
    Split {
        hours: Some((first_hour, end_hour)),
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_MS;

    #[test]
    fn hours_round_down_and_up() {
        assert_eq!(hour_of(5 * H + 1), 5 * H);
        assert_eq!(hour_of(5 * H), 5 * H);
        assert_eq!(hour_at_or_after(5 * H), 5 * H);
        assert_eq!(hour_at_or_after(5 * H + 1), 6 * H);
        assert_eq!(hour_of(-1), -H);
    }

    #[test]
    fn a_window_splits_into_whole_hours_and_its_edges() {
        let s = split(Some(5 * H + 10), Some(8 * H + 20));
        assert_eq!(s.hours, Some((Some(6 * H), Some(8 * H))));
        assert_eq!(
            s.edges,
            [
                (Some(5 * H + 10), Some(6 * H)),
                (Some(8 * H), Some(8 * H + 20))
            ]
        );
        // Aligned bounds need no edge; open bounds neither.
        let aligned = split(Some(5 * H), Some(8 * H));
        assert_eq!(aligned.hours, Some((Some(5 * H), Some(8 * H))));
        assert!(aligned.edges.is_empty());
        let open = split(None, None);
        assert_eq!(open.hours, Some((None, None)));
        assert!(open.edges.is_empty());
        let from = split(Some(5 * H + 1), None);
        assert_eq!(from.hours, Some((Some(6 * H), None)));
        assert_eq!(from.edges, [(Some(5 * H + 1), Some(6 * H))]);
    }

    #[test]
    fn a_window_inside_one_hour_reads_only_the_log() {
        let s = split(Some(5 * H + 10), Some(5 * H + 20));
        assert_eq!(s.hours, None);
        assert_eq!(s.edges, [(Some(5 * H + 10), Some(5 * H + 20))]);
        // Across one boundary but no whole hour.
        let s = split(Some(5 * H + 10), Some(6 * H + 20));
        assert_eq!(s.hours, None);
        assert_eq!(s.edges, [(Some(5 * H + 10), Some(6 * H + 20))]);
    }

    #[test]
    fn rows_of_one_bucket_add_up_and_missing_ids_share_a_bucket() {
        let row = |ts_ms, key: Option<&str>, status, cost| LogRow {
            ts_ms,
            key_id: key.map(str::to_string),
            provider: "openai".into(),
            model: "m".into(),
            status,
            input_tokens: 2,
            output_tokens: 3,
            cost_nanos: cost,
            priced: cost > 0,
            ..LogRow::default()
        };
        let rows = [
            row(H + 1, Some("k"), 200, 10),
            row(H + 2, Some("k"), 500, 0),
            row(2 * H, Some("k"), 200, 10),
            row(H + 3, None, 200, 10),
            row(H + 4, None, 404, 10),
        ];
        let mut buckets = hourly(&rows, Some(100));
        buckets.sort_by_key(|b| (b.hour_ms, b.key_id));
        let spans: Vec<_> = buckets.iter().map(|b| (b.min_id, b.max_id)).collect();
        assert_eq!(
            spans,
            [
                (Some(103), Some(104)),
                (Some(100), Some(101)),
                (Some(102), Some(102))
            ]
        );
        assert!(hourly(&rows, None).iter().all(|b| b.min_id.is_none()));
        let summary: Vec<_> = buckets
            .iter()
            .map(|b| {
                (
                    b.hour_ms,
                    b.key_id,
                    b.requests,
                    b.errors,
                    b.input_tokens,
                    b.cost_nanos,
                    b.unpriced,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (H, "", 2, 1, 4, 20, 0),
                (H, "k", 2, 1, 4, 10, 1),
                (2 * H, "k", 1, 0, 2, 10, 0),
            ]
        );
    }
}
