//! What a hostile client sends: framing that is not payload, requests without
//! a key, bodies that route one model while the upstream parses another,
//! model names as large as a body, heads a byte at a time, headers that must
//! not cross the gateway, and upstreams that echo the key they were sent.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";

fn assert_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(message.contains(needle), "{message}");
}

/// Write what the gateway accepts; it may answer and close before the rest.
fn send_ignoring_reset(c: &mut Conn, bytes: &[u8]) {
    for part in bytes.chunks(64 * 1024) {
        if c.stream.write_all(part).is_err() {
            return;
        }
    }
}

#[test]
fn trailer_flood_is_refused_not_buffered() {
    let gw = gateway(GatewayOpts::default());
    let mut c = Conn::open(gw.addr);
    let mut req = format!(
        "POST {CHAT} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n0\r\n"
    )
    .into_bytes();
    for _ in 0..4096 {
        req.extend_from_slice(
            b"X-Trailer-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    send_ignoring_reset(&mut c, &req);
    assert_error(&c.recv().unwrap(), 400, "trailer section too long");
}

#[test]
fn chunk_extension_flood_is_refused_not_buffered() {
    let gw = gateway(GatewayOpts::default());
    let mut c = Conn::open(gw.addr);
    let mut req = format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .into_bytes();
    for _ in 0..2048 {
        req.extend_from_slice(b"1;name=valuevaluevaluevaluevaluevalue\r\n \r\n");
    }
    send_ignoring_reset(&mut c, &req);
    assert_error(&c.recv().unwrap(), 400, "chunk extension");
}

fn keyed_gateway() -> Proc {
    gateway(GatewayOpts {
        env: vec![("RINGBRIDGE_API_KEYS", "gk-right".into())],
        ..Default::default()
    })
}

#[test]
fn missing_or_wrong_key_is_401_before_the_body_is_read() {
    let gw = keyed_gateway();
    for (auth, framing) in [
        ("", "Content-Length: 30000000"),
        (
            "Authorization: Bearer gk-wrong\r\n",
            "Content-Length: 30000000",
        ),
        ("", "Transfer-Encoding: chunked"),
    ] {
        let mut c = Conn::open(gw.addr);
        // The head alone: the answer must not wait for a body.
        c.send(format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\n{auth}{framing}\r\n\r\n").as_bytes());
        let r = c.recv().unwrap();
        assert_error(&r, 401, "gateway API key");
        assert_eq!(r.header("connection"), Some("close"));
    }
    // The 401 counts as a rejected chat request.
    let counted = r#"ringbridge_requests_total{provider="none",model="",endpoint="chat_completions",status="401"} 3"#;
    assert!(eventually(Duration::from_secs(5), || {
        roundtrip(gw.addr, &get("/metrics", &[]))
            .text()
            .contains(counted)
    }));
}

#[test]
fn a_client_that_keeps_sending_after_a_401_still_reads_it() {
    let gw = keyed_gateway();
    let mut c = Conn::open(gw.addr);
    c.send(
        format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n").as_bytes(),
    );
    // Keep writing what was announced (as a naive client does) before reading.
    send_ignoring_reset(&mut c, &vec![b' '; 1_000_000]);
    assert_error(&c.recv().unwrap(), 401, "gateway API key");
}

#[test]
fn a_second_model_key_in_any_spelling_is_refused_before_routing() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    for body in [
        r#"{"model":"openai/gpt-4o-mini","mod\u0065l":"gpt-4-EXPENSIVE","messages":[]}"#,
        r#"{"model":"gpt-4-EXPENSIVE","model":"openai/gpt-4o-mini","messages":[]}"#,
        r#"{"\u006dodel":"openai/a","model":"openai/b"}"#,
    ] {
        let r = roundtrip(gw.addr, &post(CHAT, body, &[]));
        assert_error(&r, 400, "more than one top-level `model` key");
    }
    let r = roundtrip(gw.addr, &post(CHAT, r#"{"model":"openai/a"} {"x":1}"#, &[]));
    assert_error(&r, 400, "after the top-level object");
    assert_eq!(
        mock_stats(&mock)["requests"],
        0,
        "nothing reached the upstream"
    );
    // One model key, escaped or not, is routed as written.
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"mod\u0065l":"openai/gpt-4o-mini"}"#,
            &[("x-mock-echo", "1")],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "gpt-4o-mini");
}

#[test]
fn overlong_model_names_are_400_and_never_become_labels() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let long = "m".repeat(100_000);
    let r = roundtrip(
        gw.addr,
        &post(CHAT, &format!(r#"{{"model":"openai/{long}"}}"#), &[]),
    );
    assert_error(&r, 400, "the limit is 256");
    assert!(r.body.len() < 1024, "the error does not echo the name");
    let fits = "m".repeat(200);
    let r = roundtrip(
        gw.addr,
        &post(CHAT, &format!(r#"{{"model":"openai/{fits}"}}"#), &[]),
    );
    assert_eq!(r.status, 200);
    // Another core's figures reach a scrape within its publish interval.
    assert!(eventually(Duration::from_secs(5), || {
        roundtrip(gw.addr, &get("/metrics", &[]))
            .text()
            .contains(&fits)
    }));
    let metrics = roundtrip(gw.addr, &get("/metrics", &[])).text();
    assert!(!metrics.contains(&long[..300]));
}

#[test]
fn unknown_provider_message_names_the_provider_once() {
    let gw = gateway(GatewayOpts::default());
    let r = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"nosuch/some-model"}"#, &[]),
    );
    assert_error(&r, 404, "unknown provider `nosuch`");
    assert_eq!(r.json()["error"]["code"], "model_not_found");
    assert!(!r.text().contains("some-model"), "{}", r.text());
}

/// CPU seconds the process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn a_head_sent_in_small_pieces_is_parsed_once() {
    let gw = gateway(GatewayOpts {
        workers: Some(1),
        config: Some("[limits]\nmax_head_bytes = 1048576\n".into()),
        ..Default::default()
    });
    let mut head = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ".to_vec();
    head.resize(256 * 1024, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    let before = cpu_seconds(gw.child.id());
    let mut c = Conn::open(gw.addr);
    // 256 bytes at a time, paced so that each arrives in a read of its own.
    for piece in head.chunks(256) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(c.recv().unwrap().status, 200);
    // Parsing from the start after every read parses about 128 MiB here (a
    // second of CPU in a debug build); scanning each new byte once scans 256 KiB.
    let used = cpu_seconds(gw.child.id()) - before;
    assert!(used < 0.4, "the gateway used {used:.2} s of CPU");
}

#[test]
fn too_many_headers_is_431_and_says_so() {
    let gw = gateway(GatewayOpts::default());
    let mut req = b"GET /health HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..200 {
        req.extend_from_slice(format!("X-{i}: a\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let r = roundtrip(gw.addr, &req);
    assert_error(&r, 431, "more than 128 header fields");
}

#[test]
fn hop_by_hop_and_organization_headers_stay_on_the_client_side() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"openai/m"}"#,
            &[
                ("Connection", "keep-alive, X-Private-Hop"),
                ("X-Private-Hop", "1"),
                ("OpenAI-Organization", "org-client"),
                ("OpenAI-Project", "proj-client"),
                ("api-key", "client-azure-key"),
                ("X-Kept", "1"),
                ("x-mock-echo", "1"),
            ],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let saw = r.header("x-mock-saw-headers").unwrap();
    let names: Vec<&str> = saw.split(',').collect();
    assert!(names.contains(&"x-kept"), "{saw}");
    for dropped in [
        "x-private-hop",
        "openai-organization",
        "openai-project",
        "api-key",
        "connection",
    ] {
        assert!(
            !names.contains(&dropped),
            "{dropped} reached the upstream: {saw}"
        );
    }
}

#[test]
fn organization_headers_pass_when_the_provider_allows_them() {
    let mock = mock_provider(&[]);
    let gw = gateway_with(&format!(
            "[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"sk-k\"]\nforward_organization_headers = true\n",
            mock.addr
        ));
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"openai/m"}"#,
            &[("OpenAI-Organization", "org-client"), ("x-mock-echo", "1")],
        ),
    );
    assert!(r
        .header("x-mock-saw-headers")
        .unwrap()
        .contains("openai-organization"));
}

/// An upstream that answers every request with `response` and counts them.
fn canned_upstream(response: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let response = response.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                loop {
                    let Ok(n) = conn.read(&mut tmp) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    buf.drain(..end + 4 + len);
                    seen.fetch_add(1, Ordering::SeqCst);
                    if conn.write_all(&response).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

#[test]
fn an_upstream_echoing_the_key_never_shows_it_to_the_client() {
    let key = "sk-live-ECHOED-0123456789abcdef";
    for status in ["200 OK", "401 Unauthorized"] {
        let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {key}."}}}}"#);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Debug-Auth: Bearer {key}\r\nConnection: X-Upstream-Hop\r\nX-Upstream-Hop: 1\r\nX-Kept: 1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (addr, _) = canned_upstream(response.into_bytes());
        let gw = gateway_with(&format!(
            "[providers.openai]\nbase_url = \"http://{addr}/v1\"\nkeys = [\"{key}\"]\n"
        ));
        let mut c = Conn::open(gw.addr);
        c.send(&post(CHAT, r#"{"model":"openai/m"}"#, &[]));
        let r = c.recv().unwrap();
        assert!(
            r.headers.iter().all(|(_, v)| !v.contains(key)),
            "{:?}",
            r.headers
        );
        assert!(r.header("x-debug-auth").unwrap().starts_with("Bearer ****"));
        assert!(r.header("x-upstream-hop").is_none(), "{:?}", r.headers);
        assert_eq!(r.header("x-kept"), Some("1"));
        if status.starts_with("401") {
            assert_eq!(r.status, 401);
            assert!(!r.text().contains(key), "{}", r.text());
            assert!(r.text().contains("Incorrect API key provided: ****"));
        }
    }
}

#[test]
fn a_translated_error_quoting_the_key_is_masked() {
    let key = "sk-ant-ECHOED-0123456789abcdef";
    let body = format!(
        r#"{{"type":"error","error":{{"type":"authentication_error","message":"invalid x-api-key {key}"}}}}"#
    );
    let response = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (addr, _) = canned_upstream(response.into_bytes());
    let gw = gateway_with(&format!(
        "[providers.anthropic]\nbase_url = \"http://{addr}\"\nkeys = [\"{key}\"]\n"
    ));
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"anthropic/claude","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(!r.text().contains(key), "{}", r.text());
    assert!(r.text().contains("invalid x-api-key ****"), "{}", r.text());
}

#[test]
fn interval_between_bytes_of_a_head_does_not_matter() {
    // The end of a head split at every point around its blank line is found.
    let gw = gateway(GatewayOpts::default());
    let req = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    for cut in req.len() - 4..req.len() {
        let mut c = Conn::open(gw.addr);
        c.send(&req[..cut]);
        std::thread::sleep(Duration::from_millis(20));
        c.send(&req[cut..]);
        assert_eq!(c.recv().unwrap().status, 200, "cut at {cut}");
    }
}
