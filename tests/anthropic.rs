//! OpenAI clients through the gateway to an Anthropic-shaped upstream that
//! replays recorded Anthropic traffic (`$RINGBRIDGE_FIXTURES/anthropic/`, read
//! in place). The upstream picks the recording by the model name it receives.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::*;

const CHAT: &str = "/v1/chat/completions";

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        });
    assert!(
        dir.join("anthropic").is_dir(),
        "recorded fixtures not found at {} (set RINGBRIDGE_FIXTURES)",
        dir.display()
    );
    dir
}

struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

/// Serves `anthropic/<model>` from the fixtures: `.sse` files as chunked event
/// streams written a few bytes at a time, `.json` files whole; models named
/// `status-NNN` answer that status with an Anthropic error body.
fn anthropic_upstream() -> (std::net::SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let dir = fixtures().join("anthropic");
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().map_while(Result::ok) {
            let log = log.clone();
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 65536];
                loop {
                    let (seen, consumed) = loop {
                        let mut hs = [httparse::EMPTY_HEADER; 64];
                        let mut req = httparse::Request::new(&mut hs);
                        if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                            let headers: Vec<(String, String)> = req
                                .headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.name.to_ascii_lowercase(),
                                        String::from_utf8_lossy(h.value).into_owned(),
                                    )
                                })
                                .collect();
                            let len: usize = headers
                                .iter()
                                .find(|(k, _)| k == "content-length")
                                .map(|(_, v)| v.parse().unwrap())
                                .unwrap_or(0);
                            if buf.len() >= n + len {
                                let body = serde_json::from_slice(&buf[n..n + len])
                                    .unwrap_or(serde_json::Value::Null);
                                break (
                                    Seen {
                                        path: req.path.unwrap().to_string(),
                                        headers,
                                        body,
                                    },
                                    n + len,
                                );
                            }
                        }
                        match tcp.read(&mut tmp) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&tmp[..k]),
                        }
                    };
                    buf.drain(..consumed);
                    if seen.path == "/v1/models" {
                        let body =
                            r#"{"data":[{"id":"claude-test","type":"model"}],"has_more":false}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if tcp.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                        continue;
                    }
                    let model = seen.body["model"].as_str().unwrap_or("").to_string();
                    log.lock().unwrap().push(seen);
                    let ok = if let Some(code) = model.strip_prefix("status-") {
                        let body = format!(
                            r#"{{"type":"error","error":{{"type":"{}","message":"recorded-style error {code}"}}}}"#,
                            if code == "429" {
                                "rate_limit_error"
                            } else {
                                "overloaded_error"
                            }
                        );
                        let resp = format!(
                            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\nretry-after: 7\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        tcp.write_all(resp.as_bytes()).is_ok()
                    } else if model.ends_with(".sse") || model.ends_with(".chunks.txt") {
                        let raw = std::fs::read(dir.join(&model)).unwrap();
                        let raw = if model.ends_with(".chunks.txt") {
                            // One data payload per line: rebuild the SSE framing.
                            String::from_utf8(raw)
                                .unwrap()
                                .lines()
                                .filter(|l| !l.trim().is_empty())
                                .map(|l| format!("data: {l}\n\n"))
                                .collect::<String>()
                                .into_bytes()
                        } else {
                            raw
                        };
                        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                        for piece in raw.chunks(97) {
                            out.extend(format!("{:x}\r\n", piece.len()).into_bytes());
                            out.extend_from_slice(piece);
                            out.extend_from_slice(b"\r\n");
                        }
                        out.extend_from_slice(b"0\r\n\r\n");
                        tcp.write_all(&out).is_ok()
                    } else {
                        let raw = std::fs::read(dir.join(&model)).unwrap();
                        let mut out = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            raw.len()
                        )
                        .into_bytes();
                        out.extend_from_slice(&raw);
                        tcp.write_all(&out).is_ok()
                    };
                    if !ok {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn gateway_to_anthropic(addr: std::net::SocketAddr) -> Proc {
    gateway(GatewayOpts {
        config: Some(format!(
            "env_providers = false\n[providers.anthropic]\nbase_url = \"http://{addr}\"\nkeys = [\"sk-ant-test-secret\"]\n"
        )),
        ..Default::default()
    })
}

#[test]
fn non_stream_answer_is_translated_to_a_chat_completion() {
    let (addr, seen) = anthropic_upstream();
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
    let (addr, _) = anthropic_upstream();
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
    let (addr, _) = anthropic_upstream();
    let gw = gateway_to_anthropic(addr);
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
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"anthropic/status-529","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 503);
}

#[test]
fn models_are_listed_from_the_anthropic_api() {
    let (addr, _) = anthropic_upstream();
    let gw = gateway_to_anthropic(addr);
    assert!(eventually(std::time::Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"anthropic/claude-test\"")
    }));
}

#[test]
fn bad_requests_and_other_endpoints_are_refused_clearly() {
    let (addr, seen) = anthropic_upstream();
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
        .contains("chat/completions"));
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing should reach the upstream"
    );
}
