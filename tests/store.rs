//! The admin API over the store, end to end: keys, teams and customers
//! made through `/admin/*`, used at once, kept hashed in a real SQLite file
//! across a restart; budgets refusing with 402; every request leaving a row
//! that `/admin/logs` and `/admin/usage` read back; and a locked store
//! costing log rows, never a request.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn start(dir: &std::path::Path, extra: &str) -> Proc {
    gateway(GatewayOpts {
        config: Some(format!(
            "env_providers = false\n[store]\nsqlite = \"{}\"\n{extra}",
            dir.join("gateway.db").display()
        )),
        dir: Some(dir.to_owned()),
        ..Default::default()
    })
}

#[test]
fn keys_made_through_the_api_work_at_once_and_survive_a_restart() {
    let dir = temp_dir();
    let gw = start(&dir, "");
    let team = call(
        &gw,
        "POST",
        "/admin/teams",
        Some(&json!({"id": "eng", "rate_limit": {"rpm": 100}})),
    );
    assert_eq!(team.status, 201, "{}", team.text());
    let made = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(
            &json!({"name": "ci", "team_id": "eng", "models": ["mock/echo"],
                     "rate_limit": {"rpm": 2}, "expires_at": "2099-01-01T00:00:00Z"}),
        ),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    let (id, key) = (
        made["id"].as_str().unwrap().to_owned(),
        made["key"].as_str().unwrap().to_owned(),
    );
    assert!(key.starts_with("rb-") && key.len() > 40, "{key}");
    assert_eq!(made["team_id"], "eng");

    // Used at once; its limits and models hold.
    let r = chat_as(&gw, &key, "mock/echo");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
    let r = chat_as(&gw, &key, "mock/fast");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(chat_as(&gw, &key, "mock/echo").status, 200);
    assert_eq!(chat_as(&gw, &key, "mock/echo").status, 429);

    // Listed and read without the secret, with where it came from.
    let list = call(&gw, "GET", "/admin/keys", None);
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(&key), "the secret is shown once only");
    let one = call(&gw, "GET", &format!("/admin/keys/{id}"), None).json();
    assert_eq!(one["source"], "api");
    assert_eq!(one["key_hint"], format!("rb-…{}", &key[key.len() - 4..]));
    assert_eq!(one["expires_at"], "2099-01-01T00:00:00Z");

    // The file holds the hash, not the secret.
    drop(gw);
    let bytes = std::fs::read(dir.join("gateway.db")).unwrap();
    assert!(
        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the secret is not stored"
    );

    // A restart keeps the key, its team and its standing.
    let gw = start(&dir, "");
    assert_eq!(
        chat_as(&gw, &key, "mock/echo").status,
        200,
        "the key survives a restart"
    );
    let patched = call(
        &gw,
        "PATCH",
        &format!("/admin/keys/{id}"),
        Some(&json!({"disabled": true})),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["disabled"], true);
    let r = chat_as(&gw, &key, "mock/echo");
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (401, json!("invalid_api_key"))
    );

    // A team with keys is not deleted under them; the key is, then the team.
    // (Another key stays: on loopback, a gateway with no key at all is open.)
    let other = call(&gw, "POST", "/admin/keys", Some(&json!({"name": "other"})));
    assert_eq!(other.status, 201);
    assert_eq!(call(&gw, "DELETE", "/admin/teams/eng", None).status, 409);
    assert_eq!(
        call(&gw, "DELETE", &format!("/admin/keys/{id}"), None).status,
        200
    );
    assert_eq!(
        call(&gw, "GET", &format!("/admin/keys/{id}"), None).status,
        404
    );
    assert_eq!(chat_as(&gw, &key, "mock/echo").status, 401);
    assert_eq!(call(&gw, "DELETE", "/admin/teams/eng", None).status, 200);
}

#[test]
fn bad_admin_calls_name_what_is_wrong() {
    let dir = temp_dir();
    let gw = start(
        &dir,
        "[[virtual_keys]]\nname = \"from-file\"\nkey = \"rb-file-key-0001\"\n",
    );
    let bad = |body: Value, path: &str| {
        let r = call(&gw, "POST", "/admin/keys", Some(&body));
        assert_eq!(r.status, 400, "{}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(path), "{message} should name {path}");
    };
    bad(json!({"models": []}), "name");
    bad(
        json!({"name": "x", "budget": {"limit_usd": -1}}),
        "budget.limit_usd",
    );
    bad(
        json!({"name": "x", "rate_limit": {"rpm": 0}}),
        "rate_limit.rpm",
    );
    bad(json!({"name": "x", "team_id": "nobody"}), "team_id");
    bad(json!({"name": "x", "models": ["a*/b"]}), "models[0]");
    bad(json!({"name": "x", "key": "my-own"}), "key");
    let r = roundtrip(gw.addr, &post("/admin/keys", "{not json", &[]));
    assert_eq!(r.status, 400);
    // Keys from the file are listed, and changed only in the file.
    let list = call(&gw, "GET", "/admin/keys", None).json();
    assert_eq!(list["data"][0]["source"], "config");
    let r = call(
        &gw,
        "PATCH",
        "/admin/keys/vk-from-file",
        Some(&json!({"disabled": true})),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (409, json!("defined_in_config"))
    );
    assert_eq!(call(&gw, "GET", "/admin/keys/nobody", None).status, 404);
    assert_eq!(
        call(&gw, "PUT", "/admin/keys/x", Some(&json!({}))).status,
        405
    );
    assert_eq!(call(&gw, "GET", "/admin/logs?limit=0", None).status, 400);
    assert_eq!(
        call(&gw, "GET", "/admin/usage?group_by=planet", None).status,
        400
    );
}

#[test]
fn admin_calls_need_the_admin_token_when_one_is_set() {
    let dir = temp_dir();
    let gw = start(&dir, "[admin]\ntoken = \"admin-token-0123456789\"\n");
    assert_eq!(call(&gw, "GET", "/admin/keys", None).status, 401);
    let r = roundtrip(
        gw.addr,
        &get(
            "/admin/keys",
            &[("authorization", "Bearer admin-token-0123456789")],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn every_request_leaves_a_row_the_admin_api_reads_back() {
    let dir = temp_dir();
    let gw = start(
        &dir,
        "[[virtual_keys]]\nname = \"logged\"\nkey = \"rb-logged-key-01\"\nteam_id = \"ops\"\n[[teams]]\nid = \"ops\"\n",
    );
    for _ in 0..3 {
        assert_eq!(chat_as(&gw, "rb-logged-key-01", "mock/echo").status, 200);
    }
    assert_eq!(
        chat_as(&gw, "rb-logged-key-01", "nowhere/model").status,
        404
    );
    assert_eq!(chat_as(&gw, "rb-wrong-key-0000", "mock/echo").status, 401);
    let mut rows = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            rows = call(&gw, "GET", "/admin/logs?key_id=vk-logged", None).json();
            rows["data"].as_array().is_some_and(|d| d.len() == 4)
        }),
        "{rows}"
    );
    let first = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == 200)
        .cloned()
        .unwrap();
    assert_eq!(first["provider"], "mock");
    assert_eq!(first["model"], "echo");
    assert_eq!(first["team_id"], "ops");
    assert_eq!(first["status"], 200);
    assert_eq!(first["dialect"], "chat_completions");
    assert!(first["input_tokens"].as_u64().unwrap() > 0, "{first}");
    assert!(first["request_id"].as_str().unwrap().len() > 8);
    // Rows are in the order requests finished, to the millisecond: found
    // by status, not position.
    let missing = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == 404)
        .cloned()
        .unwrap();
    assert!(missing["error"].as_str().unwrap().contains("nowhere"));
    // The unauthorized request is logged too, without a key.
    let refused = call(&gw, "GET", "/admin/logs?status=401", None).json();
    assert_eq!(refused["data"].as_array().unwrap().len(), 1, "{refused}");
    // Pages: newest first, `before` continues without overlap.
    let page = call(&gw, "GET", "/admin/logs?key_id=vk-logged&limit=3", None).json();
    let before = page["next_before"].as_i64().unwrap();
    let rest = call(
        &gw,
        "GET",
        &format!("/admin/logs?key_id=vk-logged&limit=3&before={before}"),
        None,
    )
    .json();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_before"].is_null());
    // Usage by key.
    let usage = call(&gw, "GET", "/admin/usage?group_by=key", None).json();
    let logged = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["key"] == "vk-logged")
        .cloned()
        .unwrap();
    assert_eq!(
        (logged["requests"].as_u64(), logged["errors"].as_u64()),
        (Some(4), Some(1))
    );
}

#[test]
fn with_the_store_off_requests_are_served_and_the_admin_data_api_says_why_not() {
    let gw = gateway(GatewayOpts {
        config: Some("env_providers = false\nstore = false\n".into()),
        ..Default::default()
    });
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            r#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200);
    let r = call(&gw, "GET", "/admin/logs", None);
    assert_eq!(r.status, 503);
    assert!(r.text().contains("store = false"), "{}", r.text());
}

#[test]
fn a_locked_store_costs_log_rows_never_a_request() {
    let dir = temp_dir();
    let gw = start(&dir, "queue_rows = 4\n");
    assert_eq!(chat_as(&gw, "", "mock/echo").status, 200);
    // Another process holds the database's write lock.
    let db = dir.join("gateway.db");
    let mut locker = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3, sys, time\nc = sqlite3.connect({:?}, isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(60)",
            db.display().to_string()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(locker.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let started = std::time::Instant::now();
    for _ in 0..40 {
        assert_eq!(chat_as(&gw, "", "mock/echo").status, 200);
    }
    // The store waits seconds for its lock; the requests did not.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(metric_eventually(gw.addr, |l| {
        l.strip_prefix("ringbridge_log_rows_dropped_total ")
            .or_else(|| l.strip_prefix("ringbridge_log_rows_failed_total "))
            .is_some_and(|n| n.parse::<u64>().unwrap_or(0) > 0)
    }));
    let _ = locker.kill();
    let _ = locker.wait();
    // The lock is gone: rows land again.
    assert_eq!(chat_as(&gw, "", "mock/echo").status, 200);
    let mut seen = String::new();
    assert!(
        eventually(Duration::from_secs(15), || {
            seen = call(&gw, "GET", "/admin/logs?limit=1000", None).text();
            seen.contains("\"provider\":\"mock\"")
        }),
        "{seen}"
    );
}

#[test]
fn bodies_are_logged_only_when_asked_and_cut_at_the_cap() {
    let dir = temp_dir();
    let gw = start(&dir, "log_bodies = true\nbody_max_bytes = 40\n");
    let body = json!({"model": "mock/echo", "stream": true,
                      "messages": [{"role": "user", "content": "a long enough prompt to be cut"}]});
    let r = roundtrip(
        gw.addr,
        &post("/v1/chat/completions", &body.to_string(), &[]),
    );
    assert_eq!(r.status, 200);
    assert_eq!(chat_as(&gw, "", "mock/echo").status, 200);
    let mut page = Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        page = call(&gw, "GET", "/admin/logs", None).json();
        page["data"].as_array().is_some_and(|d| d.len() == 2)
    }));
    for row in page["data"].as_array().unwrap() {
        let request = row["request_body"].as_str().unwrap();
        let response = row["response_body"].as_str().unwrap();
        assert_eq!(request.len(), 40, "{row}");
        assert!(request.starts_with("{\""), "{row}");
        assert!(!response.is_empty() && response.len() <= 40, "{row}");
    }
    // The stream as the client saw it.
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["response_body"].as_str().unwrap().starts_with("data: ")),
        "{page}"
    );
    // Off by default.
    let plain = start(&temp_dir(), "");
    assert_eq!(chat_as(&plain, "", "mock/echo").status, 200);
    assert!(eventually(Duration::from_secs(5), || {
        let page = call(&plain, "GET", "/admin/logs", None).json();
        page["data"][0]["status"] == 200 && page["data"][0]["request_body"].is_null()
    }));
}

#[test]
fn a_gateway_whose_store_is_unreachable_still_shuts_down_at_once_counting_its_rows() {
    let mut gw = gateway_with_unreachable_postgres("pw");
    for _ in 0..5 {
        assert_eq!(chat_as(&gw, "", "mock/echo").status, 200);
    }
    gw.terminate();
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        gw.stderr().contains("log rows lost"),
        "the rows it could not write are said: {}",
        gw.stderr()
    );
}
