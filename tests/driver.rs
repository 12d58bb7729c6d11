//! What the request driver changed on the wire: HTTP/1.0 streams, a cut
//! non-stream answer counted as a failure, `GET /v1/models/{id}`, CORS, and
//! unknown models as 404 `model_not_found`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";

/// Send `request` and read until the gateway closes the connection.
fn read_to_close(addr: std::net::SocketAddr, request: &[u8]) -> (String, Vec<u8>) {
    let mut c = Conn::open(addr);
    c.send(request);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    c.stream
        .read_to_end(&mut raw)
        .expect("the gateway closes the connection");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let body = raw.split_off(split);
    (String::from_utf8(raw).unwrap().to_ascii_lowercase(), body)
}

fn http10_post(body: &str) -> Vec<u8> {
    format!(
        "POST {CHAT} HTTP/1.0\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn http10_streams_are_close_delimited_not_chunked() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let cases = [
        r#"{"model":"mock/echo","stream":true,"messages":[{"role":"user","content":"hi there"}]}"#,
        r#"{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    ];
    for body in cases {
        let (head, body) = read_to_close(gw.addr, &http10_post(body));
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(!head.contains("content-length"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let events = sse_data(&body);
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{events:?}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("\r\n0\r\n"),
            "no chunk framing"
        );
    }
    // Keep-alive asked for on HTTP/1.0 cannot hold across a close-delimited body.
    let keep = format!(
        "POST {CHAT} HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n{}",
        cases[0].len(),
        cases[0]
    );
    let (head, _) = read_to_close(gw.addr, keep.as_bytes());
    assert!(head.contains("connection: close"), "{head}");
}

/// An upstream that answers a 200 head promising 100 bytes, sends 10, and closes.
fn cutting_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 65536];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&seen);
            if request.starts_with("GET") {
                let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"x\",",
            );
        }
    });
    addr
}

#[test]
fn non_stream_answer_cut_after_the_head_counts_as_an_upstream_failure() {
    let upstream = cutting_upstream();
    let gw = gateway_with(&format!(
        "[providers.cutter]\nkind = \"openai\"\nbase_url = \"http://{upstream}/v1\"\nkeys = [\"sk-test\"]\n"
    ));
    let mut c = Conn::open(gw.addr);
    c.send(&post(CHAT, r#"{"model":"cutter/m","messages":[]}"#, &[]));
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = c.stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(metric_eventually(gw.addr, |l| {
        l.starts_with("ringbridge_requests_total{")
            && l.contains("provider=\"cutter\"")
            && l.contains("status=\"502\"")
    }));
    let m = roundtrip(gw.addr, &get("/metrics", &[])).text();
    assert!(
        !m.lines()
            .any(|l| l.starts_with("ringbridge_requests_total{")
                && l.contains("provider=\"cutter\"")
                && l.contains("status=\"200\"")),
        "{m}"
    );
}

#[test]
fn models_can_be_retrieved_one_by_one() {
    // A provider whose catalogue cannot be fetched: its routable ids still
    // answer, as the client may use them.
    let gw = gateway_with(
        "[providers.offline]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nkeys = [\"sk-test\"]\n[aliases]\nquick = \"mock/echo\"\n",
    );
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("mock/echo")
    }));
    for path in ["/v1/models/mock/echo", "/v1/models/mock%2Fecho"] {
        let r = roundtrip(gw.addr, &get(path, &[]));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let v = r.json();
        assert_eq!(v["id"], "mock/echo");
        assert_eq!(v["object"], "model");
        assert_eq!(v["owned_by"], "mock");
    }
    let alias = roundtrip(gw.addr, &get("/v1/models/quick", &[])).json();
    assert_eq!(alias["owned_by"], "mock/echo");
    let unlisted = roundtrip(gw.addr, &get("/v1/models/offline/some-model", &[]));
    assert_eq!(unlisted.status, 200, "{}", unlisted.text());
    assert_eq!(unlisted.json()["owned_by"], "offline");
    for missing in ["/v1/models/mock/no-such-model", "/v1/models/nosuch/x"] {
        let r = roundtrip(gw.addr, &get(missing, &[]));
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(r.json()["error"]["code"], "model_not_found");
    }
    assert_eq!(
        roundtrip(gw.addr, &get("/v1/models/mock%2", &[])).status,
        400
    );
    let post = roundtrip(gw.addr, &post("/v1/models/mock/echo", "{}", &[]));
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
}

#[test]
fn unknown_models_are_404_model_not_found_listing_what_exists() {
    let gw = gateway(GatewayOpts::default());
    for model in ["nosuch/x", "gpt-unknown", "mock/not-a-mock-model"] {
        let body = format!(r#"{{"model":"{model}","messages":[]}}"#);
        let r = roundtrip(gw.addr, &post(CHAT, &body, &[]));
        if model == "mock/not-a-mock-model" {
            // The mock serves any model name; it is not an allow-listed provider.
            assert_eq!(r.status, 200);
            continue;
        }
        assert_eq!(r.status, 404, "{model}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("mock"),
            "names what exists: {v}"
        );
    }
}

fn preflight(origin: &str) -> Vec<u8> {
    format!(
        "OPTIONS {CHAT} HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn cors_lets_allowed_origins_call_from_a_browser() {
    let gw = gateway_with(
        "[cors]\nallowed_origins = [\"https://app.example.com\"]\n[auth]\nkeys = [\"gw-key-123\"]\n",
    );
    // The preflight carries no credentials and must not need them.
    let ok = roundtrip(gw.addr, &preflight("https://app.example.com"));
    assert_eq!(ok.status, 204, "{}", ok.text());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(ok
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert!(ok.header("access-control-max-age").is_some());

    let refused = roundtrip(gw.addr, &preflight("https://evil.example.com"));
    assert_eq!(refused.status, 403);
    assert!(refused.header("access-control-allow-origin").is_none());

    let body = r#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#;
    let call = roundtrip(
        gw.addr,
        &post(
            CHAT,
            body,
            &[
                ("origin", "https://app.example.com"),
                ("authorization", "Bearer gw-key-123"),
            ],
        ),
    );
    assert_eq!(call.status, 200);
    assert_eq!(
        call.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(call
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-request-id"));
    // Errors carry the headers too, so the page can read them.
    let denied = roundtrip(
        gw.addr,
        &post(CHAT, body, &[("origin", "https://app.example.com")]),
    );
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let other = roundtrip(
        gw.addr,
        &post(
            CHAT,
            body,
            &[
                ("origin", "https://evil.example.com"),
                ("authorization", "Bearer gw-key-123"),
            ],
        ),
    );
    assert!(other.header("access-control-allow-origin").is_none());
}

#[test]
fn cors_is_off_by_default() {
    let gw = gateway(GatewayOpts::default());
    let r = roundtrip(gw.addr, &preflight("https://app.example.com"));
    assert_eq!(r.status, 405);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[test]
fn bad_cors_origin_fails_at_start_with_its_path() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .arg("check-config")
        .arg({
            let p = std::env::temp_dir().join(format!("rb-cors-{}.toml", std::process::id()));
            std::fs::write(&p, "[cors]\nallowed_origins = [\"https://ok.example\", \"https://bad.example/path\"]\n").unwrap();
            p
        })
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cors.allowed_origins[1]"), "{err}");
}
