//! OpenAI clients through the gateway to an Anthropic-shaped upstream that
//! replays recorded Anthropic traffic (`$RINGBRIDGE_FIXTURES/anthropic/`, read
//! in place). The upstream picks the recording by the model name it receives.

mod common;

use common::replay::replay_upstream;
use common::*;

const CHAT: &str = "/v1/chat/completions";

fn gateway_to_anthropic(addr: std::net::SocketAddr) -> Proc {
    gateway_with(&format!(
            "env_providers = false\n[providers.anthropic]\nbase_url = \"http://{addr}\"\nkeys = [\"sk-ant-test-secret\"]\n"
        ))
}

#[test]
fn non_stream_answer_is_translated_to_a_chat_completion() {
    let (addr, seen) = replay_upstream("anthropic");
    let gw = gateway_to_anthropic(addr);
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"anthropic/messages-text.json","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
            &[("anthropic-beta", "tools-2024-05-16")],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ringbridge-provider"), Some("anthropic"));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "anthropic/messages-text.json");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Hello!"));
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 12);
    assert_eq!(v["usage"]["completion_tokens"], 29);

    let seen = seen.lock().unwrap();
    let up = &seen[0];
    assert_eq!(up.path, "/v1/messages");
    let header = |k: &str| {
        up.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-api-key"), Some("sk-ant-test-secret"));
    assert_eq!(header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(header("anthropic-beta"), Some("tools-2024-05-16"));
    assert_eq!(header("authorization"), None);
    assert_eq!(up.body["system"], "Be brief.");
    assert_eq!(up.body["messages"][0]["role"], "user");
    assert!(up.body["max_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn streams_are_translated_event_by_event() {
    let (addr, _) = replay_upstream("anthropic");
    let gw = gateway_to_anthropic(addr);
    let body = r#"{"model":"anthropic/messages-stream-tool-use.sse","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"rate?"}]}"#;
    let r = roundtrip(gw.addr, &post(CHAT, body, &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = sse_data(&r.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.starts_with("Let me search"), "{text}");
    let names: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str())
        .collect();
    assert!(!names.is_empty(), "no tool call names in {events:?}");
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, vec!["tool_calls"]);
    let usage = chunks
        .iter()
        .find(|c| c["usage"].is_object())
        .expect("a usage chunk");
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn anthropic_errors_become_openai_errors_with_retry_after() {
    let (addr, _) = replay_upstream("anthropic");
    let gw = gateway_to_anthropic(addr);
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"anthropic/status-529","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 503);
    // A 429 rests the (only) key for its Retry-After, so it comes last.
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"anthropic/status-429","messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("recorded-style error 429"));
}

#[test]
fn models_are_listed_from_the_anthropic_api() {
    let (addr, _) = replay_upstream("anthropic");
    let gw = gateway_to_anthropic(addr);
    assert!(eventually(std::time::Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"anthropic/claude-test\"")
    }));
}

#[test]
fn bad_requests_and_other_endpoints_are_refused_clearly() {
    let (addr, seen) = replay_upstream("anthropic");
    let gw = gateway_to_anthropic(addr);
    let r = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"anthropic/x","messages":[]}"#, &[]),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/embeddings",
            r#"{"model":"anthropic/x","input":"a"}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not serve /v1/embeddings"));
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing should reach the upstream"
    );
}
