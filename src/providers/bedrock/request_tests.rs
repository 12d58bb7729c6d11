use super::*;
use serde_json::{json, Value};

use crate::providers::common::request_checks as checks;

fn translate(body: Value) -> (Value, RequestInfo) {
    checks::translated(body, translate_request)
}

fn reject(body: Value) -> String {
    checks::rejected(body, translate_request)
}

#[test]
fn system_user_and_inference_config_map_to_converse_fields() {
    let (v, info) = translate(json!({
        "model": "bedrock/claude",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hi"}
        ],
        "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop": "END",
        "stream": true, "stream_options": {"include_usage": true}
    }));
    assert_eq!(
        v,
        json!({
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "system": [{"text": "Be brief."}, {"text": "Use French."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "topP": 0.9,
                "stopSequences": ["END"]}
        })
    );
    assert!(info.stream && info.include_usage);
}

#[test]
fn tool_round_trip_merges_turns_and_uses_tool_blocks() {
    let (v, info) = translate(json!({
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "user", "content": [{"type": "text", "text": "In Paris."}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "get", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "t2", "type": "function", "function": {"name": "now", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "t1", "content": "18C"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "noon"}]}
        ],
        "max_completion_tokens": 50,
        "tools": [
            {"type": "function", "function": {"name": "get", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "now"}}
        ],
        "tool_choice": "required"
    }));
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather?"}, {"text": "In Paris."}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t1", "name": "get", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "t2", "name": "now", "input": {}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "noon"}]}}
            ]}
        ])
    );
    assert_eq!(
        v["toolConfig"],
        json!({
            "tools": [
                {"toolSpec": {"name": "get", "description": "Weather", "inputSchema": {"json":
                    {"type": "object", "properties": {"city": {"type": "string"}}}}}},
                {"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object"}}}}
            ],
            "toolChoice": {"any": {}}
        })
    );
    assert_eq!(v["inferenceConfig"], json!({"maxTokens": 50}));
    assert!(!info.stream);
}

#[test]
fn tool_choice_variants() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let with = |choice: Value| {
        translate(json!({"messages": [{"role": "user", "content": "x"}],
            "tools": tools, "tool_choice": choice}))
        .0
    };
    assert_eq!(
        with(json!("auto"))["toolConfig"]["toolChoice"],
        json!({"auto": {}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "f"}}))["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "f"}})
    );
    assert!(with(json!("none")).get("toolConfig").is_none());
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": "x"}], "tools": tools}));
    assert!(v["toolConfig"].get("toolChoice").is_none());
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": "x"}],
        "tool_choice": "required"}));
    assert!(v.get("toolConfig").is_none());
}

#[test]
fn data_url_image_becomes_bytes_block() {
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    ]}]}));
    assert_eq!(
        v["messages"][0]["content"][1],
        json!({"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}})
    );
}

#[test]
fn reasoning_effort_becomes_anthropic_thinking_with_room_for_the_answer() {
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": "medium", "max_tokens": 1000}));
    assert_eq!(
        v["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4096}})
    );
    assert_eq!(v["inferenceConfig"]["maxTokens"], 5096);
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": "low"}));
    assert_eq!(v["inferenceConfig"]["maxTokens"], 4096);
    let (v, _) = translate(json!({"messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": "minimal"}));
    assert!(v.get("additionalModelRequestFields").is_none());
}

#[test]
fn unsupported_requests_are_bad_requests() {
    let user = |content: Value| json!({"messages": [{"role": "user", "content": content}]});
    let msg = reject(user(json!([{"type": "image_url",
        "image_url": {"url": "https://example.com/cat.png"}}])));
    assert!(msg.contains("image URLs are not supported"), "{msg}");
    reject(user(
        json!([{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AA"}}]),
    ));
    reject(user(json!([{"type": "input_audio", "input_audio": {}}])));
    reject(user(json!(5)));
    reject(json!({"messages": []}));
    reject(json!({"messages": [{"role": "system", "content": "only system"}]}));
    reject(json!({"messages": [{"role": "tool", "content": "x"}]}));
    reject(json!({"messages": [{"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}));
    reject(json!({"messages": [{"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}));
    reject(json!({"messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "code_interpreter"}]}));
    reject(json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}));
    reject(json!({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}));
}
