//! One test per request rule; each compares the whole translated body (or the
//! field the rule is about) as JSON values.

use super::*;
use serde_json::{json, Value};

use crate::providers::common::request_checks as checks;
use checks::user;

fn translate(body: Value) -> (Value, RequestInfo) {
    checks::translated(body, translate_request)
}

fn translate_err(body: Value) -> String {
    checks::rejected(body, translate_request)
}

fn weather_tool() -> Value {
    json!({"type":"function","function":{"name":"weather","description":"Get weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}})
}

#[test]
fn minimal_request_has_only_contents_and_no_model() {
    let (v, info) = translate(json!({"model":"gemini/gemini-2.5-flash","messages":[user("hi")]}));
    assert_eq!(
        v,
        json!({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})
    );
    assert!(!info.stream && !info.include_usage);
}

#[test]
fn stream_and_include_usage_are_reported_not_sent() {
    let (v, info) = translate(json!({"messages":[user("hi")],"stream":true,
        "stream_options":{"include_usage":true}}));
    assert!(v.get("stream").is_none() && v.get("stream_options").is_none());
    assert!(info.stream && info.include_usage);
}

#[test]
fn system_and_developer_messages_become_system_instruction() {
    let (v, _) = translate(json!({"messages":[
        {"role":"system","content":"be brief"},
        {"role":"developer","content":[{"type":"text","text":"be kind"}]},
        user("hi")]}));
    assert_eq!(
        v["systemInstruction"],
        json!({"parts":[{"text":"be brief"},{"text":"be kind"}]})
    );
    assert_eq!(v["contents"].as_array().unwrap().len(), 1);
}

#[test]
fn assistant_is_model_and_consecutive_same_role_messages_merge() {
    let (v, _) = translate(json!({"messages":[user("a"), user("b"),
        {"role":"assistant","content":"c"}, {"role":"assistant","content":[{"type":"text","text":"d"}]},
        {"role":"assistant","content":""}, user("e")]}));
    assert_eq!(
        v["contents"],
        json!([
            {"role":"user","parts":[{"text":"a"},{"text":"b"}]},
            {"role":"model","parts":[{"text":"c"},{"text":"d"}]},
            {"role":"user","parts":[{"text":"e"}]}])
    );
}

#[test]
fn images_become_inline_data_or_file_data() {
    let (v, _) = translate(json!({"messages":[{"role":"user","content":[
        {"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.PNG?size=large","detail":"high"}},
        {"type":"image_url","image_url":{"url":"https://example.com/photo"}},
        {"type":"image_url","image_url":{"url":"https://example.com/a.webp"}}]}]}));
    assert_eq!(
        v["contents"][0]["parts"],
        json!([{"text":"what is this?"},
            {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
            {"fileData":{"mimeType":"image/png","fileUri":"https://example.com/cat.PNG?size=large"}},
            {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/photo"}},
            {"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/a.webp"}}])
    );
}

#[test]
fn unsupported_content_is_bad_request() {
    let msg = translate_err(json!({"messages":[{"role":"user","content":[
        {"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}));
    assert!(msg.contains("image_url"), "{msg}");
    let msg = translate_err(json!({"messages":[{"role":"user","content":[
        {"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}));
    assert!(msg.contains("input_audio"), "{msg}");
    let msg = translate_err(json!({"messages":[{"role":"system","content":[
        {"type":"image_url","image_url":{"url":"https://x/y.png"}}]}, user("hi")]}));
    assert!(msg.contains("system"), "{msg}");
}

#[test]
fn tools_become_function_declarations() {
    let (v, _) = translate(json!({"messages":[user("hi")],
        "tools":[weather_tool(), {"type":"function","function":{"name":"now"}}]}));
    assert_eq!(
        v["tools"],
        json!([{"functionDeclarations":[
            {"name":"weather","description":"Get weather","parameters":
                {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
            {"name":"now"}]}])
    );
    assert!(v.get("toolConfig").is_none());
    let msg =
        translate_err(json!({"messages":[user("hi")],"tools":[{"type":"web_search_preview"}]}));
    assert!(msg.contains("web_search_preview"), "{msg}");
}

#[test]
fn schema_keys_gemini_rejects_are_stripped_at_every_level() {
    let (v, _) = translate(
        json!({"messages":[user("hi")],"tools":[{"type":"function","function":{
        "name":"f","parameters":{"$schema":"http://json-schema.org/draft-07/schema#",
            "type":"object","additionalProperties":false,
            "properties":{
                "additionalProperties":{"type":"string"},
                "items":{"type":"array","items":{"type":"object","additionalProperties":false,
                    "properties":{"x":{"type":"integer"}}}},
                "any":{"anyOf":[{"type":"object","additionalProperties":{"type":"string"}},{"type":"null"}]}}}}}]}),
    );
    assert_eq!(
        v["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type":"object","properties":{
            "additionalProperties":{"type":"string"},
            "items":{"type":"array","items":{"type":"object","properties":{"x":{"type":"integer"}}}},
            "any":{"anyOf":[{"type":"object"},{"type":"null"}]}}})
    );
}

#[test]
fn tool_choice_maps_to_function_calling_mode() {
    for (choice, config) in [
        (json!("auto"), json!({"mode":"AUTO"})),
        (json!("none"), json!({"mode":"NONE"})),
        (json!("required"), json!({"mode":"ANY"})),
        (
            json!({"type":"function","function":{"name":"weather"}}),
            json!({"mode":"ANY","allowedFunctionNames":["weather"]}),
        ),
    ] {
        let (v, _) = translate(
            json!({"messages":[user("hi")],"tools":[weather_tool()],"tool_choice":choice}),
        );
        assert_eq!(
            v["toolConfig"],
            json!({"functionCallingConfig":config}),
            "{choice}"
        );
    }
    let (v, _) = translate(json!({"messages":[user("hi")],"tool_choice":"required"}));
    assert!(v.get("toolConfig").is_none(), "no tools, no toolConfig");
    let msg = translate_err(
        json!({"messages":[user("hi")],"tools":[weather_tool()],"tool_choice":"sometimes"}),
    );
    assert!(msg.contains("sometimes"), "{msg}");
}

#[test]
fn tool_calls_and_results_become_function_call_and_response_parts() {
    let (v, _) = translate(json!({"messages":[user("weather?"),
        {"role":"assistant","content":"let me check","tool_calls":[
            {"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_b","type":"function","function":{"name":"now","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_a","content":"{\"temp\": 21}"},
        {"role":"tool","tool_call_id":"call_b","content":[{"type":"text","text":"noon"}]},
        user("thanks")]}));
    assert_eq!(
        v["contents"],
        json!([
            {"role":"user","parts":[{"text":"weather?"}]},
            {"role":"model","parts":[{"text":"let me check"},
                {"functionCall":{"name":"weather","args":{"city":"Paris"}}},
                {"functionCall":{"name":"now","args":{}}}]},
            {"role":"user","parts":[
                {"functionResponse":{"name":"weather","response":{"result":{"temp":21}}}},
                {"functionResponse":{"name":"now","response":{"result":"noon"}}},
                {"text":"thanks"}]}])
    );
}

#[test]
fn tool_message_for_unknown_call_id_is_bad_request() {
    let msg = translate_err(json!({"messages":[user("hi"),
        {"role":"tool","tool_call_id":"call_missing","content":"x"}]}));
    assert!(msg.contains("call_missing"), "{msg}");
    let msg = translate_err(json!({"messages":[user("hi"),{"role":"tool","content":"x"}]}));
    assert!(msg.contains("tool_call_id"), "{msg}");
}

#[test]
fn tool_arguments_must_be_a_json_object() {
    for args in ["not json", "[1]", "\"s\""] {
        let msg = translate_err(json!({"messages":[user("hi"),
            {"role":"assistant","tool_calls":[{"id":"c","type":"function",
                "function":{"name":"f","arguments":args}}]}]}));
        assert!(msg.contains("'c'"), "{msg}");
    }
}

#[test]
fn thought_signature_is_restored_from_the_tool_call_id() {
    let id = tool_id::synthesize("resp", 0, "f", "{}", Some("Ab+/Cd=="));
    let (v, _) = translate(json!({"messages":[user("hi"),
        {"role":"assistant","tool_calls":[
            {"id":id,"type":"function","function":{"name":"f","arguments":"{}"}},
            {"id":"call_foreign","type":"function","function":{"name":"g","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":id,"content":"1"},
        {"role":"tool","tool_call_id":"call_foreign","content":"2"}]}));
    assert_eq!(
        v["contents"][1]["parts"],
        json!([{"functionCall":{"name":"f","args":{}},"thoughtSignature":"Ab+/Cd=="},
            {"functionCall":{"name":"g","args":{}}}])
    );
}

#[test]
fn sampling_fields_go_to_generation_config() {
    let (v, _) = translate(
        json!({"messages":[user("hi")],"temperature":0.25,"top_p":0.9,
        "max_tokens":10,"stop":"END","n":1,"seed":42,"presence_penalty":0.5,
        "frequency_penalty":-0.5,"user":"u-1","parallel_tool_calls":false}),
    );
    assert_eq!(
        v["generationConfig"],
        json!({"temperature":0.25,"topP":0.9,"maxOutputTokens":10,"stopSequences":["END"],
            "candidateCount":1,"seed":42,"presencePenalty":0.5,"frequencyPenalty":-0.5})
    );
    assert!(v.get("user").is_none());
    let (v, _) = translate(json!({"messages":[user("hi")],"max_tokens":10,
        "max_completion_tokens":20,"stop":["a","b"]}));
    assert_eq!(
        v["generationConfig"],
        json!({"maxOutputTokens":20,"stopSequences":["a","b"]})
    );
}

#[test]
fn response_format_sets_mime_type_and_sanitised_schema() {
    let (v, _) = translate(json!({"messages":[user("hi")],"response_format":{"type":"text"}}));
    assert!(v.get("generationConfig").is_none());
    let (v, _) =
        translate(json!({"messages":[user("hi")],"response_format":{"type":"json_object"}}));
    assert_eq!(
        v["generationConfig"],
        json!({"responseMimeType":"application/json"})
    );
    let (v, _) = translate(
        json!({"messages":[user("hi")],"response_format":{"type":"json_schema",
        "json_schema":{"name":"r","strict":true,"schema":{"type":"object",
            "properties":{"a":{"type":"string"}},"additionalProperties":false}}}}),
    );
    assert_eq!(
        v["generationConfig"],
        json!({"responseMimeType":"application/json","responseSchema":
            {"type":"object","properties":{"a":{"type":"string"}}}})
    );
    let msg = translate_err(json!({"messages":[user("hi")],"response_format":{"type":"grammar"}}));
    assert!(msg.contains("grammar"), "{msg}");
}

#[test]
fn reasoning_effort_sets_thinking_budget_with_thoughts() {
    for (effort, budget) in [
        ("low", BUDGET_LOW_TOKENS),
        ("medium", BUDGET_MEDIUM_TOKENS),
        ("high", BUDGET_HIGH_TOKENS),
    ] {
        let (v, _) = translate(json!({"messages":[user("hi")],"reasoning_effort":effort}));
        assert_eq!(
            v["generationConfig"],
            json!({"thinkingConfig":{"thinkingBudget":budget,"includeThoughts":true}})
        );
    }
    let (v, _) = translate(json!({"messages":[user("hi")],"reasoning_effort":"minimal"}));
    assert!(v.get("generationConfig").is_none());
    let msg = translate_err(json!({"messages":[user("hi")],"reasoning_effort":"max"}));
    assert!(msg.contains("max"), "{msg}");
}

#[test]
fn empty_or_contentless_messages_are_bad_request() {
    translate_err(json!({"messages":[]}));
    translate_err(json!({"model":"m"}));
    translate_err(json!({"messages":[{"role":"system","content":"only system"}]}));
    translate_err(json!({"messages":[{"role":"assistant","content":""}]}));
}
