//! Black-box tests: spawn the `mock-provider` binary and talk raw HTTP/1.1
//! to it over `std::net::TcpStream`.
//!
//! Run them with both drivers: `cargo test -p ringbridge-loadtest` and
//! `MONOIO_FORCE_LEGACY_DRIVER=1 cargo test -p ringbridge-loadtest` (the child
//! inherits the environment).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mock-provider"));
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn mock-provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        Server { child, addr }
    }

    fn connect(&self) -> Client {
        let s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn stats(&self) -> Value {
        let mut c = self.connect();
        let r = c.request("GET", "/__stats", &[("Connection", "close")], b"");
        assert_eq!(r.status, 200);
        r.json()
    }

    fn reset_stats(&self) {
        let mut c = self.connect();
        let r = c.request("POST", "/__reset_stats", &[("Connection", "close")], b"");
        assert_eq!(r.status, 200);
        assert_eq!(c.read_to_end(), Vec::<u8>::new());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// For chunked responses: each HTTP chunk's payload.
    chunks: Vec<Vec<u8>>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }
}

fn build_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: mock\r\n");
    let chunked = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !chunked && (method == "POST" || !body.is_empty()) {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(body);
    req
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.send(&build_request(method, path, headers, body));
        self.read_response().expect("response")
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        let n = self.r.read_line(&mut line)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        assert!(line.ends_with("\r\n"), "bad line {line:?}");
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_response(&mut self) -> std::io::Result<Resp> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"));
        let status: u16 = parts.next().unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
        };
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line()?, 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line()?, "");
                    break;
                }
                let mut chunk = vec![0; size + 2];
                self.r.read_exact(&mut chunk)?;
                assert_eq!(&chunk[size..], b"\r\n");
                chunk.truncate(size);
                resp.body.extend_from_slice(&chunk);
                resp.chunks.push(chunk);
            }
        } else {
            let len: usize = resp.header("content-length").unwrap().parse().unwrap();
            resp.body = vec![0; len];
            self.r.read_exact(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// Reads until EOF (panics on timeout).
    fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).unwrap();
        rest
    }
}

const CHAT: &str = "/v1/chat/completions";

fn chat_body(model: &str, stream: bool, include_usage: bool) -> Vec<u8> {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        "stream_options": {"include_usage": include_usage},
    })
    .to_string()
    .into_bytes()
}

#[test]
fn non_stream_chat_shape_and_saw_headers() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        "/openai/v1/chat/completions",
        &[
            ("Authorization", "Bearer sk-test"),
            ("Content-Type", "application/json"),
        ],
        &chat_body("gpt-4o-mini", false, false),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-mock-saw-authorization"), Some("Bearer sk-test"));
    assert_eq!(
        r.header("x-mock-saw-authorization-hex"),
        Some("42656172657220736b2d74657374")
    );
    assert_eq!(
        r.header("x-mock-saw-path"),
        Some("/openai/v1/chat/completions")
    );
    let v = r.json();
    assert_eq!(v["id"], "chatcmpl-mock");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1700000000);
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from mock-provider."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 12);
    assert_eq!(v["usage"]["completion_tokens"], 5);
    assert_eq!(v["usage"]["total_tokens"], 17);

    let r = c.request("POST", CHAT, &[], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert_eq!(r.header("x-mock-saw-authorization"), Some("none"));
}

fn sse_events(r: &Resp) -> Vec<String> {
    r.chunks
        .iter()
        .map(|c| {
            let s = String::from_utf8(c.clone()).unwrap();
            assert!(s.starts_with("data: ") && s.ends_with("\n\n"), "{s:?}");
            s[6..s.len() - 2].to_string()
        })
        .collect()
}

#[test]
fn stream_events_with_usage() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-chunks", "3")],
        &chat_body("m1", true, true),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let ev = sse_events(&r);
    // role, 3 tokens, finish, usage, [DONE]
    assert_eq!(ev.len(), 7, "{ev:?}");
    let j: Vec<Value> = ev[..6]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(j
        .iter()
        .all(|v| v["object"] == "chat.completion.chunk" && v["model"] == "m1"));
    assert_eq!(j[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(j[0]["choices"][0]["delta"]["content"], "");
    let text: String = j[1..4]
        .iter()
        .map(|v| v["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert_eq!(j[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(j[4]["choices"][0]["delta"], serde_json::json!({}));
    assert_eq!(j[5]["choices"], serde_json::json!([]));
    assert_eq!(j[5]["usage"]["completion_tokens"], 3);
    assert_eq!(j[5]["usage"]["total_tokens"], 15);
    assert_eq!(ev[6], "[DONE]");

    // Default 5 tokens, no usage chunk; same connection.
    let r = c.request("POST", CHAT, &[], &chat_body("m1", true, false));
    let ev = sse_events(&r);
    assert_eq!(ev.len(), 1 + 5 + 1 + 1);
    assert_eq!(ev.last().unwrap(), "[DONE]");

    // Legacy completions stream.
    let r = c.request(
        "POST",
        "/v1/completions",
        &[("x-mock-chunks", "2")],
        &chat_body("m2", true, true),
    );
    let ev = sse_events(&r);
    assert_eq!(ev.len(), 2 + 1 + 1 + 1);
    let first: Value = serde_json::from_str(&ev[0]).unwrap();
    assert_eq!(first["object"], "text_completion");
    assert_eq!(first["choices"][0]["text"], "tok0 ");
}

#[test]
fn stream_chunk_delay_paces_events() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let t = Instant::now();
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-chunks", "4"), ("X-Mock-Chunk-Delay-Ms", "50")],
        &chat_body("m", true, false),
    );
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sse_events(&r).len(), 7);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let srv = Server::start(&[]);
    srv.reset_stats();
    let mut c = srv.connect();
    for i in 0..3 {
        let r = c.request(
            "POST",
            CHAT,
            &[],
            &chat_body(&format!("m{i}"), false, false),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["model"], format!("m{i}"));
    }
    let r = c.request("GET", "/__stats", &[], b"");
    let s = r.json();
    assert_eq!(s["connections_accepted"], 1, "{s}");
    assert_eq!(s["requests"], 3, "{s}");
    assert!(s["connections_open"].as_u64().unwrap() >= 1);
    assert!(s["bytes_received"].as_u64().unwrap() > 300);
}

#[test]
fn pipelined_requests_answered_in_order() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let mut both = build_request("POST", CHAT, &[], &chat_body("first", false, false));
    both.extend(build_request(
        "POST",
        "/v1/completions",
        &[],
        &chat_body("second", false, false),
    ));
    both.extend(build_request("GET", "/v1/models", &[], b""));
    c.send(&both);
    let a = c.read_response().unwrap();
    let b = c.read_response().unwrap();
    let m = c.read_response().unwrap();
    assert_eq!(a.json()["model"], "first");
    assert_eq!(b.json()["model"], "second");
    assert_eq!(b.json()["object"], "text_completion");
    assert_eq!(m.json()["data"][1]["id"], "mock-large");

    // Byte-at-a-time delivery also works.
    let req = build_request("POST", CHAT, &[], &chat_body("slow", false, false));
    for b in &req {
        c.send(std::slice::from_ref(b));
    }
    assert_eq!(c.read_response().unwrap().json()["model"], "slow");
}

#[test]
fn echo_is_byte_exact() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n{\"model\":\"x\"}");
    let r = c.request(
        "POST",
        CHAT,
        &[("X-Mock-Echo", "1"), ("authorization", "Bearer abc")],
        &body,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, body);
    assert_eq!(r.header("x-mock-saw-authorization"), Some("Bearer abc"));
    // Large body (several reads).
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = c.request("POST", "/x/embeddings", &[("x-mock-echo", "1")], &big);
    assert_eq!(r.body, big);
}

#[test]
fn mock_status_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-status", "429")],
        &chat_body("m", false, false),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let e = &r.json()["error"];
    assert_eq!(e["message"], "mock error 429");
    assert_eq!(e["type"], "rate_limit_exceeded");
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert!(e["param"].is_null());
    for (status, kind) in [
        ("400", "invalid_request_error"),
        ("401", "invalid_api_key"),
        ("404", "model_not_found"),
        ("500", "server_error"),
        ("503", "server_error"),
    ] {
        let r = c.request(
            "POST",
            CHAT,
            &[("x-mock-status", status)],
            &chat_body("m", true, false),
        );
        assert_eq!(r.status.to_string(), status);
        assert_eq!(r.json()["error"]["code"], kind);
        assert_eq!(r.header("retry-after"), None);
    }
    // Connection is still usable afterwards.
    assert_eq!(c.request("GET", "/v1/models", &[], b"").status, 200);
    let r = c.request("GET", "/v1/nothing", &[], b"");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "unknown_url");
}

#[test]
fn chunked_request_body() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let json = chat_body("chunky", false, false);
    let (a, b) = json.split_at(10);
    let mut body = format!("{:x}\r\n", a.len()).into_bytes();
    body.extend_from_slice(a);
    body.extend_from_slice(format!("\r\n{:X};ext=1\r\n", b.len()).as_bytes());
    body.extend_from_slice(b);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = c.request("POST", CHAT, &[("Transfer-Encoding", "chunked")], &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "chunky");
    let r = c.request(
        "POST",
        CHAT,
        &[("Transfer-Encoding", "chunked"), ("x-mock-echo", "1")],
        &body,
    );
    assert_eq!(r.body, json);
}

#[test]
fn embeddings_and_models() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = br#"{"model":"text-embedding-3-small","input":["hello","world"]}"#;
    let r1 = c.request("POST", "/v1/embeddings", &[], body);
    let r2 = c.request("POST", "/v1/embeddings", &[], body);
    assert_eq!(r1.body, r2.body, "deterministic");
    let v = r1.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["object"], "embedding");
    let e = v["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(e.len(), 8);
    assert!(e.iter().all(|x| x.as_f64().unwrap().abs() <= 1.0));
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let single = c.request(
        "POST",
        "/v1/embeddings",
        &[],
        br#"{"model":"e","input":"hello"}"#,
    );
    assert_eq!(
        single.json()["data"][0]["embedding"],
        v["data"][0]["embedding"]
    );

    let m = c.request("GET", "/v1/models", &[], b"").json();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][0]["id"], "mock-small");
    assert_eq!(m["data"][0]["owned_by"], "mock");
}

#[test]
fn large_body_and_delay() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-body-bytes", "1000000")],
        &chat_body("m", false, false),
    );
    let content = r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .len();
    assert_eq!(content, 1_000_000);
    let t = Instant::now();
    let r = c.request("GET", "/v1/models", &[("x-mock-delay-ms", "150")], b"");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn idle_close_closes_idle_keep_alive_connection() {
    let srv = Server::start(&["--idle-close-ms", "150"]);
    let mut c = srv.connect();
    assert_eq!(c.request("GET", "/v1/models", &[], b"").status, 200);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.request("GET", "/v1/models", &[], b"").status, 200);
    let t = Instant::now();
    assert_eq!(c.read_to_end(), Vec::<u8>::new(), "server closed with EOF");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        srv.stats()["connections_open"],
        1,
        "only the stats connection"
    );
}

#[test]
fn fail_modes() {
    let srv = Server::start(&[]);
    let body = chat_body("m", false, false);

    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail", "close")],
        &body,
    ));
    assert_eq!(c.read_to_end(), Vec::<u8>::new());

    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail", "reset")],
        &body,
    ));
    let mut buf = [0u8; 64];
    let err = c.r.read(&mut buf).expect_err("expected RST");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);

    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail", "cut")],
        &chat_body("m", true, true),
    ));
    let err = c.read_response().expect_err("cut stream must not complete");
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);

    srv.reset_stats();
    let mut c = srv.connect();
    c.w.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail", "hang")],
        &body,
    ));
    let err = c.r.read(&mut buf).expect_err("hang must not answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    assert_eq!(srv.stats()["connections_open"], 2);
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.stats()["connections_open"], 1);
}

#[test]
fn cut_stream_sends_two_chunks() {
    let srv = Server::start(&[]);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail", "cut")],
        &chat_body("m", true, false),
    ))
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text.matches("data: ").count(), 2, "{text}");
    assert!(text.contains("tok0 ") && !text.contains("tok1 "));
    assert!(!text.ends_with("0\r\n\r\n"));
}

#[test]
fn multiple_workers_share_the_port() {
    let srv = Server::start(&["--workers", "2"]);
    srv.reset_stats();
    for i in 0..16 {
        let mut c = srv.connect();
        let r = c.request(
            "POST",
            CHAT,
            &[("Connection", "close")],
            &chat_body(&format!("w{i}"), false, false),
        );
        assert_eq!(r.json()["model"], format!("w{i}"));
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(c.read_to_end(), Vec::<u8>::new());
    }
    let s = srv.stats();
    assert_eq!(s["requests"], 16);
    assert_eq!(s["connections_accepted"], 17);
}

#[test]
fn forced_legacy_driver_smoke() {
    let srv = Server::start_with_env(&[], &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let mut c = srv.connect();
    let r = c.request("POST", CHAT, &[], &chat_body("legacy", true, true));
    assert_eq!(sse_events(&r).last().unwrap(), "[DONE]");
    let r = c.request("POST", CHAT, &[("x-mock-echo", "1")], b"abc");
    assert_eq!(r.body, b"abc");
}

// ---------------------------------------------------------------------------
// Latency distributions, stream pacing, failure mix, sizes, CLI validation.
// Timing bounds are deliberately loose: the test box is shared and noisy.

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

#[test]
fn lognormal_latency_roughly_centred() {
    let srv = Server::start(&["--latency", "lognormal:50,0.2"]);
    let mut c = srv.connect();
    let body = chat_body("m", false, false);
    let samples: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let r = c.request("POST", CHAT, &[], &body);
            assert_eq!(r.status, 200);
            t.elapsed()
        })
        .collect();
    let med = median_ms(samples);
    assert!((20.0..=200.0).contains(&med), "median {med} ms");
    // The header wins over the flag; the control routes ignore the default.
    let t = Instant::now();
    let r = c.request("POST", CHAT, &[("x-mock-latency", "fixed:300")], &body);
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let r = c.request("GET", "/v1/models", &[("x-mock-latency", "bogus")], b"");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-mock-latency"));
}

#[test]
fn uniform_latency_header_and_fractional_ms() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let t = Instant::now();
    for _ in 0..5 {
        let r = c.request(
            "GET",
            "/v1/models",
            &[("x-mock-latency", "uniform:20.5,40.25")],
            b"",
        );
        assert_eq!(r.status, 200);
    }
    assert!(
        t.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
}

/// Sends a stream request and records when each SSE event arrives.
fn timed_stream(c: &mut Client, headers: &[(&str, &str)]) -> (Instant, Vec<(Duration, String)>) {
    let t0 = Instant::now();
    c.send(&build_request(
        "POST",
        CHAT,
        headers,
        &chat_body("m", true, false),
    ));
    loop {
        if c.line().unwrap().is_empty() {
            break;
        }
    }
    let mut events = Vec::new();
    loop {
        let size = usize::from_str_radix(&c.line().unwrap(), 16).unwrap();
        if size == 0 {
            assert_eq!(c.line().unwrap(), "");
            break;
        }
        let mut chunk = vec![0; size + 2];
        c.r.read_exact(&mut chunk).unwrap();
        chunk.truncate(size);
        events.push((t0.elapsed(), String::from_utf8(chunk).unwrap()));
    }
    (t0, events)
}

#[test]
fn ttft_and_inter_token_pacing() {
    let srv = Server::start(&[
        "--ttft",
        "fixed:100",
        "--inter-token",
        "fixed:20",
        "--chunks",
        "10",
    ]);
    let mut c = srv.connect();
    let (_, ev) = timed_stream(&mut c, &[]);
    // role, 10 tokens, finish, [DONE]
    assert_eq!(ev.len(), 13);
    let tokens: Vec<_> = ev.iter().filter(|(_, e)| e.contains("\"tok")).collect();
    assert_eq!(tokens.len(), 10);
    assert!(tokens[0].1.contains("tok0 ") && tokens[9].1.contains("tok9 "));
    let first = tokens[0].0;
    let last = tokens[9].0;
    assert!(
        first >= Duration::from_millis(100),
        "first chunk at {first:?}"
    );
    // ttft + 9 gaps of 20 ms; and at least chunks × inter-token overall.
    assert!(last >= Duration::from_millis(280), "last chunk at {last:?}");
    assert!(last >= Duration::from_millis(10 * 20));
    assert!(last < Duration::from_secs(5), "{last:?}");

    // Headers win: no ttft, 30 ms between 4 tokens.
    let (_, ev) = timed_stream(
        &mut c,
        &[
            ("x-mock-ttft", "fixed:0"),
            ("x-mock-inter-token", "fixed:30"),
            ("x-mock-chunks", "4"),
        ],
    );
    let tokens: Vec<_> = ev.iter().filter(|(_, e)| e.contains("\"tok")).collect();
    assert_eq!(tokens.len(), 4);
    assert!(
        tokens[3].0 >= Duration::from_millis(90),
        "{:?}",
        tokens[3].0
    );

    // x-mock-chunk-delay-ms still paces every content chunk (ttft included).
    let (_, ev) = timed_stream(
        &mut c,
        &[("x-mock-chunk-delay-ms", "25"), ("x-mock-chunks", "4")],
    );
    let last = ev
        .iter()
        .rev()
        .find(|(_, e)| e.contains("\"tok"))
        .unwrap()
        .0;
    assert!(last >= Duration::from_millis(100), "{last:?}");
}

#[test]
fn fail_mix_all_500() {
    let srv = Server::start(&["--fail-mix", "500:1"]);
    srv.reset_stats();
    let mut c = srv.connect();
    let body = chat_body("m", false, false);
    for _ in 0..10 {
        let r = c.request("POST", CHAT, &[], &body);
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["error"]["type"], "server_error");
        assert_eq!(r.header("x-mock-saw-path"), Some(CHAT));
    }
    // Streams fail the same way.
    let r = c.request("POST", CHAT, &[], &chat_body("m", true, false));
    assert_eq!(r.status, 500);
    // Header overrides the flag; explicit x-mock-status wins over a draw.
    let r = c.request("POST", CHAT, &[("x-mock-fail-mix", "500:0")], &body);
    assert_eq!(r.status, 200);
    let r = c.request("POST", CHAT, &[("x-mock-status", "404")], &body);
    assert_eq!(r.status, 404);
    let r = c.request("POST", CHAT, &[("x-mock-fail-mix", "429:1")], &body);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = c.request("POST", CHAT, &[("x-mock-fail-mix", "503:1")], &body);
    assert_eq!(r.status, 503);
    let r = c.request("POST", CHAT, &[("x-mock-fail-mix", "502:1")], &body);
    assert_eq!(r.status, 502);
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-fail-mix", "500:0.7,503:0.7")],
        &body,
    );
    assert_eq!(r.status, 400);
    // /__stats is never failed and counts the injected failures by kind.
    let s = srv.stats();
    let inj = &s["requests_failed_injected"];
    assert_eq!(inj["500"], 11, "{s}");
    assert_eq!(inj["429"], 1, "{s}");
    assert_eq!(inj["502"], 1, "{s}");
    assert_eq!(inj["503"], 1, "{s}");
    assert_eq!(inj["reset"], 0, "{s}");
    assert_eq!(inj.as_object().unwrap().len(), 8, "{s}");
    srv.reset_stats();
    assert_eq!(srv.stats()["requests_failed_injected"]["500"], 0);
}

#[test]
fn fail_mix_reset_close_hang() {
    let srv = Server::start(&["--fail-mix", "reset:1"]);
    let body = chat_body("m", false, false);
    for _ in 0..3 {
        let mut c = srv.connect();
        c.send(&build_request("POST", CHAT, &[], &body));
        let mut buf = [0u8; 64];
        let err = c.r.read(&mut buf).expect_err("expected RST");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    }
    assert_eq!(srv.stats()["requests_failed_injected"]["reset"], 3);

    let srv = Server::start(&[]);
    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail-mix", "close:1")],
        &body,
    ));
    assert_eq!(c.read_to_end(), Vec::<u8>::new());

    let mut c = srv.connect();
    c.w.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail-mix", "hang:1")],
        &body,
    ));
    let mut buf = [0u8; 64];
    let err = c.r.read(&mut buf).expect_err("hang must not answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
}

#[test]
fn fail_mix_cut_stops_half_way() {
    let srv = Server::start(&[]);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail-mix", "cut:1"), ("x-mock-chunks", "10")],
        &chat_body("m", true, false),
    ))
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.contains("tok4 ") && !text.contains("tok5 "), "{text}");
    assert!(!text.contains("[DONE]"));

    // Non-stream: full Content-Length, half the body, then EOF.
    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[("x-mock-fail-mix", "cut:1")],
        &chat_body("m", false, false),
    ));
    let err = c.read_response().expect_err("cut body must not complete");
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
}

/// Outcome of `n` sequential chat requests (status codes) on one connection.
fn statuses(srv: &Server, n: usize) -> Vec<u16> {
    let mut c = srv.connect();
    let body = chat_body("m", false, false);
    (0..n)
        .map(|_| c.request("POST", CHAT, &[], &body).status)
        .collect()
}

#[test]
fn fail_mix_half_is_roughly_half_and_seeded() {
    let srv = Server::start(&["--fail-mix", "500:0.5"]);
    let a = statuses(&srv, 200);
    let fails = a.iter().filter(|s| **s == 500).count();
    assert!((60..=140).contains(&fails), "{fails} failures");
    assert!(a.iter().all(|s| *s == 200 || *s == 500));
    assert_eq!(srv.stats()["requests_failed_injected"]["500"], fails as u64);
    // Same seed (default 1) → same sequence; another seed → another one.
    let again = Server::start(&["--fail-mix", "500:0.5", "--seed", "1"]);
    assert_eq!(statuses(&again, 200), a);
    let other = Server::start(&["--fail-mix", "500:0.5", "--seed", "2"]);
    assert_ne!(statuses(&other, 200), a);
}

#[test]
fn one_megabyte_request_bodies() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let big: Vec<u8> = (0..1_048_576u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = c.request("POST", CHAT, &[("x-mock-echo", "1")], &big);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, big);
    // A chat request with a 1 MB prompt.
    let prompt = String::from_utf8(big).unwrap();
    let body = serde_json::json!({
        "model": "big-prompt",
        "messages": [{"role": "user", "content": prompt}],
    })
    .to_string();
    assert!(body.len() > 1_048_576);
    let r = c.request("POST", CHAT, &[], body.as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "big-prompt");
}

#[test]
fn body_bytes_and_chunks_defaults() {
    let srv = Server::start(&["--body-bytes", "1000", "--chunks", "3"]);
    let mut c = srv.connect();
    let content = |r: &Resp| {
        r.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len()
    };
    let r = c.request("POST", CHAT, &[], &chat_body("m", false, false));
    assert_eq!(content(&r), 1000);
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-body-bytes", "10")],
        &chat_body("m", false, false),
    );
    assert_eq!(content(&r), 10);
    let r = c.request("POST", CHAT, &[], &chat_body("m", true, false));
    assert_eq!(sse_events(&r).len(), 3 + 3);
    let r = c.request(
        "POST",
        CHAT,
        &[("x-mock-chunks", "1")],
        &chat_body("m", true, false),
    );
    assert_eq!(sse_events(&r).len(), 1 + 3);
}

#[test]
fn invalid_flags_exit_2_naming_the_flag() {
    for (flag, value) in [
        ("--latency", "gamma:1"),
        ("--latency", "uniform:5,1"),
        ("--ttft", "fixed:-3"),
        ("--inter-token", "lognormal:10"),
        ("--fail-mix", "500:0.6,503:0.6"),
        ("--fail-mix", "404:0.1"),
        ("--chunks", "100001"),
        ("--body-bytes", "x"),
        ("--seed", "x"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
        assert!(out.stdout.is_empty());
    }
}

// ---------------------------------------------------------------------------
// Anthropic Messages API (`POST …/v1/messages`).

const MESSAGES: &str = "/v1/messages";
const ANTHROPIC_HEADERS: [(&str, &str); 2] = [
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];

fn messages_body(model: &str, stream: bool, tools: &[&str], choice: Value) -> Vec<u8> {
    let mut v = serde_json::json!({
        "model": model,
        "max_tokens": 64,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    });
    if !tools.is_empty() {
        v["tools"] = tools
            .iter()
            .map(|n| serde_json::json!({"name": n, "input_schema": {"type": "object"}}))
            .collect();
    }
    if !choice.is_null() {
        v["tool_choice"] = choice;
    }
    v.to_string().into_bytes()
}

/// Anthropic SSE: each HTTP chunk is one `event: X\ndata: {json}\n\n`.
fn anthropic_events(r: &Resp) -> Vec<(String, Value)> {
    r.chunks
        .iter()
        .map(|c| {
            let s = std::str::from_utf8(c).unwrap();
            let rest = s.strip_prefix("event: ").unwrap_or_else(|| panic!("{s:?}"));
            let (name, rest) = rest.split_once('\n').unwrap();
            let data = rest
                .strip_prefix("data: ")
                .and_then(|d| d.strip_suffix("\n\n"))
                .unwrap_or_else(|| panic!("{s:?}"));
            let v: Value = serde_json::from_str(data).unwrap();
            assert_eq!(v["type"], name, "{s:?}");
            (name.to_string(), v)
        })
        .collect()
}

fn anthropic_error(r: &Resp) -> (String, String) {
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    (
        v["error"]["type"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn messages_non_stream_shape_and_tools() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        "/anthropic/v1/messages",
        &ANTHROPIC_HEADERS,
        &messages_body("claude-test", false, &[], Value::Null),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-mock-saw-path"), Some("/anthropic/v1/messages"));
    assert_eq!(
        r.json(),
        serde_json::json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": "Hello from mock-provider."}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 5,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        })
    );

    // tool_choice any → the first tool; tool → the named one; auto → text.
    for (choice, want) in [
        (serde_json::json!({"type": "any"}), Some("alpha")),
        (
            serde_json::json!({"type": "tool", "name": "beta"}),
            Some("beta"),
        ),
        (serde_json::json!({"type": "auto"}), None),
        (Value::Null, None),
    ] {
        let r = c.request(
            "POST",
            MESSAGES,
            &ANTHROPIC_HEADERS,
            &messages_body("c", false, &["alpha", "beta"], choice.clone()),
        );
        assert_eq!(r.status, 200, "{choice}");
        let v = r.json();
        match want {
            Some(name) => {
                assert_eq!(v["stop_reason"], "tool_use");
                assert_eq!(
                    v["content"],
                    serde_json::json!([{"type": "tool_use", "id": "toolu_mock_1",
                        "name": name, "input": {"arg": "value"}}])
                );
            }
            None => {
                assert_eq!(v["stop_reason"], "end_turn");
                assert_eq!(v["content"][0]["type"], "text");
            }
        }
    }
    // tool_choice any without tools → text.
    let r = c.request(
        "POST",
        MESSAGES,
        &ANTHROPIC_HEADERS,
        &messages_body("c", false, &[], serde_json::json!({"type": "any"})),
    );
    assert_eq!(r.json()["stop_reason"], "end_turn");

    // Required fields.
    for (body, what) in [
        (r#"{"max_tokens":5,"messages":[]}"#, "model"),
        (r#"{"model":"c","messages":[]}"#, "max_tokens"),
        (
            r#"{"model":"c","max_tokens":0,"messages":[]}"#,
            "max_tokens",
        ),
        (r#"{"model":"c","max_tokens":5}"#, "messages"),
        (
            r#"{"model":"c","max_tokens":5,"messages":"hi"}"#,
            "messages",
        ),
        ("{not json", "JSON"),
    ] {
        let r = c.request("POST", MESSAGES, &ANTHROPIC_HEADERS, body.as_bytes());
        assert_eq!(r.status, 400, "{body}");
        let (kind, msg) = anthropic_error(&r);
        assert_eq!(kind, "invalid_request_error");
        assert!(msg.contains(what), "{body}: {msg}");
    }
}

#[test]
fn messages_auth_and_version_headers() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = messages_body("c", false, &[], Value::Null);
    for headers in [
        &[("anthropic-version", "2023-06-01")][..],
        &[("x-api-key", ""), ("anthropic-version", "2023-06-01")][..],
    ] {
        let r = c.request("POST", MESSAGES, headers, &body);
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(anthropic_error(&r).0, "authentication_error");
    }
    let r = c.request("POST", MESSAGES, &[("x-api-key", "k")], &body);
    assert_eq!(r.status, 400);
    let (kind, msg) = anthropic_error(&r);
    assert_eq!(kind, "invalid_request_error");
    assert!(msg.contains("anthropic-version"), "{msg}");
    // An OpenAI-style Authorization header alone is not enough.
    let r = c.request(
        "POST",
        MESSAGES,
        &[
            ("Authorization", "Bearer k"),
            ("anthropic-version", "2023-06-01"),
        ],
        &body,
    );
    assert_eq!(r.status, 401);
    // Still on the same keep-alive connection.
    let r = c.request("POST", MESSAGES, &ANTHROPIC_HEADERS, &body);
    assert_eq!(r.status, 200);
    assert_eq!(srv.stats()["connections_accepted"], 2);
}

#[test]
fn messages_stream_event_order() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let mut headers = ANTHROPIC_HEADERS.to_vec();
    headers.push(("x-mock-chunks", "3"));
    let r = c.request(
        "POST",
        MESSAGES,
        &headers,
        &messages_body("claude-s", true, &[], Value::Null),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let ev = anthropic_events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let start = &ev[0].1["message"];
    assert_eq!(start["model"], "claude-s");
    assert_eq!(start["id"], "msg_mock");
    assert_eq!(start["content"], serde_json::json!([]));
    assert_eq!(start["usage"]["input_tokens"], 12);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(
        ev[1].1["content_block"],
        serde_json::json!({"type": "text", "text": ""})
    );
    let text: String = ev[3..6]
        .iter()
        .map(|(_, v)| {
            assert_eq!(v["index"], 0);
            assert_eq!(v["delta"]["type"], "text_delta");
            v["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert_eq!(ev[6].1["index"], 0);
    assert_eq!(
        ev[7].1,
        serde_json::json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 3}})
    );

    // Default 5 tokens, on the same connection, paced by x-mock-chunk-delay-ms.
    let mut headers = ANTHROPIC_HEADERS.to_vec();
    headers.push(("x-mock-chunk-delay-ms", "40"));
    let t = Instant::now();
    let r = c.request(
        "POST",
        MESSAGES,
        &headers,
        &messages_body("c", true, &[], Value::Null),
    );
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    let ev = anthropic_events(&r);
    assert_eq!(ev.len(), 3 + 5 + 3);
    assert_eq!(ev[7].1["delta"]["text"], "tok4 ");
    assert_eq!(ev[9].1["usage"]["output_tokens"], 5);
    assert_eq!(srv.stats()["connections_accepted"], 2);
}

#[test]
fn messages_tool_use_stream() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        MESSAGES,
        &ANTHROPIC_HEADERS,
        &messages_body(
            "c",
            true,
            &["alpha", "beta"],
            serde_json::json!({"type": "tool", "name": "beta"}),
        ),
    );
    assert_eq!(r.status, 200);
    let ev = anthropic_events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(
        ev[1].1["content_block"],
        serde_json::json!({"type": "tool_use", "id": "toolu_mock_1", "name": "beta", "input": {}})
    );
    let parts: Vec<&str> = ev[3..5]
        .iter()
        .map(|(_, v)| {
            assert_eq!(v["delta"]["type"], "input_json_delta");
            v["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert_eq!(parts, [r#"{"arg":"#, r#""value"}"#]);
    let input: Value = serde_json::from_str(&parts.concat()).unwrap();
    assert_eq!(input, serde_json::json!({"arg": "value"}));
    assert_eq!(ev[6].1["delta"]["stop_reason"], "tool_use");

    // tool_choice any → the first tool.
    let r = c.request(
        "POST",
        MESSAGES,
        &ANTHROPIC_HEADERS,
        &messages_body("c", true, &["alpha"], serde_json::json!({"type": "any"})),
    );
    assert_eq!(anthropic_events(&r)[1].1["content_block"]["name"], "alpha");
}

#[test]
fn messages_error_statuses_and_cuts() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = messages_body("c", false, &[], Value::Null);
    for (status, kind) in [
        ("400", "invalid_request_error"),
        ("401", "authentication_error"),
        ("404", "not_found_error"),
        ("429", "rate_limit_error"),
        ("500", "api_error"),
        ("503", "api_error"),
        ("529", "overloaded_error"),
    ] {
        let mut headers = ANTHROPIC_HEADERS.to_vec();
        headers.push(("x-mock-status", status));
        let r = c.request("POST", MESSAGES, &headers, &body);
        assert_eq!(r.status.to_string(), status);
        let (k, msg) = anthropic_error(&r);
        assert_eq!(k, kind, "{status}");
        assert_eq!(msg, format!("mock error {status}"));
        assert_eq!(
            r.header("retry-after"),
            (status == "429").then_some("1"),
            "{status}"
        );
    }
    // A drawn 429 is Anthropic-shaped too.
    let mut headers = ANTHROPIC_HEADERS.to_vec();
    headers.push(("x-mock-fail-mix", "429:1"));
    let r = c.request("POST", MESSAGES, &headers, &body);
    assert_eq!(r.status, 429);
    assert_eq!(anthropic_error(&r).0, "rate_limit_error");

    // x-mock-fail: cut → the first content delta, then FIN, no message_stop.
    let cut = |extra: (&str, &str)| {
        let mut s = TcpStream::connect(&srv.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut headers = ANTHROPIC_HEADERS.to_vec();
        headers.push(extra);
        headers.push(("x-mock-chunks", "10"));
        s.write_all(&build_request(
            "POST",
            MESSAGES,
            &headers,
            &messages_body("c", true, &[], Value::Null),
        ))
        .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    };
    let text = cut(("x-mock-fail", "cut"));
    assert!(
        text.contains("event: ping") && text.contains("tok0 "),
        "{text}"
    );
    assert!(
        !text.contains("tok1 ") && !text.contains("message_stop"),
        "{text}"
    );
    assert!(!text.ends_with("0\r\n\r\n"));
    // Fail-mix cut → half the content deltas.
    let text = cut(("x-mock-fail-mix", "cut:1"));
    assert!(text.contains("tok4 ") && !text.contains("tok5 "), "{text}");
    assert!(!text.contains("message_stop") && !text.contains("message_delta"));
}

#[test]
fn status_flag_answers_every_request_with_that_status() {
    let srv = Server::start(&["--status", "529"]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        MESSAGES,
        &ANTHROPIC_HEADERS,
        &messages_body("c", true, &[], Value::Null),
    );
    assert_eq!(r.status, 529);
    assert_eq!(anthropic_error(&r).0, "overloaded_error");
    // Other routes keep the OpenAI shape.
    let r = c.request("POST", CHAT, &[], &chat_body("m", false, false));
    assert_eq!(r.status, 529);
    assert_eq!(r.json()["error"]["type"], "server_error");
    // An explicit header wins; control routes are exempt.
    let mut headers = ANTHROPIC_HEADERS.to_vec();
    headers.push(("x-mock-status", "429"));
    let r = c.request(
        "POST",
        MESSAGES,
        &headers,
        &messages_body("c", false, &[], Value::Null),
    );
    assert_eq!(r.status, 429);
    assert_eq!(srv.stats()["requests"], 3);
    // A drawn failure wins over --status as well.
    let srv = Server::start(&["--status", "500", "--fail-mix", "close:1"]);
    let mut c = srv.connect();
    c.send(&build_request(
        "POST",
        CHAT,
        &[],
        &chat_body("m", false, false),
    ));
    assert_eq!(c.read_to_end(), Vec::<u8>::new());

    for bad in ["200", "600", "x"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
            .args(["--status", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--status {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--status"));
    }
}

// ---------------------------------------------------------------------------
// Google Gemini API (`…/models/{model}:generateContent`, `:streamGenerateContent`,
// `:batchEmbedContents`) and Cohere v2 (`/v2/chat`, `/v2/embed`).

const GEMINI_GEN: &str = "/v1beta/models/gemini-test:generateContent";
const GEMINI_STREAM: &str = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse";
const GEMINI_EMBED: &str = "/v1beta/models/emb-test:batchEmbedContents";
const GOOG_KEY: [(&str, &str); 1] = [("x-goog-api-key", "g-key")];
const COHERE_CHAT: &str = "/v2/chat";
const COHERE_EMBED: &str = "/v2/embed";
const COHERE_AUTH: [(&str, &str); 1] = [("Authorization", "Bearer c-key")];

fn gemini_body(tools: &[&str], mode: Option<&str>, allowed: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
    });
    if !tools.is_empty() {
        let decls: Vec<Value> = tools
            .iter()
            .map(|n| serde_json::json!({"name": n, "parameters": {"type": "object"}}))
            .collect();
        v["tools"] = serde_json::json!([{ "functionDeclarations": decls }]);
    }
    if let Some(mode) = mode {
        v["toolConfig"] = serde_json::json!({"functionCallingConfig": {"mode": mode}});
        if let Some(a) = allowed {
            v["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] =
                serde_json::json!([a]);
        }
    }
    v.to_string().into_bytes()
}

/// Gemini SSE: each HTTP chunk is one `data: {json}\r\n\r\n`.
fn gemini_events(r: &Resp) -> Vec<Value> {
    r.chunks
        .iter()
        .map(|c| {
            let s = std::str::from_utf8(c).unwrap();
            let data = s
                .strip_prefix("data: ")
                .and_then(|d| d.strip_suffix("\r\n\r\n"))
                .unwrap_or_else(|| panic!("{s:?}"));
            assert!(!data.contains('\n'), "{s:?}");
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

fn gemini_error(r: &Resp) -> (u64, String, String) {
    let v = r.json();
    let e = &v["error"];
    (
        e["code"].as_u64().unwrap(),
        e["status"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn gemini_generate_content_and_function_calls() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request("POST", GEMINI_GEN, &GOOG_KEY, &gemini_body(&[], None, None));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-mock-saw-path"), Some(GEMINI_GEN));
    assert_eq!(
        r.json(),
        serde_json::json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello from mock-provider."}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17},
            "modelVersion": "gemini-test",
            "responseId": "mock-resp",
        })
    );
    // Tools without mode ANY: text. Mode ANY: the first declaration, or the allowed name.
    let r = c.request(
        "POST",
        GEMINI_GEN,
        &GOOG_KEY,
        &gemini_body(&["alpha", "beta"], Some("AUTO"), None),
    );
    assert_eq!(
        r.json()["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from mock-provider."
    );
    for (allowed, name) in [(None, "alpha"), (Some("beta"), "beta")] {
        let r = c.request(
            "POST",
            GEMINI_GEN,
            &GOOG_KEY,
            &gemini_body(&["alpha", "beta"], Some("ANY"), allowed),
        );
        let v = r.json();
        assert_eq!(
            v["candidates"][0]["content"]["parts"],
            serde_json::json!([{"functionCall": {"name": name, "args": {"arg": "value"}}}])
        );
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    }
    // Any prefix before /models/, and body-bytes applies to the text.
    let r = c.request(
        "POST",
        "/gw/v1/models/m.1:generateContent",
        &[("x-goog-api-key", "k"), ("x-mock-body-bytes", "100")],
        &gemini_body(&[], None, None),
    );
    let v = r.json();
    assert_eq!(v["modelVersion"], "m.1");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .len(),
        100
    );
    // Bad requests are Google-shaped.
    for body in [&b"{not json"[..], b"{}"] {
        let r = c.request("POST", GEMINI_GEN, &GOOG_KEY, body);
        assert_eq!(r.status, 400);
        let (code, status, _) = gemini_error(&r);
        assert_eq!((code, status.as_str()), (400, "INVALID_ARGUMENT"));
    }
    let r = c.request("POST", "/v1beta/models/g:countTokens", &GOOG_KEY, b"{}");
    assert_eq!(r.status, 404);
}

#[test]
fn gemini_auth_and_error_statuses() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = gemini_body(&[], None, None);
    for path in [GEMINI_GEN, GEMINI_STREAM, GEMINI_EMBED] {
        for headers in [&[][..], &[("x-goog-api-key", " ")][..]] {
            let r = c.request("POST", path, headers, &body);
            assert_eq!(r.status, 401, "{path}");
            let (code, status, _) = gemini_error(&r);
            assert_eq!((code, status.as_str()), (401, "UNAUTHENTICATED"));
        }
    }
    for (s, name) in [
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ] {
        let st = s.to_string();
        let mut headers = GOOG_KEY.to_vec();
        headers.push(("x-mock-status", &st));
        let r = c.request("POST", GEMINI_STREAM, &headers, &body);
        assert_eq!(r.status, s);
        assert_eq!(
            gemini_error(&r),
            (s as u64, name.into(), format!("mock error {s}"))
        );
        // Google puts the delay in RetryInfo, not in Retry-After.
        assert_eq!(r.header("retry-after"), None);
        let details = &r.json()["error"]["details"];
        if s == 429 {
            assert_eq!(
                details,
                &serde_json::json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}])
            );
        } else {
            assert!(details.is_null(), "{s}");
        }
    }
    // A drawn 429 (fail mix flag) is Google-shaped too, on every Gemini route.
    let srv = Server::start(&["--fail-mix", "429:1"]);
    let mut c = srv.connect();
    for path in [GEMINI_GEN, GEMINI_STREAM, GEMINI_EMBED] {
        let r = c.request("POST", path, &GOOG_KEY, &body);
        assert_eq!(r.status, 429);
        assert_eq!(gemini_error(&r).1, "RESOURCE_EXHAUSTED");
        assert_eq!(r.json()["error"]["details"][0]["retryDelay"], "2s");
    }
}

#[test]
fn gemini_stream_crlf_events() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = gemini_body(&[], None, None);
    let r = c.request("POST", GEMINI_STREAM, &GOOG_KEY, &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let evs = gemini_events(&r);
    assert_eq!(evs.len(), 5);
    for (i, v) in evs.iter().enumerate() {
        let cand = &v["candidates"][0];
        assert_eq!(cand["content"]["role"], "model");
        assert_eq!(cand["content"]["parts"][0]["text"], format!("tok{i} "));
        assert_eq!(cand.get("finishReason").is_some(), i == 4, "{v}");
        assert_eq!(v["usageMetadata"]["promptTokenCount"], 12);
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], i + 1);
        assert_eq!(v["usageMetadata"]["totalTokenCount"], 12 + i + 1);
        assert_eq!(v["modelVersion"], "gemini-test");
    }
    assert_eq!(evs[4]["candidates"][0]["finishReason"], "STOP");
    // Chunk count header; zero chunks → one empty, finished chunk.
    let mut headers = GOOG_KEY.to_vec();
    headers.push(("x-mock-chunks", "2"));
    assert_eq!(
        gemini_events(&c.request("POST", GEMINI_STREAM, &headers, &body)).len(),
        2
    );
    let mut headers = GOOG_KEY.to_vec();
    headers.push(("x-mock-chunks", "0"));
    let evs = gemini_events(&c.request("POST", GEMINI_STREAM, &headers, &body));
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["candidates"][0]["content"]["parts"][0]["text"], "");
    assert_eq!(evs[0]["candidates"][0]["finishReason"], "STOP");
    // Forced function: one chunk with the whole call.
    let r = c.request(
        "POST",
        GEMINI_STREAM,
        &GOOG_KEY,
        &gemini_body(&["f"], Some("ANY"), None),
    );
    let evs = gemini_events(&r);
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0]["candidates"][0]["content"]["parts"][0]["functionCall"],
        serde_json::json!({"name": "f", "args": {"arg": "value"}})
    );
    assert_eq!(evs[0]["candidates"][0]["finishReason"], "STOP");
    // Pacing: the chunk delay applies between content chunks.
    let mut headers = GOOG_KEY.to_vec();
    headers.push(("x-mock-chunk-delay-ms", "40"));
    let t = Instant::now();
    let r = c.request("POST", GEMINI_STREAM, &headers, &body);
    assert_eq!(gemini_events(&r).len(), 5);
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t.elapsed()
    );
    // Keep-alive survived all of that.
    assert_eq!(srv.stats()["connections_accepted"], 2);

    // A cut stream stops after half the chunks, with no finishReason.
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut headers = GOOG_KEY.to_vec();
    headers.push(("x-mock-fail-mix", "cut:1"));
    headers.push(("x-mock-chunks", "10"));
    s.write_all(&build_request("POST", GEMINI_STREAM, &headers, &body))
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.contains("tok4 ") && !text.contains("tok5 "), "{text}");
    assert!(!text.contains("finishReason"), "{text}");
}

#[test]
fn gemini_batch_embed_contents() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = serde_json::json!({"requests": [
        {"model": "models/emb-test", "content": {"parts": [{"text": "hello"}]}},
        {"model": "models/emb-test", "content": {"parts": [{"text": "world"}]}, "outputDimensionality": 8},
    ]});
    let r = c.request("POST", GEMINI_EMBED, &GOOG_KEY, body.to_string().as_bytes());
    assert_eq!(r.status, 200);
    let v = r.json();
    let embs = v["embeddings"].as_array().unwrap();
    assert_eq!(embs.len(), 2);
    for e in embs {
        assert_eq!(e.as_object().unwrap().len(), 1, "{e}");
        assert_eq!(e["values"].as_array().unwrap().len(), 8);
    }
    assert_ne!(embs[0], embs[1]);
    // The same vector the OpenAI embeddings route gives the same text.
    let o = c.request(
        "POST",
        "/v1/embeddings",
        &[],
        br#"{"model":"e","input":"hello"}"#,
    );
    assert_eq!(o.json()["data"][0]["embedding"], embs[0]["values"]);
    for bad in [&br#"{"requests":[]}"#[..], b"{}", b"nope"] {
        let r = c.request("POST", GEMINI_EMBED, &GOOG_KEY, bad);
        assert_eq!(r.status, 400);
        assert_eq!(gemini_error(&r).1, "INVALID_ARGUMENT");
    }
}

fn cohere_chat_body(stream: bool, tools: &[&str], choice: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "model": "command-test",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "stream": stream,
    });
    if !tools.is_empty() {
        v["tools"] = tools
            .iter()
            .map(|n| serde_json::json!({"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}))
            .collect();
    }
    if let Some(c) = choice {
        v["tool_choice"] = c.into();
    }
    v.to_string().into_bytes()
}

#[test]
fn cohere_chat_and_tool_calls() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        COHERE_CHAT,
        &COHERE_AUTH,
        &cohere_chat_body(false, &[], None),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-mock-saw-authorization"), Some("Bearer c-key"));
    let usage = serde_json::json!({"billed_units": {"input_tokens": 12, "output_tokens": 5},
                                   "tokens": {"input_tokens": 12, "output_tokens": 5}});
    assert_eq!(
        r.json(),
        serde_json::json!({
            "id": "mock-cohere",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello from mock-provider."}]},
            "usage": usage,
        })
    );
    let r = c.request(
        "POST",
        COHERE_CHAT,
        &COHERE_AUTH,
        &cohere_chat_body(false, &["alpha", "beta"], Some("REQUIRED")),
    );
    assert_eq!(
        r.json(),
        serde_json::json!({
            "id": "mock-cohere",
            "finish_reason": "TOOL_CALL",
            "message": {"role": "assistant", "tool_plan": "I will call the tool.", "tool_calls": [
                {"id": "mock_call_1", "type": "function",
                 "function": {"name": "alpha", "arguments": "{\"arg\":\"value\"}"}}]},
            "usage": usage,
        })
    );
    // Tools without REQUIRED: text.
    let r = c.request(
        "POST",
        "/cohere/v2/chat",
        &COHERE_AUTH,
        &cohere_chat_body(false, &["alpha"], None),
    );
    assert_eq!(r.json()["finish_reason"], "COMPLETE");
    // Auth and bad requests.
    for headers in [
        &[][..],
        &[("Authorization", "Bearer ")][..],
        &[("Authorization", "c-key")][..],
    ] {
        for path in [COHERE_CHAT, COHERE_EMBED] {
            let r = c.request("POST", path, headers, b"{}");
            assert_eq!(r.status, 401);
            assert_eq!(
                r.json(),
                serde_json::json!({"message": "invalid api token"})
            );
        }
    }
    for bad in [&b"nope"[..], br#"{"messages":[]}"#, br#"{"model":"m"}"#] {
        let r = c.request("POST", COHERE_CHAT, &COHERE_AUTH, bad);
        assert_eq!(r.status, 400);
        assert!(r.json()["message"].is_string());
    }
    // Errors: {"message"} with Retry-After on 429, from headers and from the fail mix.
    let mut headers = COHERE_AUTH.to_vec();
    headers.push(("x-mock-status", "429"));
    let r = c.request(
        "POST",
        COHERE_CHAT,
        &headers,
        &cohere_chat_body(true, &[], None),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json(), serde_json::json!({"message": "mock error 429"}));
    let srv = Server::start(&["--fail-mix", "429:1"]);
    let mut c = srv.connect();
    for (path, body) in [
        (COHERE_CHAT, cohere_chat_body(false, &[], None)),
        (COHERE_EMBED, br#"{"model":"e","texts":["a"]}"#.to_vec()),
    ] {
        let r = c.request("POST", path, &COHERE_AUTH, &body);
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json(), serde_json::json!({"message": "mock error 429"}));
    }
}

#[test]
fn cohere_stream_event_order() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        COHERE_CHAT,
        &COHERE_AUTH,
        &cohere_chat_body(true, &[], None),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let evs = anthropic_events(&r);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-delta",
            "content-delta",
            "content-delta",
            "content-delta",
            "content-end",
            "message-end"
        ]
    );
    assert_eq!(evs[0].1["id"], "mock-cohere");
    assert_eq!(evs[0].1["delta"]["message"]["role"], "assistant");
    assert_eq!(
        evs[1].1["delta"]["message"]["content"],
        serde_json::json!({"type": "text", "text": ""})
    );
    let text: String = evs[2..7]
        .iter()
        .map(|(_, v)| {
            assert_eq!(v["index"], 0);
            v["delta"]["message"]["content"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 tok3 tok4 ");
    assert_eq!(
        evs[8].1["delta"],
        serde_json::json!({"finish_reason": "COMPLETE", "usage": {
            "billed_units": {"input_tokens": 12, "output_tokens": 5},
            "tokens": {"input_tokens": 12, "output_tokens": 5}}})
    );

    let r = c.request(
        "POST",
        COHERE_CHAT,
        &COHERE_AUTH,
        &cohere_chat_body(true, &["get_w", "other"], Some("REQUIRED")),
    );
    let evs = anthropic_events(&r);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message-start",
            "tool-plan-delta",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-delta",
            "tool-call-end",
            "message-end"
        ]
    );
    assert_eq!(
        evs[1].1["delta"]["message"]["tool_plan"],
        "I will call the tool."
    );
    assert_eq!(
        evs[2].1["delta"]["message"]["tool_calls"],
        serde_json::json!({"id": "mock_call_1", "type": "function",
                           "function": {"name": "get_w", "arguments": ""}})
    );
    let args: String = evs[3..5]
        .iter()
        .map(|(_, v)| {
            v["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        serde_json::json!({"arg": "value"})
    );
    assert_eq!(evs[6].1["delta"]["finish_reason"], "TOOL_CALL");

    // Cut: message-start, content-start, the first delta, then FIN.
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut headers = COHERE_AUTH.to_vec();
    headers.push(("x-mock-fail", "cut"));
    s.write_all(&build_request(
        "POST",
        COHERE_CHAT,
        &headers,
        &cohere_chat_body(true, &[], None),
    ))
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.contains("tok0 ") && !text.contains("tok1 "), "{text}");
    assert!(!text.contains("message-end"), "{text}");
}

#[test]
fn cohere_embed() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = br#"{"model":"embed-test","texts":["hello","a longer text"],"input_type":"search_document","embedding_types":["float"]}"#;
    let r = c.request("POST", COHERE_EMBED, &COHERE_AUTH, body);
    assert_eq!(r.status, 200);
    let v = r.json();
    let floats = v["embeddings"]["float"].as_array().unwrap();
    assert_eq!(floats.len(), 2);
    assert!(floats.iter().all(|f| f.as_array().unwrap().len() == 8));
    assert_eq!(v["texts"], serde_json::json!(["hello", "a longer text"]));
    assert_eq!(v["meta"]["billed_units"]["input_tokens"], 2 + 4);
    assert!(v["id"].is_string());
    let o = c.request(
        "POST",
        "/v1/embeddings",
        &[],
        br#"{"model":"e","input":"hello"}"#,
    );
    assert_eq!(o.json()["data"][0]["embedding"], floats[0]);
    for bad in [
        &br#"{"model":"e","texts":[]}"#[..],
        br#"{"model":"e"}"#,
        br#"{"texts":["a"]}"#,
    ] {
        let r = c.request("POST", COHERE_EMBED, &COHERE_AUTH, bad);
        assert_eq!(r.status, 400);
        assert!(r.json()["message"].is_string());
    }
}

#[test]
fn gemini_and_cohere_on_legacy_driver() {
    let srv = Server::start_with_env(&[], &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        GEMINI_STREAM,
        &GOOG_KEY,
        &gemini_body(&[], None, None),
    );
    assert_eq!(gemini_events(&r).len(), 5);
    let r = c.request(
        "POST",
        GEMINI_GEN,
        &GOOG_KEY,
        &gemini_body(&["f"], Some("ANY"), None),
    );
    assert_eq!(
        r.json()["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "f"
    );
    let r = c.request(
        "POST",
        COHERE_CHAT,
        &COHERE_AUTH,
        &cohere_chat_body(true, &["t"], Some("REQUIRED")),
    );
    assert_eq!(anthropic_events(&r).last().unwrap().0, "message-end");
    let r = c.request(
        "POST",
        COHERE_EMBED,
        &COHERE_AUTH,
        br#"{"model":"e","texts":["a"]}"#,
    );
    assert_eq!(r.json()["embeddings"]["float"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------
// AWS Bedrock runtime (`/model/{id}/converse`, `/converse-stream`, `/invoke`).

const BEDROCK_CONVERSE: &str = "/model/amazon.nova-lite-v1%3A0/converse";
const BEDROCK_STREAM: &str = "/model/amazon.nova-lite-v1%3A0/converse-stream";
const TITAN_INVOKE: &str = "/model/amazon.titan-embed-text-v2%3A0/invoke";
const COHERE_INVOKE: &str = "/model/cohere.embed-english-v3/invoke";
/// Shaped like a SigV4 signature; the mock checks the shape, not the maths.
const SIGV4: [(&str, &str); 2] = [
    (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/bedrock/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature=00",
    ),
    ("X-Amz-Date", "20240101T000000Z"),
];

fn converse_body(tools: &[&str], choice: Value) -> Vec<u8> {
    let mut v = serde_json::json!({
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "inferenceConfig": {"maxTokens": 100},
    });
    if !tools.is_empty() {
        let specs: Vec<Value> = tools
            .iter()
            .map(|n| serde_json::json!({"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}}))
            .collect();
        v["toolConfig"] = serde_json::json!({"tools": specs});
        if !choice.is_null() {
            v["toolConfig"]["toolChoice"] = choice;
        }
    }
    v.to_string().into_bytes()
}

/// CRC32 (IEEE), bitwise: written apart from the mock's table so the test
/// checks the mock, not itself.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Decodes an `application/vnd.amazon.eventstream` body into
/// (`:event-type`, payload JSON), checking lengths, both CRCs and the
/// `:content-type` / `:message-type` headers of every message.
fn bedrock_events(body: &[u8]) -> Vec<(String, Value)> {
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap()) as usize;
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let total = be(&rest[0..4]);
        let m = &rest[..total];
        assert_eq!(crc32(&m[..8]) as usize, be(&m[8..12]), "prelude CRC");
        assert_eq!(
            crc32(&m[..total - 4]) as usize,
            be(&m[total - 4..]),
            "message CRC"
        );
        let hlen = be(&m[4..8]);
        let mut h = &m[12..12 + hlen];
        let mut headers = std::collections::HashMap::new();
        while !h.is_empty() {
            let n = h[0] as usize;
            assert_eq!(h[1 + n], 7, "string header");
            let vlen = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            headers.insert(
                String::from_utf8(h[1..1 + n].to_vec()).unwrap(),
                String::from_utf8(h[4 + n..4 + n + vlen].to_vec()).unwrap(),
            );
            h = &h[4 + n + vlen..];
        }
        assert_eq!(headers[":message-type"], "event");
        assert_eq!(headers[":content-type"], "application/json");
        let payload: Value = serde_json::from_slice(&m[12 + hlen..total - 4]).unwrap();
        assert!(payload["p"].is_string(), "padding field: {payload}");
        out.push((headers[":event-type"].clone(), payload));
        rest = &rest[total..];
    }
    out
}

fn bedrock_error(r: &Resp) -> (String, String) {
    let kind = r.header("x-amzn-errortype").unwrap_or("").to_string();
    let kind = kind.split(':').next().unwrap().to_string();
    (kind, r.json()["message"].as_str().unwrap().to_string())
}

#[test]
fn bedrock_requests_must_look_sigv4_signed() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = converse_body(&[], Value::Null);
    let r = c.request("POST", BEDROCK_CONVERSE, &[], &body);
    assert_eq!(r.status, 403);
    assert_eq!(
        bedrock_error(&r),
        (
            "MissingAuthenticationTokenException".into(),
            "Missing Authentication Token".into()
        )
    );
    let r = c.request(
        "POST",
        TITAN_INVOKE,
        &[("Authorization", "Bearer sk"), SIGV4[1]],
        br#"{"inputText":"a"}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(bedrock_error(&r).0, "IncompleteSignatureException");
    let r = c.request("POST", BEDROCK_STREAM, &SIGV4[..1], &body);
    assert_eq!(r.status, 403);
    assert!(bedrock_error(&r).1.contains("X-Amz-Date"));
    let r = c.request("POST", BEDROCK_CONVERSE, &SIGV4, &body);
    assert_eq!(r.status, 200);
}

#[test]
fn bedrock_converse_text_and_tool_use() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        BEDROCK_CONVERSE,
        &SIGV4,
        &converse_body(&[], Value::Null),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-amzn-requestid"), Some("mock-bedrock-request"));
    assert_eq!(
        r.json(),
        serde_json::json!({"output":{"message":{"role":"assistant",
            "content":[{"text":"Hello from mock-provider."}]}},
            "stopReason":"end_turn",
            "usage":{"inputTokens":12,"outputTokens":5,"totalTokens":17},
            "metrics":{"latencyMs":1}})
    );
    for (choice, name) in [
        (serde_json::json!({"any": {}}), "get_w"),
        (serde_json::json!({"tool": {"name": "other"}}), "other"),
    ] {
        let r = c.request(
            "POST",
            BEDROCK_CONVERSE,
            &SIGV4,
            &converse_body(&["get_w", "other"], choice),
        );
        let v = r.json();
        assert_eq!(v["stopReason"], "tool_use");
        assert_eq!(
            v["output"]["message"]["content"][0]["toolUse"],
            serde_json::json!({"toolUseId":"tooluse_mock_1","name":name,"input":{"arg":"value"}})
        );
    }
    // toolChoice auto, or none: text.
    let r = c.request(
        "POST",
        BEDROCK_CONVERSE,
        &SIGV4,
        &converse_body(&["get_w"], serde_json::json!({"auto": {}})),
    );
    assert_eq!(r.json()["stopReason"], "end_turn");
    let mut headers = SIGV4.to_vec();
    headers.push(("x-mock-body-bytes", "300"));
    let r = c.request(
        "POST",
        BEDROCK_CONVERSE,
        &headers,
        &converse_body(&[], Value::Null),
    );
    let text = r.json()["output"]["message"]["content"][0]["text"].clone();
    assert_eq!(text.as_str().unwrap().len(), 300);
    for bad in [&br#"{"messages":[]}"#[..], b"{}", b"nope"] {
        let r = c.request("POST", BEDROCK_CONVERSE, &SIGV4, bad);
        assert_eq!(r.status, 400);
        assert_eq!(bedrock_error(&r).0, "ValidationException");
    }
}

#[test]
fn bedrock_converse_stream_is_an_event_stream_one_message_per_chunk() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let mut headers = SIGV4.to_vec();
    headers.push(("x-mock-chunks", "3"));
    let r = c.request(
        "POST",
        BEDROCK_STREAM,
        &headers,
        &converse_body(&[], Value::Null),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let events = bedrock_events(&r.body);
    assert_eq!(r.chunks.len(), events.len(), "one HTTP chunk per message");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(events[0].1["role"], "assistant");
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert_eq!(events[5].1["stopReason"], "end_turn");
    assert_eq!(
        events[6].1["usage"],
        serde_json::json!({"inputTokens":12,"outputTokens":3,"totalTokens":15})
    );
    assert_eq!(events[6].1["metrics"]["latencyMs"], 1);

    let r = c.request(
        "POST",
        BEDROCK_STREAM,
        &SIGV4,
        &converse_body(&["get_w"], serde_json::json!({"any": {}})),
    );
    let events = bedrock_events(&r.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "messageStart",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(
        events[1].1["start"]["toolUse"],
        serde_json::json!({"toolUseId":"tooluse_mock_1","name":"get_w"})
    );
    let input: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["toolUse"]["input"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        serde_json::json!({"arg":"value"})
    );
    assert_eq!(events[5].1["stopReason"], "tool_use");
    assert_eq!(events[6].1["usage"]["outputTokens"], 5);

    // Zero tokens: no content block at all.
    let mut headers = SIGV4.to_vec();
    headers.push(("x-mock-chunks", "0"));
    let r = c.request(
        "POST",
        BEDROCK_STREAM,
        &headers,
        &converse_body(&[], Value::Null),
    );
    let names: Vec<String> = bedrock_events(&r.body)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["messageStart", "messageStop", "metadata"]);
}

#[test]
fn bedrock_stream_pacing_follows_the_mock_headers() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let mut headers = SIGV4.to_vec();
    headers.extend([
        ("x-mock-chunks", "4"),
        ("x-mock-ttft", "fixed:60"),
        ("x-mock-inter-token", "fixed:30"),
    ]);
    let t0 = Instant::now();
    let r = c.request(
        "POST",
        BEDROCK_STREAM,
        &headers,
        &converse_body(&[], Value::Null),
    );
    let took = t0.elapsed();
    assert_eq!(bedrock_events(&r.body).len(), 4 + 4);
    assert!(took >= Duration::from_millis(60 + 3 * 30), "{took:?}");
}

#[test]
fn bedrock_errors_cuts_and_fail_mix() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let body = converse_body(&[], Value::Null);
    for (status, kind) in [
        ("400", "ValidationException"),
        ("403", "AccessDeniedException"),
        ("404", "ResourceNotFoundException"),
        ("429", "ThrottlingException"),
        ("500", "InternalServerException"),
        ("503", "ServiceUnavailableException"),
    ] {
        for path in [BEDROCK_CONVERSE, BEDROCK_STREAM, TITAN_INVOKE] {
            let mut headers = SIGV4.to_vec();
            headers.push(("x-mock-status", status));
            let r = c.request("POST", path, &headers, &body);
            assert_eq!(r.status.to_string(), status, "{path}");
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(
                bedrock_error(&r),
                (kind.to_string(), format!("mock error {status}")),
                "{path}"
            );
            // AWS sends no Retry-After, even with a 429.
            assert_eq!(r.header("retry-after"), None);
        }
    }
    let mut headers = SIGV4.to_vec();
    headers.push(("x-mock-fail-mix", "429:1"));
    let r = c.request("POST", BEDROCK_STREAM, &headers, &body);
    assert_eq!(bedrock_error(&r).0, "ThrottlingException");

    // Cuts end the body without its last chunk and without messageStop.
    let cut = |extra: (&str, &str)| {
        let mut s = TcpStream::connect(&srv.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut headers = SIGV4.to_vec();
        headers.extend([extra, ("x-mock-chunks", "10")]);
        s.write_all(&build_request("POST", BEDROCK_STREAM, &headers, &body))
            .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(!all.ends_with(b"0\r\n\r\n"));
        // Undo the chunked framing of the complete chunks.
        let mut rest = &all[head_end..];
        let mut payload = Vec::new();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            payload.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        bedrock_events(&payload)
    };
    let events = cut(("x-mock-fail", "cut"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["messageStart", "contentBlockDelta"]);
    let events = cut(("x-mock-fail-mix", "cut:1"));
    assert_eq!(events.len(), 1 + 5, "messageStart and half the deltas");
    assert!(events.iter().all(|(n, _)| n != "messageStop"));
}

#[test]
fn bedrock_invoke_embeds_with_titan_and_cohere() {
    let srv = Server::start(&[]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        TITAN_INVOKE,
        &SIGV4,
        br#"{"inputText":"hello","dimensions":256,"normalize":true}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amzn-bedrock-input-token-count"), Some("2"));
    let titan = r.json();
    assert_eq!(titan["inputTextTokenCount"], 2);
    assert_eq!(titan["embedding"].as_array().unwrap().len(), 8);
    // The same vector the OpenAI route gives the same text.
    let r = c.request(
        "POST",
        "/v1/embeddings",
        &[],
        br#"{"model":"e","input":"hello"}"#,
    );
    assert_eq!(titan["embedding"], r.json()["data"][0]["embedding"]);

    let r = c.request(
        "POST",
        COHERE_INVOKE,
        &SIGV4,
        br#"{"texts":["hello","abcdefgh"],"input_type":"search_document","embedding_types":["float"]}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amzn-bedrock-input-token-count"), Some("4"));
    let v = r.json();
    assert_eq!(v["response_type"], "embeddings_by_type");
    assert_eq!(v["embeddings"]["float"][0], titan["embedding"]);
    let r = c.request(
        "POST",
        "/model/us.cohere.embed-v4%3A0/invoke",
        &SIGV4,
        br#"{"texts":["hello"],"input_type":"search_query","output_dimension":512}"#,
    );
    assert_eq!(r.json()["embeddings"][0], titan["embedding"]);

    for (path, bad) in [
        (TITAN_INVOKE, &br#"{"texts":["a"]}"#[..]),
        (TITAN_INVOKE, br#"{"inputText":"a","dimensions":3}"#),
        (COHERE_INVOKE, br#"{"texts":["a"]}"#),
        (
            COHERE_INVOKE,
            br#"{"texts":["a"],"input_type":"search_query","output_dimension":256}"#,
        ),
        (
            "/model/amazon.nova-lite-v1%3A0/invoke",
            br#"{"inputText":"a"}"#,
        ),
    ] {
        let r = c.request("POST", path, &SIGV4, bad);
        assert_eq!(r.status, 400, "{path} {}", String::from_utf8_lossy(bad));
        assert_eq!(bedrock_error(&r).0, "ValidationException");
    }
}

#[test]
fn bedrock_on_legacy_driver() {
    let srv = Server::start_with_env(&[], &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let mut c = srv.connect();
    let r = c.request(
        "POST",
        BEDROCK_STREAM,
        &SIGV4,
        &converse_body(&[], Value::Null),
    );
    assert_eq!(bedrock_events(&r.body).len(), 5 + 4);
    let r = c.request("POST", TITAN_INVOKE, &SIGV4, br#"{"inputText":"a"}"#);
    assert_eq!(r.json()["embedding"].as_array().unwrap().len(), 8);
}
