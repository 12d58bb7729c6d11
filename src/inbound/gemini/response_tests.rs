use serde_json::{json, Value};

use super::*;

fn converted(chat: Value) -> Value {
    let mut out = Vec::new();
    from_chat(chat.to_string().as_bytes(), "openai/gpt-4o-mini", &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out).unwrap()
}

fn completion(message: Value, finish_reason: Value, usage: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage})
}

fn usage(prompt: u64, completion: u64, cached: u64, reasoning: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning}})
}

#[test]
fn text_answer_becomes_one_model_candidate() {
    let answer = converted(completion(
        json!({"role": "assistant", "content": "Hi!"}),
        json!("stop"),
        usage(9, 3, 0, 0),
    ));
    assert_eq!(
        answer,
        json!({
            "candidates": [{"content": {"parts": [{"text": "Hi!"}], "role": "model"},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
            "modelVersion": "openai/gpt-4o-mini",
            "responseId": "chatcmpl-1",
        })
    );
}

#[test]
fn reasoning_comes_first_as_a_thought_and_counts_apart() {
    let answer = converted(completion(
        json!({"role": "assistant", "content": "4", "reasoning_content": "2+2"}),
        json!("stop"),
        usage(10, 50, 4, 30),
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "2+2", "thought": true}, {"text": "4"}])
    );
    assert_eq!(
        answer["usageMetadata"],
        json!({"promptTokenCount": 10, "candidatesTokenCount": 20, "totalTokenCount": 60,
            "cachedContentTokenCount": 4, "thoughtsTokenCount": 30})
    );
}

#[test]
fn tool_calls_become_function_calls_with_object_args() {
    let answer = converted(completion(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"type": "function", "function": {"name": "now", "arguments": ""}},
            {"id": "call_c", "type": "function", "function": {"name": "list", "arguments": "[1]"}},
            {"id": "call_d", "type": "function", "function": {"name": "broken", "arguments": "{\"a\":"}},
        ]}),
        json!("tool_calls"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0],
        json!({"content": {"parts": [
            {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "call_2", "name": "now", "args": {}}},
            {"functionCall": {"id": "call_c", "name": "list", "args": {}}},
            {"functionCall": {"id": "call_d", "name": "broken", "args": {}}},
        ], "role": "model"}, "finishReason": "STOP", "index": 0})
    );
    assert!(answer.get("usageMetadata").is_none());
}

#[test]
fn text_before_tool_calls_is_kept_and_empty_text_dropped() {
    let answer = converted(completion(
        json!({"content": "Checking.", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
        json!("tool_calls"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "Checking."}, {"functionCall": {"id": "c", "name": "f", "args": {}}}])
    );
    let answer = converted(completion(
        json!({"content": "", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
        json!("tool_calls"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"functionCall": {"id": "c", "name": "f", "args": {}}}])
    );
}

#[test]
fn an_answer_without_text_still_has_an_empty_text_part() {
    for content in [json!(null), json!("")] {
        let answer = converted(completion(
            json!({"content": content}),
            json!("length"),
            Value::Null,
        ));
        assert_eq!(
            answer["candidates"][0],
            json!({"content": {"parts": [{"text": ""}], "role": "model"},
                "finishReason": "MAX_TOKENS", "index": 0})
        );
    }
}

#[test]
fn finish_reasons_map_to_gemini() {
    for (hub, gemini) in [
        (json!("stop"), json!("STOP")),
        (json!("length"), json!("MAX_TOKENS")),
        (json!("tool_calls"), json!("STOP")),
        (json!("function_call"), json!("STOP")),
        (json!("content_filter"), json!("SAFETY")),
        (json!("something_new"), json!("OTHER")),
        (json!(null), Value::Null),
    ] {
        let answer = converted(completion(
            json!({"content": "x"}),
            hub.clone(),
            Value::Null,
        ));
        assert_eq!(answer["candidates"][0]["finishReason"], gemini, "{hub}");
    }
}

#[test]
fn mistral_chunk_content_and_openrouter_reasoning_are_read() {
    let answer = converted(completion(
        json!({"content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "hm"}, {"type": "text", "text": "m"}]},
            {"type": "text", "text": "Hel"}, {"type": "reference", "reference_ids": [1]},
            {"type": "text", "text": "lo"}]}),
        json!("stop"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "hmm", "thought": true}, {"text": "Hello"}])
    );
    let answer = converted(completion(
        json!({"content": "a", "reasoning": "r", "reasoning_details": []}),
        json!("stop"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "r", "thought": true}, {"text": "a"}])
    );
}

#[test]
fn a_refusal_is_the_answer_text() {
    let answer = converted(completion(
        json!({"content": null, "refusal": "I can't help with that."}),
        json!("stop"),
        Value::Null,
    ));
    assert_eq!(
        answer["candidates"][0]["content"]["parts"],
        json!([{"text": "I can't help with that."}])
    );
}

#[test]
fn usage_without_details_or_total_is_summed() {
    let answer = converted(completion(
        json!({"content": "x"}),
        json!("stop"),
        json!({"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": null}),
    ));
    assert_eq!(
        answer["usageMetadata"],
        json!({"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7})
    );
}

#[test]
fn a_missing_id_is_made_up() {
    let answer =
        converted(json!({"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}));
    assert!(answer["responseId"]
        .as_str()
        .unwrap()
        .starts_with("ringbridge-"));
}

#[test]
fn escaped_text_is_passed_through_unchanged() {
    let chat =
        br#"{"id":"i","choices":[{"message":{"content":"a\"b\u00e9\n"},"finish_reason":"stop"}]}"#;
    let mut out = Vec::new();
    from_chat(chat, "m", &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#"{"text":"a\"b\u00e9\n"}"#), "{text}");
}

#[test]
fn what_is_not_a_completion_is_a_bad_answer() {
    let bad = |body: &str| {
        let mut out = b"kept".to_vec();
        let e = from_chat(body.as_bytes(), "m", &mut out).unwrap_err();
        assert_eq!(out, b"kept");
        e.0
    };
    assert_eq!(bad("[]"), "chat completion is not a JSON object");
    assert_eq!(bad(""), "chat completion is not a JSON object");
    assert_eq!(bad(r#"{"choices":[]}"#), "chat completion has no choices");
    assert_eq!(bad(r#"{}"#), "chat completion has no choices");
    assert_eq!(
        bad(r#"{"choices":[{}]}"#),
        "chat completion choice has no message"
    );
    assert_eq!(
        bad(r#"{"choices":[{"message":{"tool_calls":[{"id":"x"}]}}]}"#),
        "tool call 0 has no function"
    );
    assert_eq!(
        bad(r#"{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}"#),
        "tool call 0 has no name"
    );
    assert!(bad(r#"{"choices":"#).starts_with("chat completion: EOF"));
}

#[test]
fn a_content_that_is_neither_text_nor_parts_carries_nothing() {
    let mut out = Vec::new();
    from_chat(br#"{"choices":[{"message":{"content":5}}]}"#, "m", &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"],
        json!([{"text": ""}])
    );
}
