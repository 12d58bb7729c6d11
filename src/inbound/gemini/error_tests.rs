use serde_json::{json, Value};

use super::*;

fn error(status: u16, openai_type: &str) -> Value {
    let mut out = Vec::new();
    write_error(status, openai_type, "went \"wrong\"", &mut out);
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn the_body_is_a_google_rpc_status_with_error_first() {
    let mut out = b"prefix ".to_vec();
    write_error(429, "rate_limit_error", "slow down", &mut out);
    assert_eq!(
        out,
        br#"prefix {"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}"#
    );
    assert_eq!(
        error(400, "invalid_request_error"),
        json!({"error": {"code": 400, "message": "went \"wrong\"", "status": "INVALID_ARGUMENT"}})
    );
}

#[test]
fn statuses_take_google_names() {
    for (status, name) in [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (409, "ABORTED"),
        (429, "RESOURCE_EXHAUSTED"),
        (499, "CANCELLED"),
        (500, "INTERNAL"),
        (501, "UNIMPLEMENTED"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ] {
        // The code decides, whatever type the gateway had in mind.
        assert_eq!(
            error(status, "api_error")["error"]["status"],
            name,
            "{status}"
        );
    }
}

#[test]
fn other_statuses_are_named_by_type_then_class() {
    assert_eq!(
        error(529, "overloaded_error")["error"]["status"],
        "UNAVAILABLE"
    );
    assert_eq!(
        error(413, "invalid_request_error")["error"]["status"],
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        error(418, "rate_limit_error")["error"]["status"],
        "RESOURCE_EXHAUSTED"
    );
    assert_eq!(
        error(419, "authentication_error")["error"]["status"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error(420, "permission_error")["error"]["status"],
        "PERMISSION_DENIED"
    );
    assert_eq!(
        error(410, "not_found_error")["error"]["status"],
        "NOT_FOUND"
    );
    assert_eq!(error(422, "")["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(error(502, "api_error")["error"]["status"], "INTERNAL");
    assert_eq!(error(302, "")["error"]["status"], "UNKNOWN");
    assert_eq!(error(502, "")["error"]["code"], 502);
}
