//! One test per request rule; each compares the whole translated body (or the
//! field the rule is about) as JSON values.

use super::*;
use serde_json::{json, Value};

use crate::providers::common::request_checks as checks;
use checks::user;

fn translate(body: Value) -> (Value, RequestInfo) {
    checks::translated(body, |b, out| translate_request(b, "claude-x", out))
}

fn translate_err(body: Value) -> String {
    checks::rejected(body, |b, out| translate_request(b, "claude-x", out))
}

#[test]
fn minimal_request_gets_model_and_default_max_tokens() {
    let (v, info) = translate(json!({"model":"anthropic/claude-x","messages":[user("hi")]}));
    assert_eq!(
        v,
        json!({"model":"claude-x","max_tokens":DEFAULT_MAX_TOKENS,
            "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})
    );
    assert!(!info.stream && !info.include_usage);
}

#[test]
fn max_completion_tokens_wins_over_max_tokens() {
    let (v, _) = translate(json!({"messages":[user("hi")],"max_tokens":10}));
    assert_eq!(v["max_tokens"], 10);
    let (v, _) =
        translate(json!({"messages":[user("hi")],"max_tokens":10,"max_completion_tokens":20}));
    assert_eq!(v["max_tokens"], 20);
}

#[test]
fn sampling_stop_stream_and_user_are_carried() {
    let (v, info) = translate(
        json!({"messages":[user("hi")],"temperature":0.25,"top_p":0.9,
        "stop":"END","stream":true,"stream_options":{"include_usage":true},"user":"u-1",
        "n":1,"presence_penalty":0.5,"response_format":{"type":"text"}}),
    );
    assert_eq!(v["temperature"], 0.25);
    assert_eq!(v["top_p"], 0.9);
    assert_eq!(v["stop_sequences"], json!(["END"]));
    assert_eq!(v["stream"], true);
    assert_eq!(v["metadata"], json!({"user_id":"u-1"}));
    assert!(v.get("n").is_none() && v.get("presence_penalty").is_none());
    assert!(v.get("response_format").is_none() && v.get("stream_options").is_none());
    assert!(info.stream && info.include_usage);
    let (v, _) = translate(json!({"messages":[user("hi")],"stop":["a","b"]}));
    assert_eq!(v["stop_sequences"], json!(["a", "b"]));
}

#[test]
fn system_and_developer_messages_become_top_level_system() {
    let (v, _) =
        translate(json!({"messages":[{"role":"system","content":"be brief"}, user("hi")]}));
    assert_eq!(v["system"], "be brief");
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);

    let (v, _) = translate(json!({"messages":[
        {"role":"system","content":"one"},
        {"role":"developer","content":[{"type":"text","text":"two","cache_control":{"type":"ephemeral"}}]},
        user("hi")]}));
    assert_eq!(
        v["system"],
        json!([{"type":"text","text":"one"},
            {"type":"text","text":"two","cache_control":{"type":"ephemeral"}}])
    );
}

#[test]
fn consecutive_same_role_messages_merge() {
    let (v, _) = translate(json!({"messages":[user("a"), user("b"),
        {"role":"assistant","content":"c"}, {"role":"assistant","content":"d"}, user("e")]}));
    assert_eq!(
        v["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
            {"role":"assistant","content":[{"type":"text","text":"c"},{"type":"text","text":"d"}]},
            {"role":"user","content":[{"type":"text","text":"e"}]}])
    );
}

#[test]
fn images_become_base64_or_url_sources() {
    let (v, _) = translate(json!({"messages":[{"role":"user","content":[
        {"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}));
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"type":"text","text":"what is this?"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
            {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}])
    );
}

#[test]
fn image_url_with_escaped_slashes_still_splits() {
    // JSON may escape '/' as "\/", so the url arrives owned, not borrowed.
    let body = br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image\/jpeg;base64,ab\/cd"}}]}]}"#;
    let mut out = Vec::new();
    translate_request(body, "m", &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["messages"][0]["content"][0]["source"],
        json!({"type":"base64","media_type":"image/jpeg","data":"ab/cd"})
    );
}

#[test]
fn unsupported_image_url_is_bad_request() {
    let msg = translate_err(json!({"messages":[{"role":"user","content":[
        {"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}));
    assert!(msg.contains("image_url"), "{msg}");
}

#[test]
fn assistant_tool_calls_become_tool_use_and_tool_messages_tool_results() {
    let (v, _) = translate(json!({"messages":[
        user("weather in Paris and time?"),
        {"role":"assistant","content":"Checking.","tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"},
        {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
        user("thanks")]}));
    assert_eq!(
        v["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"weather in Paris and time?"}]},
            {"role":"assistant","content":[
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"call_1","name":"weather","input":{"city":"Paris"}},
                {"type":"tool_use","id":"call_2","name":"now","input":{}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1","content":"sunny"},
                {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"noon"}]},
                {"type":"text","text":"thanks"}]}])
    );
}

#[test]
fn assistant_with_null_content_and_tool_calls_has_only_tool_use() {
    let (v, _) = translate(json!({"messages":[user("x"),
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}));
    assert_eq!(
        v["messages"][1]["content"],
        json!([{"type":"tool_use","id":"c","name":"f","input":{}}])
    );
}

#[test]
fn invalid_tool_arguments_are_bad_request() {
    for args in ["{not json", "[1,2]"] {
        let msg = translate_err(json!({"messages":[user("x"),
            {"role":"assistant","tool_calls":[
                {"id":"c","type":"function","function":{"name":"f","arguments":args}}]}]}));
        assert!(msg.contains("tool call 'c'"), "{msg}");
    }
}

#[test]
fn tools_become_input_schemas() {
    let (v, _) = translate(json!({"messages":[user("x")],"tools":[
        {"type":"function","function":{"name":"f","description":"does f",
            "parameters":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true}},
        {"type":"function","function":{"name":"g"}}]}));
    assert_eq!(
        v["tools"],
        json!([
            {"name":"f","description":"does f",
                "input_schema":{"type":"object","properties":{"a":{"type":"string"}}}},
            {"name":"g","input_schema":{"type":"object"}}])
    );
    assert!(v.get("tool_choice").is_none());
}

#[test]
fn tool_choice_variants_map() {
    let tools = json!([{"type":"function","function":{"name":"f"}}]);
    for (choice, expected) in [
        (json!("auto"), json!({"type":"auto"})),
        (json!("required"), json!({"type":"any"})),
        (json!("none"), json!({"type":"none"})),
        (
            json!({"type":"function","function":{"name":"f"}}),
            json!({"type":"tool","name":"f"}),
        ),
    ] {
        let (v, _) = translate(json!({"messages":[user("x")],"tools":tools,"tool_choice":choice}));
        assert_eq!(v["tool_choice"], expected, "{choice}");
    }
}

#[test]
fn parallel_tool_calls_false_disables_parallel_use() {
    let tools = json!([{"type":"function","function":{"name":"f"}}]);
    let (v, _) = translate(
        json!({"messages":[user("x")],"tools":tools,"tool_choice":"required","parallel_tool_calls":false}),
    );
    assert_eq!(
        v["tool_choice"],
        json!({"type":"any","disable_parallel_tool_use":true})
    );
    let (v, _) =
        translate(json!({"messages":[user("x")],"tools":tools,"parallel_tool_calls":false}));
    assert_eq!(
        v["tool_choice"],
        json!({"type":"auto","disable_parallel_tool_use":true})
    );
}

#[test]
fn unsupported_tool_type_and_choice_are_bad_request() {
    translate_err(json!({"messages":[user("x")],"tools":[{"type":"custom","custom":{}}]}));
    translate_err(json!({"messages":[user("x")],
        "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}));
}

#[test]
fn reasoning_effort_sets_thinking_budget_below_max_tokens() {
    for (effort, budget) in [("low", 1024), ("medium", 4096), ("high", 16384)] {
        let (v, _) = translate(json!({"messages":[user("x")],"reasoning_effort":effort}));
        assert_eq!(
            v["thinking"],
            json!({"type":"enabled","budget_tokens":budget})
        );
        assert!(v["max_tokens"].as_u64().unwrap() > budget, "{effort}: {v}");
    }
    let (v, _) =
        translate(json!({"messages":[user("x")],"reasoning_effort":"low","max_tokens":20000}));
    assert_eq!(v["max_tokens"], 20000);
    let (v, _) = translate(json!({"messages":[user("x")],"reasoning_effort":"minimal"}));
    assert!(v.get("thinking").is_none());
    translate_err(json!({"messages":[user("x")],"reasoning_effort":"extreme"}));
}

#[test]
fn explicit_thinking_passes_through_and_wins() {
    let (v, _) = translate(json!({"messages":[user("x")],"reasoning_effort":"high",
        "thinking":{"type":"enabled","budget_tokens":8000},"max_tokens":1000}));
    assert_eq!(
        v["thinking"],
        json!({"type":"enabled","budget_tokens":8000})
    );
    assert_eq!(v["max_tokens"], 9000);
}

#[test]
fn missing_or_empty_messages_are_bad_request() {
    assert!(translate_err(json!({"model":"m"})).contains("messages"));
    assert!(translate_err(json!({"messages":[]})).contains("messages"));
    assert!(
        translate_err(json!({"messages":[{"role":"system","content":"s"}]})).contains("messages")
    );
}
