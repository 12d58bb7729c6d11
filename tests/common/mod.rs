//! Shared harness for the integration tests: start the real `ringbridge` binary
//! and the `mock-provider` binary on 127.0.0.1, and talk raw HTTP/1.1 to them.
//!
//! The driver under test follows the environment: run the suite once plainly
//! (io_uring) and once with `MONOIO_FORCE_LEGACY_DRIVER=1` (epoll); children
//! inherit the variable.

#![allow(dead_code)]

pub mod replay;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringbridge"))
        .parent()
        .expect("binary directory")
        .to_path_buf()
}

/// Provider key variables cleared from every child so the host environment
/// cannot change what a test sees.
const PROVIDER_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "GROQ_API_KEY",
    "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "OPENROUTER_API_KEY",
    "XAI_API_KEY",
    "CEREBRAS_API_KEY",
    "PERPLEXITY_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "AZURE_OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "COHERE_API_KEY",
    "COHERE_BASE_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "OPENAI_BASE_URL",
    "GROQ_BASE_URL",
    "MISTRAL_BASE_URL",
    "DEEPSEEK_BASE_URL",
    "TOGETHER_BASE_URL",
    "FIREWORKS_BASE_URL",
    "OPENROUTER_BASE_URL",
    "XAI_BASE_URL",
    "CEREBRAS_BASE_URL",
    "PERPLEXITY_BASE_URL",
    "OLLAMA_BASE_URL",
    "OLLAMA_HOST",
    "RINGBRIDGE_API_KEYS",
    "RINGBRIDGE_CONFIG",
    "RINGBRIDGE_LISTEN",
    "RINGBRIDGE_WORKERS",
];

fn clean_env(cmd: &mut Command) {
    for k in PROVIDER_ENV {
        cmd.env_remove(k);
    }
}

/// A child process that is killed when dropped; its stderr is collected.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    stderr_lines: Vec<String>,
}

impl Proc {
    fn spawn(mut cmd: Command, marker: &str) -> Proc {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn child process");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (atx, arx) = mpsc::channel();
        let marker = marker.to_string();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(rest) = line.split(&marker).nth(1) {
                    let _ = atx.send(rest.trim().to_string());
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines.map_while(Result::ok) {}
        });
        let addr = match arx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                let errs: Vec<String> = rx.try_iter().collect();
                panic!(
                    "child did not announce its address; stderr:\n{}",
                    errs.join("\n")
                );
            }
        };
        Proc {
            child,
            addr,
            stderr: rx,
            stderr_lines: Vec::new(),
        }
    }

    /// All stderr lines so far.
    pub fn stderr(&mut self) -> String {
        self.stderr_lines.extend(self.stderr.try_iter());
        self.stderr_lines.join("\n")
    }

    pub fn terminate(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Wait for exit; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `mock-provider` with extra arguments.
pub fn mock_provider(args: &[&str]) -> Proc {
    let path = bin_dir().join("mock-provider");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build -p ringbridge-loadtest`",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    clean_env(&mut cmd);
    Proc::spawn(cmd, "LISTENING ")
}

/// How to start a gateway for a test.
#[derive(Default)]
pub struct GatewayOpts<'a> {
    pub env: Vec<(&'a str, String)>,
    pub config: Option<String>,
    pub args: Vec<&'a str>,
    pub workers: Option<usize>,
    /// Open-file limit (soft, hard) to start the gateway with.
    pub open_files: Option<(u64, u64)>,
    /// `--listen`; default `127.0.0.1:0`.
    pub listen: Option<&'a str>,
    /// Working directory (where the default `ringbridge.db` goes); default
    /// a new temporary directory, so tests never share a store by accident.
    pub dir: Option<std::path::PathBuf>,
}

/// A new empty directory under the system's temporary directory.
pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ringbridge-test-dir-{}-{}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Start `ringbridge` on an ephemeral port.
pub fn gateway(opts: GatewayOpts<'_>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringbridge"));
    clean_env(&mut cmd);
    cmd.args(["--listen", opts.listen.unwrap_or("127.0.0.1:0")]);
    cmd.args(["--workers", &opts.workers.unwrap_or(2).to_string()]);
    if let Some(cfg) = &opts.config {
        let path = std::env::temp_dir().join(format!(
            "ringbridge-test-{}-{}.toml",
            std::process::id(),
            unique()
        ));
        std::fs::write(&path, cfg).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.args(&opts.args);
    cmd.current_dir(opts.dir.clone().unwrap_or_else(temp_dir));
    cmd.env("RINGBRIDGE_LOG", "info");
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    if let Some((soft, hard)) = opts.open_files {
        use std::os::unix::process::CommandExt;
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit is async-signal-safe; `lim` is a valid copy.
        unsafe {
            cmd.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &lim) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
    }
    Proc::spawn(cmd, "ringbridge listening on http://")
}

/// A gateway whose `openai` provider points at `mock`. Returns once the
/// gateway has fetched the model list, with the mock's counters zeroed, so
/// tests count only their own upstream traffic.
pub fn gateway_to(mock: &Proc, extra_config: &str) -> Proc {
    let gw = gateway(GatewayOpts {
        config: Some(format!(
            "{extra_config}\n[providers.openai]\nbase_url = \"http://{}/v1\"\nkeys = [\"sk-test-secret-0123456789\"]\n",
            mock.addr
        )),
        ..Default::default()
    });
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"openai/")
    }));
    roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    gw
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body with chunked framing removed.
    pub body: Vec<u8>,
    /// Raw body bytes as they came on the wire.
    pub raw_body: Vec<u8>,
    pub chunked: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// The `Authorization` value mock-provider received, from its hex reflection
/// (its plain echo of it is masked by the gateway).
pub fn saw_authorization(resp: &Resp) -> Option<String> {
    let hex = resp.header("x-mock-saw-authorization-hex")?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A raw client connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write request");
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read response: {e}"),
        }
    }

    /// Read one response; `None` if the connection closed before a full head.
    pub fn recv(&mut self) -> Option<Resp> {
        let (status, headers, head_len) = loop {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut hs);
            if let Ok(httparse::Status::Complete(n)) = r.parse(&self.buf) {
                let status = r.code.unwrap();
                let headers: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                if status == 100 {
                    self.buf.drain(..n);
                    continue;
                }
                break (status, headers, n);
            }
            if !self.fill() {
                return None;
            }
        };
        self.buf.drain(..head_len);
        let find = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let chunked = find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let mut body = Vec::new();
        let mut raw = Vec::new();
        if chunked {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    assert!(self.fill(), "connection closed inside a chunked body");
                };
                let size_line = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
                let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                    .expect("chunk size");
                while self.buf.len() < line_end + 2 + size + 2 {
                    assert!(self.fill(), "connection closed inside a chunk");
                }
                raw.extend_from_slice(&self.buf[..line_end + 2 + size + 2]);
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(len) = find("content-length") {
            let len: usize = len.trim().parse().unwrap();
            while self.buf.len() < len {
                assert!(self.fill(), "connection closed inside a body");
            }
            body = self.buf.drain(..len).collect();
            raw = body.clone();
        } else if status != 204 && status != 304 {
            while self.fill() {}
            body = std::mem::take(&mut self.buf);
            raw = body.clone();
        }
        Some(Resp {
            status,
            headers,
            body,
            raw_body: raw,
            chunked,
        })
    }

    /// [`Conn::recv`] after the caller already consumed the response's first byte.
    pub fn recv_after_prefix(&mut self, first: u8) -> Option<Resp> {
        self.buf.insert(0, first);
        self.recv()
    }

    /// True if the peer closed the connection (EOF) within `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let mut tmp = [0u8; 1024];
        let closed = matches!(self.stream.read(&mut tmp), Ok(0))
            || matches!(self.stream.read(&mut tmp), Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        closed
    }
}

/// Build a request with a JSON body.
pub fn post(path: &str, body: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra_headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

pub fn get(path: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: test\r\n");
    for (k, v) in extra_headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// One request on a fresh connection.
pub fn roundtrip(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut c = Conn::open(addr);
    c.send(request);
    c.recv().expect("a response")
}

/// The mock provider's counters.
pub fn mock_stats(mock: &Proc) -> serde_json::Value {
    roundtrip(mock.addr, &get("/__stats", &[])).json()
}

/// Poll `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// Whether a `/metrics` line of the gateway at `addr` satisfies `line`
/// within 5 s (another core's figures arrive within its publish interval).
pub fn metric_eventually(addr: SocketAddr, line: impl Fn(&str) -> bool) -> bool {
    eventually(Duration::from_secs(5), || {
        roundtrip(addr, &get("/metrics", &[]))
            .text()
            .lines()
            .any(&line)
    })
}

/// A gateway started with `config` as its file.
pub fn gateway_with(config: &str) -> Proc {
    gateway(GatewayOpts {
        config: Some(config.to_owned()),
        ..Default::default()
    })
}

/// SSE `data:` payloads of an event-stream body.
pub fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .map(str::to_string)
        })
        .collect()
}

/// `method path` with an optional JSON body, on a fresh connection (the
/// admin API's calls).
pub fn call(gw: &Proc, method: &str, path: &str, body: Option<&serde_json::Value>) -> Resp {
    let body = body.map(serde_json::Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    roundtrip(gw.addr, request.as_bytes())
}

/// A short chat request to `model` with `key` as the bearer token.
pub fn chat_as(gw: &Proc, key: &str, model: &str) -> Resp {
    let body = serde_json::json!({"model": model,
        "messages": [{"role": "user", "content": "one two three"}]});
    roundtrip(
        gw.addr,
        &post(
            "/v1/chat/completions",
            &body.to_string(),
            &[("authorization", &format!("Bearer {key}"))],
        ),
    )
}

/// A gateway whose store is a Postgres nobody listens for (a port just
/// freed on 127.0.0.1), with `password` in its URL.
pub fn gateway_with_unreachable_postgres(password: &str) -> Proc {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    gateway(GatewayOpts {
        config: Some(format!(
            "env_providers = false\n[store]\npostgres = \"postgres://rb:{password}@127.0.0.1:{port}/rb\"\n"
        )),
        ..Default::default()
    })
}
