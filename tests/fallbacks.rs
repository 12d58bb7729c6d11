//! Per-request fallbacks: `"fallbacks": ["provider/model", ...]` tried in
//! order after a transient failure, never sent upstream, and reported in
//! `x-ringbridge-attempts`.

mod common;

use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";

/// A gateway with `bad` (every answer `status`), `good` (healthy, OpenAI
/// shape) and `anth` (healthy, Anthropic shape) upstreams.
struct Setup {
    gw: Proc,
    bad: Proc,
    good: Proc,
    _anth: Proc,
}

/// `retries` is the `[retries]` table's body ("" for the defaults).
fn setup_with(bad_status: &str, retries: &str) -> Setup {
    let bad = mock_provider(&["--status", bad_status]);
    let good = mock_provider(&[]);
    let anth = mock_provider(&[]);
    let gw = gateway_with(&format!(
        r#"env_providers = false
[retries]
{retries}
[providers.bad]
kind = "openai-compatible"
base_url = "http://{}/v1"
[providers.good]
kind = "openai-compatible"
base_url = "http://{}/v1"
[providers.anth]
kind = "anthropic"
base_url = "http://{}"
keys = ["sk-ant-test-0123456789"]
"#,
        bad.addr, good.addr, anth.addr
    ));
    // Count only the test's own traffic, not the model-list fetches.
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"good/")
    }));
    for mock in [&bad, &good, &anth] {
        roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    }
    Setup {
        gw,
        bad,
        good,
        _anth: anth,
    }
}

/// One try per candidate: these tests are about the fallback chain.
fn setup(bad_status: &str) -> Setup {
    setup_with(bad_status, "attempts = 1")
}

fn chat(model: &str, fallbacks: &str, extra: &str) -> String {
    format!(
        r#"{{"model":"{model}","fallbacks":{fallbacks},"messages":[{{"role":"user","content":"hello{extra}"}}]}}"#
    )
}

fn requests(mock: &Proc) -> u64 {
    mock_stats(mock)["requests"].as_u64().unwrap()
}

#[test]
fn a_failed_model_falls_back_and_the_upstream_never_sees_fallbacks() {
    let s = setup("500");
    // Small bodies are copied upstream; large ones (64 KiB and up) are
    // written from the client's buffer around the cut: both must drop it.
    for pad in ["", &"x".repeat(100_000)] {
        let body = chat("bad/m1", r#"["good/m2"]"#, pad);
        let r = roundtrip(s.gw.addr, &post(CHAT, &body, &[("x-mock-echo", "1")]));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-ringbridge-provider"), Some("good"));
        assert_eq!(
            r.header("x-ringbridge-attempts"),
            Some("2; bad/m1=500, good/m2=200")
        );
        // The echo is exactly what `good` received.
        let sent = r.json();
        assert_eq!(sent["model"], "m2");
        assert!(sent.get("fallbacks").is_none(), "{sent}");
        assert_eq!(
            sent["messages"][0]["content"].as_str().unwrap().len(),
            5 + pad.len()
        );
    }
    assert_eq!(requests(&s.bad), 2);
    assert_eq!(requests(&s.good), 2);
}

#[test]
fn fallbacks_cross_provider_families_through_the_translators() {
    let s = setup("503");
    for stream in [false, true] {
        let body = format!(
            r#"{{"model":"bad/m1","stream":{stream},"fallbacks":["anth/claude-x"],"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        let r = roundtrip(s.gw.addr, &post(CHAT, &body, &[]));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("x-ringbridge-attempts"),
            Some("2; bad/m1=503, anth/claude-x=200")
        );
        if stream {
            let events = sse_data(&r.body);
            assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
            let first: serde_json::Value = serde_json::from_str(&events[0]).unwrap();
            assert_eq!(first["object"], "chat.completion.chunk");
        } else {
            assert_eq!(r.json()["object"], "chat.completion", "{}", r.text());
            // Translated answers name the model as the client wrote it.
            assert_eq!(r.json()["model"], "anth/claude-x");
        }
    }
}

#[test]
fn the_last_failure_is_answered_with_every_attempt_listed() {
    // The default two tries per candidate, with a short backoff.
    let s = setup_with("502", "backoff_base_ms = 1");
    let r = roundtrip(
        s.gw.addr,
        &post(CHAT, &chat("bad/a", r#"["bad/b","bad/a"]"#, ""), &[]),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    // `bad/a` again is a candidate already tried: skipped.
    assert_eq!(
        r.header("x-ringbridge-attempts"),
        Some("4; bad/a=502, bad/a=502, bad/b=502, bad/b=502")
    );
    assert_eq!(r.header("x-ringbridge-provider"), Some("bad"));
    assert_eq!(requests(&s.bad), 4);
}

#[test]
fn a_client_error_is_final_and_no_fallback_is_tried() {
    let s = setup("400");
    let r = roundtrip(
        s.gw.addr,
        &post(CHAT, &chat("bad/m1", r#"["good/m2"]"#, ""), &[]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; bad/m1=400"));
    assert_eq!(requests(&s.good), 0);
}

#[test]
fn bad_fallbacks_are_refused_before_any_upstream_is_called() {
    let s = setup("500");
    let nine: Vec<String> = (0..9).map(|i| format!("\"good/m{i}\"")).collect();
    let cases = [
        (r#""good/m2""#.to_owned(), 400, "must be an array"),
        (r#"[1]"#.to_owned(), 400, "must be an array"),
        (
            r#"["nope/m"]"#.to_owned(),
            404,
            "fallbacks[0]: unknown provider `nope`",
        ),
        (format!("[{}]", nine.join(",")), 400, "at most 8 fallbacks"),
    ];
    for (fallbacks, status, needle) in cases {
        let r = roundtrip(
            s.gw.addr,
            &post(CHAT, &chat("good/m1", &fallbacks, ""), &[]),
        );
        assert_eq!(r.status, status, "{fallbacks}: {}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(needle), "{message}");
    }
    let twice = r#"{"model":"good/m1","fallbacks":[],"fallbacks":["bad/m"]}"#;
    let r = roundtrip(s.gw.addr, &post(CHAT, twice, &[]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(requests(&s.good) + requests(&s.bad), 0);
}

#[test]
fn a_request_without_fallbacks_reports_its_one_attempt() {
    let s = setup("500");
    let r = roundtrip(
        s.gw.addr,
        &post(
            CHAT,
            r#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; mock/echo=200"));
    let r = roundtrip(s.gw.addr, &post(CHAT, &chat("good/m1", "[]", ""), &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ringbridge-attempts"), Some("1; good/m1=200"));
}
