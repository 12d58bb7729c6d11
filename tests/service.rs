//! Start-up, config, auth, admin endpoints, the built-in mock provider, secrets
//! and graceful shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";

#[test]
fn zero_config_answers_with_the_mock_provider() {
    let gw = gateway(GatewayOpts::default());
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"mock/echo","messages":[{"role":"user","content":"hello there"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("hello there"));
    assert_eq!(r.header("x-ringbridge-provider"), Some("mock"));

    let s = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"mock/echo","stream":true,"messages":[{"role":"user","content":"a b"}]}"#,
            &[],
        ),
    );
    assert_eq!(s.status, 200);
    assert_eq!(sse_data(&s.body).last().map(String::as_str), Some("[DONE]"));

    let e = roundtrip(
        gw.addr,
        &post(
            "/v1/embeddings",
            r#"{"model":"mock/embed","input":"x"}"#,
            &[],
        ),
    );
    assert_eq!(e.json()["data"][0]["object"], "embedding");
}

#[test]
fn health_ready_and_request_ids() {
    let gw = gateway(GatewayOpts::default());
    let h = roundtrip(gw.addr, &get("/health", &[]));
    assert_eq!(h.status, 200);
    assert_eq!(h.header("x-request-id").map(str::len), Some(32));
    let r = roundtrip(gw.addr, &get("/ready", &[("x-request-id", "my-id-42")]));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("my-id-42"));
}

#[test]
fn metrics_report_requests_overhead_and_driver() {
    let gw = gateway(GatewayOpts::default());
    for _ in 0..5 {
        let r = roundtrip(
            gw.addr,
            &post(
                CHAT,
                r#"{"model":"mock/a","messages":[{"role":"user","content":"x"}]}"#,
                &[],
            ),
        );
        assert_eq!(r.status, 200);
    }
    let expected_driver = if std::env::var_os("MONOIO_FORCE_LEGACY_DRIVER").is_some() {
        "epoll"
    } else {
        "io_uring"
    };
    assert!(
        eventually(Duration::from_secs(5), || {
            let m = roundtrip(gw.addr, &get("/metrics", &[])).text();
            m.contains("ringbridge_requests_total{provider=\"mock\",model=\"a\",endpoint=\"chat_completions\",status=\"200\"} 5")
            && m.contains("ringbridge_gateway_overhead_seconds_bucket")
            && m.contains("ringbridge_gateway_overhead_quantile_seconds{quantile=\"0.99\"}")
            && m.contains(&format!("driver=\"{expected_driver}\""))
        }),
        "{}",
        roundtrip(gw.addr, &get("/metrics", &[])).text()
    );
}

#[test]
fn models_list_has_mock_and_configured_models_and_aliases() {
    let gw = gateway_with("[aliases]\nfast = \"mock/quick\"\n");
    assert!(eventually(Duration::from_secs(10), || {
        let v = roundtrip(gw.addr, &get("/v1/models", &[])).json();
        let ids: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.iter().any(|i| i.starts_with("mock/")) && ids.contains(&"fast".to_string())
    }));
    let r = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"fast","messages":[]}"#, &[]),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "mock/quick");
}

#[test]
fn models_are_fetched_from_the_provider() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"openai/mock-small\"")
    }));
}

#[test]
fn inbound_auth_is_enforced_when_keys_are_set() {
    let gw = gateway(GatewayOpts {
        env: vec![("RINGBRIDGE_API_KEYS", "gk-one,gk-two".into())],
        ..Default::default()
    });
    let body = r#"{"model":"mock/a","messages":[]}"#;
    assert_eq!(roundtrip(gw.addr, &post(CHAT, body, &[])).status, 401);
    assert_eq!(
        roundtrip(
            gw.addr,
            &post(CHAT, body, &[("Authorization", "Bearer wrong")])
        )
        .status,
        401
    );
    assert_eq!(
        roundtrip(
            gw.addr,
            &post(CHAT, body, &[("Authorization", "Bearer gk-two")])
        )
        .status,
        200
    );
    assert_eq!(
        roundtrip(gw.addr, &post(CHAT, body, &[("x-api-key", "gk-one")])).status,
        200
    );
    // Health stays open for probes.
    assert_eq!(roundtrip(gw.addr, &get("/health", &[])).status, 200);
}

#[test]
fn provider_keys_never_reach_logs_errors_or_metrics() {
    let mock = mock_provider(&[]);
    let secret = "sk-live-SECRET-abcdef0123456789";
    let mut gw = gateway(GatewayOpts {
        env: vec![
            ("OPENAI_API_KEY", secret.into()),
            ("OPENAI_BASE_URL", format!("http://{}/v1", mock.addr)),
            ("RINGBRIDGE_LOG", "debug".into()),
        ],
        ..Default::default()
    });
    // The key is used upstream...
    let ok = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"openai/m","messages":[]}"#,
            &[("x-mock-echo", "1")],
        ),
    );
    assert_eq!(
        saw_authorization(&ok).as_deref(),
        Some(&*format!("Bearer {secret}"))
    );
    assert!(ok.headers.iter().all(|(_, v)| !v.contains(secret)));
    // ...and nowhere else, including failures.
    let bad = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"openai/m"}"#, &[("x-mock-fail", "reset")]),
    );
    assert_eq!(bad.status, 502);
    assert!(!bad.text().contains(secret));
    let metrics = roundtrip(gw.addr, &get("/metrics", &[])).text();
    assert!(!metrics.contains(secret));
    gw.terminate();
    gw.wait_exit(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let logs = gw.stderr();
    assert!(logs.contains("starting"), "{logs}");
    assert!(!logs.contains(secret), "secret in logs:\n{logs}");
}

#[test]
fn config_errors_name_the_exact_path() {
    let dir = std::env::temp_dir();
    let cases = [
        ("[limits]\nmax_body_bytez = 1\n", "limits.max_body_bytez"),
        (
            "[providers.groq]\nbase_url = \"ftp://x\"\nkeys=[\"k\"]\n",
            "providers.groq.base_url",
        ),
        (
            "[providers.groq]\nkeys = [\"env:RB_TEST_UNSET_VAR\"]\n",
            "providers.groq.keys[0]",
        ),
        ("[aliases]\nfast = \"nope/x\"\n", "aliases.fast"),
    ];
    for (i, (cfg, path)) in cases.iter().enumerate() {
        let file = dir.join(format!("rb-bad-{}-{i}.toml", std::process::id()));
        std::fs::write(&file, cfg).unwrap();
        for args in [
            vec!["check-config".to_string(), file.display().to_string()],
            vec![
                "--config".to_string(),
                file.display().to_string(),
                "--listen".into(),
                "127.0.0.1:0".into(),
            ],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
                .args(&args)
                .env_remove("RB_TEST_UNSET_VAR")
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&format!("`{path}`")), "{args:?}: {err}");
        }
    }
    let good = dir.join(format!("rb-good-{}.toml", std::process::id()));
    std::fs::write(&good, "workers = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .args(["check-config", &good.display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn non_loopback_without_auth_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("RINGBRIDGE_API_KEYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-unauthenticated"));
}

#[test]
fn a_busy_port_is_refused() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .args(["--listen", &addr.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

#[test]
fn version_and_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("check-config") && help.contains("--listen"));
}

#[test]
fn sigterm_on_an_idle_gateway_exits_zero() {
    let mut gw = gateway(GatewayOpts::default());
    let mut c = Conn::open(gw.addr);
    c.send(&get("/health", &[]));
    assert_eq!(c.recv().unwrap().status, 200);
    gw.terminate();
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}
