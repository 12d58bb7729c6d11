//! What the providers' request tests share: reading a translated body back,
//! expecting a bad request that writes nothing, and the claims every
//! provider's `translate_request` owes, checked for each in one table.

use serde_json::{json, Value};

use super::{RequestInfo, TranslateError};
use crate::providers::{anthropic, bedrock, cohere, gemini};

/// A provider's `translate_request`, upstream model fixed where it takes one.
type Translate = fn(&[u8], &mut Vec<u8>) -> Result<RequestInfo, TranslateError>;

const TRANSLATORS: [(&str, Translate); 4] = [
    ("anthropic", |body, out| {
        anthropic::translate_request(body, "m", out)
    }),
    ("bedrock", bedrock::translate_request),
    ("cohere", |body, out| {
        cohere::translate_request(body, "m", out)
    }),
    ("gemini", gemini::translate_request),
];

/// The translated body, read back as JSON, and what the client asked for.
pub(crate) fn translated(
    body: Value,
    translate: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<RequestInfo, TranslateError>,
) -> (Value, RequestInfo) {
    let mut out = Vec::new();
    let info = translate(body.to_string().as_bytes(), &mut out)
        .unwrap_or_else(|e| panic!("translate failed: {e}"));
    (serde_json::from_slice(&out).unwrap(), info)
}

/// The message of the [`TranslateError::BadRequest`] that `body` must be;
/// nothing may be written.
pub(crate) fn rejected(
    body: Value,
    translate: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<RequestInfo, TranslateError>,
) -> String {
    let mut out = Vec::new();
    match translate(body.to_string().as_bytes(), &mut out) {
        Err(TranslateError::BadRequest(msg)) => {
            assert!(out.is_empty(), "output written on failure");
            msg
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

/// A user message.
pub(crate) fn user(text: &str) -> Value {
    json!({"role":"user","content":text})
}

#[test]
fn stream_and_include_usage_are_reported() {
    for (provider, translate) in TRANSLATORS {
        for (extra, stream, include_usage) in [
            (json!({}), false, false),
            (json!({"stream":true}), true, false),
            (
                json!({"stream":true,"stream_options":{"include_usage":true}}),
                true,
                true,
            ),
        ] {
            let mut body = json!({"model":"x","messages":[user("hi")]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let (_, info) = translated(body, translate);
            let want = RequestInfo {
                stream,
                include_usage,
            };
            assert_eq!(info, want, "{provider} {extra}");
        }
    }
}

#[test]
fn garbage_is_bad_request_and_writes_nothing() {
    for body in [
        &b""[..],
        b"null",
        b"not json",
        b"{",
        b"[]",
        b"\xff\xfe",
        br#"{"messages":5}"#,
        br#"{"messages":"hi"}"#,
        br#"{"messages":[{"role":"wizard","content":"x"}]}"#,
        br#"{"messages":[{"role":"user","content":5}]}"#,
        br#"{"messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
        br#"{"messages":[{"role":"user","content":[{"type":"input_audio"}]}]}"#,
        br#"{"messages":[{"role":"user","content":"x"}],"stop":5}"#,
        br#"{"messages":[{"role":"user","content":"x"}],"n":-1}"#,
        br#"{"messages":[{"role":"tool","content":"x"}]}"#,
    ] {
        for (provider, translate) in TRANSLATORS {
            let mut out = Vec::new();
            let r = translate(body, &mut out);
            let body = String::from_utf8_lossy(body);
            assert!(
                matches!(r, Err(TranslateError::BadRequest(_))),
                "{provider}: {body}"
            );
            assert!(out.is_empty(), "{provider}: {body}");
        }
    }
}

#[test]
fn more_than_one_choice_is_bad_request_naming_the_provider() {
    for (provider, translate) in TRANSLATORS {
        let msg = rejected(json!({"messages":[user("hi")],"n":2}), translate);
        assert!(msg.contains("n=2") && msg.contains(provider), "{msg}");
        translated(json!({"messages":[user("hi")],"n":1}), translate);
        let msg = rejected(json!({"messages":[user("hi")],"n":"2"}), translate);
        assert!(msg.contains("invalid chat request"), "{provider}: {msg}");
    }
}
