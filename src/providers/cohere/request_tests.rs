//! One test per request rule; each compares the whole translated body (or the
//! field the rule is about) as JSON values.

use super::*;
use serde_json::{json, Value};

use crate::providers::common::request_checks as checks;
use checks::user;

fn translate(body: Value) -> (Value, RequestInfo) {
    checks::translated(body, |b, out| translate_request(b, "command-a", out))
}

fn translate_err(body: Value) -> String {
    checks::rejected(body, |b, out| translate_request(b, "command-a", out))
}

#[test]
fn minimal_request_gets_upstream_model_and_nothing_else() {
    let (v, info) = translate(json!({"model":"cohere/command-a","messages":[user("hi")]}));
    assert_eq!(
        v,
        json!({"model":"command-a","messages":[{"role":"user","content":"hi"}]})
    );
    assert!(!info.stream && !info.include_usage);
}

#[test]
fn stream_and_include_usage_are_reported() {
    let (v, info) = translate(
        json!({"messages":[user("hi")],"stream":true,"stream_options":{"include_usage":true}}),
    );
    assert_eq!(v["stream"], true);
    assert!(v.get("stream_options").is_none());
    assert!(info.stream && info.include_usage);
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
fn sampling_fields_are_carried_and_top_p_becomes_p() {
    let (v, _) = translate(
        json!({"messages":[user("hi")],"temperature":0.25,"top_p":0.9,
        "seed":7,"frequency_penalty":0.1,"presence_penalty":0.5}),
    );
    assert_eq!(v["temperature"], 0.25);
    assert_eq!(v["p"], 0.9);
    assert!(v.get("top_p").is_none());
    assert_eq!(v["seed"], 7);
    assert_eq!(v["frequency_penalty"], 0.1);
    assert_eq!(v["presence_penalty"], 0.5);
}

#[test]
fn stop_string_or_array_becomes_stop_sequences() {
    let (v, _) = translate(json!({"messages":[user("hi")],"stop":"END"}));
    assert_eq!(v["stop_sequences"], json!(["END"]));
    let (v, _) = translate(json!({"messages":[user("hi")],"stop":["a","b"]}));
    assert_eq!(v["stop_sequences"], json!(["a", "b"]));
    let (v, _) = translate(json!({"messages":[user("hi")],"stop":null}));
    assert!(v.get("stop_sequences").is_none());
}

#[test]
fn unknown_fields_are_dropped() {
    let (v, _) = translate(
        json!({"messages":[user("hi")],"n":1,"user":"u-1","logit_bias":{},
        "parallel_tool_calls":true,"metadata":{"a":"b"}}),
    );
    assert_eq!(
        v,
        json!({"model":"command-a","messages":[{"role":"user","content":"hi"}]})
    );
}

#[test]
fn system_and_developer_messages_stay_in_place_as_system() {
    let (v, _) = translate(json!({"messages":[
        {"role":"system","content":"be brief"},
        {"role":"developer","content":[{"type":"text","text":"two"}]},
        user("hi")]}));
    assert_eq!(
        v["messages"],
        json!([{"role":"system","content":"be brief"},
            {"role":"system","content":[{"type":"text","text":"two"}]},
            {"role":"user","content":"hi"}])
    );
}

#[test]
fn image_parts_become_cohere_image_url_parts() {
    let (v, _) = translate(json!({"messages":[{"role":"user","content":[
        {"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}));
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"type":"text","text":"what is this?"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}])
    );
}

#[test]
fn images_outside_user_messages_and_unknown_parts_are_bad_requests() {
    let msg = translate_err(json!({"messages":[{"role":"system","content":[
        {"type":"image_url","image_url":{"url":"https://x/y.png"}}]}, user("hi")]}));
    assert!(msg.contains("image_url"), "{msg}");
    let msg = translate_err(json!({"messages":[{"role":"user","content":[
        {"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}));
    assert!(msg.contains("input_audio"), "{msg}");
}

#[test]
fn assistant_tool_calls_and_tool_messages_map_one_to_one() {
    let (v, _) = translate(json!({"messages":[
        user("weather in Paris and time?"),
        {"role":"assistant","content":null,"reasoning_content":"I will check.","tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"},
        {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
        {"role":"assistant","content":"Sunny at noon."}]}));
    assert_eq!(
        v["messages"],
        json!([
            {"role":"user","content":"weather in Paris and time?"},
            {"role":"assistant","tool_plan":"I will check.","tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"sunny"},
            {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
            {"role":"assistant","content":"Sunny at noon."}])
    );
}

#[test]
fn tool_message_without_tool_call_id_is_bad_request() {
    let msg = translate_err(json!({"messages":[user("a"),{"role":"tool","content":"x"}]}));
    assert!(msg.contains("tool_call_id"), "{msg}");
}

#[test]
fn function_tools_pass_through_and_other_tool_types_are_rejected() {
    let function = json!({"name":"weather","description":"d",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}}}});
    let (v, _) = translate(json!({"messages":[user("hi")],
        "tools":[{"type":"function","function":function}]}));
    assert_eq!(v["tools"], json!([{"type":"function","function":function}]));
    let msg = translate_err(json!({"messages":[user("hi")],"tools":[{"type":"web_search"}]}));
    assert!(msg.contains("web_search"), "{msg}");
}

#[test]
fn tool_choice_required_and_none_are_upper_case_and_auto_is_omitted() {
    let tools = json!([{"type":"function","function":{"name":"f"}}]);
    for (choice, want) in [
        (json!("required"), json!("REQUIRED")),
        (json!("none"), json!("NONE")),
        (json!("auto"), Value::Null),
    ] {
        let (v, _) = translate(json!({"messages":[user("hi")],"tools":tools,"tool_choice":choice}));
        assert_eq!(v.get("tool_choice").cloned().unwrap_or(Value::Null), want);
    }
    // Without tools there is nothing to choose from.
    let (v, _) = translate(json!({"messages":[user("hi")],"tool_choice":"required"}));
    assert!(v.get("tool_choice").is_none());
}

#[test]
fn named_function_tool_choice_is_bad_request() {
    let msg = translate_err(json!({"messages":[user("hi")],
        "tools":[{"type":"function","function":{"name":"f"}}],
        "tool_choice":{"type":"function","function":{"name":"f"}}}));
    assert!(msg.contains("named function"), "{msg}");
}

#[test]
fn response_format_json_object_and_json_schema_become_json_object() {
    let (v, _) =
        translate(json!({"messages":[user("hi")],"response_format":{"type":"json_object"}}));
    assert_eq!(v["response_format"], json!({"type":"json_object"}));
    let schema = json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]});
    let (v, _) = translate(json!({"messages":[user("hi")],"response_format":
        {"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":schema}}}));
    assert_eq!(
        v["response_format"],
        json!({"type":"json_object","json_schema":schema})
    );
    let msg = translate_err(
        json!({"messages":[user("hi")],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}),
    );
    assert!(msg.contains("schema"), "{msg}");
}

#[test]
fn reasoning_effort_enables_thinking_and_none_disables_it() {
    for effort in ["minimal", "low", "medium", "high"] {
        let (v, _) = translate(json!({"messages":[user("hi")],"reasoning_effort":effort}));
        assert_eq!(v["thinking"], json!({"type":"enabled"}), "{effort}");
    }
    let (v, _) = translate(json!({"messages":[user("hi")],"reasoning_effort":"none"}));
    assert_eq!(v["thinking"], json!({"type":"disabled"}));
    let msg = translate_err(json!({"messages":[user("hi")],"reasoning_effort":"max"}));
    assert!(msg.contains("reasoning_effort"), "{msg}");
}

#[test]
fn empty_or_missing_messages_are_bad_requests() {
    translate_err(json!({"messages":[]}));
    translate_err(json!({"model":"x"}));
}
