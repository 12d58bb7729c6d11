//! Virtual keys end to end: allowed models, disabled and expired keys, and
//! request and token limits held gateway-wide (two workers, a new connection
//! per request) at the key, team and customer levels, refused in the
//! client's dialect with OpenAI's `x-ratelimit-*` headers.

mod common;

use common::*;
use serde_json::{json, Value};

const CONFIG: &str = r#"env_providers = false
[auth]
keys = ["rb-plain-key-0001"]

[[teams]]
id = "small-team"
rate_limit = { rpm = 2 }

[[customers]]
id = "acme"
rate_limit = { rpm = 100 }

[[virtual_keys]]
name = "three-a-minute"
key = "rb-rpm3-key-0001"
rate_limit = { rpm = 3 }

[[virtual_keys]]
name = "echo-only"
key = "rb-echo-key-0001"
models = ["mock/echo"]

[[virtual_keys]]
name = "switched-off"
key = "rb-off-key-00001"
disabled = true

[[virtual_keys]]
name = "past-its-date"
key = "rb-old-key-00001"
expires_at = "2020-01-01T00:00:00Z"

[[virtual_keys]]
name = "team-member-1"
key = "rb-team-key-0001"
team_id = "small-team"
customer_id = "acme"
rate_limit = { rpm = 50 }

[[virtual_keys]]
name = "team-member-2"
key = "rb-team-key-0002"
team_id = "small-team"

[[virtual_keys]]
name = "few-tokens"
key = "rb-tpm-key-00001"
rate_limit = { tpm = 10 }
"#;

fn chat(gw: &Proc, key: &str, model: &str, stream: bool) -> Resp {
    let mut body = json!({"model": model, "stream": stream,
                      "messages": [{"role": "user", "content": "one two three four five six"}]});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            &body.to_string(),
            &[("authorization", &format!("Bearer {key}"))],
        ),
    )
}

fn error_of(r: &Resp) -> Value {
    r.json()["error"].clone()
}

#[test]
fn the_fourth_request_in_a_minute_is_refused_whichever_worker_serves_it() {
    let gw = gateway_with(CONFIG);
    for left in ["2", "1", "0"] {
        let r = chat(&gw, "rb-rpm3-key-0001", "mock/echo", false);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(r.header("x-ratelimit-remaining-requests"), Some(left));
    }
    let r = chat(&gw, "rb-rpm3-key-0001", "mock/echo", false);
    assert_eq!(r.status, 429, "{}", r.text());
    let e = error_of(&r);
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert!(
        e["message"].as_str().unwrap().contains("three-a-minute"),
        "{e}"
    );
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    let reset = r.header("x-ratelimit-reset-requests").unwrap();
    assert!(reset.ends_with('s'), "{reset}");
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&after), "{after}");
    // Plain keys have no limits.
    for _ in 0..5 {
        assert_eq!(
            chat(&gw, "rb-plain-key-0001", "mock/echo", false).status,
            200
        );
    }
}

#[test]
fn keys_may_use_only_their_models_and_revoked_keys_none() {
    let gw = gateway_with(CONFIG);
    assert_eq!(
        chat(&gw, "rb-echo-key-0001", "mock/echo", false).status,
        200
    );
    let r = chat(&gw, "rb-echo-key-0001", "mock/fast", false);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(error_of(&r)["code"], "model_not_allowed");
    assert!(r.text().contains("mock/echo"), "{}", r.text());
    // In the Anthropic dialect, Anthropic's shape.
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/messages",
            &json!({"model": "mock/fast", "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
            &[("x-api-key", "rb-echo-key-0001")],
        ),
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["type"], "permission_error");

    for (key, word) in [
        ("rb-off-key-00001", "disabled"),
        ("rb-old-key-00001", "expired"),
    ] {
        let r = chat(&gw, key, "mock/echo", false);
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(error_of(&r)["message"].as_str().unwrap().contains(word));
    }
    assert_eq!(
        chat(&gw, "rb-unknown-key-01", "mock/echo", false).status,
        401
    );
}

#[test]
fn a_team_limit_stops_a_key_that_has_room() {
    let gw = gateway_with(CONFIG);
    assert_eq!(
        chat(&gw, "rb-team-key-0001", "mock/echo", false).status,
        200
    );
    assert_eq!(
        chat(&gw, "rb-team-key-0002", "mock/echo", false).status,
        200
    );
    let r = chat(&gw, "rb-team-key-0001", "mock/echo", false);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(
        error_of(&r)["message"]
            .as_str()
            .unwrap()
            .contains("team `small-team`"),
        "{}",
        r.text()
    );
}

#[test]
fn streamed_usage_counts_against_tokens_per_minute() {
    let gw = gateway_with(CONFIG);
    let r = chat(&gw, "rb-tpm-key-00001", "mock/echo", true);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("10"));
    let r = chat(&gw, "rb-tpm-key-00001", "mock/echo", false);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(error_of(&r)["message"].as_str().unwrap().contains("tokens"));
    assert_eq!(r.header("x-ratelimit-remaining-tokens"), Some("0"));
}

#[test]
fn a_bad_virtual_key_table_fails_the_start_at_its_key() {
    let bad = CONFIG.replace("team_id = \"small-team\"\n\n", "team_id = \"nobody\"\n\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .arg("check-config")
        .arg({
            let p = std::env::temp_dir().join(format!("rb-gov-{}.toml", std::process::id()));
            std::fs::write(&p, bad).unwrap();
            p
        })
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("virtual_keys[5].team_id"), "{text}");
}

#[test]
fn a_model_limit_holds_for_every_caller_and_a_fallback_takes_over() {
    let gw = gateway_with(
        "env_providers = false\n[model_limits.\"mock/echo\"]\nrpm = 2\n[routes.echo-first]\ntargets = [\"mock/echo\"]\nfallbacks = [\"mock/fast\"]\n",
    );
    for _ in 0..2 {
        assert_eq!(chat(&gw, "", "mock/echo", false).status, 200);
    }
    let r = chat(&gw, "", "mock/echo", false);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("mock/echo"), "{}", r.text());
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
    assert!(r.header("retry-after").is_some());
    // A route with a fallback moves on to it.
    let r = chat(&gw, "", "echo-first", false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ringbridge-provider"), Some("mock"));
    assert!(r
        .header("x-ringbridge-attempts")
        .unwrap()
        .contains("mock/fast=200"));
}

#[test]
fn bad_budget_and_model_limit_tables_fail_the_start_at_their_key() {
    for (text, path) in [
        (
            "[model_limits.\"nope/x\"]\nrpm = 1\n",
            "model_limits.\"nope/x\"",
        ),
        (
            "[model_limits.\"mock/echo\"]\n",
            "model_limits.\"mock/echo\"",
        ),
        (
            "[[teams]]\nid = \"t\"\nbudget = { limit_usd = 5, period = \"hourly\" }\n",
            "teams[0].budget.period",
        ),
        ("[store]\nqueue_rows = 0\n", "store.queue_rows"),
        (
            "[store]\nretention_days = 90\nusage_retention_days = 30\n",
            "store.usage_retention_days",
        ),
        (
            "[store]\nretention_days = 0\nusage_retention_days = 30\n",
            "store.usage_retention_days",
        ),
        ("[otlp]\nendpoint = \"ftp://x\"\n", "otlp.endpoint"),
    ] {
        let p =
            std::env::temp_dir().join(format!("rb-gov-{}-{}.toml", std::process::id(), unique()));
        std::fs::write(&p, format!("env_providers = false\n{text}")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbridge"))
            .arg("check-config")
            .arg(&p)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{text}: {said}");
        assert!(said.contains(path), "{path}: {said}");
    }
}
