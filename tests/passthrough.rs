//! Pass-through behaviour of the real gateway against `mock-provider`.

mod common;

use std::time::Duration;

use common::*;

const CHAT: &str = "/v1/chat/completions";

#[test]
fn non_stream_body_goes_upstream_byte_for_byte_apart_from_model() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    // Odd spacing, unknown fields and nested `model` keys must all survive.
    let body = r#"{ "messages" : [{"role":"user","content":"hi \"q\" \u00e9"}],"model":  "openai/gpt-4o-mini" ,"x_unknown":{"model":"keep-me","n":[1,2.5e3,null,true]},"temperature":0.25 }"#;
    let expected = body.replace("\"openai/gpt-4o-mini\"", "\"gpt-4o-mini\"");
    let resp = roundtrip(gw.addr, &post(CHAT, body, &[("x-mock-echo", "1")]));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.text(), expected);
    assert_eq!(resp.header("x-mock-saw-path"), Some("/v1/chat/completions"));
    // The upstream got the key; its echo of it is masked on the way back.
    assert_eq!(
        saw_authorization(&resp).as_deref(),
        Some("Bearer sk-test-secret-0123456789")
    );
    assert_eq!(
        resp.header("x-mock-saw-authorization"),
        Some(&*format!(
            "Bearer {}",
            "*".repeat("sk-test-secret-0123456789".len())
        ))
    );
    assert_eq!(resp.header("x-ringbridge-provider"), Some("openai"));
}

#[test]
fn large_bodies_go_upstream_byte_for_byte_and_pipelining_survives() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let filler = "lorem \\\"ipsum\\\" ".repeat(70_000);
    let bodies = [
        // The model before, between and after the large parts.
        format!(
            r#"{{"model":"openai/gpt-4o-mini","messages":[{{"role":"user","content":"{filler}"}}]}}"#
        ),
        format!(
            r#"{{"messages":[{{"role":"user","content":"{filler}"}}],"model":"openai/gpt-4o-mini","n":1,"x":"{filler}"}}"#
        ),
        format!(
            r#"{{"messages":[{{"role":"user","content":"{filler}"}}],"model":"openai/gpt-4o-mini"}}"#
        ),
    ];
    let mut c = Conn::open(gw.addr);
    for body in &bodies {
        assert!(body.len() > 1_000_000);
        let expected = body.replace("\"openai/gpt-4o-mini\"", "\"gpt-4o-mini\"");
        // A small request pipelined behind the large one is answered after it.
        let mut both = post(CHAT, body, &[("x-mock-echo", "1")]);
        both.extend(post(CHAT, r#"{"model":"mock/echo","messages":[]}"#, &[]));
        c.send(&both);
        let big = c.recv().unwrap();
        assert_eq!(
            big.status,
            200,
            "{}",
            &big.text()[..200.min(big.text().len())]
        );
        assert!(big.text() == expected, "body changed on the way upstream");
        assert_eq!(c.recv().unwrap().status, 200);
    }
}

#[test]
fn non_stream_response_is_relayed_as_received() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let direct = roundtrip(
        mock.addr,
        &post(CHAT, r#"{"model":"gpt-4o-mini","messages":[]}"#, &[]),
    );
    let via = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"openai/gpt-4o-mini","messages":[]}"#, &[]),
    );
    assert_eq!(via.status, 200);
    assert_eq!(via.body, direct.body);
    assert_eq!(via.header("content-type"), direct.header("content-type"));
}

#[test]
fn stream_is_relayed_byte_exact_and_usage_counted() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let body = |model: &str| {
        format!(
            r#"{{"model":"{model}","stream":true,"stream_options":{{"include_usage":true}},"messages":[{{"role":"user","content":"x"}}]}}"#
        )
    };
    let direct = roundtrip(
        mock.addr,
        &post(CHAT, &body("gpt-4o-mini"), &[("x-mock-chunks", "20")]),
    );
    let via = roundtrip(
        gw.addr,
        &post(
            CHAT,
            &body("openai/gpt-4o-mini"),
            &[("x-mock-chunks", "20")],
        ),
    );
    assert_eq!(via.status, 200);
    assert!(via.chunked);
    assert_eq!(via.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        via.raw_body, direct.raw_body,
        "chunk framing and bytes relayed unchanged"
    );
    let events = sse_data(&via.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(events.len(), 1 + 20 + 1 + 1 + 1);

    // Token counters come from the usage chunk read on the way past.
    assert!(metric_eventually(gw.addr, |l| {
        l.starts_with("ringbridge_completion_tokens_total{")
            && l.contains("provider=\"openai\"")
            && l.contains("model=\"gpt-4o-mini\"")
            && l.ends_with(" 20")
    }));
}

#[test]
fn stream_events_arrive_as_they_are_produced() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m","stream":true,"messages":[]}"#,
        &[("x-mock-chunks", "3"), ("x-mock-chunk-delay-ms", "400")],
    ));
    // The head and the first event must come long before the ~1.2 s stream ends.
    let start = std::time::Instant::now();
    let mut first = [0u8; 1];
    use std::io::Read;
    c.stream.read_exact(&mut first).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "first byte after {:?}",
        start.elapsed()
    );
    let rest = c.recv_after_prefix(first[0]).unwrap();
    assert_eq!(rest.status, 200);
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "stream ended after {:?}",
        start.elapsed()
    );
}

#[test]
fn keep_alive_reuses_upstream_connections() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    for i in 0..40 {
        // Alternate one client connection and fresh ones.
        let req = post(CHAT, r#"{"model":"openai/m","messages":[]}"#, &[]);
        let resp = if i % 2 == 0 {
            c.send(&req);
            c.recv().unwrap()
        } else {
            roundtrip(gw.addr, &req)
        };
        assert_eq!(resp.status, 200);
    }
    let stats = mock_stats(&mock);
    assert_eq!(stats["requests"], 40);
    let conns = stats["connections_accepted"].as_u64().unwrap();
    assert!(
        conns <= 4,
        "upstream saw {conns} connections for 40 requests"
    );
}

#[test]
fn stale_pooled_connection_is_retried_on_a_fresh_one() {
    let mock = mock_provider(&["--idle-close-ms", "150"]);
    let gw = gateway(GatewayOpts {
        workers: Some(1),
        config: Some(format!(
            "[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"k\"]\n",
            mock.addr
        )),
        ..Default::default()
    });
    let mut c = Conn::open(gw.addr);
    for _ in 0..3 {
        c.send(&post(CHAT, r#"{"model":"openai/m","messages":[]}"#, &[]));
        assert_eq!(c.recv().unwrap().status, 200);
        std::thread::sleep(Duration::from_millis(400));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    let mut all = Vec::new();
    for i in 0..3 {
        all.extend(post(
            CHAT,
            &format!(r#"{{"model":"openai/m","seq":{i}}}"#),
            &[("x-mock-echo", "1")],
        ));
    }
    all.extend(get("/health", &[]));
    c.send(&all);
    for i in 0..3 {
        let r = c.recv().unwrap();
        assert_eq!(r.text(), format!(r#"{{"model":"m","seq":{i}}}"#));
    }
    assert_eq!(c.recv().unwrap().text(), r#"{"status":"ok"}"#);
}

#[test]
fn chunked_request_body_is_forwarded_with_a_length() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    let part1 = r#"{"model":"openai/m","#;
    let part2 = r#""messages":[]}"#;
    let req = format!(
        "POST {CHAT} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nx-mock-echo: 1\r\n\r\n{:x}\r\n{part1}\r\n{:x};ext=1\r\n{part2}\r\n0\r\n\r\n",
        part1.len(),
        part2.len()
    );
    // Byte-at-a-time delivery must give the same result.
    for b in req.as_bytes() {
        c.send(&[*b]);
    }
    let r = c.recv().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), r#"{"model":"m","messages":[]}"#);
}

#[test]
fn expect_100_continue_gets_an_interim_response() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    let body = r#"{"model":"openai/m"}"#;
    c.send(
        format!(
            "POST {CHAT} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nExpect: 100-continue\r\nx-mock-echo: 1\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let mut buf = [0u8; 25];
    use std::io::Read;
    c.stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(body.as_bytes());
    assert_eq!(c.recv().unwrap().text(), r#"{"model":"m"}"#);
}

#[test]
fn upstream_errors_pass_through_with_status_and_body() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let r = roundtrip(
        gw.addr,
        &post(CHAT, r#"{"model":"openai/m"}"#, &[("x-mock-status", "429")]),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn upstream_down_is_502_naming_the_provider() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = gateway_with(&format!(
        "[providers.groq]\nbase_url = \"http://127.0.0.1:{port}/openai/v1\"\nkeys = [\"k\"]\n"
    ));
    let r = roundtrip(gw.addr, &post(CHAT, r#"{"model":"groq/llama"}"#, &[]));
    assert_eq!(r.status, 502);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("groq"), "{msg}");
}

#[test]
fn upstream_slow_is_504() {
    let mock = mock_provider(&[]);
    let gw = gateway_with(&format!(
            "[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"k\"]\nfirst_byte_timeout_ms = 300\n",
            mock.addr
        ));
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"openai/m"}"#,
            &[("x-mock-delay-ms", "3000")],
        ),
    );
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["error"]["code"], "gateway_timeout");
}

#[test]
fn upstream_cut_mid_stream_ends_with_an_error_event() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"openai/m","stream":true}"#,
            &[("x-mock-fail", "cut")],
        ),
    );
    assert_eq!(r.status, 200);
    let events = sse_data(&r.body);
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("openai"),
        "{last}"
    );
}

#[test]
fn client_disconnect_mid_stream_closes_the_upstream_connection() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m","stream":true}"#,
        &[("x-mock-chunks", "1000"), ("x-mock-chunk-delay-ms", "50")],
    ));
    let mut buf = [0u8; 64];
    use std::io::Read;
    c.stream.read_exact(&mut buf).unwrap();
    assert!(eventually(Duration::from_secs(5), || mock_stats(&mock)
        ["connections_open"]
        == 2));
    drop(c);
    // Only the /__stats probe's own connection may remain.
    assert!(
        eventually(Duration::from_secs(10), || mock_stats(&mock)
            ["connections_open"]
            == 1),
        "upstream connection still open: {}",
        mock_stats(&mock)
    );
}

#[test]
fn graceful_shutdown_finishes_an_in_flight_stream() {
    let mock = mock_provider(&[]);
    let mut gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m","stream":true}"#,
        &[("x-mock-chunks", "10"), ("x-mock-chunk-delay-ms", "100")],
    ));
    let mut first = [0u8; 1];
    use std::io::Read;
    c.stream.read_exact(&mut first).unwrap();
    gw.terminate();
    let mut rest = c;
    let resp = {
        // Re-read from the start of the response: prepend the byte we consumed.
        let r = rest.recv_after_prefix(first[0]);
        r.expect("the stream completes")
    };
    let events = sse_data(&resp.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(events.len(), 1 + 10 + 1 + 1);
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
    // New connections are refused once it has stopped.
    assert!(std::net::TcpStream::connect(gw.addr).is_err());
}

#[test]
fn client_disconnect_while_waiting_cancels_the_upstream_request() {
    let mock = mock_provider(&[]);
    let gw = gateway_to(&mock, "");
    let mut c = Conn::open(gw.addr);
    c.send(&post(
        CHAT,
        r#"{"model":"openai/m"}"#,
        &[("x-mock-fail", "hang")],
    ));
    assert!(eventually(Duration::from_secs(5), || mock_stats(&mock)
        ["connections_open"]
        == 2));
    std::thread::sleep(Duration::from_millis(200));
    drop(c);
    assert!(
        eventually(Duration::from_secs(5), || mock_stats(&mock)
            ["connections_open"]
            == 1),
        "upstream request still running: {}",
        mock_stats(&mock)
    );
}
