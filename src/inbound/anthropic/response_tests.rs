//! `from_chat`: the message for each shape of hub completion, in
//! Anthropic's field order, and the answers it refuses.

use serde_json::{json, Value};

use super::*;

fn message(chat: Value) -> Value {
    let mut out = Vec::new();
    from_chat(chat.to_string().as_bytes(), "claude-client", &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out).unwrap()
}

fn completion(msg: Value, finish: &str) -> Value {
    json!({"id":"chatcmpl-abc","object":"chat.completion","created":1,"model":"upstream-model",
        "choices":[{"index":0,"message":msg,"finish_reason":finish}],
        "usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,
                 "prompt_tokens_details":{"cached_tokens":100}}})
}

#[test]
fn full_answer_is_written_in_anthropic_order() {
    let chat = completion(
        json!({"role":"assistant","content":"Calling.","reasoning_content":"think",
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": 1}"}}]}),
        "tool_calls",
    );
    let mut out = Vec::new();
    from_chat(chat.to_string().as_bytes(), "claude-client", &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        concat!(
            r#"{"id":"msg_abc","type":"message","role":"assistant","model":"claude-client","content":["#,
            r#"{"type":"thinking","thinking":"think","signature":""},"#,
            r#"{"type":"text","text":"Calling."},"#,
            r#"{"type":"tool_use","id":"call_1","name":"f","input":{"a": 1}}],"#,
            r#""stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":20,"#,
            r#""cache_creation_input_tokens":0,"cache_read_input_tokens":100,"#,
            r#""cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":30}}"#
        )
    );
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    let text = json!({"role":"assistant","content":"x"});
    let call = json!({"role":"assistant","content":null,
        "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]});
    let cases = [
        (&text, "stop", "end_turn"),
        (&text, "length", "max_tokens"),
        (&text, "content_filter", "refusal"),
        (&text, "tool_calls", "tool_use"),
        (&text, "eos", "end_turn"),
        (&call, "tool_calls", "tool_use"),
        (&call, "stop", "tool_use"),
        (&call, "length", "max_tokens"),
        (&call, "function_call", "tool_use"),
    ];
    for (msg, finish, stop) in cases {
        assert_eq!(
            message(completion(msg.clone(), finish))["stop_reason"],
            stop,
            "{finish}"
        );
    }
    let mut chat = completion(text, "stop");
    chat["choices"][0]["finish_reason"] = Value::Null;
    assert_eq!(message(chat)["stop_reason"], "end_turn");
}

#[test]
fn arguments_that_are_not_an_object_become_empty_input() {
    for arguments in ["", "  ", "[1,2]", "\"s\"", "{\"a\":", "null", "7"] {
        let chat = completion(
            json!({"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":arguments}}]}),
            "tool_calls",
        );
        assert_eq!(
            message(chat)["content"][0]["input"],
            json!({}),
            "{arguments:?}"
        );
    }
    // Some servers send the arguments object itself.
    let chat = completion(
        json!({"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":{"k":[true]}}}]}),
        "tool_calls",
    );
    assert_eq!(message(chat)["content"][0]["input"], json!({"k":[true]}));
}

#[test]
fn ids_are_derived_or_made_up() {
    let mut chat = completion(
        json!({"role":"assistant","content":"x",
        "tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}),
        "tool_calls",
    );
    chat.as_object_mut().unwrap().remove("id");
    let m = message(chat);
    let id = m["id"].as_str().unwrap();
    assert!(id.starts_with("msg_") && id.len() == 28, "{id}");
    let tool_id = m["content"][1]["id"].as_str().unwrap();
    assert!(
        tool_id.starts_with("toolu_") && tool_id.len() == 30,
        "{tool_id}"
    );
    let mut chat = completion(json!({"role":"assistant","content":"x"}), "stop");
    chat["id"] = json!("chatcmpl-msg_01XYZ");
    assert_eq!(message(chat)["id"], "msg_01XYZ");
}

#[test]
fn empty_answers_have_no_blocks_and_usage_defaults_to_zero() {
    let mut chat = completion(
        json!({"role":"assistant","content":"","reasoning_content":""}),
        "stop",
    );
    chat.as_object_mut().unwrap().remove("usage");
    let m = message(chat);
    assert_eq!(m["content"], json!([]));
    assert_eq!(
        m["usage"],
        json!({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,
            "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":0})
    );
    // Usage in a shape we do not know is no usage, not an error.
    let mut chat = completion(json!({"role":"assistant","content":"x"}), "stop");
    chat["usage"] = json!({"prompt_tokens":"many"});
    assert_eq!(message(chat)["usage"]["input_tokens"], 0);
}

#[test]
fn other_servers_reasoning_and_content_shapes_are_read() {
    let m = message(completion(
        json!({"role":"assistant","content":"a","reasoning":"r"}),
        "stop",
    ));
    assert_eq!(
        m["content"][0],
        json!({"type":"thinking","thinking":"r","signature":""})
    );
    // Mistral's reasoning models: content parts, thinking nested.
    let m = message(completion(
        json!({"role":"assistant","content":[
            {"type":"thinking","thinking":[{"type":"text","text":"step 1"},{"type":"text","text":", 2"}]},
            {"type":"text","text":"done"},{"type":"text","text":"!"}]}),
        "stop",
    ));
    assert_eq!(
        m["content"],
        json!([{"type":"thinking","thinking":"step 1, 2","signature":""},{"type":"text","text":"done!"}])
    );
    let m = message(completion(
        json!({"role":"assistant","content":null,"refusal":"I can't help with that."}),
        "stop",
    ));
    assert_eq!(
        m["content"],
        json!([{"type":"text","text":"I can't help with that."}])
    );
}

#[test]
fn broken_answers_are_bad_answers() {
    let cases = [
        ("not json".to_owned(), "chat completion is not a JSON object"),
        ("[]".to_owned(), "chat completion is not a JSON object"),
        (json!({"choices":[]}).to_string(), "chat completion has no choices"),
        (json!({"id":"x"}).to_string(), "chat completion has no choices"),
        (json!({"choices":[{"index":0}]}).to_string(), "chat completion choice has no message"),
        (json!({"choices":[{"message":{"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}}]}).to_string(),
            "hub tool call has no function name"),
        // Accepted: a content that is neither text nor parts carries nothing,
        // and a lone choice is the answer whatever its index.
        (json!({"choices":[{"message":{"content":5}}]}).to_string(), ""),
        (json!({"choices":[{"index":1,"message":{}}]}).to_string(), ""),
    ];
    for (body, want) in cases {
        let mut out = b"kept".to_vec();
        match from_chat(body.as_bytes(), "m", &mut out) {
            Err(e) => {
                assert!(e.0.starts_with(want), "{body}: {e}");
                assert_eq!(out, b"kept");
            }
            Ok(()) => assert!(want.is_empty(), "{body} was accepted"),
        }
    }
}
