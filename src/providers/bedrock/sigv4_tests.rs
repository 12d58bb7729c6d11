//! SigV4 against the AWS test-suite vectors in `$RINGBRIDGE_FIXTURES/bedrock/`
//! (read in place), plus the Bedrock-specific double encoding.

use serde_json::Value;

use super::super::golden_tests::read_fixture;
use super::*;

/// The AWS suite cases present in the fixtures.
const SUITE_CASES: &[&str] = &["post-vanilla", "get-utf8", "get-vanilla-with-session-token"];

struct Case {
    method: String,
    path: String,
    query: String,
    host: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    creds: Credentials,
    region: String,
    service: String,
    amz_date: String,
}

fn text(case: &str, part: &str) -> String {
    String::from_utf8(read_fixture(&format!("sigv4-{case}.{part}"))).unwrap()
}

fn load(case: &str) -> Case {
    let ctx: Value = serde_json::from_str(&text(case, "context.json")).unwrap();
    let request = text(case, "request.txt");
    let (head, body) = request.split_once("\n\n").unwrap_or((&request, ""));
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut host = String::new();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("host") {
            host = value.to_owned();
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let c = &ctx["credentials"];
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Case {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        host,
        headers,
        body: body.as_bytes().to_vec(),
        creds: Credentials {
            access_key_id: s(&c["access_key_id"]),
            secret_access_key: s(&c["secret_access_key"]),
            session_token: c["token"].as_str().map(str::to_owned),
        },
        region: s(&ctx["region"]),
        service: s(&ctx["service"]),
        // 2015-08-30T12:36:00Z → 20150830T123600Z
        amz_date: s(&ctx["timestamp"]).replace(['-', ':'], ""),
    }
}

fn sign_case(c: &Case) -> SignedHeaders {
    let headers: Vec<(&str, &str)> = c
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    sign(
        &c.method,
        &c.host,
        &c.path,
        &c.query,
        &headers,
        &c.body,
        &c.creds,
        &c.region,
        &c.service,
        &c.amz_date,
    )
}

#[test]
fn suite_vectors_reproduce_every_step_exactly() {
    for name in SUITE_CASES {
        let c = load(name);
        let mut all: Vec<(&str, &str)> = vec![("host", &c.host), ("x-amz-date", &c.amz_date)];
        if let Some(t) = &c.creds.session_token {
            all.push(("x-amz-security-token", t));
        }
        all.extend(c.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let canonical = canonical_request(&c.method, &c.path, &c.query, &all, &hex_sha256(&c.body));
        assert_eq!(
            canonical.text,
            text(name, "canonical-request.txt"),
            "{name}"
        );

        let scope = credential_scope(&c.amz_date, &c.region, &c.service);
        let to_sign = string_to_sign(&c.amz_date, &scope, &canonical.text);
        assert_eq!(to_sign, text(name, "string-to-sign.txt"), "{name}");

        let sig = signature(
            &c.creds.secret_access_key,
            &c.amz_date[..8],
            &c.region,
            &c.service,
            &to_sign,
        );
        assert_eq!(sig, text(name, "signature.txt").trim_end(), "{name}");

        let signed = sign_case(&c);
        let expected_request = text(name, "signed-request.txt");
        let header = |h: &str| {
            expected_request
                .lines()
                .find_map(|l| l.strip_prefix(h))
                .map(str::to_owned)
        };
        assert_eq!(
            Some(signed.authorization.clone()),
            header("Authorization:"),
            "{name}"
        );
        assert_eq!(
            Some(signed.x_amz_date.clone()),
            header("X-Amz-Date:"),
            "{name}"
        );
        assert_eq!(
            signed.x_amz_security_token,
            header("X-Amz-Security-Token:"),
            "{name}"
        );
        assert_eq!(signed.x_amz_content_sha256, hex_sha256(&c.body));
    }
}

#[test]
fn bedrock_model_id_colon_is_double_encoded_in_canonical_uri() {
    let path = crate::providers::bedrock::request_path("anthropic.claude-3:0", false);
    assert_eq!(path, "/model/anthropic.claude-3%3A0/converse");
    assert_eq!(
        canonical_uri(&path),
        "/model/anthropic.claude-3%253A0/converse"
    );
    let creds = Credentials {
        access_key_id: "AKID".into(),
        secret_access_key: "secret".into(),
        session_token: None,
    };
    let signed = sign(
        "POST",
        "bedrock-runtime.us-east-1.amazonaws.com",
        &path,
        "",
        &[("content-type", "application/json")],
        b"{}",
        &creds,
        "us-east-1",
        "bedrock",
        "20240101T000000Z",
    );
    assert!(signed.authorization.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature="
    ));
}

#[test]
fn canonical_uri_normalises_dot_segments_and_keeps_slashes() {
    for (path, want) in [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c", "/a/c"),
        ("/a/b/", "/a/b/"),
        ("/a b", "/a%20b"),
        ("/~x-_.y", "/~x-_.y"),
    ] {
        assert_eq!(canonical_uri(path), want, "{path:?}");
    }
}

#[test]
fn canonical_query_sorts_and_encodes_once() {
    assert_eq!(canonical_query(""), "");
    assert_eq!(canonical_query("b=2&a=z%20y&a=x&c"), "a=x&a=z%20y&b=2&c=");
    assert_eq!(canonical_query("k=%zz"), "k=%25zz");
}

#[test]
fn header_values_are_trimmed_and_duplicates_joined() {
    let c = canonical_request(
        "GET",
        "/",
        "",
        &[
            ("My-Header", "  a   b  "),
            ("host", "h"),
            ("my-header", "c"),
        ],
        "00",
    );
    assert_eq!(
        c.text,
        "GET\n/\n\nhost:h\nmy-header:a b,c\n\nhost;my-header\n00"
    );
    assert_eq!(c.signed_headers, "host;my-header");
}

#[test]
fn debug_output_redacts_secrets() {
    let creds = Credentials {
        access_key_id: "AKID".into(),
        secret_access_key: "very-secret".into(),
        session_token: Some("token-secret".into()),
    };
    let shown = format!("{creds:?}");
    assert!(shown.contains("AKID"));
    assert!(
        !shown.contains("very-secret") && !shown.contains("token-secret"),
        "{shown}"
    );
}
