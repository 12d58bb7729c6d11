//! Costs end to end: each request priced from its usage (shipped table or
//! `[pricing]` override), shown in `x-ringbridge-cost` when asked, counted
//! in `ringbridge_cost_usd_total` and the request log, and charged to
//! budgets, which refuse with 402 in the client's dialect once spent.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// USD 1 per million input tokens, 2 per million output tokens.
const PRICED: &str = r#"
[pricing."openai/gpt-4o-mini"]
input = 1.0
output = 2.0

[[teams]]
id = "eng"
budget = { limit_usd = 1.0, period = "daily" }

[[virtual_keys]]
name = "tiny"
key = "rb-tiny-budget-01"
budget = { limit_usd = 0.000001, period = "monthly" }

[[virtual_keys]]
name = "team-bound"
key = "rb-team-budget-01"
team_id = "eng"
"#;

fn chat(gw: &Proc, key: &str, extra: &[(&str, &str)]) -> Resp {
    let body = json!({"model": "openai/gpt-4o-mini",
                      "messages": [{"role": "user", "content": "one two three four five"}]});
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    roundtrip(
        gw.addr,
        &post("/v1/chat/completions", &body.to_string(), &headers),
    )
}

/// A gateway whose `openai` provider is `mock`, with the keys above.
fn priced_gateway(mock: &Proc) -> Proc {
    gateway_with(&format!(
        "env_providers = false\n{PRICED}\n[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"sk-test-secret-0123456789\"]\n",
        mock.addr
    ))
}

fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

#[test]
fn the_cost_header_metric_and_log_row_agree_with_the_usage() {
    let mock = mock_provider(&[]);
    let gw = priced_gateway(&mock);
    let r = chat(
        &gw,
        "rb-team-budget-01",
        &[("x-ringbridge-include-cost", "true")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let usage = &r.json()["usage"];
    let (p, c) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(p > 0 && c > 0);
    let expected = (p + 2 * c) * 1000; // nano-dollars
    let header: f64 = r.header("x-ringbridge-cost").unwrap().parse().unwrap();
    assert!(
        (header - usd(expected)).abs() < 1e-12,
        "{header} vs {}",
        usd(expected)
    );
    assert_eq!(r.header("x-ringbridge-cost-unpriced"), None);
    // Not asked, not sent.
    assert_eq!(
        chat(&gw, "rb-team-budget-01", &[]).header("x-ringbridge-cost"),
        None
    );
    // Streams carry it in the log and metrics only; unpriced models say so.
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            r#"{"model":"openai/unheard-of-model","messages":[{"role":"user","content":"hi"}]}"#,
            &[
                ("authorization", "Bearer rb-team-budget-01"),
                ("x-ringbridge-include-cost", "true"),
            ],
        ),
    );
    assert_eq!(r.header("x-ringbridge-cost"), Some("0.000000000"));
    assert_eq!(r.header("x-ringbridge-cost-unpriced"), Some("true"));

    let series = "ringbridge_cost_usd_total{provider=\"openai\",model=\"gpt-4o-mini\",key=\"vk-team-bound\",team=\"eng\"} ";
    assert!(metric_eventually(gw.addr, |l| l
        .strip_prefix(series)
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(|v| (v - 2.0 * usd(expected)).abs() < 1e-9)));
    assert!(metric_eventually(gw.addr, |l| l.starts_with(
        "ringbridge_unpriced_requests_total{provider=\"openai\",model=\"unheard-of-model\""
    )));
    let mut page = Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        page = roundtrip(gw.addr, &get("/admin/logs?model=gpt-4o-mini", &[])).json();
        page["data"].as_array().is_some_and(|d| d.len() == 2)
    }));
    assert!((page["data"][0]["cost_usd"].as_f64().unwrap() - usd(expected)).abs() < 1e-12);
    let usage = roundtrip(gw.addr, &get("/admin/usage?group_by=team", &[])).json();
    let eng = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["team"] == "eng")
        .unwrap()
        .clone();
    assert!(
        (eng["cost_usd"].as_f64().unwrap() - 2.0 * usd(expected)).abs() < 1e-9,
        "{eng}"
    );
    assert_eq!(eng["unpriced_requests"], 1);
}

#[test]
fn a_spent_budget_refuses_with_402_saying_which_and_when_in_each_dialect() {
    let mock = mock_provider(&[]);
    let gw = priced_gateway(&mock);
    // The first request fits the budget; what it cost spends it.
    assert_eq!(chat(&gw, "rb-tiny-budget-01", &[]).status, 200);
    let r = chat(&gw, "rb-tiny-budget-01", &[]);
    assert_eq!(r.status, 402, "{}", r.text());
    let e = &r.json()["error"];
    assert_eq!(e["code"], "budget_exceeded");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("gateway key `tiny`") && message.contains("monthly budget"),
        "{message}"
    );
    assert!(message.contains("resets at 20"), "{message}");
    // Anthropic's shape and type.
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/messages",
            &json!({"model": "openai/gpt-4o-mini", "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
            &[("x-api-key", "rb-tiny-budget-01")],
        ),
    );
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["type"], "error");
    assert_eq!(r.json()["error"]["type"], "billing_error");
    // Google's shape.
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1beta/models/openai%2Fgpt-4o-mini:generateContent",
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            &[("x-goog-api-key", "rb-tiny-budget-01")],
        ),
    );
    assert_eq!(r.status, 402, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], 402);
    // The Responses API: OpenAI's shape.
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/responses",
            r#"{"model":"openai/gpt-4o-mini","input":"hi"}"#,
            &[("authorization", "Bearer rb-tiny-budget-01")],
        ),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (402, json!("budget_exceeded"))
    );
    // The admin API shows the spend.
    let keys = roundtrip(gw.addr, &get("/admin/keys/vk-tiny", &[])).json();
    assert!(
        keys["budget"]["spent_usd"].as_f64().unwrap() > 0.000001,
        "{keys}"
    );
    assert_eq!(keys["budget"]["period"], "monthly");
}

#[test]
fn a_budgeted_keys_stream_is_charged_even_when_the_client_asks_for_no_usage() {
    let mock = mock_provider(&[]);
    let gw = priced_gateway(&mock);
    let body = json!({"model": "openai/gpt-4o-mini", "stream": true,
                      "messages": [{"role": "user", "content": "one two three four five"}]});
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            &body.to_string(),
            &[("authorization", "Bearer rb-team-budget-01")],
        ),
    );
    assert_eq!(r.status, 200);
    // The gateway asked for the usage: the stream ends with OpenAI's usage chunk.
    let events = sse_data(&r.body);
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert!(
        usage_chunk["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{usage_chunk}"
    );
    let mut page = Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        page = roundtrip(gw.addr, &get("/admin/logs?key_id=vk-team-bound", &[])).json();
        page["data"].as_array().is_some_and(|d| d.len() == 1)
    }));
    assert!(
        page["data"][0]["cost_usd"].as_f64().unwrap() > 0.0,
        "{page}"
    );
    let keys = roundtrip(gw.addr, &get("/admin/teams/eng", &[])).json();
    assert!(
        keys["budget"]["spent_usd"].as_f64().unwrap() > 0.0,
        "{keys}"
    );
    // A client's own stream_options are left alone.
    let mut own = body.clone();
    own["stream_options"] = json!({"include_usage": false});
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            &own.to_string(),
            &[("authorization", "Bearer rb-team-budget-01")],
        ),
    );
    assert!(!r.text().contains("\"usage\":{"), "{}", r.text());
}
