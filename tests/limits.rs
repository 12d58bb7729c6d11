//! Bad input and limits: each gets its status and an OpenAI-style error body.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;

const CHAT: &str = "/v1/chat/completions";

fn limited_gateway() -> Proc {
    gateway_with("[limits]\nmax_body_bytes = 1000\nheader_read_timeout_ms = 500\nidle_timeout_ms = 700\nbody_read_timeout_ms = 800\n")
}

fn assert_openai_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn head_over_64_kib_is_431() {
    let gw = gateway(GatewayOpts::default());
    let mut req = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 70 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let mut c = Conn::open(gw.addr);
    let _ = c.stream.write_all_ignoring_reset(&req);
    assert_openai_error(&c.recv().unwrap(), 431);
}

#[test]
fn body_over_limit_is_413_before_the_body_is_sent() {
    let gw = limited_gateway();
    let mut c = Conn::open(gw.addr);
    // Announce a large body and send none of it: the answer must not wait for it.
    c.send(format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n").as_bytes());
    let r = c.recv().unwrap();
    assert_openai_error(&r, 413);
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn chunked_body_over_limit_is_413() {
    let gw = limited_gateway();
    let mut c = Conn::open(gw.addr);
    let chunk = "a".repeat(600);
    c.send(format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n").as_bytes());
    assert_openai_error(&c.recv().unwrap(), 413);
}

#[test]
fn malformed_requests_are_400() {
    let gw = gateway(GatewayOpts::default());
    for raw in [
        &b"BLAH\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        assert_openai_error(&roundtrip(gw.addr, raw), 400);
    }
    let r = roundtrip(
        gw.addr,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    );
    assert_openai_error(&r, 501);
    // Bad chunk framing in the body.
    let r = roundtrip(
        gw.addr,
        format!("POST {CHAT} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").as_bytes(),
    );
    assert_openai_error(&r, 400);
}

#[test]
fn bad_json_and_bad_models_are_client_errors() {
    let gw = gateway(GatewayOpts::default());
    let cases: &[(&str, u16, &str)] = &[
        ("not json", 400, "JSON"),
        (r#"{"messages":[]}"#, 400, "model"),
        (r#"{"model":"nope/x"}"#, 404, "mock"),
        (r#"{"model":"gpt-unknown"}"#, 404, "provider/model"),
        (r#"{"model":""}"#, 400, "model"),
    ];
    for (body, status, needle) in cases {
        let r = roundtrip(gw.addr, &post(CHAT, body, &[]));
        assert_openai_error(&r, *status);
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let r = roundtrip(gw.addr, &post(CHAT, r#"{"model":"gpt-unknown"}"#, &[]));
    assert_eq!(r.json()["error"]["code"], "model_not_found");
}

#[test]
fn head_requests_get_no_body() {
    let gw = gateway(GatewayOpts::default());
    let mut c = Conn::open(gw.addr);
    c.send(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n");
    c.send(&get("/health", &[]));
    // Were a body sent after the HEAD response, it would be read as the next head.
    let mut raw = Vec::new();
    let mut b = [0u8; 4096];
    while !String::from_utf8_lossy(&raw).contains("{\"status\":\"ok\"}") {
        let n = c.stream.read(&mut b).unwrap();
        assert!(n > 0);
        raw.extend_from_slice(&b[..n]);
    }
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert_eq!(text.matches("{\"status\":\"ok\"}").count(), 1, "{text}");
}

#[test]
fn unknown_paths_and_methods() {
    let gw = gateway(GatewayOpts::default());
    assert_openai_error(&roundtrip(gw.addr, &get("/v2/nothing", &[])), 404);
    let r = roundtrip(gw.addr, &get(CHAT, &[]));
    assert_openai_error(&r, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[test]
fn slow_head_is_408_and_closed() {
    let gw = limited_gateway();
    let mut c = Conn::open(gw.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n");
    let start = Instant::now();
    let r = c.recv().unwrap();
    assert_openai_error(&r, 408);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn slow_body_is_408() {
    let gw = limited_gateway();
    let mut c = Conn::open(gw.addr);
    c.send(format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{{").as_bytes());
    assert_openai_error(&c.recv().unwrap(), 408);
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let gw = limited_gateway();
    let mut c = Conn::open(gw.addr);
    c.send(&get("/health", &[]));
    assert_eq!(c.recv().unwrap().status, 200);
    let start = Instant::now();
    let mut b = [0u8; 1];
    assert!(matches!(c.stream.read(&mut b), Ok(0)));
    let idle = start.elapsed();
    assert!(
        idle >= Duration::from_millis(500) && idle < Duration::from_secs(5),
        "{idle:?}"
    );
}

trait WriteIgnoringReset {
    fn write_all_ignoring_reset(&mut self, b: &[u8]) -> std::io::Result<()>;
}

impl WriteIgnoringReset for std::net::TcpStream {
    /// The gateway may answer 431 and close while the head is still being sent.
    fn write_all_ignoring_reset(&mut self, b: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match self.write_all(b) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Ok(())
            }
            r => r,
        }
    }
}
