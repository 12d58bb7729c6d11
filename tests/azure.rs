//! Azure OpenAI: deployment URLs, `api-version`, the `api-key` header, and its
//! content-filter fields relayed untouched (recorded Azure traffic, read in place).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::replay::fixture;
use common::*;

const CHAT: &str = "/v1/chat/completions";

/// Answers every request with `body` and records each request head.
fn recording_upstream(body: Vec<u8>) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let log = heads.clone();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().map_while(Result::ok) {
            let (log, body) = (log.clone(), body.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 65536];
                loop {
                    let consumed = loop {
                        let mut hs = [httparse::EMPTY_HEADER; 64];
                        let mut req = httparse::Request::new(&mut hs);
                        if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                            let len: usize = req
                                .headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                                .unwrap_or(0);
                            if buf.len() >= n + len {
                                log.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                                break n + len;
                            }
                        }
                        match tcp.read(&mut tmp) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&tmp[..k]),
                        }
                    };
                    buf.drain(..consumed);
                    let mut out = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    if tcp.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, heads)
}

#[test]
fn deployment_url_api_key_and_content_filter_results() {
    let recorded = fixture("azure/chat-completion-content-filter.json");
    let (addr, heads) = recording_upstream(recorded.clone());
    let gw = gateway_with(&format!(
            "env_providers = false\n[providers.azure]\nbase_url = \"http://{addr}\"\nkeys = [\"az-secret-key\"]\napi_version = \"2025-01-01-preview\"\nmodels = [\"gpt-4o-prod\"]\n"
        ));
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"azure/gpt-4o-prod","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Relayed byte for byte, content-filter fields included.
    assert_eq!(r.body, recorded);
    assert!(r.json()["prompt_filter_results"].is_array());
    let heads = heads.lock().unwrap();
    let head = heads
        .iter()
        .find(|h| h.starts_with("POST"))
        .expect("a chat request upstream");
    assert!(
        head.starts_with("POST /openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-01-01-preview HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("api-key: az-secret-key"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("authorization:"),
        "{head}"
    );
    // Deployments come from `models`; Azure's own model list is not fetched.
    assert!(eventually(std::time::Duration::from_secs(5), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"azure/gpt-4o-prod\"")
    }));
}

#[test]
fn zero_config_from_the_azure_sdk_variables() {
    let mock = mock_provider(&[]);
    let gw = gateway(GatewayOpts {
        env: vec![
            ("AZURE_OPENAI_ENDPOINT", format!("http://{}", mock.addr)),
            ("AZURE_OPENAI_API_KEY", "az-key".into()),
            ("OPENAI_API_VERSION", "2024-06-01".into()),
        ],
        ..Default::default()
    });
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"azure/my deployment","messages":[]}"#,
            &[("x-mock-echo", "1")],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-mock-saw-path"),
        Some("/openai/deployments/my%20deployment/chat/completions?api-version=2024-06-01")
    );
    let e = roundtrip(
        gw.addr,
        &post(
            "/v1/embeddings",
            r#"{"model":"azure/emb","input":"x"}"#,
            &[("x-mock-echo", "1")],
        ),
    );
    assert_eq!(
        e.header("x-mock-saw-path"),
        Some("/openai/deployments/emb/embeddings?api-version=2024-06-01")
    );
}

#[test]
fn azure_config_mistakes_are_named() {
    let run = |env: &[(&str, &str)], cfg: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringbridge"));
        cmd.args(["--listen", "127.0.0.1:0"]);
        for k in [
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_KEY",
            "OPENAI_API_KEY",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(cfg) = cfg {
            let path = std::env::temp_dir().join(format!(
                "rb-azure-{}-{}.toml",
                std::process::id(),
                unique()
            ));
            std::fs::write(&path, cfg).unwrap();
            cmd.arg("--config").arg(path);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[("AZURE_OPENAI_API_KEY", "k")], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("AZURE_OPENAI_ENDPOINT"), "{err}");
    let (code, err) = run(
        &[],
        Some("[providers.groq]\nkeys=[\"k\"]\napi_version = \"2024-10-21\"\n"),
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("`providers.groq.api_version`"), "{err}");
}
