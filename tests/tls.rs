//! Upstream TLS end to end: a rustls test server with a private CA (made with
//! the `openssl` command) that the gateway trusts through `extra_ca_file`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command is needed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a leaf certificate for 127.0.0.1 signed by it.
fn make_certs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rb-tls-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ringbridge test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&dir, &csr);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    dir
}

/// A tiny HTTPS upstream: `/v1/models` and `/v1/chat/completions`, keep-alive.
fn tls_upstream(dir: &Path) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            counter.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                loop {
                    let (path, consumed) = loop {
                        let mut hs = [httparse::EMPTY_HEADER; 32];
                        let mut req = httparse::Request::new(&mut hs);
                        if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                            let len: usize = req
                                .headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                                .unwrap_or(0);
                            if buf.len() >= n + len {
                                break (req.path.unwrap().to_string(), n + len);
                            }
                        }
                        match tls.read(&mut tmp) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&tmp[..k]),
                        }
                    };
                    buf.drain(..consumed);
                    let body = if path.ends_with("/models") {
                        r#"{"object":"list","data":[{"id":"tls-model","object":"model"}]}"#
                            .to_string()
                    } else {
                        r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"over tls"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#.to_string()
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if tls
                        .write_all(resp.as_bytes())
                        .and_then(|_| tls.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

#[test]
fn https_upstream_with_a_trusted_private_ca() {
    let dir = make_certs();
    let (addr, connections) = tls_upstream(&dir);
    let gw = gateway(GatewayOpts {
        workers: Some(1),
        config: Some(format!(
            "extra_ca_file = \"{}\"\n[providers.secure]\nkind = \"openai-compatible\"\nbase_url = \"https://127.0.0.1:{}/v1\"\n",
            dir.join("ca.pem").display(),
            addr.port()
        )),
        ..Default::default()
    });
    // The control plane's blocking client speaks TLS too.
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &get("/v1/models", &[]))
            .text()
            .contains("\"secure/tls-model\"")
    }));
    let before = connections.load(Ordering::SeqCst);
    let mut c = Conn::open(gw.addr);
    // Small bodies are copied into the request; large ones are written from
    // the client's buffer in pieces: both arrive whole over TLS.
    let large = format!(
        r#"{{"model":"secure/tls-model","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(300_000)
    );
    for i in 0..5 {
        let body = if i % 2 == 0 {
            r#"{"model":"secure/tls-model","messages":[]}"#
        } else {
            large.as_str()
        };
        c.send(&post("/v1/chat/completions", body, &[]));
        let r = c.recv().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["choices"][0]["message"]["content"], "over tls");
    }
    // One pooled TLS connection served all five.
    assert_eq!(connections.load(Ordering::SeqCst) - before, 1);
}

#[test]
fn untrusted_upstream_certificate_is_502() {
    let dir = make_certs();
    let (addr, _) = tls_upstream(&dir);
    let gw = gateway_with(&format!(
            "[providers.secure]\nkind = \"openai-compatible\"\nbase_url = \"https://127.0.0.1:{}/v1\"\n",
            addr.port()
        ));
    let r = roundtrip(
        gw.addr,
        &post("/v1/chat/completions", r#"{"model":"secure/m"}"#, &[]),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("TLS"));
}

#[test]
fn bad_extra_ca_file_fails_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringbridge"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RINGBRIDGE_EXTRA_CA_FILE", "/nonexistent/ca.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RINGBRIDGE_EXTRA_CA_FILE"));
}
