//! Several gateways on one real Postgres server (started by `test.sh`
//! through `scripts/postgres.sh`): keys made on one are used on another,
//! every instance's requests land in the one request log, and spend is one
//! budget across them. Skipped, saying so, without
//! `RINGBRIDGE_TEST_POSTGRES_URL`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn postgres_url() -> Option<String> {
    match std::env::var("RINGBRIDGE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: RINGBRIDGE_TEST_POSTGRES_URL not set (test.sh starts a Postgres server)"
            );
            None
        }
    }
}

fn chat(gw: &Proc, key: &str) -> Resp {
    chat_as(gw, key, "mock/echo")
}

/// A gateway on `schema` of the test server.
fn on_postgres(url: &str, schema: &str, extra: &str) -> Proc {
    gateway(GatewayOpts {
        config: Some(format!(
            "env_providers = false\n{extra}\n[store]\npostgres = \"{url}\"\npostgres_schema = \"{schema}\"\n"
        )),
        ..Default::default()
    })
}

#[test]
fn gateways_sharing_postgres_share_keys_and_one_request_log() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("gw_{}_{}", std::process::id(), unique());
    let one_dollar_per_million = "[pricing.\"mock/echo\"]\ninput = 1\noutput = 1\n";
    let a = on_postgres(&url, &schema, one_dollar_per_million);
    let mut b = on_postgres(&url, &schema, one_dollar_per_million);
    let made = call(&a, "POST", "/admin/keys", Some(&json!({"name": "shared"})));
    assert_eq!(made.status, 201, "{}", made.text());
    let key = made.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(chat(&a, &key).status, 200);
    // The other instance learns of the key from the store.
    let id = made.json()["id"].as_str().unwrap().to_owned();
    assert!(
        eventually(Duration::from_secs(10), || {
            call(&b, "GET", &format!("/admin/keys/{id}"), None).status == 200
        }),
        "a key made on one gateway is known to the other"
    );
    assert_eq!(chat(&b, &key).status, 200);
    assert_eq!(chat(&b, "rb-not-a-key").status, 401);
    let mut seen = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            seen = call(&a, "GET", &format!("/admin/logs?key_id={id}"), None).json();
            seen["data"].as_array().is_some_and(|d| d.len() >= 2)
        }),
        "rows of both instances in one log: {seen}\n{}",
        b.stderr()
    );
    // Priced by the override below, from each row's own usage.
    for row in seen["data"].as_array().unwrap() {
        let tokens = row["input_tokens"].as_u64().unwrap() + row["output_tokens"].as_u64().unwrap();
        let cost = row["cost_usd"].as_f64().unwrap();
        assert!((cost - tokens as f64 * 1e-6).abs() < 1e-12, "{row}");
    }
    // Deleted on B, refused on A.
    let other = call(
        &b,
        "POST",
        "/admin/keys",
        Some(&json!({"name": "keeps-auth-on"})),
    );
    assert_eq!(other.status, 201);
    assert_eq!(
        call(&b, "DELETE", &format!("/admin/keys/{id}"), None).status,
        200
    );
    assert!(eventually(Duration::from_secs(10), || chat(&a, &key)
        .status
        == 401));
}

#[test]
fn a_postgres_that_is_down_at_start_is_waited_for_and_requests_are_served_meanwhile() {
    if postgres_url().is_none() {
        return;
    }
    // Nothing listens on this port: the store is down for the whole test.
    let mut gw = gateway_with_unreachable_postgres("secret-password");
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            r#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200);
    let r = call(&gw, "GET", "/admin/keys", None);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(!r.text().contains("secret-password"));
    assert!(
        !gw.stderr().contains("secret-password"),
        "no password in the log"
    );
}

#[test]
fn a_budget_is_one_budget_across_gateways_on_postgres() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("gw_{}_{}", std::process::id(), unique());
    // Each request costs far more than the budget: one spends it.
    let extra = "[pricing.\"mock/echo\"]\ninput = 1000\noutput = 1000\n";
    let a = on_postgres(&url, &schema, extra);
    let b = on_postgres(&url, &schema, extra);
    let made = call(
        &a,
        "POST",
        "/admin/keys",
        Some(&json!({"name": "shared-budget", "budget": {"limit_usd": 0.001, "period": "daily"}})),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let (id, key) = (
        made.json()["id"].as_str().unwrap().to_owned(),
        made.json()["key"].as_str().unwrap().to_owned(),
    );
    assert!(eventually(Duration::from_secs(10), || {
        call(&b, "GET", &format!("/admin/keys/{id}"), None).status == 200
    }));
    // Spent on A...
    assert_eq!(chat(&a, &key).status, 200);
    assert_eq!(chat(&a, &key).status, 402);
    // ...refused on B once it has synced with the store.
    let mut last = 0;
    assert!(
        eventually(Duration::from_secs(15), || {
            last = chat(&b, &key).status;
            last == 402
        }),
        "B answered {last}"
    );
}

#[test]
fn a_killed_store_connection_loses_no_request_and_the_log_resumes() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("gw_{}_{}", std::process::id(), unique());
    let app = format!("rb_kill_{}_{}", std::process::id(), unique());
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut gw = on_postgres(&format!("{url}{sep}application_name={app}"), &schema, "");
    let mut admin =
        postgres::Client::connect(&url, postgres::NoTls).expect("the test's own connection");
    let mut killed = 0;
    for i in 0..200 {
        assert_eq!(chat(&gw, "").status, 200, "request {i}");
        if i % 50 == 25 {
            // The server ends the gateway's session, as a restart or failover would.
            for row in admin
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                    &[&app],
                )
                .unwrap()
            {
                killed += usize::from(row.get::<_, bool>(0));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    assert!(killed >= 1, "the gateway's connection was found and ended");
    // Rows waited in the queues for the reconnection: every request is logged.
    // The gateway reconnects; the rows after the last kill are there.
    assert_eq!(chat(&gw, "").status, 200);
    let mut page = Value::Null;
    assert!(
        eventually(Duration::from_secs(15), || {
            page = call(&gw, "GET", "/admin/logs?limit=1000", None).json();
            page["data"].as_array().is_some_and(|d| d.len() == 201)
        }),
        "{page}\n{}\n{}",
        roundtrip(gw.addr, &get("/metrics", &[]))
            .text()
            .lines()
            .filter(|l| l.starts_with("ringbridge_log_rows"))
            .collect::<Vec<_>>()
            .join("\n"),
        gw.stderr()
    );
    // Whatever a kill cost is counted, never silently lost.
    let text = roundtrip(gw.addr, &get("/metrics", &[])).text();
    let count = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    };
    let logged = page["data"].as_array().unwrap().len() as u64;
    let accounted = count("ringbridge_log_rows_written_total ")
        + count("ringbridge_log_rows_failed_total ")
        + count("ringbridge_log_rows_dropped_total ");
    assert_eq!((logged, accounted), (201, 201));
    assert_eq!(count("ringbridge_log_rows_failed_total "), 0);
}
