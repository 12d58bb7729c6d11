//! Keys, breakers, concurrency limits and health, against mock upstreams
//! that fail one key on purpose (`x-mock-only-key`) and count requests per
//! key (`requests_by_key` in their stats).

mod common;

use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";
const ADMIN: &str = "0123456789abcdef-admin";

fn chat() -> String {
    r#"{"model":"p0/m","messages":[{"role":"user","content":"hi"}]}"#.to_owned()
}

/// A gateway with one provider `p0` over `mock` with `keys`, and `extra`
/// config; the mock's counters are zeroed once it is up.
fn gateway_keys(mock: &Proc, keys: &str, provider_extra: &str, extra: &str) -> Proc {
    let config = format!(
        "env_providers = false\n[admin]\ntoken = \"{ADMIN}\"\n{extra}\n\
         [providers.p0]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\n\
         keys = {keys}\n{provider_extra}\n",
        mock.addr
    );
    let gw = gateway_with(&config);
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/health", &[])).status == 200
    }));
    roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    gw
}

fn by_key(mock: &Proc, key: &str) -> u64 {
    mock_stats(mock)["requests_by_key"][key]
        .as_u64()
        .unwrap_or(0)
}

fn health(gw: &Proc) -> serde_json::Value {
    let auth = format!("Bearer {ADMIN}");
    let r = roundtrip(gw.addr, &get("/admin/health", &[("authorization", &auth)]));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn a_429_moves_the_retry_to_another_key_and_cools_the_first_down() {
    let mock = mock_provider(&[]);
    let gw = gateway_keys(&mock, r#"["k1", "k2"]"#, "", "");
    // k1 answers 429 (Retry-After: 1); k2 answers. Every request succeeds,
    // the ones that met k1 on their first try after an immediate retry.
    let fail_k1 = [("x-mock-only-key", "k1"), ("x-mock-status", "429")];
    for _ in 0..10 {
        let r = roundtrip(gw.addr, &post(CHAT, &chat(), &fail_k1));
        assert_eq!(r.status, 200, "{}", r.text());
        let attempts = r.header("x-ringbridge-attempts").unwrap();
        assert!(
            attempts == "1; p0/m=200" || attempts == "2; p0/m=429, p0/m=200",
            "{attempts}"
        );
    }
    // Cooling down for its Retry-After, k1 met at most one request.
    assert!(by_key(&mock, "k1") <= 1, "{}", mock_stats(&mock));
    assert!(by_key(&mock, "k2") >= 10);
    let h = health(&gw);
    let k1_cooling = h["providers"][0]["keys"][0]["cooldown_ms"]
        .as_u64()
        .unwrap();
    assert!(by_key(&mock, "k1") == 0 || k1_cooling > 0, "{h}");
}

#[test]
fn with_every_key_rate_limited_the_client_gets_a_fast_429_with_retry_after() {
    let mock = mock_provider(&[]);
    let gw = gateway_keys(&mock, r#"["k1"]"#, "", "[retries]\nattempts = 1");
    let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[("x-mock-status", "429")]));
    assert_eq!(r.status, 429);
    // The key rests for the upstream's Retry-After: the next request is
    // refused by the gateway without reaching the upstream.
    let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[]));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.header("retry-after-ms").is_some());
    assert_eq!(mock_stats(&mock)["requests"], 1);
    assert!(eventually(Duration::from_secs(3), || {
        roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status == 200
    }));
}

#[test]
fn a_breaker_opens_sees_only_probes_and_closes_on_schedule() {
    let mock = mock_provider(&[]);
    let breaker =
        "[breaker]\nfailures = 2\nfailure_rate = 0.0\nopen_ms = 400\nhalf_open_probes = 1\n\
                   [retries]\nattempts = 3\nbackoff_base_ms = 0";
    let gw = gateway_keys(&mock, r#"["k1", "k2"]"#, "", breaker);
    let fail_k1 = [("x-mock-only-key", "k1"), ("x-mock-status", "500")];
    // No client sees k1's failures: each is retried on k2.
    for _ in 0..20 {
        let r = roundtrip(gw.addr, &post(CHAT, &chat(), &fail_k1));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(by_key(&mock, "k1"), 2, "opened after two failures");
    assert_eq!(health(&gw)["providers"][0]["keys"][0]["breaker"], "open");
    // After open_ms, one probe goes to k1; it fails, and the breaker opens again.
    std::thread::sleep(Duration::from_millis(450));
    // Enough requests that the draw surely reaches k1 (about half pick it).
    for _ in 0..30 {
        assert_eq!(
            roundtrip(gw.addr, &post(CHAT, &chat(), &fail_k1)).status,
            200
        );
    }
    assert_eq!(by_key(&mock, "k1"), 3, "exactly one probe");
    assert_eq!(health(&gw)["providers"][0]["keys"][0]["breaker"], "open");
    // k1 recovers: the next probe succeeds and closes the breaker. The
    // probe waits for the draw to pick k1 (about half the requests), and on
    // a loaded machine for the reopened breaker's open_ms to pass, so the
    // requests go on until it closes, within bounds.
    std::thread::sleep(Duration::from_millis(450));
    let mut sent = 0;
    while health(&gw)["providers"][0]["keys"][0]["breaker"] != "closed" && sent < 400 {
        for _ in 0..20 {
            assert_eq!(roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status, 200);
        }
        sent += 20;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        health(&gw)["providers"][0]["keys"][0]["breaker"],
        "closed",
        "after {sent} requests"
    );
    // The probe may have been the last of its batch: more requests, then
    // about half of them go to k1 again.
    for _ in 0..20 {
        assert_eq!(roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status, 200);
    }
    assert!(by_key(&mock, "k1") > 4, "k1 back in rotation");
}

#[test]
fn when_every_candidate_is_open_the_client_gets_a_fast_503_and_ready_says_why() {
    let mock = mock_provider(&[]);
    let config = "[breaker]\nfailures = 2\nopen_ms = 60000\n[retries]\nattempts = 1\n\
                  [routes.smart]\ntargets = [\"p0/m\"]";
    let gw = gateway_keys(&mock, r#"["k1"]"#, "", config);
    assert_eq!(roundtrip(gw.addr, &get("/ready", &[])).status, 200);
    for _ in 0..2 {
        let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[("x-mock-status", "502")]));
        assert_eq!(r.status, 502);
    }
    let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[]));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "provider_unavailable");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((59..=60).contains(&wait), "{wait}");
    assert_eq!(
        mock_stats(&mock)["requests"],
        2,
        "the upstream was not touched"
    );
    let ready = roundtrip(gw.addr, &get("/ready", &[]));
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json()["unusable_routes"],
        serde_json::json!(["smart"])
    );
    let metrics = roundtrip(gw.addr, &get("/metrics", &[])).text();
    assert!(
        metrics.contains("ringbridge_key_breaker_state{provider=\"p0\",key=\"0\"} 2"),
        "{metrics}"
    );
}

#[test]
fn beyond_the_limit_and_its_queue_the_next_request_gets_429_at_once() {
    let mock = mock_provider(&[]);
    let limits = "max_in_flight = 2\nqueue = 1\nqueue_timeout_ms = 10000";
    let gw = gateway_keys(&mock, r#"["k1"]"#, limits, "");
    let slow = [("x-mock-delay-ms", "1500")];
    let addr = gw.addr;
    let held: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || roundtrip(addr, &post(CHAT, &chat(), &slow))))
        .collect();
    // Two in flight, one queued: the provider's queue is full.
    assert!(eventually(Duration::from_secs(5), || {
        let c = &health(&gw)["providers"][0]["concurrency"];
        c["in_flight"] == 2 && c["queued"] == 1
    }));
    let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[]));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "provider_concurrency_limit");
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        mock_stats(&mock)["requests"],
        2,
        "the upstream saw only the limit"
    );
    // The queued request runs once a slot frees; all three succeed.
    for h in held {
        assert_eq!(h.join().unwrap().status, 200);
    }
    assert_eq!(mock_stats(&mock)["requests"], 3);
    // A fallback takes what the full provider cannot.
    let body =
        r#"{"model":"p0/m","fallbacks":["mock/echo"],"messages":[{"role":"user","content":"hi"}]}"#;
    let held: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || roundtrip(addr, &post(CHAT, &chat(), &slow))))
        .collect();
    assert!(eventually(Duration::from_secs(5), || {
        health(&gw)["providers"][0]["concurrency"]["queued"] == 1
    }));
    let r = roundtrip(gw.addr, &post(CHAT, body, &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-ringbridge-attempts"),
        Some("2; p0/m=429, mock/echo=200")
    );
    for h in held {
        assert_eq!(h.join().unwrap().status, 200);
    }
}

#[test]
fn the_adaptive_limit_falls_on_429s_and_recovers_on_success() {
    let mock = mock_provider(&[]);
    let limits = "max_in_flight = 16\nmin_in_flight = 2";
    let gw = gateway_keys(&mock, r#"["k1"]"#, limits, "[retries]\nattempts = 1");
    let limit = |gw: &Proc| {
        health(gw)["providers"][0]["concurrency"]["current"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(limit(&gw), 16);
    // 429s (each resting the key for its one-second Retry-After) and 503s,
    // spaced past the limiter's 100 ms decrease spacing.
    for status in ["503", "503", "429", "429"] {
        let r = roundtrip(gw.addr, &post(CHAT, &chat(), &[("x-mock-status", status)]));
        assert_eq!(r.status.to_string(), status, "{}", r.text());
        let after = if status == "429" { 1050 } else { 150 };
        std::thread::sleep(Duration::from_millis(after));
    }
    assert_eq!(mock_stats(&mock)["requests"], 4);
    let low = limit(&gw);
    assert!(low <= 10, "four cuts of a tenth: {low}");
    // Cool-down over, healthy answers raise it back: about 75 are enough
    // (one slot per `limit` successes); more are allowed because a busy
    // machine's latency spikes count as overload and cut it again.
    std::thread::sleep(Duration::from_millis(1000));
    let mut sent = 0;
    while limit(&gw) < 16 && sent < 2000 {
        for _ in 0..50 {
            assert_eq!(roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status, 200);
        }
        sent += 50;
    }
    assert_eq!(limit(&gw), 16, "after {sent} healthy answers");
    let metrics = roundtrip(gw.addr, &get("/metrics", &[])).text();
    assert!(metrics.contains("ringbridge_provider_concurrency_limit{provider=\"p0\"} 16"));
}

#[test]
fn weighted_keys_share_traffic_and_a_session_sticks_to_one_key() {
    let mock = mock_provider(&[]);
    let keys = r#"[{ key = "k1", weight = 3 }, "k2"]"#;
    let gw = gateway_keys(
        &mock,
        keys,
        "",
        "[balancing]\nsticky_header = \"x-session-id\"",
    );
    for _ in 0..400 {
        assert_eq!(roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status, 200);
    }
    let share = by_key(&mock, "k1") as f64 / 400.0;
    // Weighted 3:1; P2C steps in only for a key over twice as slow.
    assert!((0.65..=0.85).contains(&share), "{}", mock_stats(&mock));
    roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    for _ in 0..30 {
        let r = roundtrip(
            gw.addr,
            &post(CHAT, &chat(), &[("x-session-id", "user-42")]),
        );
        assert_eq!(r.status, 200);
    }
    let (k1, k2) = (by_key(&mock, "k1"), by_key(&mock, "k2"));
    assert!((k1, k2) == (30, 0) || (k1, k2) == (0, 30), "{k1} {k2}");
}

#[test]
fn per_key_models_pick_the_key_that_may_serve_the_model() {
    let mock = mock_provider(&[]);
    let keys = r#"[{ key = "k1", models = ["big"] }, "k2"]"#;
    let gw = gateway_keys(&mock, keys, "", "");
    for _ in 0..20 {
        assert_eq!(roundtrip(gw.addr, &post(CHAT, &chat(), &[])).status, 200);
    }
    assert_eq!(by_key(&mock, "k1"), 0, "{}", mock_stats(&mock));
    assert_eq!(by_key(&mock, "k2"), 20);
    // Health never shows key material, and the admin token guards it.
    let h = health(&gw).to_string();
    assert!(!h.contains("k1") && !h.contains("k2"), "{h}");
    let r = roundtrip(gw.addr, &get("/admin/health", &[]));
    assert_eq!(r.status, 401);
}

#[test]
fn health_survives_a_reload_while_the_keys_stay() {
    let mock = mock_provider(&[]);
    // The provider's own breaker (over the global defaults) is the one used.
    let breaker = "breaker = { failures = 1, open_ms = 60000 }";
    let gw = gateway_keys(&mock, r#"["k1", "k2"]"#, breaker, "[retries]\nattempts = 1");
    let fail_k1 = [("x-mock-only-key", "k1"), ("x-mock-status", "500")];
    while by_key(&mock, "k1") == 0 {
        roundtrip(gw.addr, &post(CHAT, &chat(), &fail_k1));
    }
    assert_eq!(health(&gw)["providers"][0]["keys"][0]["breaker"], "open");
    let auth = format!("Bearer {ADMIN}");
    let r = roundtrip(
        gw.addr,
        &post("/admin/reload", "", &[("authorization", &auth)]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let h = health(&gw);
    assert_eq!(h["generation"], 2);
    assert_eq!(h["providers"][0]["keys"][0]["breaker"], "open", "{h}");
    for _ in 0..10 {
        assert_eq!(
            roundtrip(gw.addr, &post(CHAT, &chat(), &fail_k1)).status,
            200
        );
    }
    assert_eq!(by_key(&mock, "k1"), 1, "the open key still gets nothing");
}

/// `threads` clients sending `each` requests at once; every status seen.
fn load(
    gw: &Proc,
    body: &'static str,
    headers: &'static [(&'static str, &'static str)],
) -> Vec<u16> {
    let addr = gw.addr;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| roundtrip(addr, &post(CHAT, body, headers)).status)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect()
}

#[test]
fn under_load_a_failing_or_dead_upstream_is_invisible_behind_a_fallback() {
    let (mut bad, good) = (mock_provider(&[]), mock_provider(&[]));
    let config = format!(
        "env_providers = false\n[retries]\nbackoff_base_ms = 1\n\
         [routes.smart]\ntargets = [\"p0/m\"]\nfallbacks = [\"p1/m\"]\n\
         [providers.p0]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\nkeys = [\"bad\"]\nfirst_byte_timeout_ms = 300\n\
         [providers.p1]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\nkeys = [\"good\"]\n",
        bad.addr, good.addr
    );
    let gw = gateway_with(&config);
    const SMART: &str = r#"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#;
    // Faults on p0 only (its key), each under 4 concurrent clients.
    for fault in [
        &[("x-mock-only-key", "bad"), ("x-mock-fail-mix", "500:0.5")][..],
        &[("x-mock-only-key", "bad"), ("x-mock-fail-mix", "reset:0.5")],
        &[("x-mock-only-key", "bad"), ("x-mock-fail", "hang")],
    ] {
        let statuses = load(&gw, SMART, fault);
        assert!(
            statuses.iter().all(|&s| s == 200),
            "{fault:?}: {statuses:?}"
        );
    }
    // p0 killed under load: still no client-visible error.
    let addr = gw.addr;
    let during = std::thread::spawn(move || {
        (0..100)
            .map(|_| roundtrip(addr, &post(CHAT, SMART, &[])).status)
            .collect::<Vec<u16>>()
    });
    std::thread::sleep(Duration::from_millis(50));
    bad.child.kill().unwrap();
    let statuses = during.join().unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert!(load(&gw, SMART, &[]).iter().all(|&s| s == 200));
    // Without a fallback: a clear 502 (or 503 once the breaker opens), never a hang.
    const DIRECT: &str = r#"{"model":"p0/m","messages":[{"role":"user","content":"hi"}]}"#;
    let statuses = load(&gw, DIRECT, &[]);
    assert!(
        statuses.iter().all(|&s| s == 502 || s == 503),
        "{statuses:?}"
    );
    const HANGS: &str = r#"{"model":"p1/m","messages":[{"role":"user","content":"hi"}]}"#;
    let hang = [("x-mock-fail", "hang"), ("x-ringbridge-timeout-ms", "400")];
    let r = roundtrip(gw.addr, &post(CHAT, HANGS, &hang));
    assert_eq!(r.status, 504, "{}", r.text());
}
