//! Postgres backend tests. Those that need a server run when
//! `RINGBRIDGE_TEST_POSTGRES_URL` is set (`test.sh` starts one with
//! `scripts/postgres.sh`) and print a skip line otherwise; each uses a
//! schema of its own, dropped at the end, so runs never collide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use crate::store::conformance;

const URL_VAR: &str = "RINGBRIDGE_TEST_POSTGRES_URL";

/// A schema with a name unique to this process and test, dropped on drop.
struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// `None` (after saying so) when no test server is configured.
    fn new() -> Option<Self> {
        let Some(url) = std::env::var(URL_VAR).ok().filter(|url| !url.is_empty()) else {
            eprintln!("skipped: {URL_VAR} not set");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "rb_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Some(TestSchema { url, name })
    }

    fn connect(&self) -> PostgresStore {
        connect_with_schema(&self.url, &self.name).expect("connect to the test server")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.url, NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Runs one conformance function on a fresh schema.
fn conform(check: fn(&mut dyn Store)) {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let mut store = schema.connect();
    assert_eq!(store.backend(), "postgres");
    check(&mut store);
}

#[test]
fn postgres_passes_the_whole_conformance_suite_on_one_store() {
    conform(conformance::run_all);
}

#[test]
fn postgres_log_rows_round_trip_exactly() {
    conform(conformance::log_rows_round_trip_exactly);
}

#[test]
fn postgres_filters_select_exactly_the_matching_rows() {
    conform(conformance::filters_select_exactly_the_matching_rows);
}

#[test]
fn postgres_pages_cover_every_row_once() {
    conform(conformance::pages_cover_every_row_once);
}

#[test]
fn postgres_usage_totals_match_a_model_of_the_rows() {
    conform(conformance::usage_totals_match_a_model_of_the_rows);
}

#[test]
fn postgres_usage_over_hours_adds_rollup_and_edges_exactly() {
    conform(conformance::usage_over_hours_adds_rollup_and_edges_exactly);
}

#[test]
fn a_version_one_schema_gets_its_usage_rolled_up_from_the_log() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    {
        let mut client = Client::connect(&schema.url, NoTls).unwrap();
        let name = &schema.name;
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {name}; SET search_path TO {name}; {} \
                 CREATE TABLE ringbridge_schema (version BIGINT NOT NULL); \
                 INSERT INTO ringbridge_schema (version) VALUES (1);",
                MIGRATIONS[0]
            ))
            .unwrap();
        // Rows a version-one build wrote: two hours, three keys, errors.
        for i in 0..24i64 {
            let key = (i % 3 != 0).then(|| format!("k{}", i % 2));
            let status: i64 = if i % 5 == 0 { 500 } else { 200 };
            client
                .execute(
                    "INSERT INTO ringbridge_logs (ts_ms, request_id, key_id, provider, model, \
                     dialect, status, attempts, latency_us, input_tokens, output_tokens, \
                     cached_tokens, cost_nanos, priced) \
                     VALUES ($1, '', $2, 'openai', 'm', '', $3, 1, 0, 10, 1, 0, 7, $4)",
                    &[
                        &(1_700_000_000_000 + i * 300_000),
                        &key,
                        &status,
                        &(i % 4 != 0),
                    ],
                )
                .unwrap();
        }
    }
    let mut store = schema.connect();
    assert_eq!(store.migrations_applied(), MIGRATIONS.len() - 1);
    let usage = store
        .usage(&UsageQuery {
            since_ms: None,
            until_ms: None,
            group_by: crate::store::GroupBy::Key,
        })
        .unwrap();
    let total = |f: fn(&UsageRow) -> u64| usage.iter().map(f).sum::<u64>();
    assert_eq!(total(|u| u.requests), 24);
    assert_eq!(total(|u| u.errors), 5);
    assert_eq!(total(|u| u.unpriced), 6);
    assert_eq!(total(|u| u.cost_nanos), 24 * 7);
    assert_eq!(usage.last().unwrap().group, None);
}

#[test]
fn postgres_prune_removes_by_age_then_by_count() {
    conform(conformance::prune_removes_by_age_then_by_count);
}

#[test]
fn postgres_entities_are_replaced_deleted_and_versioned() {
    conform(conformance::entities_are_replaced_deleted_and_versioned);
}

#[test]
fn postgres_spend_accumulates_per_entity_and_period() {
    conform(conformance::spend_accumulates_per_entity_and_period);
}

#[test]
fn reconnecting_keeps_the_data_and_applies_no_migration_twice() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let mut first = schema.connect();
    assert_eq!(first.migrations_applied(), MIGRATIONS.len());
    assert_eq!(first.schema_version(), Ok(MIGRATIONS.len() as i64));
    let row = LogRow {
        request_id: "kept".into(),
        ..LogRow::default()
    };
    first.insert_logs(std::slice::from_ref(&row)).unwrap();
    drop(first);

    let mut second = schema.connect();
    assert_eq!(second.migrations_applied(), 0);
    assert_eq!(second.schema_version(), Ok(MIGRATIONS.len() as i64));
    let page = second
        .query_logs(&LogFilter {
            limit: 10,
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].row, row);
}

#[test]
fn gateways_starting_together_migrate_once() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let schema = Arc::new(schema);
    let start = Arc::new(Barrier::new(4));
    let gateways: Vec<_> = (0..4)
        .map(|_| {
            let (schema, start) = (Arc::clone(&schema), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                schema.connect().migrations_applied()
            })
        })
        .collect();
    let mut applied: Vec<usize> = gateways
        .into_iter()
        .map(|gateway| gateway.join().expect("connect"))
        .collect();
    applied.sort_unstable();
    assert_eq!(applied, [0, 0, 0, MIGRATIONS.len()]);
}

#[test]
fn two_instances_add_spend_and_bump_the_version_without_losing_an_update() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let instances: Vec<_> = (0..2)
        .map(|n| {
            let mut store = schema.connect();
            std::thread::spawn(move || {
                for i in 0..100 {
                    store.add_spend(EntityKind::Key, "shared", 60, 7).unwrap();
                    store
                        .put_entity(&StoredEntity {
                            kind: EntityKind::Team,
                            id: format!("team-{n}-{}", i % 5),
                            secret_hash: None,
                            doc: "{}".into(),
                            created_ms: 0,
                            updated_ms: i,
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for instance in instances {
        instance.join().expect("instance");
    }
    let mut store = schema.connect();
    assert_eq!(
        store.add_spend(EntityKind::Key, "shared", 60, 0),
        Ok(2 * 100 * 7)
    );
    assert_eq!(store.entities_version(), Ok(200));
    assert_eq!(store.entities().unwrap().len(), 10);
}

#[test]
fn a_lost_connection_is_unavailable_then_reconnects() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let mut store = schema.connect();
    assert_eq!(store.add_spend(EntityKind::Key, "k", 0, 1), Ok(1));
    let pid: i32 = store
        .client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut admin = schema.connect();
    let killed: bool = admin
        .client
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);

    for _ in 0..200 {
        let alive: i64 = admin
            .client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get(0);
        if alive == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    // The first call learns the connection is gone; the next reconnects.
    let lost = store.add_spend(EntityKind::Key, "k", 0, 1);
    assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
    let outcome = store.add_spend(EntityKind::Key, "k", 0, 1);
    // The failed call added nothing; the successful one added 1.
    assert_eq!(outcome, Ok(2));
    assert_eq!(store.entities_version(), Ok(0));
}

#[test]
fn nul_in_logged_text_is_replaced_not_fatal_to_the_batch() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let mut store = schema.connect();
    let rows = [
        LogRow {
            request_id: "fine".into(),
            ..LogRow::default()
        },
        LogRow {
            request_id: "nul".into(),
            response_body: Some("a\0b".into()),
            ..LogRow::default()
        },
    ];
    store
        .insert_logs(&rows)
        .expect("a NUL does not fail the batch");
    let page = store
        .query_logs(&LogFilter {
            limit: 10,
            ..LogFilter::default()
        })
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    assert_eq!(
        page.rows[0].row.response_body.as_deref(),
        Some("a\u{FFFD}b")
    );
}

#[test]
fn a_schema_newer_than_this_build_is_refused() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let mut store = schema.connect();
    store
        .client
        .execute("UPDATE ringbridge_schema SET version = version + 1", &[])
        .unwrap();
    drop(store);
    match connect_with_schema(&schema.url, &schema.name) {
        Err(StoreError::Other(message)) => assert!(message.contains("newer"), "{message}"),
        Err(other) => panic!("expected Other, got {other:?}"),
        Ok(_) => panic!("a newer schema was used"),
    }
}

#[test]
fn a_wrong_password_is_unavailable_and_not_echoed() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let Some(password) = url_password(&schema.url) else {
        eprintln!("skipped: the test server's URL has no password");
        return;
    };
    let wrong = "Wr0ng-pa55word-9f3e";
    let url = schema.url.replacen(password, wrong, 1);
    match connect_with_schema(&url, &schema.name) {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains(wrong), "{message}");
            assert!(!message.contains(password), "{message}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a wrong password was accepted (trust authentication?)"),
    }
}

#[test]
fn errors_never_show_the_urls_password() {
    // Nothing listens on port 1: refused at once, no server needed.
    let refused = connect("postgres://gateway:S3cret%2Fpw@127.0.0.1:1/db");
    match refused {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("S3cret"), "{message}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to port 1"),
    }
    let unparsable = connect("postgres://gateway:S3cret@127.0.0.1:notaport/db");
    match unparsable {
        Err(StoreError::Other(message)) => {
            assert!(message.contains("invalid Postgres URL"), "{message}");
            assert!(!message.contains("S3cret"), "{message}");
        }
        Err(other) => panic!("expected Other, got {other:?}"),
        Ok(_) => panic!("parsed a bad port"),
    }
    let redactor = Redactor::for_url("postgres://u:hunter2@h/db");
    assert_eq!(
        redactor.scrub("auth for hunter2 failed".into()),
        "auth for *** failed"
    );
}

#[test]
fn url_password_is_found_in_the_url_form_only() {
    assert_eq!(
        url_password("postgres://u:p%40ss@h:5432/db"),
        Some("p%40ss")
    );
    assert_eq!(url_password("postgresql://u:a:b@c@h/db?x=1"), Some("a:b@c"));
    assert_eq!(url_password("postgres://u@h/db"), None);
    assert_eq!(url_password("postgres://h/db?user=u"), None);
    assert_eq!(url_password("host=h user=u password=p"), None);
}

#[test]
fn schema_names_must_be_plain_lowercase_identifiers() {
    for bad in [
        "",
        "Upper",
        "1st",
        "with space",
        "semi;colon",
        "quo\"te",
        &"a".repeat(64),
    ] {
        match connect_with_schema("postgres://u@127.0.0.1:1/db", bad) {
            Err(StoreError::Other(message)) => assert!(message.contains("schema"), "{message}"),
            Err(other) => panic!("{bad:?}: expected Other, got {other:?}"),
            Ok(_) => panic!("{bad:?} accepted"),
        }
    }
}
