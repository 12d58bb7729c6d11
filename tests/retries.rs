//! Retries, `[routes]` tables and the request deadline, against mock
//! upstreams that fail on purpose.

mod common;

use std::time::{Duration, Instant};

use common::*;

const CHAT: &str = "/v1/chat/completions";

fn chat(model: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
}

fn requests(mock: &Proc) -> u64 {
    mock_stats(mock)["requests"].as_u64().unwrap()
}

/// A gateway over `mocks` (named `p0`, `p1`, ...) with `extra` config,
/// started once `listed`'s model list is in and every counter is zeroed.
fn gateway_over(mocks: &[&Proc], extra: &str, listed: &str) -> Proc {
    let mut config = format!("env_providers = false\n{extra}\n");
    for (i, mock) in mocks.iter().enumerate() {
        config.push_str(&format!(
            "[providers.p{i}]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\n",
            mock.addr
        ));
    }
    let gw = gateway_with(&config);
    let listed = format!("\"{listed}/");
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains(&listed)
    }));
    for mock in mocks {
        roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    }
    gw
}

#[test]
fn a_transient_failure_is_retried_on_the_same_target_then_answered() {
    let mock = mock_provider(&[]);
    // The breaker off: at this failure rate it would open.
    let no_breaker = "[breaker]\nfailures = 0\nfailure_rate = 0.0";
    let gw = gateway_over(
        &[&mock],
        &format!("[retries]\nbackoff_base_ms = 1\n{no_breaker}"),
        "p0",
    );
    // Half the answers fail: with three tries, nearly all requests succeed,
    // and every retry is visible in the header.
    let mut retried = 0;
    for _ in 0..20 {
        let r = roundtrip(
            gw.addr,
            &post(CHAT, &chat("p0/m"), &[("x-mock-fail-mix", "503:0.5")]),
        );
        let attempts = r.header("x-ringbridge-attempts").unwrap().to_owned();
        match r.status {
            200 => {
                assert!(attempts.ends_with("p0/m=200"), "{attempts}");
                retried += u32::from(attempts.starts_with("2; p0/m=503"));
            }
            503 => assert_eq!(attempts, "2; p0/m=503, p0/m=503"),
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert!(retried > 0, "some first tries failed and were retried");
}

#[test]
fn retry_after_sets_the_wait_and_a_client_error_is_not_retried() {
    let mock = mock_provider(&[]);
    let gw = gateway_over(&[&mock], "[retries]\nbackoff_base_ms = 1", "p0");
    // The mock answers 429 with `Retry-After: 1`: the retry waits a second.
    let started = Instant::now();
    let r = roundtrip(
        gw.addr,
        &post(CHAT, &chat("p0/m"), &[("x-mock-status", "429")]),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("x-ringbridge-attempts"),
        Some("2; p0/m=429, p0/m=429")
    );
    assert!(took >= Duration::from_millis(950), "{took:?}");
    assert_eq!(requests(&mock), 2);
    // A Retry-After beyond backoff_max is not waited for.
    let gw = gateway_over(&[&mock], "[retries]\nbackoff_max_ms = 500", "p0");
    let started = Instant::now();
    let r = roundtrip(
        gw.addr,
        &post(CHAT, &chat("p0/m"), &[("x-mock-status", "429")]),
    );
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; p0/m=429"));
    assert!(started.elapsed() < Duration::from_millis(900));
    // The key rests for its Retry-After: the gateway answers for it.
    let r = roundtrip(gw.addr, &post(CHAT, &chat("p0/m"), &[]));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; p0/m=429"));
    assert_eq!(requests(&mock), 1, "only the first reached the upstream");
    std::thread::sleep(Duration::from_millis(1000));
    let r = roundtrip(
        gw.addr,
        &post(CHAT, &chat("p0/m"), &[("x-mock-status", "400")]),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; p0/m=400"));
}

#[test]
fn a_route_draws_targets_by_weight_and_falls_back_in_order() {
    let a = mock_provider(&[]);
    let b = mock_provider(&[]);
    let down = mock_provider(&["--status", "503"]);
    let gw = gateway_over(
        &[&a, &b, &down],
        r#"[retries]
attempts = 1
[routes.smart]
targets = [{ model = "p0/big", weight = 3 }, "p1/small"]
[routes.safe]
targets = ["p2/x"]
fallbacks = ["p1/small"]
"#,
        "p1",
    );
    let n = 400;
    let mut first = 0;
    for _ in 0..n {
        let r = roundtrip(gw.addr, &post(CHAT, &chat("smart"), &[]));
        assert_eq!(r.status, 200, "{}", r.text());
        if r.header("x-ringbridge-provider") == Some("p0") {
            first += 1;
        }
    }
    // 3:1 is 300 of 400; the draw is random, so allow five standard
    // deviations (sqrt(400 * 0.75 * 0.25) = 8.7).
    assert!((257..=343).contains(&first), "p0 served {first} of {n}");
    let listed = roundtrip(gw.addr, &get("/v1/models", &[])).text();
    assert!(listed.contains(r#""id":"smart""#), "{listed}");
    assert_eq!(requests(&a) + requests(&b), n);

    let r = roundtrip(gw.addr, &post(CHAT, &chat("safe"), &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-ringbridge-attempts"),
        Some("2; p2/x=503, p1/small=200")
    );
}

#[test]
fn the_request_deadline_bounds_waiting_and_retries() {
    let slow = mock_provider(&["--latency", "fixed:3000"]);
    let fast = mock_provider(&[]);
    let gw = gateway_over(&[&slow, &fast], "", "p1");
    let body = r#"{"model":"p0/m","fallbacks":["p1/m"],"messages":[]}"#;
    // 300 ms for the whole chain: the slow upstream's head never comes in
    // time, and the deadline leaves no time for the fallback either.
    let started = Instant::now();
    let r = roundtrip(
        gw.addr,
        &post(CHAT, body, &[("x-ringbridge-timeout-ms", "300")]),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; p0/m=504"));
    assert_eq!(requests(&fast), 0);
    for bad in ["0", "-1", "soon", "3600001"] {
        let r = roundtrip(
            gw.addr,
            &post(CHAT, body, &[("x-ringbridge-timeout-ms", bad)]),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}
