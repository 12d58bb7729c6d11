//! Overload and failure: no second execution of a request the upstream read,
//! bounded connections and buffered bodies, descriptors at their limit, and a
//! shutdown that ends every stream it cuts.

mod common;

use std::time::{Duration, Instant};

use common::*;

const CHAT: &str = "/v1/chat/completions";

#[test]
fn a_request_the_upstream_read_is_not_sent_again() {
    let mock = mock_provider(&[]);
    // One try per request: what is tested is that the pool never resends on
    // its own (configured retries are visible in x-ringbridge-attempts).
    let gw = gateway_to(&mock, "[retries]\nattempts = 1");
    let mut c = Conn::open(gw.addr);
    // Warm a pooled connection, then have the upstream reset it after it has
    // read the next request: that request may have run, so it is a 502, once.
    c.send(&post(CHAT, r#"{"model":"openai/m"}"#, &[]));
    assert_eq!(c.recv().unwrap().status, 200);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m"}"#,
        &[("x-mock-fail", "reset")],
    ));
    assert_eq!(c.recv().unwrap().status, 502);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m"}"#,
        &[("x-mock-fail", "close")],
    ));
    assert_eq!(c.recv().unwrap().status, 502);
    assert_eq!(
        mock_stats(&mock)["requests"],
        3,
        "each request reached the upstream once"
    );
}

#[test]
fn a_pooled_connection_the_upstream_closed_is_not_used() {
    // The upstream closes idle connections after 100 ms: the gateway must see
    // that before writing, and send on a fresh connection, with no 502.
    let mock = mock_provider(&["--idle-close-ms", "100"]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    for _ in 0..4 {
        c.send(&post(CHAT, r#"{"model":"openai/m"}"#, &[]));
        assert_eq!(c.recv().unwrap().status, 200);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(mock_stats(&mock)["requests"], 4);
}

fn idle_conn(gw: &Proc) -> Conn {
    let mut c = Conn::open(gw.addr);
    c.send(&get("/health", &[]));
    assert_eq!(c.recv().unwrap().status, 200);
    c
}

#[test]
fn at_the_connection_limit_the_longest_idle_connection_goes_first() {
    let gw = gateway(GatewayOpts {
        workers: Some(1),
        config: Some("[limits]\nmax_connections = 3\n".into()),
        ..Default::default()
    });
    let mut oldest = idle_conn(&gw);
    std::thread::sleep(Duration::from_millis(20));
    let mut middle = idle_conn(&gw);
    std::thread::sleep(Duration::from_millis(20));
    let mut newest = idle_conn(&gw);
    // A fourth client is served; the one idle longest is closed for it.
    let mut fourth = idle_conn(&gw);
    assert!(oldest.closed_within(Duration::from_secs(5)));
    for c in [&mut middle, &mut newest, &mut fourth] {
        c.send(&get("/health", &[]));
        assert_eq!(c.recv().unwrap().status, 200);
    }
}

#[test]
fn at_the_connection_limit_with_nobody_idle_a_client_gets_503() {
    let gw = gateway(GatewayOpts {
        workers: Some(1),
        config: Some("[limits]\nmax_connections = 2\n".into()),
        ..Default::default()
    });
    // Two connections in the middle of a head: busy, not idle.
    let mut busy: Vec<Conn> = (0..2)
        .map(|_| {
            let mut c = Conn::open(gw.addr);
            c.send(b"GET /health HTTP/1.1\r\n");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut turned_away = Conn::open(gw.addr);
    let r = turned_away.recv().unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "service_unavailable");
    for c in &mut busy {
        c.send(b"Host: t\r\n\r\n");
        assert_eq!(c.recv().unwrap().status, 200);
    }
}

#[test]
fn bodies_past_the_buffer_budget_get_503_with_retry_after() {
    let gw = gateway_with("[limits]\nmax_body_bytes = 300000\nmax_buffered_body_bytes = 500000\n");
    // Two bodies announced and only begun: together they hold the budget.
    let mut holders: Vec<Conn> = (0..2)
        .map(|_| {
            let mut c = Conn::open(gw.addr);
            c.send(
                format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 250000\r\n\r\n{{")
                    .as_bytes(),
            );
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = Conn::open(gw.addr);
    third.send(
        format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 250000\r\n\r\n").as_bytes(),
    );
    let r = third.recv().unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    // Small bodies are not counted against the budget.
    let small = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"mock/echo","messages":[]}"#, &[]),
    );
    assert_eq!(small.status, 200);
    // Finishing a body gives its share back.
    let prefix = r#""model":"mock/echo","messages":[],"pad":""#;
    let rest = format!("{prefix}{}\"}}", "a".repeat(250_000 - 1 - prefix.len() - 2));
    assert_eq!(1 + rest.len(), 250_000);
    holders[0].send(rest.as_bytes());
    assert_eq!(holders[0].recv().unwrap().status, 200);
    // (The share returns once the connection's task is done with the request,
    // a moment after the client has its answer.)
    assert!(eventually(Duration::from_secs(5), || {
        let mut next = Conn::open(gw.addr);
        let request =
            format!("POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: 250000\r\n\r\n{{{rest}");
        // A refused attempt may close before taking all of it.
        let _ = std::io::Write::write_all(&mut next.stream, request.as_bytes());
        next.recv().is_some_and(|r| r.status == 200)
    }));
}

#[test]
fn the_soft_open_file_limit_is_raised_at_start() {
    let gw = gateway(GatewayOpts {
        open_files: Some((256, 4096)),
        ..Default::default()
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", gw.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(soft[3], "4096", "{line}");
}

#[test]
fn out_of_descriptors_the_gateway_backs_off_quietly_and_recovers() {
    let mut gw = gateway(GatewayOpts {
        workers: Some(1),
        open_files: Some((64, 64)),
        // Above what the descriptors allow: accept itself hits EMFILE.
        config: Some("[limits]\nmax_connections = 1000\n".into()),
        ..Default::default()
    });
    let started = Instant::now();
    let mut held = Vec::new();
    while started.elapsed() < Duration::from_secs(2) && held.len() < 150 {
        if let Ok(s) = std::net::TcpStream::connect(gw.addr) {
            held.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = gw.stderr();
    let failures = log.matches("accept failed").count();
    assert!(failures <= 2, "{failures} accept-failure lines:\n{log}");
    drop(held);
    assert!(eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(gw.addr).is_ok()
            && roundtrip(gw.addr, &get("/health", &[])).status == 200
    }));
}

#[test]
fn streams_cut_at_the_shutdown_deadline_end_with_an_error_event() {
    let mock = mock_provider(&[]);
    let mut gw = gateway_to(&mock, "[limits]\nshutdown_timeout_ms = 300\n");
    let mut c = Conn::open(gw.addr);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m","stream":true,"messages":[]}"#,
        &[("x-mock-chunks", "100"), ("x-mock-chunk-delay-ms", "100")],
    ));
    std::thread::sleep(Duration::from_millis(300));
    gw.terminate();
    // The stream ends properly (a terminating chunk), with an error event last.
    let r = c.recv().expect("a response");
    assert_eq!(r.status, 200);
    let events = sse_data(&r.body);
    let last = events.last().expect("events");
    let v: serde_json::Value = serde_json::from_str(last).expect(last);
    assert_eq!(v["error"]["code"], "service_unavailable", "{last}");
    assert!(events.len() < 100, "the stream was cut");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(gw.stderr().contains("cut=1"), "{}", gw.stderr());
}

#[test]
fn sighup_does_not_stop_the_gateway() {
    let gw = gateway(GatewayOpts::default());
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(gw.child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(roundtrip(gw.addr, &get("/health", &[])).status, 200);
}
