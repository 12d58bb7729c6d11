use serde_json::{json, Value};

use crate::inbound::gemini::test_support::*;

#[test]
fn generation_config_maps_sampling_fields_and_drops_top_k() {
    let chat = convert(json!({
        "contents": [user("hi")],
        "generationConfig": {
            "temperature": 0.5, "topP": 0.9, "topK": 40.0, "maxOutputTokens": 100,
            "stopSequences": ["END", "STOP"], "seed": 7, "presencePenalty": 0.1,
            "frequencyPenalty": 0.2, "candidateCount": 1, "responseModalities": ["TEXT"],
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
        "labels": {"team": "a"},
        "cachedContent": "",
    }));
    assert_eq!(
        chat,
        json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": ["END", "STOP"],
            "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.2})
    );
    let chat = convert(json!({"contents": [user("hi")],
        "generation_config": {"max_output_tokens": 5, "top_p": 1, "stop_sequences": ["x"]}}));
    assert_eq!(
        (&chat["max_tokens"], &chat["top_p"], &chat["stop"]),
        (&json!(5), &json!(1.0), &json!(["x"]))
    );
}

#[test]
fn unconvertible_generation_settings_are_refused() {
    let with = |config: &str| {
        refusal(&format!(
            r#"{{"contents":[{{"parts":[{{"text":"x"}}]}}],"generationConfig":{config}}}"#
        ))
    };
    assert!(with(r#"{"candidateCount":2}"#).starts_with("generationConfig.candidateCount 2"));
    assert!(with(r#"{"responseModalities":["TEXT","IMAGE"]}"#)
        .starts_with("generationConfig.responseModalities asks for IMAGE"));
    assert!(with(r#"{"responseLogprobs":true}"#).starts_with("generationConfig.responseLogprobs"));
    assert!(
        with(r#"{"speechConfig":{"voiceConfig":{}}}"#).starts_with("generationConfig.speechConfig")
    );
    assert!(with(r#"{"responseMimeType":"text/x.enum"}"#)
        .starts_with("generationConfig.responseMimeType 'text/x.enum' is not supported"));
    assert_eq!(
        with(r#"{"responseSchema":{"type":"STRING"}}"#),
        "a response schema needs generationConfig.responseMimeType 'application/json'"
    );
    assert_eq!(
        with(
            r#"{"responseMimeType":"application/json","responseSchema":{},"responseJsonSchema":{}}"#
        ),
        "generationConfig sets both responseSchema and responseJsonSchema; give one"
    );
    assert_eq!(
        with(r#"{"thinkingConfig":{"thinkingLevel":"EXTREME"}}"#),
        "generationConfig.thinkingConfig.thinkingLevel 'EXTREME' is not one of MINIMAL, LOW, \
         MEDIUM and HIGH"
    );
}

#[test]
fn json_output_becomes_response_format() {
    let format = |config: Value| {
        convert(json!({"contents": [user("hi")], "generationConfig": config}))["response_format"]
            .clone()
    };
    assert_eq!(
        format(json!({"responseMimeType": "application/json"})),
        json!({"type": "json_object"})
    );
    assert_eq!(
        format(json!({"responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": true}},
                "required": ["n"], "propertyOrdering": ["n"]}})),
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema":
            {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}, "required": ["n"]}}})
    );
    assert_eq!(
        format(json!({"responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object", "additionalProperties": false}})),
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema":
            {"type": "object", "additionalProperties": false}}})
    );
    assert_eq!(
        format(json!({"responseMimeType": "text/plain"})),
        Value::Null
    );
}

#[test]
fn thinking_budget_and_level_become_reasoning_effort() {
    let effort = |thinking: Value| {
        convert(json!({"contents": [user("hi")],
            "generationConfig": {"thinkingConfig": thinking}}))["reasoning_effort"]
            .clone()
    };
    for (budget, want) in [
        (-1, Value::Null),
        (0, Value::Null),
        (1, json!("low")),
        (1024, json!("low")),
        (4096, json!("low")),
        (4097, json!("medium")),
        (8192, json!("medium")),
        (16384, json!("medium")),
        (16385, json!("high")),
        (24576, json!("high")),
    ] {
        assert_eq!(
            effort(json!({"thinkingBudget": budget})),
            want,
            "budget {budget}"
        );
    }
    // google-genai sends the thinking config in snake_case.
    assert_eq!(
        effort(json!({"thinking_budget": 8192, "include_thoughts": true})),
        "medium"
    );
    assert_eq!(effort(json!({"thinkingLevel": "HIGH"})), "high");
    assert_eq!(effort(json!({"thinking_level": "low"})), "low");
    assert_eq!(effort(json!({"thinkingLevel": "MINIMAL"})), "minimal");
    assert_eq!(
        effort(json!({"thinkingLevel": "THINKING_LEVEL_UNSPECIFIED"})),
        Value::Null
    );
    assert_eq!(effort(json!({"includeThoughts": true})), Value::Null);
}
