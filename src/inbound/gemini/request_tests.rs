use serde_json::{json, Value};

use super::*;
use crate::inbound::gemini::test_support::*;

#[test]
fn text_turns_become_user_and_assistant_messages_with_the_url_model() {
    let chat = convert(json!({"contents": [
        user("hi"),
        {"role": "model", "parts": [{"text": "hello"}]},
        {"parts": [{"text": "how are you?"}]},
    ]}));
    assert_eq!(
        chat,
        json!({"model": MODEL, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "how are you?"},
        ]})
    );
}

#[test]
fn stream_asks_for_usage_in_the_last_chunk() {
    let chat = convert_as(json!({"contents": [user("hi")]}), true);
    assert_eq!(chat["stream"], true);
    assert_eq!(chat["stream_options"], json!({"include_usage": true}));
    let chat = convert(json!({"contents": [user("hi")]}));
    assert!(chat.get("stream").is_none() && chat.get("stream_options").is_none());
}

#[test]
fn missing_empty_or_malformed_contents_are_refused() {
    assert_eq!(
        refusal("{}"),
        "'contents' must be a non-empty array of Content objects"
    );
    assert_eq!(
        refusal(r#"{"contents":[]}"#),
        "'contents' must be a non-empty array of Content objects"
    );
    assert_eq!(
        refusal(r#"{"contents":[{"parts":[{"text":""}]},{"parts":[]}]}"#),
        "'contents' has no text, image or function part to send"
    );
    assert_eq!(
        refusal(r#"{"contents":[{"role":"system","parts":[{"text":"x"}]}]}"#),
        "contents[0].role is 'system'; it must be 'user' or 'model'"
    );
    assert_eq!(
        refusal(r#"{"contents":"hi"}"#),
        "invalid request at contents: invalid type: string \"hi\", expected a sequence at line 1 \
         column 16"
    );
    assert_eq!(
        refusal(r#"{"contents":[{"parts":[{"text":5}]}]}"#),
        "invalid request at contents[0].parts[0].text: invalid type: integer `5`, expected a \
         string at line 1 column 32"
    );
    assert_eq!(
        refusal(r#"[{"contents":[]}]"#),
        "the request body must be a JSON object (a GenerateContentRequest)"
    );
    assert!(refusal(r#"{"contents":["#).starts_with("invalid request at contents: EOF"));
    assert_eq!(
        refusal(
            r#"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperature":"hot"}}"#
        ),
        "invalid request at generationConfig.temperature: invalid type: string \"hot\", expected \
         f64 at line 1 column 78"
    );
}

#[test]
fn what_google_genai_sends_converts() {
    // The body google-genai 1.x sent for a call with most options set
    // (captured from the SDK): camelCase outside, snake_case inside.
    let body = json!({
        "contents": [
            {"parts": [{"text": "hi"}, {"inlineData": {"data": "iVBORw==", "mime_type": "image/png"}}], "role": "user"},
            {"parts": [{"text": "t", "thought": true, "thoughtSignature": "YWJj"},
                       {"functionCall": {"id": "c1", "args": {"a": 1}, "name": "f"}}], "role": "model"},
            {"parts": [{"functionResponse": {"id": "c1", "name": "f", "response": {"out": 2}}}], "role": "user"},
        ],
        "systemInstruction": {"parts": [{"text": "be nice"}], "role": "user"},
        "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
        "tools": [{"functionDeclarations": [
            {"description": "d", "name": "g", "parameters": {"properties": {"x": {"type": "INTEGER"}}, "type": "OBJECT"}},
            {"description": "Get weather.", "name": "fn", "parameters_json_schema": {"type": "object",
                "properties": {"location": {"type": "string"}}, "required": ["location"]},
             "response_json_schema": {"type": "string"}},
        ]}],
        "toolConfig": {"functionCallingConfig": {"allowedFunctionNames": ["g"], "mode": "ANY"}},
        "generationConfig": {"temperature": 0.5, "topP": 0.9, "topK": 3.0, "candidateCount": 1,
            "maxOutputTokens": 100, "stopSequences": ["x"], "presencePenalty": 0.1,
            "frequencyPenalty": 0.2, "seed": 3, "responseMimeType": "application/json",
            "responseSchema": {"properties": {"a": {"nullable": true, "type": "STRING"}}, "required": ["a"], "type": "OBJECT"},
            "thinkingConfig": {"include_thoughts": true, "thinking_budget": 1024}},
    });
    let chat = convert_as(body, true);
    assert_eq!(
        chat,
        json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [{"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "{\"out\":2}"},
            ],
            "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": ["x"], "seed": 3,
            "presence_penalty": 0.1, "frequency_penalty": 0.2,
            "response_format": {"type": "json_schema", "json_schema": {"name": "response",
                "schema": {"properties": {"a": {"type": ["string", "null"]}}, "required": ["a"], "type": "object"}}},
            "reasoning_effort": "low",
            "tools": [{"type": "function", "function": {"name": "g", "description": "d",
                "parameters": {"properties": {"x": {"type": "integer"}}, "type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "g"}},
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    );
}

#[test]
fn strings_without_escapes_are_borrowed_into_the_hub() {
    // A smoke check of the borrowing: the text reaches the output unchanged.
    let body = r#"{"contents":[{"parts":[{"text":"caf\u00e9 \"x\""}]}]}"#;
    let mut out = Vec::new();
    to_chat(body.as_bytes(), MODEL, false, &mut out).unwrap();
    let chat: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(chat["messages"][0]["content"], "café \"x\"");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let inputs: [&[u8]; 9] = [
        b"",
        b"\xff\xfe",
        b"null",
        b"{\"contents\":null}",
        b"{\"contents\":[null]}",
        b"{\"contents\":[{\"parts\":null}]}",
        b"{\"contents\":[{\"parts\":[null,{}]}]}",
        b"{\"tools\":[null],\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}",
        b"{\"contents\":[{\"parts\":[{\"inlineData\":{\"mimeType\":\"\xc3\xa9\",\"data\":\"\"}}]}]}",
    ];
    for input in inputs {
        let mut out = Vec::new();
        let _ = to_chat(input, MODEL, true, &mut out);
    }
}

#[test]
fn cached_content_is_refused_unless_empty() {
    assert_eq!(
        refusal(r#"{"contents":[{"parts":[{"text":"x"}]}],"cachedContent":"cachedContents/abc"}"#),
        "cachedContent 'cachedContents/abc' is stored by Google and only a Gemini provider can \
         read it; send the cached contents in the request instead"
    );
    let chat = convert(json!({"contents": [user("x")], "cached_content": ""}));
    assert_eq!(chat["messages"][0]["content"], "x");
}
