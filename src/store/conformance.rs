//! The behaviour every [`Store`] backend must share, as test functions that
//! take a store and panic on the first difference. Each backend's tests run
//! every function on a fresh, empty store (`run_all` runs them in a row on
//! one: each function empties the log first and uses its own entity ids).
//! Expected results come from a plain-Rust model of the contract
//! (`matches`, `expected_usage`), never from the store itself.

use std::collections::BTreeMap;

use super::{
    EntityKind, GroupBy, LogFilter, LogRow, Store, StoreError, StoredEntity, StoredLogRow,
    UsageQuery, UsageRow,
};

/// Some time in 2023, in Unix milliseconds.
const BASE_MS: i64 = 1_700_000_000_000;

/// Every conformance check, in order, on one store.
pub fn run_all(store: &mut dyn Store) {
    log_rows_round_trip_exactly(store);
    filters_select_exactly_the_matching_rows(store);
    pages_cover_every_row_once(store);
    usage_totals_match_a_model_of_the_rows(store);
    usage_over_hours_adds_rollup_and_edges_exactly(store);
    prune_removes_by_age_then_by_count(store);
    entities_are_replaced_deleted_and_versioned(store);
    spend_accumulates_per_entity_and_period(store);
}

fn empty_log(store: &mut dyn Store) {
    store.prune_logs(None, Some(0)).expect("prune to empty");
    store.prune_usage(i64::MAX).expect("prune usage to empty");
    assert_eq!(all_rows(store, &LogFilter::default()), Vec::new());
}

/// Every row a filter selects, following `next_before` page by page.
fn all_rows(store: &mut dyn Store, filter: &LogFilter) -> Vec<StoredLogRow> {
    let mut filter = LogFilter {
        limit: 1000,
        ..filter.clone()
    };
    let mut rows = Vec::new();
    loop {
        let page = store.query_logs(&filter).expect("query_logs");
        rows.extend(page.rows);
        match page.next_before {
            Some(before) => filter.before_id = Some(before),
            None => return rows,
        }
    }
}

/// A row with every optional column set, varied by `i`.
fn full_row(i: i64) -> LogRow {
    let i_u = i.unsigned_abs();
    LogRow {
        ts_ms: BASE_MS + i,
        request_id: format!("req-{i}"),
        key_id: Some(format!("key-{}", i % 3)),
        team_id: Some(format!("team-{}", i % 2)),
        customer_id: Some(format!("cust-{}", i % 4)),
        provider: ["openai", "anthropic", "bedrock"][(i % 3) as usize].to_string(),
        model: ["gpt-4o", "claude", "gpt-4o-mini", "llama"][(i % 4) as usize].to_string(),
        dialect: "chat".to_string(),
        status: [200, 200, 429, 500, 201][(i % 5) as usize],
        attempts: 1 + (i % 3) as u32,
        latency_us: 1_000 + i_u * 7,
        ttfb_us: Some(500 + i_u),
        input_tokens: 100 + i_u,
        output_tokens: 10 + 2 * i_u,
        cached_tokens: i_u % 50,
        cost_nanos: 1_000_000 + 13 * i_u,
        priced: i % 7 != 0,
        error: Some(format!("error {i}")),
        request_body: Some(format!("{{\"n\":{i}}}")),
        response_body: Some(format!("{{\"ok\":{i}}}")),
        trace_id: Some(format!("{i:032x}")),
        span_id: Some(format!("{i:016x}")),
        parent_span_id: None,
        finished_us: 0,
    }
}

/// Rows with the optional columns missing in varied patterns, so filters
/// and groupings meet `NULL`s.
fn varied_row(i: i64) -> LogRow {
    let mut row = full_row(i);
    if i % 3 == 2 {
        row.key_id = None;
    }
    if i % 5 == 4 {
        row.team_id = None;
    }
    if i % 4 == 3 {
        row.customer_id = None;
    }
    if i % 2 == 1 {
        row.ttfb_us = None;
        row.error = None;
        row.request_body = None;
    }
    row
}

/// The store's filter semantics in plain Rust (everything but `before_id`
/// and `limit`).
fn matches(filter: &LogFilter, row: &LogRow) -> bool {
    let same = |wanted: &Option<String>, actual: Option<&String>| {
        wanted.as_ref().is_none_or(|wanted| actual == Some(wanted))
    };
    filter.since_ms.is_none_or(|since| row.ts_ms >= since)
        && filter.until_ms.is_none_or(|until| row.ts_ms < until)
        && same(&filter.key_id, row.key_id.as_ref())
        && same(&filter.team_id, row.team_id.as_ref())
        && same(&filter.customer_id, row.customer_id.as_ref())
        && same(&filter.provider, Some(&row.provider))
        && same(&filter.model, Some(&row.model))
        && filter.status.is_none_or(|status| row.status == status)
}

pub fn log_rows_round_trip_exactly(store: &mut dyn Store) {
    empty_log(store);
    store.insert_logs(&[]).expect("insert nothing");
    assert_eq!(all_rows(store, &LogFilter::default()), Vec::new());

    // Every Option None, every number 0, every string empty.
    let bare = LogRow::default();
    store
        .insert_logs(std::slice::from_ref(&bare))
        .expect("insert one");
    let rows = all_rows(store, &LogFilter::default());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].row, bare);

    // Every Option Some, with values that are easy to lose: empty strings
    // and zeros (not None), quotes, SQL, backslashes, non-ASCII, newlines,
    // the largest values each column type holds, a negative timestamp.
    let tricky = LogRow {
        ts_ms: -1,
        request_id: "req-'; DROP TABLE ringbridge_logs; --".to_string(),
        key_id: Some(String::new()),
        team_id: Some("équipe \"α\"".to_string()),
        customer_id: Some("客户 🦀".to_string()),
        provider: "back\\slash".to_string(),
        model: "model with 'single' and \"double\" quotes".to_string(),
        dialect: "messages".to_string(),
        status: u16::MAX,
        attempts: u32::MAX,
        latency_us: i64::MAX as u64,
        ttfb_us: Some(0),
        input_tokens: 1,
        output_tokens: i64::MAX as u64,
        cached_tokens: 0,
        cost_nanos: 123_456_789_012,
        priced: true,
        error: Some("line 1\nline 2\ttab\r\n".to_string()),
        request_body: Some("{\"messages\":[{\"content\":\"héllo \\\"you\\\"\"}]}".to_string()),
        response_body: Some(String::new()),
        trace_id: Some("0af7651916cd43dd8448eb211c80319c".to_string()),
        span_id: Some("b7ad6b7169203331".to_string()),
        parent_span_id: None,
        finished_us: 0,
    };
    store
        .insert_logs(std::slice::from_ref(&tricky))
        .expect("insert tricky");
    let rows = all_rows(store, &LogFilter::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].row, tricky, "newest first, exactly as written");
    assert_eq!(rows[1].row, bare);
    assert!(rows[0].id > rows[1].id);

    // u64 beyond i64 saturates instead of wrapping or failing.
    let huge = LogRow {
        cost_nanos: u64::MAX,
        input_tokens: u64::MAX,
        ttfb_us: Some(u64::MAX),
        ..LogRow::default()
    };
    store.insert_logs(&[huge]).expect("insert huge");
    let stored = &all_rows(store, &LogFilter::default())[0].row;
    assert_eq!(stored.cost_nanos, i64::MAX as u64);
    assert_eq!(stored.input_tokens, i64::MAX as u64);
    assert_eq!(stored.ttfb_us, Some(i64::MAX as u64));

    // Many rows in one call keep their order and content.
    empty_log(store);
    let many: Vec<LogRow> = (0..250).map(varied_row).collect();
    store.insert_logs(&many).expect("insert many");
    let rows = all_rows(store, &LogFilter::default());
    let read_back: Vec<LogRow> = rows.iter().rev().map(|stored| stored.row.clone()).collect();
    assert_eq!(read_back, many);
    assert!(rows.windows(2).all(|pair| pair[0].id > pair[1].id));
}

pub fn filters_select_exactly_the_matching_rows(store: &mut dyn Store) {
    empty_log(store);
    let rows: Vec<LogRow> = (0..60).map(varied_row).collect();
    store.insert_logs(&rows).expect("insert");
    let text = |value: &str| Some(value.to_string());
    let filters = [
        LogFilter::default(),
        LogFilter {
            since_ms: Some(BASE_MS + 10),
            ..LogFilter::default()
        },
        LogFilter {
            until_ms: Some(BASE_MS + 10),
            ..LogFilter::default()
        },
        LogFilter {
            since_ms: Some(BASE_MS + 10),
            until_ms: Some(BASE_MS + 20),
            ..LogFilter::default()
        },
        LogFilter {
            key_id: text("key-1"),
            ..LogFilter::default()
        },
        LogFilter {
            team_id: text("team-0"),
            ..LogFilter::default()
        },
        LogFilter {
            customer_id: text("cust-2"),
            ..LogFilter::default()
        },
        LogFilter {
            provider: text("anthropic"),
            ..LogFilter::default()
        },
        LogFilter {
            model: text("gpt-4o"),
            ..LogFilter::default()
        },
        LogFilter {
            status: Some(429),
            ..LogFilter::default()
        },
        LogFilter {
            provider: text("openai"),
            model: text("gpt-4o-mini"),
            status: Some(200),
            ..LogFilter::default()
        },
        LogFilter {
            key_id: text("key-0"),
            team_id: text("team-1"),
            customer_id: text("cust-1"),
            since_ms: Some(BASE_MS + 5),
            until_ms: Some(BASE_MS + 50),
            ..LogFilter::default()
        },
        LogFilter {
            key_id: text("no-such-key"),
            ..LogFilter::default()
        },
    ];
    for filter in &filters {
        let expected: Vec<LogRow> = rows
            .iter()
            .rev()
            .filter(|row| matches(filter, row))
            .cloned()
            .collect();
        let actual: Vec<LogRow> = all_rows(store, filter)
            .into_iter()
            .map(|stored| stored.row)
            .collect();
        assert_eq!(actual, expected, "filter {filter:?}");
    }
    // Sanity check of the model: these filters are not vacuous.
    assert_eq!(
        rows.iter().filter(|row| matches(&filters[9], row)).count(),
        12
    );

    // before_id keeps only older rows.
    let ids: Vec<i64> = all_rows(store, &LogFilter::default())
        .iter()
        .map(|stored| stored.id)
        .collect();
    let pivot = ids[20];
    let older = all_rows(
        store,
        &LogFilter {
            before_id: Some(pivot),
            ..LogFilter::default()
        },
    );
    assert_eq!(
        older.iter().map(|stored| stored.id).collect::<Vec<_>>(),
        ids[21..]
    );
}

pub fn pages_cover_every_row_once(store: &mut dyn Store) {
    empty_log(store);
    let rows: Vec<LogRow> = (0..95).map(varied_row).collect();
    store.insert_logs(&rows).expect("insert");
    let all_ids: Vec<i64> = all_rows(store, &LogFilter::default())
        .iter()
        .map(|stored| stored.id)
        .collect();
    assert_eq!(all_ids.len(), 95);

    let walk = |store: &mut dyn Store, filter: LogFilter| {
        let mut filter = filter;
        let mut pages = Vec::new();
        loop {
            let page = store.query_logs(&filter).expect("page");
            let ids: Vec<i64> = page.rows.iter().map(|stored| stored.id).collect();
            let done = page.next_before.is_none();
            if let Some(before) = page.next_before {
                assert_eq!(Some(&before), ids.last(), "next_before is the last id");
            }
            pages.push(ids);
            if done {
                return pages;
            }
            filter.before_id = page.next_before;
            assert!(pages.len() <= 200, "pagination does not end");
        }
    };

    // 95 rows by 10: nine full pages, then five rows and no next page.
    let pages = walk(
        store,
        LogFilter {
            limit: 10,
            ..LogFilter::default()
        },
    );
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]
    );
    assert_eq!(pages.concat(), all_ids, "no overlap, no gap, newest first");

    // A filter pages the same way; an exact multiple ends on an empty page.
    let team_ids: Vec<i64> = all_rows(
        store,
        &LogFilter {
            team_id: Some("team-0".into()),
            ..LogFilter::default()
        },
    )
    .iter()
    .map(|stored| stored.id)
    .collect();
    assert_eq!(team_ids.len(), 38);
    let pages = walk(
        store,
        LogFilter {
            team_id: Some("team-0".into()),
            limit: 19,
            ..LogFilter::default()
        },
    );
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [19, 19, 0]);
    assert_eq!(pages.concat(), team_ids);

    // limit is clamped to 1..=1000.
    let one = store.query_logs(&LogFilter::default()).expect("limit 0");
    assert_eq!(one.rows.len(), 1);
    assert_eq!(one.next_before, Some(all_ids[0]));
    let extra: Vec<LogRow> = (95..1010).map(full_row).collect();
    store.insert_logs(&extra).expect("insert more");
    let capped = store
        .query_logs(&LogFilter {
            limit: 5000,
            ..LogFilter::default()
        })
        .expect("limit 5000");
    assert_eq!(capped.rows.len(), 1000);
    assert!(capped.next_before.is_some());
}

/// The usage contract in plain Rust: group, sum, order by cost desc, then
/// requests desc, then group (`None` last).
fn expected_usage(rows: &[LogRow], query: &UsageQuery) -> Vec<UsageRow> {
    let mut groups: BTreeMap<Option<String>, UsageRow> = BTreeMap::new();
    for row in rows {
        if query.since_ms.is_some_and(|since| row.ts_ms < since)
            || query.until_ms.is_some_and(|until| row.ts_ms >= until)
        {
            continue;
        }
        let group = match query.group_by {
            GroupBy::Key => row.key_id.clone(),
            GroupBy::Team => row.team_id.clone(),
            GroupBy::Customer => row.customer_id.clone(),
            GroupBy::Provider => Some(row.provider.clone()),
            GroupBy::Model => Some(row.model.clone()),
        };
        let totals = groups.entry(group.clone()).or_insert_with(|| UsageRow {
            group,
            ..UsageRow::default()
        });
        totals.requests += 1;
        totals.errors += u64::from(!(200..300).contains(&row.status));
        totals.input_tokens += row.input_tokens;
        totals.output_tokens += row.output_tokens;
        totals.cached_tokens += row.cached_tokens;
        totals.cost_nanos += row.cost_nanos;
        totals.unpriced += u64::from(!row.priced);
    }
    let mut totals: Vec<UsageRow> = groups.into_values().collect();
    totals.sort_by(|a, b| {
        b.cost_nanos
            .cmp(&a.cost_nanos)
            .then(b.requests.cmp(&a.requests))
            .then(a.group.is_none().cmp(&b.group.is_none()))
            .then(a.group.cmp(&b.group))
    });
    totals
}

/// Every (group, window) pair answered as `expected_usage` says.
fn assert_usage_matches_the_model(
    store: &mut dyn Store,
    rows: &[LogRow],
    group_bys: &[GroupBy],
    windows: &[(Option<i64>, Option<i64>)],
) {
    for &group_by in group_bys {
        for &(since_ms, until_ms) in windows {
            let query = UsageQuery {
                since_ms,
                until_ms,
                group_by,
            };
            let actual = store.usage(&query).expect("usage");
            assert_eq!(actual, expected_usage(rows, &query), "{query:?}");
        }
    }
}

pub fn usage_totals_match_a_model_of_the_rows(store: &mut dyn Store) {
    empty_log(store);
    let mut rows: Vec<LogRow> = (0..80).map(varied_row).collect();
    // Statuses on both sides of the 2xx range count as errors.
    rows[1].status = 199;
    rows[2].status = 300;
    rows[3].status = 299;
    store.insert_logs(&rows).expect("insert");
    let group_bys = [
        GroupBy::Key,
        GroupBy::Team,
        GroupBy::Customer,
        GroupBy::Provider,
        GroupBy::Model,
    ];
    let windows = [
        (None, None),
        (Some(BASE_MS + 10), None),
        (None, Some(BASE_MS + 33)),
        (Some(BASE_MS + 10), Some(BASE_MS + 33)),
        (Some(BASE_MS + 500), None),
    ];
    assert_usage_matches_the_model(store, &rows, &group_bys, &windows);

    // One case by hand, so the model above is checked too: two providers
    // with equal cost order by requests; equal both, by name, None last.
    empty_log(store);
    let row = |key: Option<&str>, provider: &str, cost: u64, status: u16, priced: bool| LogRow {
        ts_ms: BASE_MS,
        key_id: key.map(str::to_string),
        provider: provider.to_string(),
        status,
        priced,
        input_tokens: 3,
        output_tokens: 4,
        cached_tokens: 1,
        cost_nanos: cost,
        ..LogRow::default()
    };
    store
        .insert_logs(&[
            row(Some("b"), "x", 50, 200, true),
            row(Some("b"), "x", 50, 500, false),
            row(Some("a"), "y", 100, 200, true),
            row(None, "z", 100, 404, true),
            row(Some("c"), "w", 100, 200, true),
        ])
        .expect("insert");
    let by_provider = store
        .usage(&UsageQuery {
            since_ms: None,
            until_ms: None,
            group_by: GroupBy::Provider,
        })
        .expect("usage");
    let summary: Vec<(Option<&str>, u64, u64, u64, u64)> = by_provider
        .iter()
        .map(|u| {
            (
                u.group.as_deref(),
                u.requests,
                u.errors,
                u.cost_nanos,
                u.unpriced,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("x"), 2, 1, 100, 1),
            (Some("w"), 1, 0, 100, 0),
            (Some("y"), 1, 0, 100, 0),
            (Some("z"), 1, 1, 100, 0),
        ]
    );
    assert_eq!(
        (by_provider[0].input_tokens, by_provider[0].output_tokens),
        (6, 8)
    );
    let by_key = store
        .usage(&UsageQuery {
            since_ms: None,
            until_ms: None,
            group_by: GroupBy::Key,
        })
        .expect("usage");
    let groups: Vec<Option<&str>> = by_key.iter().map(|u| u.group.as_deref()).collect();
    assert_eq!(groups, [Some("b"), Some("a"), Some("c"), None]);
}

/// Rows over six hours, written in several batches (so rollup buckets are
/// added to), asked over windows that start and end inside hours, on
/// hour boundaries, and open: every answer equals the model of the rows.
/// Then usage outlives the log's pruning, and goes with its own.
pub fn usage_over_hours_adds_rollup_and_edges_exactly(store: &mut dyn Store) {
    use super::rollup::HOUR_MS as H;
    empty_log(store);
    let start = super::rollup::hour_of(BASE_MS);
    let rows: Vec<LogRow> = (0..120)
        .map(|i| LogRow {
            ts_ms: start + i * 3 * 60_000 + i % 7,
            ..varied_row(i)
        })
        .collect();
    for batch in rows.chunks(17) {
        store.insert_logs(batch).expect("insert");
    }
    let windows = [
        (None, None),
        (Some(start), Some(start + 6 * H)),
        (Some(start + H), Some(start + 3 * H)),
        (Some(start + 20 * 60_000 + 1), Some(start + 4 * H + 1)),
        (Some(start + 90 * 60_000), None),
        (None, Some(start + 2 * H + 5 * 60_000)),
        (Some(start + 2 * H + 1), Some(start + 2 * H + 59 * 60_000)),
        (
            Some(start + 2 * H + 30 * 60_000),
            Some(start + 3 * H + 30 * 60_000),
        ),
    ];
    let group_bys = [GroupBy::Key, GroupBy::Customer, GroupBy::Model];
    assert_usage_matches_the_model(store, &rows, &group_bys, &windows);
    let everything = UsageQuery {
        since_ms: None,
        until_ms: None,
        group_by: GroupBy::Team,
    };
    let before = store.usage(&everything).expect("usage");
    store.prune_logs(None, Some(0)).expect("prune");
    assert_eq!(store.usage(&everything).expect("usage"), before);
    // Hours that ended before the cut go; the hour holding it stays.
    assert!(store.prune_usage(start + 2 * H + 1).expect("prune usage") > 0);
    let left: u64 = store
        .usage(&everything)
        .expect("usage")
        .iter()
        .map(|u| u.requests)
        .sum();
    assert_eq!(left, 80);
    store.prune_usage(i64::MAX).expect("prune usage");
    assert_eq!(store.usage(&everything).expect("usage"), Vec::new());
}

pub fn prune_removes_by_age_then_by_count(store: &mut dyn Store) {
    empty_log(store);
    let rows: Vec<LogRow> = (0..10).map(full_row).collect();
    store.insert_logs(&rows).expect("insert");
    let remaining = |store: &mut dyn Store| -> Vec<i64> {
        all_rows(store, &LogFilter::default())
            .iter()
            .rev()
            .map(|stored| stored.row.ts_ms - BASE_MS)
            .collect()
    };
    assert_eq!(store.prune_logs(Some(BASE_MS + 3), None), Ok(3));
    assert_eq!(remaining(store), [3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(store.prune_logs(None, Some(4)), Ok(3));
    assert_eq!(remaining(store), [6, 7, 8, 9]);
    // Age first (drops 6), then count (keeps the newest one of 7, 8, 9).
    assert_eq!(store.prune_logs(Some(BASE_MS + 7), Some(1)), Ok(3));
    assert_eq!(remaining(store), [9]);
    assert_eq!(store.prune_logs(None, Some(5)), Ok(0));
    assert_eq!(store.prune_logs(Some(BASE_MS), None), Ok(0));
    assert_eq!(store.prune_logs(None, None), Ok(0));
    assert_eq!(remaining(store), [9]);

    // Ids keep rising after a prune, so an old `before_id` stays valid.
    let last_id = all_rows(store, &LogFilter::default())[0].id;
    assert_eq!(store.prune_logs(None, Some(0)), Ok(1));
    store.insert_logs(&[full_row(11)]).expect("insert");
    assert!(all_rows(store, &LogFilter::default())[0].id > last_id);
}

fn entity(kind: EntityKind, id: &str, secret: Option<u8>, doc: &str) -> StoredEntity {
    StoredEntity {
        kind,
        id: id.to_string(),
        secret_hash: secret.map(|byte| [byte; 32]),
        doc: doc.to_string(),
        created_ms: BASE_MS,
        updated_ms: BASE_MS,
    }
}

fn sorted_entities(store: &mut dyn Store) -> Vec<StoredEntity> {
    let mut entities = store.entities().expect("entities");
    entities.sort_by(|a, b| (a.kind.as_str(), &a.id).cmp(&(b.kind.as_str(), &b.id)));
    entities
}

pub fn entities_are_replaced_deleted_and_versioned(store: &mut dyn Store) {
    let start = store.entities_version().expect("version");
    let before = sorted_entities(store);
    let version = |store: &mut dyn Store| store.entities_version().expect("version") - start;

    let key_1 = entity(EntityKind::Key, "k1", Some(1), r#"{"name":"first"}"#);
    let team = entity(
        EntityKind::Team,
        "t1",
        None,
        r#"{"name":"Zoë's \"team\" 🚀"}"#,
    );
    let customer = entity(EntityKind::Customer, "c1", None, "{}");
    for (n, item) in [&key_1, &team, &customer].into_iter().enumerate() {
        store.put_entity(item).expect("put");
        assert_eq!(version(store), n as i64 + 1);
    }
    let mut expected = before.clone();
    expected.extend([customer.clone(), key_1.clone(), team.clone()]);
    expected.sort_by(|a, b| (a.kind.as_str(), &a.id).cmp(&(b.kind.as_str(), &b.id)));
    assert_eq!(sorted_entities(store), expected);

    // Replacing keeps one entity per (kind, id) and frees the old hash.
    let key_1_again = StoredEntity {
        secret_hash: Some([2; 32]),
        doc: r#"{"name":"renamed"}"#.to_string(),
        updated_ms: BASE_MS + 5,
        ..key_1.clone()
    };
    store.put_entity(&key_1_again).expect("replace");
    assert_eq!(version(store), 4);
    let key_2 = entity(EntityKind::Key, "k2", Some(1), "{}");
    store.put_entity(&key_2).expect("reuse a freed hash");
    assert_eq!(version(store), 5);

    // A hash held by another key is refused and changes nothing.
    let thief = entity(EntityKind::Key, "k3", Some(2), "{}");
    match store.put_entity(&thief) {
        Err(StoreError::Conflict(message)) => assert!(!message.is_empty()),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let stealing_replace = StoredEntity {
        secret_hash: Some([2; 32]),
        ..key_2.clone()
    };
    assert!(matches!(
        store.put_entity(&stealing_replace),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(version(store), 5, "a refused put does not bump the version");
    let keys: Vec<StoredEntity> = sorted_entities(store)
        .into_iter()
        .filter(|e| e.kind == EntityKind::Key && e.id.starts_with('k'))
        .collect();
    assert_eq!(keys, [key_1_again.clone(), key_2.clone()]);

    // The same id under two kinds is two entities.
    let same_key = entity(EntityKind::Key, "same", None, "{\"as\":\"key\"}");
    let same_team = entity(EntityKind::Team, "same", None, "{\"as\":\"team\"}");
    store.put_entity(&same_key).expect("put");
    store.put_entity(&same_team).expect("put");
    assert_eq!(version(store), 7);

    assert_eq!(store.delete_entity(EntityKind::Key, "same"), Ok(true));
    assert_eq!(version(store), 8);
    assert_eq!(store.delete_entity(EntityKind::Key, "same"), Ok(false));
    assert_eq!(
        store.delete_entity(EntityKind::Customer, "nobody"),
        Ok(false)
    );
    assert_eq!(version(store), 8, "deleting nothing changes nothing");
    let all = sorted_entities(store);
    assert!(all.contains(&same_team));
    assert!(!all.contains(&same_key));

    // Deleting a key frees its hash.
    assert_eq!(store.delete_entity(EntityKind::Key, "k1"), Ok(true));
    store.put_entity(&thief).expect("hash is free now");
    assert_eq!(version(store), 10);

    for (kind, id) in [
        (EntityKind::Key, "k2"),
        (EntityKind::Key, "k3"),
        (EntityKind::Team, "t1"),
        (EntityKind::Team, "same"),
        (EntityKind::Customer, "c1"),
    ] {
        assert_eq!(store.delete_entity(kind, id), Ok(true), "{kind:?} {id}");
    }
    assert_eq!(sorted_entities(store), before);
    assert_eq!(version(store), 15);
}

pub fn spend_accumulates_per_entity_and_period(store: &mut dyn Store) {
    let key = EntityKind::Key;
    assert_eq!(store.add_spend(key, "spender", 100, 5), Ok(5));
    assert_eq!(store.add_spend(key, "spender", 100, 7), Ok(12));
    assert_eq!(store.add_spend(key, "spender", 100, 0), Ok(12));
    // Another period, another kind with the same id, "never resets" (0).
    assert_eq!(store.add_spend(key, "spender", 200, 3), Ok(3));
    assert_eq!(store.add_spend(EntityKind::Team, "spender", 100, 1), Ok(1));
    assert_eq!(store.add_spend(key, "spender", 0, 9), Ok(9));
    assert_eq!(store.add_spend(key, "other", 100, 2), Ok(2));
    assert_eq!(store.add_spend(key, "spender", 100, 1), Ok(13));
    assert_eq!(store.add_spend(key, "spender", 200, 1), Ok(4));
    assert_eq!(
        store.add_spend(key, "Spender", 100, 1),
        Ok(1),
        "ids are case-sensitive"
    );
    assert_eq!(store.add_spend(key, "ключ 🔑 'x'", 100, 6), Ok(6));

    // Saturates at i64::MAX instead of overflowing.
    let customer = EntityKind::Customer;
    let max = i64::MAX as u64;
    assert_eq!(store.add_spend(customer, "huge", 0, u64::MAX), Ok(max));
    assert_eq!(store.add_spend(customer, "huge", 0, 1), Ok(max));
    assert_eq!(store.add_spend(customer, "near", 0, max - 1), Ok(max - 1));
    assert_eq!(store.add_spend(customer, "near", 0, 5), Ok(max));
}
