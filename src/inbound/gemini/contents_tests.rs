use serde_json::{json, Value};

use crate::inbound::gemini::test_support::*;
use crate::inbound::gemini::to_chat;

#[test]
fn system_instruction_comes_first_as_content_or_bare_string() {
    let chat = convert(json!({
        "systemInstruction": {"role": "user", "parts": [{"text": "be brief"}, {"text": "be kind"}]},
        "contents": [user("hi")],
    }));
    assert_eq!(
        chat["messages"][0],
        json!({"role": "system", "content": "be brief\nbe kind"})
    );
    let chat = convert(json!({"system_instruction": "be brief", "contents": [user("hi")]}));
    assert_eq!(
        chat["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    let chat = convert(json!({"systemInstruction": {"parts": []}, "contents": [user("hi")]}));
    assert_eq!(chat["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        refusal(
            r#"{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]},"contents":[{"parts":[{"text":"x"}]}]}"#
        ),
        "systemInstruction.parts[0] must be a text part"
    );
}

#[test]
fn images_become_image_url_parts_in_order() {
    let chat = convert(json!({"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
        {"text": "what is this?"},
        {"file_data": {"file_uri": "https://example.com/cat.JPG?x=1"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/pic"}},
    ]}]}));
    assert_eq!(
        chat["messages"][0]["content"],
        json!([
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.JPG?x=1"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/pic"}},
        ])
    );
}

#[test]
fn inline_data_in_snake_case_and_url_safe_base64_is_normalised() {
    // google-genai writes `mime_type` inside `inlineData`.
    let chat = convert(json!({"contents": [{"parts": [
        {"inlineData": {"mime_type": "image/jpeg", "data": "-_8"}},
    ]}]}));
    assert_eq!(
        chat["messages"][0]["content"][0]["image_url"]["url"],
        "data:image/jpeg;base64,+/8="
    );
}

#[test]
fn several_user_texts_stay_separate_parts() {
    let chat = convert(json!({"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}]}));
    assert_eq!(
        chat["messages"][0]["content"],
        json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    );
}

#[test]
fn model_text_pieces_join_and_thoughts_are_dropped() {
    let chat = convert(json!({"contents": [
        user("q"),
        {"role": "model", "parts": [
            {"text": "thinking...", "thought": true, "thoughtSignature": "c2ln"},
            {"text": "The answer"},
            {"text": " is 4.", "thoughtSignature": "c2ln"},
            {"text": "", "thoughtSignature": "c2ln"},
        ]},
        user("thanks"),
    ]}));
    assert_eq!(
        chat["messages"][1],
        json!({"role": "assistant", "content": "The answer is 4."})
    );
}

#[test]
fn a_turn_of_thoughts_only_leaves_no_message() {
    let chat = convert(json!({"contents": [
        user("q"),
        {"role": "model", "parts": [{"text": "hmm", "thought": true}]},
        user("well?"),
    ]}));
    assert_eq!(chat["messages"].as_array().unwrap().len(), 2);
}

#[test]
fn function_calls_and_responses_without_ids_match_by_name_in_order() {
    let chat = convert(json!({"contents": [
        user("weather in Paris and Rome?"),
        {"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
            {"functionCall": {"name": "time"}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "time", "response": {"now": "noon"}}},
            {"functionResponse": {"name": "weather", "response": {"temp": 20}}},
            {"functionResponse": {"name": "weather", "response": {"temp": 25}}},
            {"text": "and be quick"},
        ]},
    ]}));
    assert_eq!(
        chat["messages"],
        json!([
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
                {"id": "call_3", "type": "function", "function": {"name": "time", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_3", "content": "{\"now\":\"noon\"}"},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":20}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "{\"temp\":25}"},
            {"role": "user", "content": "and be quick"},
        ])
    );
}

#[test]
fn ids_match_calls_to_responses_exactly() {
    let chat = convert(json!({"contents": [
        user("q"),
        {"role": "model", "parts": [
            {"function_call": {"id": "a", "name": "f", "args": {"n": 1}}},
            {"functionCall": {"id": "b", "name": "f", "args": {"n": 2}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"id": "b", "name": "f", "response": {"r": 2}}},
            {"function_response": {"id": "a", "name": "f", "response": {"r": 1}}},
        ]},
    ]}));
    let messages = chat["messages"].as_array().unwrap();
    assert_eq!(messages[1]["tool_calls"][0]["id"], "a");
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "b", "content": "{\"r\":2}"})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "a", "content": "{\"r\":1}"})
    );
}

#[test]
fn function_response_text_is_the_response_json_as_sent() {
    let body = r#"{"contents":[{"parts":[{"text":"q"}]},
        {"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"f","response":{"a": [1, 2]}}}]}]}"#;
    let mut out = Vec::new();
    to_chat(body.as_bytes(), MODEL, false, &mut out).unwrap();
    let chat: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(chat["messages"][2]["content"], r#"{"a": [1, 2]}"#);
}

#[test]
fn unanswered_and_unmatched_function_calls_are_refused() {
    let call = r#"{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]}"#;
    let q = r#"{"parts":[{"text":"q"}]}"#;
    assert_eq!(
        refusal(&format!(r#"{{"contents":[{q},{call},{q}]}}"#)),
        "contents[1] calls function 'f', but the user turn right after it has no \
         functionResponse for it"
    );
    assert_eq!(
        refusal(&format!(
            r#"{{"contents":[{q},{call},{{"parts":[{{"functionResponse":{{"name":"g","response":{{}}}}}}]}}]}}"#
        )),
        "contents[2].parts[0].functionResponse 'g' answers no functionCall of the model turn \
         right before it"
    );
    assert_eq!(
        refusal(&format!(
            r#"{{"contents":[{q},{{"parts":[{{"functionResponse":{{"name":"f","response":{{}}}}}}]}}]}}"#
        )),
        "contents[1].parts[0].functionResponse 'f' answers no functionCall of the model turn \
         right before it"
    );
    assert_eq!(
        refusal(&format!(
            r#"{{"contents":[{q},{call},{{"parts":[{{"functionResponse":{{"name":"f"}}}}]}}]}}"#
        )),
        "contents[2].parts[0].functionResponse 'f' has no response"
    );
}

#[test]
fn parts_in_the_wrong_turn_are_refused() {
    assert_eq!(
        refusal(r#"{"contents":[{"parts":[{"functionCall":{"name":"f"}}]}]}"#),
        "contents[0].parts[0]: a functionCall belongs in a model turn"
    );
    assert_eq!(
        refusal(
            r#"{"contents":[{"parts":[{"text":"q"}]},{"role":"model","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}"#
        ),
        "contents[1].parts[0]: a functionResponse belongs in a user turn"
    );
    assert_eq!(
        refusal(
            r#"{"contents":[{"role":"model","parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}"#
        ),
        "contents[0].parts[0]: a model turn can hold text and function calls, not media"
    );
    assert_eq!(
        refusal(r#"{"contents":[{"role":"model","parts":[{"functionCall":{"args":{}}}]}]}"#),
        "contents[0].parts[0].functionCall has no name"
    );
    assert_eq!(
        refusal(
            r#"{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]}"#
        ),
        "contents[0].parts[0].functionCall.args must be an object"
    );
}

#[test]
fn server_tool_parts_and_non_image_media_are_refused() {
    assert!(refusal(
        r#"{"contents":[{"role":"model","parts":[{"executableCode":{"language":"PYTHON","code":"1"}}]}]}"#
    )
    .starts_with("contents[0].parts[0] is a executableCode part, left by a Gemini server tool"));
    assert!(refusal(
        r#"{"contents":[{"parts":[{"code_execution_result":{"outcome":"OUTCOME_OK"}}]}]}"#
    )
    .contains("codeExecutionResult"));
    assert_eq!(
        refusal(
            r#"{"contents":[{"parts":[{"inlineData":{"mimeType":"application/pdf","data":"AA=="}}]}]}"#
        ),
        "contents[0].parts[0].inlineData has mimeType 'application/pdf': only images (image/*) \
         can be sent to a model that is not served by a Gemini provider"
    );
    assert!(refusal(
        r#"{"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"https://x/v.mp4"}}]}]}"#
    )
    .contains("is not an image"));
    assert!(refusal(
        r#"{"contents":[{"parts":[{"fileData":{"fileUri":"https://x/notes.txt"}}]}]}"#
    )
    .contains("is not an image"));
    assert!(refusal(
        r#"{"contents":[{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"gs://bucket/a.png"}}]}]}"#
    )
    .contains("can only be read by a Gemini provider"));
    assert!(refusal(
        r#"{"contents":[{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]}"#
    )
    .contains("can only be read by a Gemini provider"));
    assert_eq!(
        refusal(r#"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png"}}]}]}"#),
        "contents[0].parts[0].inlineData has no data"
    );
    assert!(refusal(
        r#"{"contents":[{"parts":[{"functionResponse":{"name":"f","response":{},"parts":[{"inlineData":{}}]}}]}]}"#
    )
    .contains("has parts (media)"));
}

#[test]
fn a_part_with_two_kinds_of_data_is_refused() {
    assert_eq!(
        refusal(
            r#"{"contents":[{"parts":[{"text":"a","inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}"#
        ),
        "contents[0].parts[0] must set only one of text, inlineData, fileData, functionCall and \
         functionResponse"
    );
}

#[test]
fn a_google_genai_chat_echoes_our_call_ids_and_answers_by_name() {
    // The second request of a `client.chats` session after our stream
    // answered with two calls: the SDK echoes the calls with their ids but
    // sends the responses without them.
    let chat = convert(json!({"contents": [
        {"parts": [{"text": "where?"}], "role": "user"},
        {"parts": [
            {"functionCall": {"id": "call_q2Uy", "args": {}, "name": "get_country"}},
            {"functionCall": {"id": "call_b51i", "args": {}, "name": "get_product_name"}},
        ], "role": "model"},
        {"parts": [
            {"functionResponse": {"name": "get_country", "response": {"result": "France"}}},
            {"functionResponse": {"name": "get_product_name", "response": {"result": "Widget"}}},
        ], "role": "user"},
    ], "generationConfig": {}}));
    let messages = chat["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_call_id"], "call_q2Uy");
    assert_eq!(messages[3]["tool_call_id"], "call_b51i");
    assert_eq!(messages[3]["content"], "{\"result\":\"Widget\"}");
}
