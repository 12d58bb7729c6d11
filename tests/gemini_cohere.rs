//! OpenAI clients through the gateway to Gemini- and Cohere-shaped upstreams
//! that replay recorded traffic (read in place from `RINGBRIDGE_FIXTURES`).

mod common;

use common::replay::replay_upstream;
use common::*;

const CHAT: &str = "/v1/chat/completions";

fn gateway_for(provider: &str, addr: std::net::SocketAddr, base_path: &str) -> Proc {
    gateway_with(&format!(
            "env_providers = false\n[providers.{provider}]\nbase_url = \"http://{addr}{base_path}\"\nkeys = [\"{provider}-test-key\"]\n"
        ))
}

fn chunks(body: &[u8]) -> (Vec<serde_json::Value>, Option<String>) {
    let events = sse_data(body);
    let last = events.last().cloned();
    let parsed = events
        .iter()
        .filter(|e| e.as_str() != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    (parsed, last)
}

fn joined(chunks: &[serde_json::Value], field: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][field].as_str())
        .collect()
}

#[test]
fn gemini_non_stream_stream_and_thinking() {
    let (addr, seen) = replay_upstream("gemini");
    let gw = gateway_for("gemini", addr, "/v1beta");

    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"gemini/generate-content-text.json","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    {
        let seen = seen.lock().unwrap();
        let up = seen
            .iter()
            .find(|s| s.path.contains(":generateContent"))
            .expect("generateContent call");
        assert_eq!(
            up.path,
            "/v1beta/models/generate-content-text.json:generateContent"
        );
        let key = up
            .headers
            .iter()
            .find(|(k, _)| k == "x-goog-api-key")
            .map(|(_, v)| v.as_str());
        assert_eq!(key, Some("gemini-test-key"));
        assert_eq!(
            up.body["systemInstruction"]["parts"][0]["text"],
            "Be brief."
        );
        assert_eq!(up.body["contents"][0]["role"], "user");
    }

    // CRLF-framed stream with thought parts.
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"gemini/stream-thinking-crlf.sse","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (cs, last) = chunks(&r.body);
    assert_eq!(last.as_deref(), Some("[DONE]"));
    assert!(!joined(&cs, "content").is_empty());
    assert!(!joined(&cs, "reasoning_content").is_empty());
    assert!(cs
        .iter()
        .any(|c| c["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0));
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.path.ends_with(":streamGenerateContent?alt=sse")));

    // A function call arrives whole; the gateway gives it an id.
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"gemini/stream-function-call-crlf.sse","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    let (cs, _) = chunks(&r.body);
    let call = cs
        .iter()
        .find_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]
                .as_object()
                .cloned()
        })
        .expect("a tool call");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert!(call["function"]["name"].as_str().is_some());
    assert!(cs
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
}

#[test]
fn gemini_quota_error_keeps_its_retry_hint() {
    let (addr, _) = replay_upstream("gemini");
    let gw = gateway_for("gemini", addr, "/v1beta");
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"gemini/error-429-retry-info.json","messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("35"));
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("quota"));
}

#[test]
fn cohere_non_stream_stream_and_tool_calls() {
    let (addr, seen) = replay_upstream("cohere");
    let gw = gateway_for("cohere", addr, "");
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"cohere/chat-v2-text.json","messages":[{"role":"user","content":"Hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    {
        let seen = seen.lock().unwrap();
        let up = seen
            .iter()
            .find(|s| s.path == "/v2/chat")
            .expect("a /v2/chat call");
        let auth = up
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(auth, Some("Bearer cohere-test-key"));
        assert_eq!(up.body["model"], "chat-v2-text.json");
    }

    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"cohere/chat-v2-stream-tool-call.chunks.txt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (cs, last) = chunks(&r.body);
    assert_eq!(last.as_deref(), Some("[DONE]"));
    let names: Vec<&str> = cs
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str())
        .collect();
    assert!(!names.is_empty());
    // Fragments joined per tool-call index make valid JSON.
    let mut args: std::collections::BTreeMap<u64, String> = Default::default();
    for c in &cs {
        for call in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().unwrap();
            args.entry(i)
                .or_default()
                .push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(args.len(), names.len());
    for a in args.values() {
        serde_json::from_str::<serde_json::Value>(a).expect("arguments join into JSON");
    }
    assert!(cs
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));

    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"cohere/chat-v2-stream-text.chunks.txt","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    let (cs, last) = chunks(&r.body);
    assert_eq!(last.as_deref(), Some("[DONE]"));
    assert!(!joined(&cs, "content").is_empty());
}

#[test]
fn legacy_completions_are_refused_for_translated_providers() {
    let (addr, _) = replay_upstream("cohere");
    let gw = gateway_for("cohere", addr, "");
    let r = roundtrip(
        gw.addr,
        &post(
            "/v1/completions",
            r#"{"model":"cohere/x","prompt":"a"}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not serve"));
}
