//! `from_chat`: each mapping on a small completion, every recorded chat
//! completion, and the shape against the real service's Response.

use super::*;
use crate::inbound::responses::test_support::{assert_same_shape, fixture, names, without_ids};
use serde_json::{json, Value};

fn answer(chat: Value) -> Value {
    let mut out = Vec::new();
    from_chat(
        &serde_json::to_vec(&chat).unwrap(),
        "client/model",
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{chat}: {e}"));
    serde_json::from_slice(&out).unwrap()
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up",
        "choices":[{"index":0,"message":message,"finish_reason":finish_reason}],
        "usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,
            "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":8}}})
}

fn prefixed(v: &Value, prefix: &str) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with(prefix) && s.len() > prefix.len())
}

#[test]
fn text_answer_is_a_completed_message_in_the_full_envelope() {
    let v = answer(completion(
        json!({"role":"assistant","content":"Hello"}),
        "stop",
    ));
    assert!(prefixed(&v["id"], "resp_"));
    assert!(prefixed(&v["output"][0]["id"], "msg_"));
    assert!(v["created_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(v["completed_at"].as_u64().unwrap() >= v["created_at"].as_u64().unwrap());
    assert_eq!(
        without_ids(v),
        json!({
            "object":"response","status":"completed","background":false,"error":null,
            "incomplete_details":null,"instructions":null,"max_output_tokens":null,
            "max_tool_calls":null,"model":"client/model",
            "output":[{"type":"message","status":"completed","content":[
                {"type":"output_text","annotations":[],"logprobs":[],"text":"Hello"}],"role":"assistant"}],
            "parallel_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,
            "prompt_cache_retention":null,"reasoning":{"effort":null,"summary":null},
            "safety_identifier":null,"service_tier":"default","store":false,"temperature":null,
            "text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools":[],
            "top_logprobs":0,"top_p":null,"truncation":"disabled",
            "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4,"cache_write_tokens":0},"output_tokens":20,
                "output_tokens_details":{"reasoning_tokens":8},"total_tokens":30},
            "user":null,"metadata":{}
        })
    );
}

#[test]
fn reasoning_then_text_then_tool_calls_in_that_order() {
    let v = answer(completion(
        json!({"role":"assistant","content":"Let me check.","reasoning_content":"Need weather.",
            "tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"clock","arguments":""}}]}),
        "tool_calls",
    ));
    let output = &v["output"];
    assert!(prefixed(&output[0]["id"], "rs_"));
    assert!(prefixed(&output[2]["id"], "fc_"));
    assert_eq!(
        without_ids(output.clone()),
        json!([
            {"type":"reasoning","summary":[{"type":"summary_text","text":"Need weather."}]},
            {"type":"message","status":"completed","content":[
                {"type":"output_text","annotations":[],"logprobs":[],"text":"Let me check."}],"role":"assistant"},
            {"type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"weather"},
            {"type":"function_call","status":"completed","arguments":"","call_id":"call_2","name":"clock"},
        ])
    );
    assert_eq!(v["status"], "completed");
}

#[test]
fn length_and_content_filter_make_the_response_and_last_item_incomplete() {
    for (finish, reason) in [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ] {
        let v = answer(completion(json!({"content":"cut sh"}), finish));
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"], json!({"reason":reason}));
        assert_eq!(v["output"][0]["status"], "incomplete");
    }
    let v = answer(completion(
        json!({"content":"a","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"x"}}]}),
        "length",
    ));
    assert_eq!(v["output"][0]["status"], "completed");
    assert_eq!(v["output"][1]["status"], "incomplete");
}

#[test]
fn an_empty_answer_is_one_empty_message_and_missing_usage_is_zero() {
    let v = answer(json!({"choices":[{"message":{"content":null},"finish_reason":"stop"}]}));
    assert_eq!(
        without_ids(v["output"].clone()),
        json!([{"type":"message","status":"completed","content":[
            {"type":"output_text","annotations":[],"logprobs":[],"text":""}],"role":"assistant"}])
    );
    assert_eq!(
        v["usage"],
        json!({"input_tokens":0,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},"output_tokens":0,
            "output_tokens_details":{"reasoning_tokens":0},"total_tokens":0})
    );
}

#[test]
fn refusals_and_reasoning_under_other_names_are_read() {
    let v = answer(completion(
        json!({"content":null,"refusal":"I can't."}),
        "stop",
    ));
    assert_eq!(v["output"][0]["content"][0]["text"], "I can't.");
    let v = answer(completion(
        json!({"content":"x","reasoning":"think"}),
        "stop",
    ));
    assert_eq!(v["output"][0]["summary"][0]["text"], "think");
    let v = answer(completion(
        json!({"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]},{"type":"text","text":"ok"}]}),
        "stop",
    ));
    assert_eq!(v["output"][0]["summary"][0]["text"], "hm");
    assert_eq!(v["output"][1]["content"][0]["text"], "ok");
}

#[test]
fn tool_calls_without_an_id_get_one_and_without_a_name_are_bad_answers() {
    let v = answer(completion(
        json!({"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}),
        "tool_calls",
    ));
    assert!(prefixed(&v["output"][0]["call_id"], "call_"));
    let mut out = Vec::new();
    let chat = completion(
        json!({"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}),
        "tool_calls",
    );
    let err = from_chat(&serde_json::to_vec(&chat).unwrap(), "m", &mut out).unwrap_err();
    assert_eq!(err.0, "tool call without a function name");
}

#[test]
fn answers_that_are_not_chat_completions_are_bad_answers() {
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "chat completion is not a JSON object"),
        (b"{\"choices\":", "chat completion: EOF"),
        (br#"{"choices":[]}"#, "chat completion has no choices"),
        (
            br#"{"object":"chat.completion"}"#,
            "chat completion has no choices",
        ),
        (
            br#"{"choices":[{"index":0}]}"#,
            "chat completion choice has no message",
        ),
    ];
    for (chat, want) in cases {
        let mut out = Vec::new();
        let err = from_chat(chat, "m", &mut out).unwrap_err();
        assert!(
            err.0.starts_with(want),
            "{}: {}",
            String::from_utf8_lossy(chat),
            err.0
        );
    }
}

/// Every recorded chat completion: text, reasoning, tool calls and usage
/// come through as the completion has them.
#[test]
fn every_recorded_chat_completion_converts() {
    let recordings = [
        (
            "openai",
            names("openai", |n| n.starts_with("chat-completion-")),
        ),
        (
            "azure",
            names("azure", |n| n.starts_with("chat-completion-")),
        ),
        ("deepseek", vec!["chat-reasoning.json".to_owned()]),
        ("groq", vec!["chat-tool-call.json".to_owned()]),
        ("mistral", vec!["chat-text.json".to_owned()]),
    ];
    let mut seen = 0;
    for (provider, names) in recordings {
        for name in names {
            let chat = fixture(provider, &name);
            let mut out = Vec::new();
            from_chat(&chat, "client/model", &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
            let v: Value = serde_json::from_slice(&out).unwrap();
            let c: Value = serde_json::from_slice(&chat).unwrap();
            let message = &c["choices"][0]["message"];
            let mut expected = Vec::new();
            if let Some(r) = message["reasoning_content"].as_str() {
                expected
                    .push(json!({"type":"reasoning","summary":[{"type":"summary_text","text":r}]}));
            }
            if let Some(t) = message["content"].as_str().filter(|t| !t.is_empty()) {
                expected.push(json!({"type":"message","status":"completed","content":[
                    {"type":"output_text","annotations":[],"logprobs":[],"text":t}],"role":"assistant"}));
            }
            for call in message["tool_calls"].as_array().into_iter().flatten() {
                expected.push(json!({"type":"function_call","status":"completed",
                    "arguments":call["function"]["arguments"],"call_id":call["id"],
                    "name":call["function"]["name"]}));
            }
            assert_eq!(without_ids(v["output"].clone()), json!(expected), "{name}");
            let u = &c["usage"];
            assert_eq!(v["usage"]["input_tokens"], u["prompt_tokens"], "{name}");
            assert_eq!(
                v["usage"]["output_tokens"], u["completion_tokens"],
                "{name}"
            );
            assert_eq!(v["usage"]["total_tokens"], u["total_tokens"], "{name}");
            let reasoning = u["completion_tokens_details"]["reasoning_tokens"]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(
                v["usage"]["output_tokens_details"]["reasoning_tokens"], reasoning,
                "{name}"
            );
            assert_eq!(v["status"], "completed", "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 8);
}

/// Our Response has the fields of the real service's (Azure's recording
/// through the Vercel AI SDK), with the same JSON types.
#[test]
fn the_response_has_the_real_services_fields_and_types() {
    let real: Value = serde_json::from_slice(&fixture("azure", "responses-text.json")).unwrap();
    let ours = answer(completion(json!({"content":"Word"}), "stop"));
    assert_same_shape(&ours, &real, "response");
    // And those of OpenAI's own, as its stream's last event carries it.
    let stream = fixture("openai", "responses-stream-logprobs.sse");
    let completed = super::super::test_support::events("x.sse", &stream)
        .into_iter()
        .find(|(event, _)| event == "response.completed")
        .unwrap();
    let real: Value = serde_json::from_str(&completed.1).unwrap();
    assert_same_shape(&ours, &real["response"], "response");
}

#[test]
fn content_and_usage_of_other_shapes_carry_nothing() {
    let v = answer(json!({"choices":[{"message":{"content":5}}],"usage":{"prompt_tokens":"x"}}));
    assert_eq!(v["output"][0]["content"][0]["text"], "");
    assert_eq!(v["usage"]["total_tokens"], 0);
}

#[test]
fn usage_takes_the_chat_counts_under_responses_names() {
    let v = answer(completion(json!({"content":"x"}), "stop"));
    assert_eq!(
        v["usage"],
        json!({"input_tokens":10,"input_tokens_details":{"cached_tokens":4,"cache_write_tokens":0},
            "output_tokens":20,"output_tokens_details":{"reasoning_tokens":8},"total_tokens":30})
    );
    let v = answer(json!({"choices":[{"message":{"content":"x"}}],
        "usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":null}}));
    assert_eq!(v["usage"]["total_tokens"], 7);
    assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 0);
}
