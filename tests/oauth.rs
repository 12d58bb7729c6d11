//! Providers authenticated with refreshed OAuth access tokens: Vertex AI with
//! a Google service-account key (RS256 JWT grant, signature checked here with
//! the key's public half) and Azure OpenAI with Entra ID client credentials.
//! One local server plays both the token endpoint and the provider.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::replay::fixture;
use common::*;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

const CHAT: &str = "/v1/chat/completions";

/// A request as the fake server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen) -> (u16, &'static str, Vec<u8>) + Send + Sync;

/// Serves keep-alive HTTP/1.1 on `listener` with `handler`, recording every request.
fn serve(listener: TcpListener, handler: Arc<Handler>) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            let (log, handler) = (log.clone(), handler.clone());
            std::thread::spawn(move || connection(tcp, &log, &*handler));
        }
    });
    (addr, seen)
}

fn connection(mut tcp: TcpStream, log: &Mutex<Vec<Seen>>, handler: &Handler) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        let parsed = {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut hs);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let headers: Vec<(String, String)> = req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .map_or(0, |(_, v)| v.parse().unwrap());
                    (buf.len() >= n + len).then(|| {
                        let seen = Seen {
                            method: req.method.unwrap().to_owned(),
                            path: req.path.unwrap().to_owned(),
                            headers,
                            body: buf[n..n + len].to_vec(),
                        };
                        (seen, n + len)
                    })
                }
                _ => None,
            }
        };
        if let Some((seen, used)) = parsed {
            buf.drain(..used);
            let (status, content_type, body) = handler(&seen);
            log.lock().unwrap().push(seen);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            if tcp.write_all(head.as_bytes()).is_err() || tcp.write_all(&body).is_err() {
                return;
            }
            continue;
        }
        match tcp.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn form_value(form: &[u8], key: &str) -> Option<String> {
    let form = std::str::from_utf8(form).ok()?;
    let raw = form
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))?;
    let bytes = raw.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn b64url(s: &str) -> Vec<u8> {
    let mut padded = s.replace('-', "+").replace('_', "/");
    while padded.len() % 4 != 0 {
        padded.push('=');
    }
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0,
    };
    let mut out = Vec::new();
    for chunk in padded.as_bytes().chunks(4) {
        let n = chunk
            .iter()
            .fold(0u32, |acc, &c| (acc << 6) | u32::from(val(c)));
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

/// A fresh RSA key: (PKCS#8 PEM, DER RSAPublicKey).
fn rsa_key() -> (String, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("rb-oauth-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, public) = (dir.join("k.pem"), dir.join("p.der"));
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            key.to_str().unwrap(),
        ],
        vec![
            "rsa",
            "-in",
            key.to_str().unwrap(),
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            public.to_str().unwrap(),
        ],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("the openssl command is needed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pair = (
        std::fs::read_to_string(&key).unwrap(),
        std::fs::read(&public).unwrap(),
    );
    std::fs::remove_dir_all(&dir).ok();
    pair
}

const VERTEX_PREFIX: &str = "/v1/projects/proj-7/locations/us-central1/publishers/google/models/";

/// The Google side: `/token` checks the JWT (signature, claims) and issues
/// `tok-1`, `tok-2`, … that live `lifetime` seconds; Vertex routes demand the
/// newest token.
struct Google {
    issued: Mutex<u32>,
    lifetime: u64,
    public_der: Vec<u8>,
    token_uri: String,
    refuse_tokens: Mutex<bool>,
}

impl Google {
    fn handle(&self, req: &Seen) -> (u16, &'static str, Vec<u8>) {
        let json = "application/json";
        if req.path == "/token" {
            if *self.refuse_tokens.lock().unwrap() {
                return (
                    400,
                    json,
                    br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
                        .to_vec(),
                );
            }
            assert_eq!(req.method, "POST");
            assert_eq!(
                req.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            assert_eq!(
                form_value(&req.body, "grant_type").as_deref(),
                Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            );
            let jwt = form_value(&req.body, "assertion").expect("an assertion");
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3, "{jwt}");
            let signed = format!("{}.{}", parts[0], parts[1]);
            if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_der)
                .verify(signed.as_bytes(), &b64url(parts[2]))
                .is_err()
            {
                return (
                    400,
                    json,
                    br#"{"error":"invalid_grant","error_description":"bad signature"}"#.to_vec(),
                );
            }
            let claims: serde_json::Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
            assert_eq!(claims["iss"], "gw@proj-7.iam.gserviceaccount.com");
            assert_eq!(claims["aud"], self.token_uri.as_str());
            assert_eq!(
                claims["scope"],
                "https://www.googleapis.com/auth/cloud-platform"
            );
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let iat = claims["iat"].as_u64().unwrap();
            assert!(iat.abs_diff(now) < 60 && claims["exp"].as_u64().unwrap() == iat + 3600);
            let mut n = self.issued.lock().unwrap();
            *n += 1;
            let body = format!(
                r#"{{"access_token":"tok-{n}","expires_in":{},"token_type":"Bearer"}}"#,
                self.lifetime
            );
            return (200, json, body.into_bytes());
        }
        let newest = format!("Bearer tok-{}", self.issued.lock().unwrap());
        if req.header("authorization") != Some(newest.as_str())
            || req.header("x-goog-api-key").is_some()
        {
            return (401, json, br#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#.to_vec());
        }
        let model_op = req
            .path
            .strip_prefix(VERTEX_PREFIX)
            .unwrap_or_else(|| panic!("unexpected path {}", req.path));
        match model_op {
            "gemini-2.5-flash:generateContent" => {
                (200, json, fixture("gemini/generate-content-text.json"))
            }
            "gemini-2.5-flash:streamGenerateContent?alt=sse" => (
                200,
                "text/event-stream",
                fixture("gemini/vertex-stream-flex-tier.sse"),
            ),
            "text-embedding-005:predict" => {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                let n = body["instances"].as_array().unwrap().len();
                let predictions: Vec<serde_json::Value> = (0..n)
                    .map(|i| serde_json::json!({"embeddings":{"statistics":{"truncated":false,"token_count":3},"values":[i as f64, 0.5]}}))
                    .collect();
                (
                    200,
                    json,
                    serde_json::json!({ "predictions": predictions })
                        .to_string()
                        .into_bytes(),
                )
            }
            other => panic!("unexpected Vertex call {other}"),
        }
    }
}

fn vertex_setup(lifetime: u64, refuse: bool) -> (Proc, Arc<Google>, Arc<Mutex<Vec<Seen>>>) {
    let (pem, public_der) = rsa_key();
    // The token URI names the server's own port: bind first.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let token_uri = format!("http://{addr}/token");
    let google = Arc::new(Google {
        issued: Mutex::new(0),
        lifetime,
        public_der,
        token_uri: token_uri.clone(),
        refuse_tokens: Mutex::new(refuse),
    });
    let handler = google.clone();
    let (_, seen) = serve(listener, Arc::new(move |req: &Seen| handler.handle(req)));
    let dir = std::env::temp_dir().join(format!("rb-sa-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let sa = dir.join("sa.json");
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "proj-7",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "gw@proj-7.iam.gserviceaccount.com",
        "token_uri": token_uri,
    });
    std::fs::write(&sa, json.to_string()).unwrap();
    let gw = gateway_with(&format!(
        "[providers.vertex]\nbase_url = \"http://{addr}/v1\"\ncredentials_file = \"{}\"\n",
        sa.display()
    ));
    (gw, google, seen)
}

/// The answer to `body` once it is a 200 (a token the server has issued
/// reaches the gateway's workers a moment after it is counted as issued).
fn answered_200(gw: &Proc, body: &str) -> Resp {
    let mut last = None;
    let ok = eventually(Duration::from_secs(10), || {
        let r = roundtrip(gw.addr, &post(CHAT, body, &[]));
        let done = r.status == 200;
        last = Some(r);
        done
    });
    let r = last.expect("at least one attempt");
    assert!(ok, "{} {}", r.status, r.text());
    r
}

fn chat(model: &str, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    })
    .to_string()
}

#[test]
fn vertex_uses_a_service_account_token_and_refreshes_it_before_expiry() {
    // 2 s tokens are refreshed at half-life, so a second token follows quickly.
    let (gw, google, seen) = vertex_setup(2, false);
    assert!(
        eventually(Duration::from_secs(10), || *google.issued.lock().unwrap()
            >= 1),
        "the control plane fetched a token"
    );
    // Issued is not yet published: the token reaches the workers a moment later.
    let r = answered_200(&gw, &chat("vertex/gemini-2.5-flash", false));
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());

    let r = roundtrip(
        gw.addr,
        &post(CHAT, &chat("vertex/gemini-2.5-flash", true), &[]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let events = sse_data(&r.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!text.is_empty());

    let body = r#"{"model":"vertex/text-embedding-005","input":["a","b","c"]}"#;
    let r = roundtrip(gw.addr, &post("/v1/embeddings", body, &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    assert_eq!(v["data"][2]["embedding"], serde_json::json!([2.0, 0.5]));
    assert_eq!(v["usage"]["prompt_tokens"], 9);

    assert!(
        eventually(Duration::from_secs(10), || *google.issued.lock().unwrap()
            >= 3),
        "tokens keep being refreshed"
    );
    // Requests after a refresh carry the new token (the server demands the newest).
    answered_200(&gw, &chat("vertex/gemini-2.5-flash", false));
    let seen = seen.lock().unwrap();
    let vertex_auth: Vec<&str> = seen
        .iter()
        .filter(|s| s.path.starts_with(VERTEX_PREFIX))
        .filter_map(|s| s.header("authorization"))
        .collect();
    assert!(vertex_auth.len() >= 4);
    assert_ne!(vertex_auth.first(), vertex_auth.last(), "{vertex_auth:?}");
}

#[test]
fn vertex_without_a_token_answers_503_with_the_oauth_error_then_recovers() {
    let (mut gw, google, _) = vertex_setup(3600, true);
    let mut last = None;
    assert!(eventually(Duration::from_secs(10), || {
        let r = roundtrip(
            gw.addr,
            &post(CHAT, &chat("vertex/gemini-2.5-flash", false), &[]),
        );
        let done = r.status == 503 && r.text().contains("Invalid JWT Signature");
        last = Some(r);
        done
    }));
    let r = last.unwrap();
    let v = r.json();
    assert_eq!(v["error"]["code"], "provider_credentials_unavailable");
    assert!(v["error"]["message"].as_str().unwrap().contains("vertex"));
    assert!(r.header("x-request-id").is_some());

    *google.refuse_tokens.lock().unwrap() = false;
    // Retries back off from 1 s; the token arrives within a few.
    assert!(eventually(Duration::from_secs(15), || {
        roundtrip(
            gw.addr,
            &post(CHAT, &chat("vertex/gemini-2.5-flash", false), &[]),
        )
        .status
            == 200
    }));
    let log = gw.stderr();
    assert!(log.contains("fetching an access token failed"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "no key material in the log");
}

#[test]
fn azure_entra_client_credentials_become_a_bearer_token() {
    let issued = Arc::new(Mutex::new(0u32));
    let counter = issued.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr, seen) = serve(
        listener,
        Arc::new(move |req: &Seen| {
            let json = "application/json";
            if req.path == "/tenant-9/oauth2/v2.0/token" {
                assert_eq!(
                    form_value(&req.body, "grant_type").as_deref(),
                    Some("client_credentials")
                );
                assert_eq!(form_value(&req.body, "client_id").as_deref(), Some("app-9"));
                assert_eq!(
                    form_value(&req.body, "client_secret").as_deref(),
                    Some("s3cret+/=")
                );
                assert_eq!(
                    form_value(&req.body, "scope").as_deref(),
                    Some("https://cognitiveservices.azure.com/.default")
                );
                let mut n = counter.lock().unwrap();
                *n += 1;
                let body = format!(
                    r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"entra-{n}"}}"#
                );
                return (200, json, body.into_bytes());
            }
            assert!(
                req.path
                    .starts_with("/openai/deployments/gpt-4o/chat/completions?api-version="),
                "{}",
                req.path
            );
            if req.header("authorization") != Some("Bearer entra-1")
                || req.header("api-key").is_some()
            {
                return (401, json, br#"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}"#.to_vec());
            }
            (
                200,
                json,
                fixture("azure/chat-completion-content-filter.json"),
            )
        }),
    );
    let gw = gateway(GatewayOpts {
        env: vec![
            ("AZURE_OPENAI_ENDPOINT", format!("http://{addr}")),
            ("AZURE_TENANT_ID", "tenant-9".into()),
            ("AZURE_CLIENT_ID", "app-9".into()),
            ("AZURE_CLIENT_SECRET", "s3cret+/=".into()),
            ("AZURE_AUTHORITY_HOST", format!("http://{addr}")),
        ],
        ..Default::default()
    });
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(gw.addr, &post(CHAT, &chat("azure/gpt-4o", false), &[])).status == 200
    }));
    let r = roundtrip(gw.addr, &post(CHAT, &chat("azure/gpt-4o", false), &[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["choices"][0]
        .get("content_filter_results")
        .is_some());
    assert_eq!(
        *issued.lock().unwrap(),
        1,
        "one token serves until near expiry"
    );
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.header("authorization") == Some("Bearer entra-1")));
}
