//! `to_chat`: one test per mapping rule, comparing the hub body (or the part
//! the rule is about) as JSON; refusals are in `request_refusal_tests`.

use serde_json::{json, Value};

use super::*;
use crate::inbound::Converted;

pub(super) fn convert(body: Value) -> (Value, Converted) {
    let mut out = Vec::new();
    let converted =
        to_chat(body.to_string().as_bytes(), &mut out).unwrap_or_else(|e| panic!("{e}: {body}"));
    (serde_json::from_slice(&out).unwrap(), converted)
}

/// The refusal message; `out` must be left as it was.
pub(super) fn refused(body: &[u8]) -> String {
    let mut out = b"kept".to_vec();
    let err = to_chat(body, &mut out).expect_err("refused");
    assert_eq!(out, b"kept");
    err.0
}

pub(super) fn refused_json(body: Value) -> String {
    refused(body.to_string().as_bytes())
}

/// A valid request with `extra` fields merged in.
pub(super) fn request(extra: Value) -> Value {
    let mut body =
        json!({"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn messages(body: Value) -> Value {
    convert(body).0["messages"].clone()
}

#[test]
fn minimal_request_maps_model_tokens_and_text() {
    let (v, converted) = convert(request(json!({})));
    assert_eq!(
        v,
        json!({"model":"claude-x","messages":[{"role":"user","content":"hi"}],"max_tokens":100})
    );
    assert!(!converted.stream);
}

#[test]
fn sampling_stop_user_and_stream_are_carried() {
    let (v, converted) = convert(request(json!({"temperature":0.5,"top_p":0.9,"top_k":40,
        "stop_sequences":["END","\n\nHuman:"],"metadata":{"user_id":"u-1"},"stream":true})));
    assert_eq!(v["temperature"], 0.5);
    assert_eq!(v["top_p"], 0.9);
    assert!(v.get("top_k").is_none(), "top_k has no OpenAI equivalent");
    assert_eq!(v["stop"], json!(["END", "\n\nHuman:"]));
    assert_eq!(v["user"], "u-1");
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"], json!({"include_usage":true}));
    assert!(converted.stream);
    let (v, converted) = convert(request(
        json!({"stream":false,"stop_sequences":[],"metadata":{}}),
    ));
    assert!(
        v.get("stream").is_none() && v.get("stream_options").is_none() && v.get("stop").is_none()
    );
    assert!(v.get("user").is_none() && !converted.stream);
}

#[test]
fn system_string_or_blocks_become_one_system_message() {
    let m = messages(request(json!({"system":"be brief"})));
    assert_eq!(m[0], json!({"role":"system","content":"be brief"}));
    let m = messages(request(json!({"system":[
        {"type":"text","text":"one","cache_control":{"type":"ephemeral"}},
        {"type":"text","text":"two","cache_control":{"type":"ephemeral","ttl":"1h"}}]})));
    assert_eq!(m[0], json!({"role":"system","content":"one\n\ntwo"}));
    assert_eq!(m[1]["role"], "user");
    let m = messages(request(json!({"system":""})));
    assert_eq!(m[0]["role"], "user", "empty system prompt is left out");
    assert!(
        refused_json(request(json!({"system":[{"type":"image","source":{}}]})))
            .starts_with("system.0.type: system blocks must be text blocks, not 'image'")
    );
}

#[test]
fn user_blocks_become_parts_and_a_lone_text_a_string() {
    let m = messages(request(json!({"messages":[{"role":"user","content":[
        {"type":"text","text":"look","cache_control":{"type":"ephemeral"}},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
        {"type":"image","source":{"type":"url","url":"https://x/y.jpg"}}]}]})));
    assert_eq!(
        m,
        json!([{"role":"user","content":[
            {"type":"text","text":"look"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
            {"type":"image_url","image_url":{"url":"https://x/y.jpg"}}]}])
    );
    let m = messages(request(
        json!({"messages":[{"role":"user","content":[{"type":"text","text":"only"}]}]}),
    ));
    assert_eq!(m, json!([{"role":"user","content":"only"}]));
    let m = messages(request(json!({"messages":[{"role":"user","content":[]}]})));
    assert_eq!(m, json!([{"role":"user","content":""}]));
}

#[test]
fn tool_use_and_tool_results_become_tool_calls_and_tool_messages_first() {
    let m = messages(request(json!({"messages":[
        {"role":"user","content":"weather?"},
        {"role":"assistant","content":[
            {"type":"text","text":"Checking."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
            {"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}]},
        {"role":"user","content":[
            {"type":"text","text":"also, hurry"},
            {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
            {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,
             "content":[{"type":"text","text":"clock"},{"type":"text","text":"broken"}]}]}]})));
    assert_eq!(
        m,
        json!([
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
            {"role":"tool","content":"18C","tool_call_id":"toolu_1"},
            {"role":"tool","content":"Error: clock\nbroken","tool_call_id":"toolu_2"},
            {"role":"user","content":"also, hurry"}
        ])
    );
}

#[test]
fn tool_only_turns_have_null_content_and_no_user_message() {
    let m = messages(request(json!({"messages":[
        {"role":"user","content":"go"},
        {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":[1,2]}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]})));
    assert_eq!(m[1]["content"], Value::Null);
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":[1,2]}"
    );
    assert_eq!(m[2], json!({"role":"tool","content":"","tool_call_id":"t"}));
    assert_eq!(m.as_array().unwrap().len(), 3);
}

#[test]
fn tool_result_images_follow_in_a_user_message() {
    let m = messages(request(json!({"messages":[{"role":"user","content":[
        {"type":"tool_result","tool_use_id":"t","content":[
            {"type":"text","text":"screenshot taken"},
            {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]}]}]})));
    assert_eq!(
        m,
        json!([
            {"role":"tool","tool_call_id":"t","content":
                "screenshot taken\n(the image output of this tool follows in the next user message)"},
            {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}}]}
        ])
    );
}

#[test]
fn thinking_in_history_is_dropped() {
    let m = messages(request(json!({"messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","content":[
            {"type":"thinking","thinking":"hmm","signature":"EqQB"},
            {"type":"redacted_thinking","data":"EmwK"},
            {"type":"text","text":"a"}]},
        {"role":"user","content":"q2"},
        {"role":"assistant","content":[{"type":"thinking","thinking":"only thoughts","signature":"s"}]},
        {"role":"user","content":"q3"}]})));
    assert_eq!(
        m,
        json!([{"role":"user","content":"q"},{"role":"assistant","content":"a"},
            {"role":"user","content":"q2"},{"role":"user","content":"q3"}])
    );
}

#[test]
fn assistant_text_blocks_join_and_strings_pass() {
    let m = messages(request(json!({"messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        {"role":"user","content":"q"},
        {"role":"assistant","content":"The answer is ("}]})));
    assert_eq!(m[1]["content"], "a\n\nb");
    assert_eq!(
        m[3],
        json!({"role":"assistant","content":"The answer is ("})
    );
}

#[test]
fn custom_tools_become_function_tools() {
    let (v, _) = convert(request(json!({"tools":[
        {"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},
         "cache_control":{"type":"ephemeral"}},
        {"type":"custom","name":"noop","input_schema":{"type":"object"},"strict":true}]})));
    assert_eq!(
        v["tools"],
        json!([
            {"type":"function","function":{"name":"get_weather","description":"Weather now",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
            {"type":"function","function":{"name":"noop","parameters":{"type":"object"},"strict":true}}
        ])
    );
}

#[test]
fn tool_choice_maps_and_needs_tools() {
    let tools = json!([{"name":"f","input_schema":{"type":"object"}}]);
    let choice = |c: Value| {
        let (v, _) = convert(request(json!({"tools":tools,"tool_choice":c})));
        (
            v["tool_choice"].clone(),
            v.get("parallel_tool_calls").cloned(),
        )
    };
    assert_eq!(choice(json!({"type":"auto"})), (json!("auto"), None));
    assert_eq!(choice(json!({"type":"any"})), (json!("required"), None));
    assert_eq!(choice(json!({"type":"none"})), (json!("none"), None));
    assert_eq!(
        choice(json!({"type":"tool","name":"f","disable_parallel_tool_use":true})),
        (
            json!({"type":"function","function":{"name":"f"}}),
            Some(json!(false))
        )
    );
    assert_eq!(
        choice(json!({"type":"auto","disable_parallel_tool_use":true})),
        (json!("auto"), Some(json!(false)))
    );
    assert_eq!(
        choice(json!({"type":"any","disable_parallel_tool_use":false})),
        (json!("required"), None)
    );
    let (v, _) = convert(request(
        json!({"tool_choice":{"type":"any","disable_parallel_tool_use":true}}),
    ));
    assert!(
        v.get("tool_choice").is_none() && v.get("parallel_tool_calls").is_none(),
        "no tools: {v}"
    );
    assert_eq!(
        refused_json(request(
            json!({"tools":tools,"tool_choice":{"type":"tool"}})
        )),
        "tool_choice.name: Field required"
    );
    assert!(refused_json(request(
        json!({"tools":tools,"tool_choice":{"type":"some"}})
    ))
    .starts_with("tool_choice.type: unknown tool_choice type 'some'"));
}

#[test]
fn thinking_becomes_reasoning_effort_and_is_not_passed_on() {
    let effort = |extra: Value| {
        let (v, _) = convert(request(extra));
        assert!(v.get("thinking").is_none(), "{v}");
        v.get("reasoning_effort").cloned()
    };
    let enabled =
        |budget: u64| effort(json!({"thinking":{"type":"enabled","budget_tokens":budget}}));
    assert_eq!(enabled(1024), Some(json!("low")));
    assert_eq!(enabled(4095), Some(json!("low")));
    assert_eq!(enabled(4096), Some(json!("medium")));
    assert_eq!(enabled(16383), Some(json!("medium")));
    assert_eq!(enabled(16384), Some(json!("high")));
    assert_eq!(enabled(63999), Some(json!("high")));
    assert_eq!(effort(json!({"thinking":{"type":"disabled"}})), None);
    assert_eq!(effort(json!({})), None);
    assert_eq!(effort(json!({"thinking":{"type":"adaptive"}})), None);
    assert_eq!(
        effort(json!({"thinking":{"type":"adaptive"},"output_config":{"effort":"max"}})),
        Some(json!("high"))
    );
    assert_eq!(
        effort(
            json!({"thinking":{"type":"adaptive","display":"omitted"},"output_config":{"effort":"low"}})
        ),
        Some(json!("low"))
    );
    assert_eq!(
        effort(json!({"output_config":{"effort":"high"}})),
        None,
        "effort alone: no thinking"
    );
    assert_eq!(
        refused_json(request(json!({"thinking":{"type":"enabled"}}))),
        "thinking.budget_tokens: Field required"
    );
    assert!(refused_json(request(json!({"thinking":{"type":"on"}})))
        .starts_with("thinking.type: unknown thinking type 'on'"));
    assert!(
        refused_json(request(json!({"output_config":{"effort":"huge"}})))
            .starts_with("output_config.effort: unknown effort 'huge'")
    );
}

#[test]
fn output_format_becomes_a_strict_json_schema() {
    let schema = json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false});
    let want =
        json!({"type":"json_schema","json_schema":{"name":"output","schema":schema,"strict":true}});
    let (v, _) = convert(request(
        json!({"output_config":{"format":{"type":"json_schema","schema":schema}}}),
    ));
    assert_eq!(v["response_format"], want);
    let (v, _) = convert(request(
        json!({"output_format":{"type":"json_schema","schema":schema}}),
    ));
    assert_eq!(v["response_format"], want);
    assert!(
        refused_json(request(json!({"output_config":{"format":{"type":"xml"}}})))
            .starts_with("output_config.format.type: unknown output format 'xml'")
    );
    assert_eq!(
        refused_json(request(json!({"output_format":{"type":"json_schema"}}))),
        "output_format.schema: Field required"
    );
}

/// A request shaped like Claude Code's: system blocks and tools with
/// `cache_control`, thinking, tool_use/tool_result history with thinking
/// blocks, `metadata.user_id`, `context_management`, a stream.
pub(super) fn claude_code_request() -> Value {
    let read_schema = json!({"type":"object","properties":{"file_path":{"type":"string","description":"Absolute path"}},
        "required":["file_path"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"});
    json!({
        "model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":true,"temperature":1,
        "system":[
            {"type":"text","text":"You are a coding agent.","cache_control":{"type":"ephemeral"}},
            {"type":"text","text":"Work in /repo.","cache_control":{"type":"ephemeral"}}],
        "messages":[
            {"role":"user","content":[
                {"type":"text","text":"<system-reminder>context</system-reminder>"},
                {"type":"text","text":"fix the failing test","cache_control":{"type":"ephemeral"}}]},
            {"role":"assistant","content":[
                {"type":"thinking","thinking":"Read the file first.","signature":"EqQBCkYIBxgC"},
                {"type":"text","text":"Reading it."},
                {"type":"tool_use","id":"toolu_01A","name":"Read","input":{"file_path":"/repo/src/lib.rs"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_01A","content":[{"type":"text","text":"1\tfn f() {}"}],
                 "cache_control":{"type":"ephemeral"}}]},
            {"role":"assistant","content":[
                {"type":"tool_use","id":"toolu_01B","name":"Bash","input":{"command":"cargo test","description":"Run tests"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_01B","content":"test failed","is_error":true},
                {"type":"text","text":"<system-reminder>todo list empty</system-reminder>"}]}],
        "tools":[
            {"name":"Read","description":"Reads a file.","input_schema":read_schema},
            {"name":"Bash","description":"Runs a command.","input_schema":{"type":"object","properties":{"command":{"type":"string"}}},
             "cache_control":{"type":"ephemeral"}}],
        "metadata":{"user_id":"user_0a1b_account__session_4c5d"},
        "thinking":{"type":"enabled","budget_tokens":31999},
        "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}
    })
}

#[test]
fn claude_code_request_converts_whole() {
    let (v, converted) = convert(claude_code_request());
    assert!(converted.stream);
    let read_schema = claude_code_request()["tools"][0]["input_schema"].clone();
    assert_eq!(
        v,
        json!({
            "model":"claude-sonnet-4-5-20250929",
            "messages":[
                {"role":"system","content":"You are a coding agent.\n\nWork in /repo."},
                {"role":"user","content":[
                    {"type":"text","text":"<system-reminder>context</system-reminder>"},
                    {"type":"text","text":"fix the failing test"}]},
                {"role":"assistant","content":"Reading it.","tool_calls":[
                    {"id":"toolu_01A","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/repo/src/lib.rs\"}"}}]},
                {"role":"tool","content":"1\tfn f() {}","tool_call_id":"toolu_01A"},
                {"role":"assistant","content":null,"tool_calls":[
                    {"id":"toolu_01B","type":"function","function":{"name":"Bash",
                     "arguments":"{\"command\":\"cargo test\",\"description\":\"Run tests\"}"}}]},
                {"role":"tool","content":"Error: test failed","tool_call_id":"toolu_01B"},
                {"role":"user","content":"<system-reminder>todo list empty</system-reminder>"}],
            "max_tokens":32000,
            "temperature":1.0,
            "stream":true,
            "stream_options":{"include_usage":true},
            "tools":[
                {"type":"function","function":{"name":"Read","description":"Reads a file.","parameters":read_schema}},
                {"type":"function","function":{"name":"Bash","description":"Runs a command.",
                 "parameters":{"type":"object","properties":{"command":{"type":"string"}}}}}],
            "reasoning_effort":"high",
            "user":"user_0a1b_account__session_4c5d"
        })
    );
}

#[test]
fn hub_body_is_accepted_by_the_gateways_own_translators() {
    let mut hub = Vec::new();
    to_chat(claude_code_request().to_string().as_bytes(), &mut hub).unwrap();
    let mut out = Vec::new();
    let info = crate::providers::anthropic::translate_request(&hub, "claude-x", &mut out).unwrap();
    assert!(info.stream && info.include_usage);
    let upstream: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        upstream["messages"].as_array().unwrap().len(),
        5,
        "{upstream}"
    );
    assert!(upstream["thinking"]["budget_tokens"].is_u64(), "{upstream}");
    out.clear();
    crate::providers::gemini::translate_request(&hub, &mut out).unwrap();
    out.clear();
    crate::providers::bedrock::translate_request(&hub, &mut out).unwrap();
    out.clear();
    crate::providers::cohere::translate_request(&hub, "command-x", &mut out).unwrap();
}

#[test]
fn strings_are_borrowed_from_the_body_and_escapes_survive() {
    let (v, _) = convert(request(
        json!({"messages":[{"role":"user","content":"tab\tquote\" é \u{1F600}"}]}),
    ));
    assert_eq!(v["messages"][0]["content"], "tab\tquote\" é \u{1F600}");
}

#[test]
fn long_user_ids_are_replaced_by_a_stable_digest() {
    let user = |id: &str| convert(request(json!({"metadata":{"user_id":id}}))).0["user"].clone();
    let exactly_64 = "u".repeat(64);
    assert_eq!(user(&exactly_64), json!(exactly_64));
    // Claude Code's shape: about 150 characters.
    let long = format!(
        "user_{}_account_{}_session_{}",
        "ab".repeat(32),
        "0".repeat(36),
        "1".repeat(36)
    );
    let digest = user(&long);
    let digest = digest.as_str().unwrap();
    assert_eq!(digest.len(), 32);
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(user(&long), json!(digest), "stable");
    assert_ne!(user(&(long.clone() + "x")), json!(digest), "distinct");
}

#[test]
fn system_messages_between_turns_stay_in_place() {
    // Claude Code sends reminders as `role: system` messages after a turn.
    let v = messages(request(json!({"messages":[
        {"role":"user","content":"q"},
        {"role":"system","content":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}]},
        {"role":"system","content":""},
    ]})));
    assert_eq!(
        v,
        json!([{"role":"user","content":"q"},{"role":"system","content":"a\n\nb"}])
    );
}
