//! A fake provider that replays recorded traffic (read in place from
//! `RINGBRIDGE_FIXTURES`, default `../shared/fixtures`).

use std::path::PathBuf;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        });
    assert!(
        dir.is_dir(),
        "recorded fixtures not found at {} (set RINGBRIDGE_FIXTURES)",
        dir.display()
    );
    dir
}

/// One recorded file's bytes, e.g. `fixture("gemini/stream-text-crlf.sse")`.
pub fn fixture(name: &str) -> Vec<u8> {
    let dir = fixtures();
    std::fs::read(dir.join(name)).unwrap_or_else(|e| {
        panic!(
            "recorded fixture {name} not readable under {} ({e})",
            dir.display()
        )
    })
}

pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

/// An upstream that replays recordings from `<fixtures>/<provider>/`, picking
/// the file by the model it is asked for: the body's `model`, else the path
/// segment after `/models/` (Gemini puts the model in the URL). `.sse` files
/// are sent as chunked event streams a few bytes at a time, `.chunks.txt` files
/// (one data payload per line) re-framed as SSE, `.json` files whole, with the
/// status `NNN` when the name starts `error-NNN`. Models named `status-NNN`
/// get an Anthropic-shaped error. `GET …/models` answers a one-model list.
pub fn replay_upstream(provider: &str) -> (std::net::SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let dir = fixtures().join(provider);
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
                    if seen.path.ends_with("/models") {
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
                    let model = match seen.body["model"].as_str() {
                        Some(m) => m.to_string(),
                        // Gemini: /models/<model>:verb; Bedrock: /model/<model>/verb.
                        None => seen
                            .path
                            .split("/models/")
                            .nth(1)
                            .and_then(|rest| rest.split(':').next())
                            .or_else(|| {
                                seen.path
                                    .split("/model/")
                                    .nth(1)
                                    .and_then(|rest| rest.split('/').next())
                            })
                            .unwrap_or("")
                            .to_string(),
                    };
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
                    } else if model.ends_with(".bin") {
                        let raw = std::fs::read(dir.join(&model)).unwrap();
                        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                        for piece in raw.chunks(61) {
                            out.extend(format!("{:x}\r\n", piece.len()).into_bytes());
                            out.extend_from_slice(piece);
                            out.extend_from_slice(b"\r\n");
                        }
                        out.extend_from_slice(b"0\r\n\r\n");
                        tcp.write_all(&out).is_ok()
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
                        let status = model
                            .strip_prefix("error-")
                            .and_then(|r| r.get(..3))
                            .unwrap_or("200");
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
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
