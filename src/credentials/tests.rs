use std::cell::RefCell;
use std::process::Command;

use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

use super::google::GoogleCredentials;
use super::*;

/// A PKCS#8 RSA key and its public half (DER `RSAPublicKey`), made by openssl.
fn rsa_key() -> (String, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("rb-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.pem");
    let pubkey = dir.join("pub.der");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command is needed for this test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "rsa",
        "-in",
        key.to_str().unwrap(),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        pubkey.to_str().unwrap(),
    ]);
    let pem = std::fs::read_to_string(&key).unwrap();
    let der = std::fs::read(&pubkey).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (pem, der)
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url: {c}"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s.as_bytes() {
        acc = (acc << 6) | u32::from(val(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn form_value(form: &str, key: &str) -> String {
    let raw = form
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing from {form}"));
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn service_account_assertion_is_an_rs256_jwt_google_can_verify() {
    let (pem, public_der) = rsa_key();
    let file = serde_json::json!({
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "kid-9",
        "private_key": pem,
        "client_email": "gw@proj-1.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.example.test/token",
    });
    let creds = GoogleCredentials::parse(&file.to_string()).unwrap();
    assert_eq!(creds.project(), Some("proj-1"));
    assert_eq!(creds.token_uri(), "https://oauth2.example.test/token");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let form = creds.token_request(now).unwrap();
    assert_eq!(
        form_value(&form, "grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let jwt = form_value(&form, "assertion");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&b64url_decode(parts[0])).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "kid-9"})
    );
    let claims: serde_json::Value = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    assert_eq!(
        claims,
        serde_json::json!({
            "iss": "gw@proj-1.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.example.test/token",
            "iat": 1_700_000_000u64,
            "exp": 1_700_003_600u64,
        })
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_der)
        .verify(signed.as_bytes(), &b64url_decode(parts[2]))
        .expect("signature verifies with the key's public half");
    // Tampered claims fail.
    let forged = format!("{}.{}x", parts[0], parts[1]);
    assert!(
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_der)
            .verify(forged.as_bytes(), &b64url_decode(parts[2]))
            .is_err()
    );
}

#[test]
fn authorized_user_files_use_the_refresh_token_grant() {
    let file = r#"{"type":"authorized_user","client_id":"cid.apps","client_secret":"shh",
        "refresh_token":"1//rt","quota_project_id":"billing-7"}"#;
    let creds = GoogleCredentials::parse(file).unwrap();
    assert_eq!(creds.project(), Some("billing-7"));
    assert_eq!(creds.token_uri(), google::DEFAULT_TOKEN_URI);
    let form = creds.token_request(SystemTime::now()).unwrap();
    assert_eq!(form_value(&form, "grant_type"), "refresh_token");
    assert_eq!(form_value(&form, "client_id"), "cid.apps");
    assert_eq!(form_value(&form, "client_secret"), "shh");
    assert_eq!(form_value(&form, "refresh_token"), "1//rt");
    assert!(!format!("{creds:?}").contains("shh"), "Debug hides secrets");
}

#[test]
fn bad_credentials_files_name_the_problem_not_the_secret() {
    let cases = [
        ("[]", "not a Google credentials JSON file"),
        (r#"{"client_email":"x"}"#, "no `type`"),
        (
            r#"{"type":"external_account"}"#,
            "\"external_account\" is not supported",
        ),
        (
            r#"{"type":"service_account","client_email":"x"}"#,
            "no `private_key`",
        ),
        (
            r#"{"type":"service_account","client_email":"x","private_key":"TOPSECRET"}"#,
            "PKCS#8",
        ),
        (
            r#"{"type":"authorized_user","client_id":"c","client_secret":"TOPSECRET"}"#,
            "no `refresh_token`",
        ),
    ];
    for (json, want) in cases {
        let err = GoogleCredentials::parse(json).unwrap_err();
        assert!(err.contains(want), "{json}: {err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
    }
}

#[test]
fn token_responses_parse_and_errors_carry_the_oauth_error() {
    let ok = parse_token_response(
        200,
        br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#,
    )
    .unwrap();
    assert_eq!(ok.access_token, "ya29.x");
    assert_eq!(ok.expires_in, Duration::from_secs(3599));
    let azure_v1 =
        parse_token_response(200, br#"{"access_token":"ey.J","expires_in":"3600"}"#).unwrap();
    assert_eq!(azure_v1.expires_in, Duration::from_secs(3600));
    let err = parse_token_response(
        400,
        br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "token endpoint answered 400 (invalid_grant: Invalid JWT Signature.)"
    );
    let err = parse_token_response(503, b"<html>").unwrap_err();
    assert!(err.contains("503"), "{err}");
    assert!(parse_token_response(200, br#"{"expires_in":10}"#)
        .unwrap_err()
        .contains("access_token"));
    assert!(
        parse_token_response(200, b"{\"access_token\":\"a\\r\\nb\",\"expires_in\":10}").is_err(),
        "header injection refused"
    );
    assert!(parse_token_response(200, br#"{"access_token":"t"}"#)
        .unwrap_err()
        .contains("expires_in"));
    let long = format!(
        r#"{{"error":"e","error_description":"{}"}}"#,
        "x".repeat(2000)
    );
    assert!(
        parse_token_response(401, long.as_bytes())
            .unwrap_err()
            .chars()
            .count()
            <= MAX_PROBLEM_CHARS + 1
    );
}

type Answer = Result<(u16, Vec<u8>), String>;

/// Answers token requests from a script and records them.
struct Scripted {
    answers: RefCell<Vec<Answer>>,
    seen: RefCell<Vec<(String, String)>>,
}

impl Scripted {
    fn new(answers: Vec<Answer>) -> Self {
        Self {
            answers: RefCell::new(answers.into_iter().rev().collect()),
            seen: RefCell::new(Vec::new()),
        }
    }
}

impl TokenTransport for Scripted {
    fn post_form(&self, origin: &Origin, path: &str, form: &str) -> Result<(u16, Vec<u8>), String> {
        self.seen
            .borrow_mut()
            .push((format!("{}{path}", origin.key), form.to_owned()));
        self.answers
            .borrow_mut()
            .pop()
            .expect("an unexpected token request")
    }
}

fn token(name: &str, secs: u64) -> Answer {
    Ok((
        200,
        format!(r#"{{"access_token":"{name}","expires_in":{secs}}}"#).into_bytes(),
    ))
}

fn azure_source() -> TokenSource {
    let creds = azure::ClientCredentials {
        authority_host: "http://127.0.0.1:9".into(),
        tenant_id: "t1".into(),
        client_id: "c1".into(),
        client_secret: crate::credentials::Secret::new("s1"),
    };
    TokenSource {
        url: BaseUrl {
            scheme: crate::http::url::Scheme::Http,
            host: "127.0.0.1".into(),
            port: 9,
            path: "/t1/oauth2/v2.0/token".into(),
        },
        grant: Grant::Azure(creds),
    }
}

fn header(slot: &TokenSlot) -> Option<String> {
    let mut out = Vec::new();
    slot.push_header(&mut out)
        .then(|| String::from_utf8(out).unwrap())
}

#[test]
fn refresher_publishes_refreshes_early_and_survives_failures_until_expiry() {
    let t0 = Instant::now();
    let slot = Arc::new(TokenSlot::default());
    let mut r = Refresher::new("azure", azure_source(), slot.clone(), t0);
    assert!(header(&slot).is_none());
    assert!(slot.problem().contains("fetched yet"));

    let transport = Scripted::new(vec![
        token("first", 3600),
        Err("connect failed".into()),
        Err("connect failed".into()),
        token("second", 120),
        Err("timeout".into()),
    ]);
    r.refresh(t0, SystemTime::now(), &transport);
    assert_eq!(
        header(&slot).as_deref(),
        Some("Authorization: Bearer first\r\n")
    );
    let (url, form) = transport.seen.borrow()[0].clone();
    assert_eq!(url, "http://127.0.0.1:9/t1/oauth2/v2.0/token");
    assert!(form.starts_with("grant_type=client_credentials&client_id=c1&client_secret=s1"));

    // Not due again until five minutes before expiry.
    assert!(!r.is_due(t0 + Duration::from_secs(3299)));
    let t1 = t0 + Duration::from_secs(3300);
    assert!(r.is_due(t1));
    r.refresh(t1, SystemTime::now(), &transport);
    // The refresh failed but the token is still valid: keep it, retry in 1 s, then 2 s.
    assert_eq!(
        header(&slot).as_deref(),
        Some("Authorization: Bearer first\r\n")
    );
    assert!(slot.problem().contains("connect failed"));
    assert!(!r.is_due(t1 + Duration::from_millis(999)));
    r.refresh(t1 + Duration::from_secs(1), SystemTime::now(), &transport);
    assert!(!r.is_due(t1 + Duration::from_millis(2999)));
    let t2 = t1 + Duration::from_secs(3);
    r.refresh(t2, SystemTime::now(), &transport);
    assert_eq!(
        header(&slot).as_deref(),
        Some("Authorization: Bearer second\r\n")
    );
    // A 120 s token is refreshed at half its life.
    assert!(!r.is_due(t2 + Duration::from_secs(59)));
    assert!(r.is_due(t2 + Duration::from_secs(60)));
    // A token past its expiry is withdrawn when the refresh fails.
    r.refresh(t2 + Duration::from_secs(121), SystemTime::now(), &transport);
    assert!(header(&slot).is_none());
    assert!(slot.problem().contains("timeout"), "{}", slot.problem());
}

#[test]
fn refresher_comes_back_at_expiry_even_with_a_long_retry_delay() {
    let t0 = Instant::now();
    let slot = Arc::new(TokenSlot::default());
    let mut r = Refresher::new("azure", azure_source(), slot.clone(), t0);
    let mut answers = vec![token("short", 4)];
    answers.extend((0..10).map(|_| Err("down".to_owned())));
    let transport = Scripted::new(answers);
    r.refresh(t0, SystemTime::now(), &transport);
    let mut now = t0 + Duration::from_secs(2);
    while header(&slot).is_some() {
        assert!(
            now < t0 + Duration::from_secs(5),
            "token outlived its expiry"
        );
        if r.is_due(now) {
            r.refresh(now, SystemTime::now(), &transport);
        }
        now += Duration::from_millis(100);
    }
}
