//! Inbound dialects end to end: Anthropic Messages and OpenAI Responses
//! requests into the real gateway, to a provider of the same format (bytes
//! through) and to others (through the chat hub), answered in the client's
//! shapes, errors included.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const MESSAGES: &str = "/v1/messages";
const RESPONSES: &str = "/v1/responses";
const GATEWAY_KEY: &str = "rb-dialects-key";

/// A gateway with `chat` (OpenAI-shaped mock upstream), `anth` (Anthropic),
/// `openai` (OpenAI itself, which has the Responses API) and `busy` (every
/// answer 429) providers, and the built-in mock.
struct Setup {
    gw: Proc,
    chat: Proc,
    anth: Proc,
    openai: Proc,
    _busy: Proc,
}

fn setup() -> Setup {
    let chat = mock_provider(&[]);
    let anth = mock_provider(&[]);
    let busy = mock_provider(&["--status", "429"]);
    let openai = mock_provider(&[]);
    let gw = gateway(GatewayOpts {
        config: Some(format!(
            r#"env_providers = false
[retries]
attempts = 1
[providers.chat]
kind = "openai-compatible"
base_url = "http://{}/v1"
[providers.anth]
kind = "anthropic"
base_url = "http://{}"
keys = ["sk-ant-test-0123456789"]
[providers.busy]
kind = "openai-compatible"
base_url = "http://{}/v1"
[providers.openai]
base_url = "http://{}/v1"
keys = ["sk-openai-test-0123456789"]
"#,
            chat.addr, anth.addr, busy.addr, openai.addr
        )),
        env: vec![("RINGBRIDGE_API_KEYS", GATEWAY_KEY.to_string())],
        ..Default::default()
    });
    assert!(eventually(Duration::from_secs(10), || {
        roundtrip(
            gw.addr,
            &get("/v1/models", &[("authorization", "Bearer rb-dialects-key")]),
        )
        .text()
        .contains("\"chat/")
    }));
    for mock in [&chat, &anth, &openai] {
        roundtrip(mock.addr, &post("/__reset_stats", "", &[]));
    }
    Setup {
        gw,
        chat,
        anth,
        openai,
        _busy: busy,
    }
}

fn anthropic(s: &Setup, path: &str, body: &Value) -> Resp {
    roundtrip(
        s.gw.addr,
        &post(
            path,
            &body.to_string(),
            &[
                ("x-api-key", GATEWAY_KEY),
                ("anthropic-version", "2023-06-01"),
            ],
        ),
    )
}

fn responses(s: &Setup, body: &Value) -> Resp {
    roundtrip(
        s.gw.addr,
        &post(
            RESPONSES,
            &body.to_string(),
            &[("authorization", "Bearer rb-dialects-key")],
        ),
    )
}

fn upstream_requests(mock: &Proc) -> u64 {
    mock_stats(mock)["requests"].as_u64().unwrap_or(0)
}

/// `(event name, data)` of each server-sent event.
fn events(body: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_string();
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("event without data: {e:?}"));
            (name, serde_json::from_str(data).unwrap())
        })
        .collect()
}

fn messages_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Say hello"}],
    })
}

#[test]
fn anthropic_messages_to_every_kind_of_provider() {
    let s = setup();
    for model in ["mock/echo", "chat/gpt-4o-mini", "anth/claude-haiku"] {
        let r = anthropic(&s, MESSAGES, &messages_body(model, false));
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let v = r.json();
        assert_eq!(v["type"], "message", "{model}: {v}");
        assert_eq!(v["role"], "assistant");
        assert!(v["id"].as_str().unwrap().starts_with("msg_"), "{v}");
        // Through the hub the answer names the model as asked; as bytes,
        // as the upstream named it (like OpenAI pass-through).
        let named = model.strip_prefix("anth/").unwrap_or(model);
        assert_eq!(v["model"], named, "{v}");
        assert_eq!(v["content"][0]["type"], "text", "{model}: {v}");
        assert!(!v["content"][0]["text"].as_str().unwrap().is_empty());
        assert!(v["stop_reason"].is_string(), "{v}");
        assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0, "{v}");
    }
    // The Anthropic provider got the body as bytes, its model rewritten.
    assert_eq!(upstream_requests(&s.anth), 1);
    assert_eq!(upstream_requests(&s.chat), 1);
}

#[test]
fn anthropic_streams_follow_the_event_grammar() {
    let s = setup();
    for model in ["mock/echo", "chat/gpt-4o-mini", "anth/claude-haiku"] {
        let r = anthropic(&s, "/anthropic/v1/messages", &messages_body(model, true));
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream"));
        let evs = events(&r.body);
        let names: Vec<&str> = evs
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "ping")
            .collect();
        assert_eq!(names.first(), Some(&"message_start"), "{model}: {names:?}");
        assert_eq!(names.last(), Some(&"message_stop"), "{model}: {names:?}");
        assert!(names.contains(&"content_block_delta"), "{model}: {names:?}");
        let mut text = String::new();
        for (name, data) in &evs {
            assert_eq!(data["type"], name.as_str(), "{model}: {data}");
            if data["delta"]["type"] == "text_delta" {
                text.push_str(data["delta"]["text"].as_str().unwrap());
            }
        }
        assert!(!text.is_empty(), "{model}");
        let delta = evs.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert!(delta.1["delta"]["stop_reason"].is_string(), "{model}");
        assert!(delta.1["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }
}

#[test]
fn anthropic_tools_come_back_as_tool_use_blocks() {
    let s = setup();
    let body = json!({
        "model": "mock/echo",
        "max_tokens": 64,
        "tools": [{"name": "get_weather", "description": "Weather in a city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    });
    let r = anthropic(&s, MESSAGES, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    let block = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use block: {v}"));
    assert_eq!(block["name"], "get_weather");
    assert!(block["input"].is_object());

    // The tool's result goes back as a tool message; the turn finishes.
    let id = block["id"].as_str().unwrap();
    let follow_up = json!({
        "model": "mock/echo",
        "max_tokens": 64,
        "tools": body["tools"],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "18C, sunny"}]},
        ],
    });
    let r = anthropic(&s, MESSAGES, &follow_up);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["stop_reason"], "end_turn", "{}", r.text());
}

#[test]
fn anthropic_errors_are_in_anthropics_shape_and_stop_before_the_upstream() {
    let s = setup();
    let shape = |r: &Resp, status: u16, kind: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = r.json();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    };
    let missing_max =
        json!({"model": "chat/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    shape(
        &anthropic(&s, MESSAGES, &missing_max),
        400,
        "invalid_request_error",
    );
    let server_tool = json!({
        "model": "chat/gpt-4o-mini", "max_tokens": 10,
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "hi"}],
    });
    shape(
        &anthropic(&s, MESSAGES, &server_tool),
        400,
        "invalid_request_error",
    );
    let r = roundtrip(
        s.gw.addr,
        &post(MESSAGES, "{not json", &[("x-api-key", GATEWAY_KEY)]),
    );
    shape(&r, 400, "invalid_request_error");
    assert_eq!(
        upstream_requests(&s.chat),
        0,
        "nothing invalid went upstream"
    );
    shape(
        &anthropic(&s, MESSAGES, &messages_body("nowhere/model", false)),
        404,
        "not_found_error",
    );
    let r = roundtrip(
        s.gw.addr,
        &post(
            MESSAGES,
            &messages_body("chat/x", false).to_string(),
            &[("x-api-key", "wrong")],
        ),
    );
    shape(&r, 401, "authentication_error");
    // An upstream 429 from an OpenAI-shaped provider is Anthropic's rate limit error.
    let r = anthropic(&s, MESSAGES, &messages_body("busy/gpt-4o-mini", false));
    shape(&r, 429, "rate_limit_error");
}

#[test]
fn count_tokens_is_estimated_off_anthropic() {
    let s = setup();
    let body = json!({"model": "chat/gpt-4o-mini", "messages": [{"role": "user", "content": "How many tokens is this sentence?"}]});
    let r = anthropic(&s, "/v1/messages/count_tokens", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-ringbridge-token-count"), Some("estimate"));
    let n = r.json()["input_tokens"].as_u64().unwrap();
    assert!((5..100).contains(&n), "{n}");
    assert_eq!(upstream_requests(&s.chat), 0);
}

#[test]
fn responses_to_chat_providers_whole_and_streamed() {
    let s = setup();
    for model in ["mock/echo", "chat/gpt-4o-mini"] {
        let r = responses(
            &s,
            &json!({"model": model, "input": "Say hello", "instructions": "Be brief."}),
        );
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let v = r.json();
        assert_eq!(v["object"], "response", "{v}");
        assert_eq!(v["status"], "completed", "{v}");
        let message = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "message")
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(message["content"][0]["type"], "output_text");
        assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0, "{v}");

        let r = responses(
            &s,
            &json!({"model": model, "input": "Say hello", "stream": true}),
        );
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let evs = events(&r.body);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"response.created"), "{names:?}");
        assert_eq!(names.last(), Some(&"response.completed"), "{names:?}");
        assert!(names.contains(&"response.output_text.delta"), "{names:?}");
        let mut last = -1i64;
        for (_, data) in &evs {
            let n = data["sequence_number"].as_i64().unwrap();
            assert!(n > last, "sequence numbers increase");
            last = n;
        }
    }
}

#[test]
fn responses_refuse_what_only_a_storing_provider_can_do() {
    let s = setup();
    let r = responses(
        &s,
        &json!({"model": "chat/gpt-4o-mini", "input": "hi", "previous_response_id": "resp_1"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("previous_response_id"));
    assert_eq!(upstream_requests(&s.chat), 0);
}

#[test]
fn raw_paths_reach_the_provider_as_they_are() {
    let s = setup();
    let auth = [("x-api-key", GATEWAY_KEY)];
    let r = roundtrip(s.gw.addr, &get("/anthropic/v1/models?limit=5", &auth));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["data"].is_array(), "{}", r.text());
    assert_eq!(r.header("x-ringbridge-provider"), Some("anth"));
    // Errors are relayed as the provider sent them, not retried or reshaped.
    let r = roundtrip(
        s.gw.addr,
        &post("/anthropic/v1/messages/batches", "{}", &auth),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(upstream_requests(&s.anth), 2);
    // Gateway auth applies, in the family's error shape.
    let r = roundtrip(s.gw.addr, &get("/anthropic/v1/models", &[]));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["type"], "error");
    // No provider for the prefix: a clear 404.
    let r = roundtrip(s.gw.addr, &get("/cohere/v2/models", &auth));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("cohere"), "{}", r.text());
    assert!(metric_eventually(s.gw.addr, |l| l.contains("endpoint=\"raw\"")));
}

#[test]
fn responses_go_to_openai_as_bytes_stored_state_included() {
    let s = setup();
    let body = json!({"model": "openai/gpt-5", "input": "hi", "previous_response_id": "resp_prev"});
    let r = responses(&s, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    // The upstream's own answer, its model as it named it.
    assert_eq!(v["id"], "resp_mock", "{v}");
    assert_eq!(v["model"], "gpt-5", "{v}");
    assert_eq!(v["previous_response_id"], "resp_prev", "{v}");
    let r = responses(
        &s,
        &json!({"model": "openai/gpt-5", "input": "hi", "stream": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<String> = events(&r.body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.last().map(String::as_str), Some("response.completed"));
    assert_eq!(upstream_requests(&s.openai), 2);
    assert_eq!(upstream_requests(&s.chat), 0);
}

#[test]
fn gemini_errors_are_in_googles_shape() {
    let s = setup();
    let auth = [("x-goog-api-key", GATEWAY_KEY)];
    let path = "/genai/v1beta/models/chat/gpt-4o-mini:generateContent";
    for (body, status) in [
        ("{not json", 400),
        (r#"{"contents":[]}"#, 400),
        (
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}"#,
            400,
        ),
    ] {
        let r = roundtrip(s.gw.addr, &post(path, body, &auth));
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], status, "{v}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{v}");
    }
    assert_eq!(upstream_requests(&s.chat), 0);
    let r = roundtrip(
        s.gw.addr,
        &post(
            "/genai/v1beta/models/nowhere/x:generateContent",
            r#"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            &auth,
        ),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["status"], "NOT_FOUND");
    let ok = roundtrip(
        s.gw.addr,
        &post(
            "/genai/v1beta/models/chat/gpt-4o-mini:streamGenerateContent?alt=sse",
            r#"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            &auth,
        ),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let array = roundtrip(
        s.gw.addr,
        &post(
            "/genai/v1beta/models/chat/gpt-4o-mini:streamGenerateContent",
            r#"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            &auth,
        ),
    );
    assert_eq!(array.status, 200, "{}", array.text());
    let pieces = array.json();
    assert!(pieces.as_array().unwrap().len() > 1, "{pieces}");
}

#[test]
fn a_stream_cut_upstream_ends_in_each_dialects_failure_event() {
    let cut = mock_provider(&["--fail-mix", "cut:1", "--chunks", "10"]);
    let gw = gateway_with(&format!(
        "env_providers = false\n[retries]\nattempts = 1\n[providers.cut]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\n",
        cut.addr
    ));
    let ask = |path: &str, body: Value| {
        let r = roundtrip(gw.addr, &post(path, &body.to_string(), &[]));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r
    };
    let r = ask(
        MESSAGES,
        json!({"model": "cut/m", "max_tokens": 64, "stream": true,
               "messages": [{"role": "user", "content": "hi"}]}),
    );
    let evs = events(&r.body);
    assert_eq!(evs.first().unwrap().0, "message_start");
    let (name, last) = evs.last().unwrap();
    assert_eq!(name, "error", "{}", r.text());
    assert_eq!(last["type"], "error");
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("interrupted"));

    let r = ask(
        RESPONSES,
        json!({"model": "cut/m", "input": "hi", "stream": true}),
    );
    let evs = events(&r.body);
    let (name, last) = evs.last().unwrap();
    assert_eq!(name, "response.failed", "{}", r.text());
    assert_eq!(last["response"]["status"], "failed");

    let r = ask(
        "/genai/v1beta/models/cut/m:streamGenerateContent?alt=sse",
        json!({"contents": [{"parts": [{"text": "hi"}]}]}),
    );
    // Gemini frames its events with CRLF.
    let text = r.text();
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back();
    let last: Value = serde_json::from_str(last.unwrap().trim_end()).unwrap();
    assert!(
        last["error"]["code"].as_u64().unwrap_or(0) >= 500,
        "{}",
        r.text()
    );
}
