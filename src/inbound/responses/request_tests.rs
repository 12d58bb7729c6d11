//! One test per request rule; each compares the whole chat body (or the
//! field the rule is about) as JSON values.

use super::*;
use serde_json::{json, Value};

fn convert(body: Value) -> (Value, Converted) {
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut out = b"prefix".to_vec();
    let converted = to_chat(&bytes, &mut out).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert!(out.starts_with(b"prefix"), "appends to out");
    (serde_json::from_slice(&out[6..]).unwrap(), converted)
}

fn refused(body: Value) -> String {
    refused_bytes(&serde_json::to_vec(&body).unwrap())
}

fn refused_bytes(body: &[u8]) -> String {
    let mut out = b"prefix".to_vec();
    let err = to_chat(body, &mut out).expect_err("refused");
    assert_eq!(out, b"prefix", "out is left as it was");
    err.0
}

fn messages(input: Value) -> Value {
    convert(json!({"model":"m","input":input})).0["messages"].clone()
}

#[test]
fn string_input_is_one_user_message_and_the_model_is_copied_as_sent() {
    let (v, converted) = convert(json!({"model":"anthropic/claude-x","input":"hi"}));
    assert_eq!(
        v,
        json!({"model":"anthropic/claude-x","messages":[{"role":"user","content":"hi"}]})
    );
    assert!(!converted.stream);
}

#[test]
fn instructions_become_the_first_system_message() {
    let (v, _) = convert(json!({"model":"m","instructions":"be brief","input":"hi"}));
    assert_eq!(
        v["messages"],
        json!([{"role":"system","content":"be brief"},{"role":"user","content":"hi"}])
    );
    assert!(
        refused(json!({"model":"m","instructions":["x"],"input":"hi"}))
            .contains("`instructions` must be a string")
    );
}

#[test]
fn message_items_with_or_without_type_and_developer_as_system() {
    let m = messages(json!([
        {"type":"message","role":"developer","content":"rules"},
        {"role":"system","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
        {"role":"user","content":"q"},
        {"type":"message","role":"assistant","id":"msg_1","status":"completed",
         "content":[{"type":"output_text","text":"an","annotations":[]},{"type":"output_text","text":"swer"}]},
    ]));
    assert_eq!(
        m,
        json!([
            {"role":"system","content":"rules"},
            {"role":"system","content":"a\nb"},
            {"role":"user","content":"q"},
            {"role":"assistant","content":"answer"},
        ])
    );
}

#[test]
fn user_parts_become_text_and_image_url_parts() {
    let m = messages(json!([{"role":"user","content":[
        {"type":"input_text","text":"what is this?"},
        {"type":"input_image","image_url":"https://x/y.png","detail":"high"},
        {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"auto"},
        {"type":"input_image","image_url":"https://x/z.png","detail":"original"},
        {"type":"input_image","image_url":"https://x/w.png","detail":"low"},
    ]}]));
    assert_eq!(
        m,
        json!([{"role":"user","content":[
            {"type":"text","text":"what is this?"},
            {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"high"}},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
            {"type":"image_url","image_url":{"url":"https://x/z.png"}},
            {"type":"image_url","image_url":{"url":"https://x/w.png","detail":"low"}},
        ]}])
    );
}

#[test]
fn assistant_refusal_parts_are_its_text() {
    let m = messages(json!([{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]));
    assert_eq!(m, json!([{"role":"assistant","content":"no"}]));
}

#[test]
fn function_calls_merge_into_the_assistant_turn_before_them() {
    let m = messages(json!([
        {"role":"user","content":"weather in Paris and Rome?"},
        {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"xyz"},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},
        {"type":"function_call","id":"fc_1","call_id":"c1","name":"weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},
        {"type":"function_call","call_id":"c2","name":"weather","arguments":"{\"city\":\"Rome\"}"},
        {"type":"function_call_output","call_id":"c1","output":"sunny"},
        {"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"rain"},{"type":"input_text","text":"wind"}]},
        {"type":"function_call","call_id":"c3","name":"clock","arguments":"{}"},
    ]));
    assert_eq!(
        m,
        json!([
            {"role":"user","content":"weather in Paris and Rome?"},
            {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"c2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}},
            ]},
            {"role":"tool","content":"sunny","tool_call_id":"c1"},
            {"role":"tool","content":"rain\nwind","tool_call_id":"c2"},
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"c3","type":"function","function":{"name":"clock","arguments":"{}"}},
            ]},
        ])
    );
}

#[test]
fn assistant_text_after_tool_calls_is_a_message_of_its_own() {
    let m = messages(json!([
        {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
        {"role":"assistant","content":"done"},
    ]));
    assert_eq!(
        m,
        json!([
            {"role":"assistant","content":null,"tool_calls":[
                {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"assistant","content":"done"},
        ])
    );
}

#[test]
fn escaped_strings_survive_the_round_trip() {
    let m = messages(json!([{"role":"user","content":"a \"quoted\"\nline é \u{1F600}"}]));
    assert_eq!(m[0]["content"], "a \"quoted\"\nline é \u{1F600}");
}

#[test]
fn items_needing_stored_state_or_other_tools_are_refused_by_name() {
    let err = refused(json!({"model":"m","input":[{"role":"user","content":"x"},
        {"type":"item_reference","id":"msg_1"}]}));
    assert!(
        err.starts_with("input[1]: `item_reference` needs a provider that stores responses"),
        "{err}"
    );
    for kind in [
        "computer_call_output",
        "local_shell_call",
        "custom_tool_call",
        "mcp_approval_response",
    ] {
        // Refused by type, whatever their other fields hold.
        let err = refused(json!({"model":"m","input":[{"type":kind,"call_id":"c",
            "arguments":{"a":1},"name":7,"content":{}}]}));
        assert_eq!(
            err,
            format!("input[0]: input items of type `{kind}` need an openai or azure provider")
        );
    }
}

#[test]
fn files_and_file_id_images_are_refused_naming_them() {
    let err = refused(json!({"model":"m","input":[{"role":"user","content":[
        {"type":"input_file","file_id":"file-1"}]}]}));
    assert!(
        err.contains("`input_file` content parts need an openai or azure provider"),
        "{err}"
    );
    let err = refused(json!({"model":"m","input":[{"role":"user","content":[
        {"type":"input_image","file_id":"file-1","detail":"auto"}]}]}));
    assert!(
        err.contains("`input_image` with a `file_id` needs OpenAI's file storage"),
        "{err}"
    );
    let err = refused(json!({"model":"m","input":[{"role":"user","content":[
        {"type":"input_image","detail":"auto"}]}]}));
    assert!(
        err.contains("`input_image` part without `image_url`"),
        "{err}"
    );
    let err = refused(json!({"model":"m","input":[{"role":"user","content":[
        {"type":"input_image","image_url":"https://x","detail":"huge"}]}]}));
    assert!(err.contains("unknown image `detail` `huge`"), "{err}");
    let err = refused(json!({"model":"m","input":[{"role":"system","content":[
        {"type":"input_image","image_url":"https://x","detail":"auto"}]}]}));
    assert!(
        err.contains("images are only accepted in user messages"),
        "{err}"
    );
    let err = refused(
        json!({"model":"m","input":[{"type":"function_call_output","call_id":"c",
        "output":[{"type":"input_image","image_url":"https://x"}]}]}),
    );
    assert!(err.contains("images in a function_call_output"), "{err}");
    let err = refused(json!({"model":"m","input":[{"role":"user","content":[
        {"type":"input_audio","input_audio":{}}]}]}));
    assert!(
        err.contains("content parts of type `input_audio` are not supported"),
        "{err}"
    );
}

#[test]
fn malformed_items_say_which_item_and_what_is_missing() {
    let cases = [
        (
            json!({"content":"x"}),
            "input[0]: a message item needs a `role`",
        ),
        (
            json!({"type":"message","content":"x"}),
            "input[0]: a message item needs a `role`",
        ),
        (
            json!({"role":"tool","content":"x"}),
            "input[0]: unknown role `tool`",
        ),
        (
            json!({"role":"user"}),
            "input[0]: a message item needs `content`",
        ),
        (
            json!({"role":"user","content":5}),
            "input[0]: message `content` must be a string or an array",
        ),
        (
            json!({"role":"user","content":[{"text":"x"}]}),
            "input[0]: invalid `content`: missing field `type`",
        ),
        (
            json!({"role":"user","content":[{"type":"input_text"}]}),
            "input[0]: `input_text` part without `text`",
        ),
        (
            json!({"type":"function_call","name":"f","arguments":"{}"}),
            "input[0]: a function_call item needs a `call_id`",
        ),
        (
            json!({"type":"function_call","call_id":"c","arguments":"{}"}),
            "input[0]: a function_call item needs a `name`",
        ),
        (
            json!({"type":"function_call","call_id":"c","name":"f"}),
            "input[0]: a function_call item needs `arguments`",
        ),
        (
            json!({"type":"function_call","call_id":"c","name":"f","arguments":{}}),
            "input[0]: invalid `item`: invalid type: map",
        ),
        (
            json!({"type":"function_call_output","output":"x"}),
            "input[0]: a function_call_output item needs a `call_id`",
        ),
        (
            json!({"type":"function_call_output","call_id":"c"}),
            "input[0]: a function_call_output item needs `output`",
        ),
        (
            json!("just text"),
            "input[0]: invalid `item`: invalid type: string",
        ),
    ];
    for (item, want) in cases {
        let err = refused(json!({"model":"m","input":[item]}));
        assert!(err.starts_with(want), "{item}: got {err:?}, want {want:?}");
    }
}

#[test]
fn function_tools_become_chat_tools_with_strict_only_when_sent() {
    let (v, _) = convert(json!({"model":"m","input":"hi","tools":[
        {"type":"function","name":"weather","description":"Get weather","strict":true,
         "parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
        {"type":"function","name":"clock","parameters":null,"description":null},
    ]}));
    assert_eq!(
        v["tools"],
        json!([
            {"type":"function","function":{"name":"weather","description":"Get weather",
             "parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},
            {"type":"function","function":{"name":"clock"}},
        ])
    );
}

#[test]
fn other_tool_types_are_refused_saying_they_need_openai_or_azure() {
    let hosted = [
        "web_search",
        "web_search_preview",
        "file_search",
        "code_interpreter",
        "mcp",
        "image_generation",
    ];
    let client_side = [
        "computer_use_preview",
        "local_shell",
        "shell",
        "apply_patch",
        "custom",
        "namespace",
    ];
    for (kinds, why) in [
        (hosted, "run on OpenAI's side"),
        (client_side, "have no chat completions equivalent"),
    ] {
        for kind in kinds {
            let err = refused(json!({"model":"m","input":"hi","tools":[
                {"type":"function","name":"f"},{"type":kind}]}));
            assert_eq!(
                err,
                format!(
                    "tools[1]: `{kind}` tools {why}; they need an openai or azure provider, \
                     only `function` tools work here"
                )
            );
        }
    }
    assert!(
        refused(json!({"model":"m","input":"hi","tools":[{"type":"function"}]}))
            .contains("tools[0]: a function tool needs a `name`")
    );
    assert!(refused(json!({"model":"m","input":"hi","tools":{}})).starts_with("invalid `tools`"));
}

#[test]
fn tool_choice_modes_pass_and_a_function_is_named_the_chat_way() {
    let tools = json!([{"type":"function","name":"f"}]);
    for mode in ["auto", "none", "required"] {
        let (v, _) = convert(json!({"model":"m","input":"hi","tools":tools,"tool_choice":mode}));
        assert_eq!(v["tool_choice"], mode);
    }
    let (v, _) = convert(json!({"model":"m","input":"hi","tools":tools,
        "tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false}));
    assert_eq!(
        v["tool_choice"],
        json!({"type":"function","function":{"name":"f"}})
    );
    assert_eq!(v["parallel_tool_calls"], false);
    let err = refused(json!({"model":"m","input":"hi","tools":tools,
        "tool_choice":{"type":"allowed_tools","mode":"auto","tools":[]}}));
    assert!(
        err.starts_with("`tool_choice` of type `allowed_tools` needs an openai or azure provider"),
        "{err}"
    );
    let err =
        refused(json!({"model":"m","input":"hi","tool_choice":{"type":"web_search_preview"}}));
    assert!(err.contains("`web_search_preview`"), "{err}");
    assert!(
        refused(json!({"model":"m","input":"hi","tool_choice":"any"}))
            .contains("unknown `tool_choice` `any`")
    );
    assert!(
        refused(json!({"model":"m","input":"hi","tool_choice":{"type":"function"}}))
            .contains("needs a `name`")
    );
}

#[test]
fn tool_settings_without_tools_are_dropped_as_chat_apis_refuse_them() {
    let (v, _) = convert(json!({"model":"m","input":"hi","tool_choice":"auto",
        "parallel_tool_calls":true,"tools":[]}));
    assert_eq!(
        v,
        json!({"model":"m","messages":[{"role":"user","content":"hi"}]})
    );
    // A forced choice without tools is the client's mistake, for upstream to say.
    let (v, _) = convert(json!({"model":"m","input":"hi","tool_choice":"required"}));
    assert_eq!(v["tool_choice"], "required");
}

#[test]
fn text_format_becomes_response_format() {
    let schema = json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]});
    let (v, _) = convert(
        json!({"model":"m","input":"hi","text":{"format":{"type":"json_schema",
        "name":"answer","description":"d","schema":schema,"strict":true},"verbosity":"low"}}),
    );
    assert_eq!(
        v["response_format"],
        json!({"type":"json_schema","json_schema":{"name":"answer","description":"d","schema":schema,"strict":true}})
    );
    let (v, _) =
        convert(json!({"model":"m","input":"hi","text":{"format":{"type":"json_object"}}}));
    assert_eq!(v["response_format"], json!({"type":"json_object"}));
    for text in [
        json!({"format":{"type":"text"}}),
        json!({"verbosity":"high"}),
    ] {
        let (v, _) = convert(json!({"model":"m","input":"hi","text":text}));
        assert!(v.get("response_format").is_none());
    }
    let cases = [
        (
            json!({"format":{"type":"json_schema","schema":{}}}),
            "json_schema needs a `name`",
        ),
        (
            json!({"format":{"type":"json_schema","name":"a"}}),
            "json_schema needs a `schema`",
        ),
        (
            json!({"format":{"type":"grammar"}}),
            "unknown `text.format` type `grammar`",
        ),
        (json!("json"), "invalid `text`"),
    ];
    for (text, want) in cases {
        let err = refused(json!({"model":"m","input":"hi","text":text}));
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn reasoning_effort_maps_onto_low_medium_high() {
    let cases = [
        ("minimal", Some("low")),
        ("low", Some("low")),
        ("medium", Some("medium")),
        ("high", Some("high")),
        ("xhigh", Some("high")),
        ("none", None),
    ];
    for (effort, want) in cases {
        let (v, _) = convert(json!({"model":"m","input":"hi",
            "reasoning":{"effort":effort,"summary":"auto"}}));
        assert_eq!(
            v.get("reasoning_effort").and_then(Value::as_str),
            want,
            "{effort}"
        );
    }
    let (v, _) = convert(json!({"model":"m","input":"hi","reasoning":{"summary":"detailed"}}));
    assert!(v.get("reasoning_effort").is_none());
    assert!(
        refused(json!({"model":"m","input":"hi","reasoning":{"effort":"extreme"}}))
            .contains("unknown `reasoning.effort` `extreme`")
    );
}

#[test]
fn sampling_limits_and_user_are_carried() {
    let (v, _) = convert(json!({"model":"m","input":"hi","max_output_tokens":256,
        "temperature":0.25,"top_p":1,"frequency_penalty":0.5,"presence_penalty":-0.5,"user":"u1",
        "safety_identifier":"s1"}));
    assert_eq!(
        v,
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":256,
            "temperature":0.25,"top_p":1,"frequency_penalty":0.5,"presence_penalty":-0.5,"user":"u1"})
    );
    let (v, _) = convert(json!({"model":"m","input":"hi","safety_identifier":"s1"}));
    assert_eq!(v["user"], "s1");
}

#[test]
fn stream_asks_for_usage() {
    let (v, converted) = convert(json!({"model":"m","input":"hi","stream":true}));
    assert!(converted.stream);
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"], json!({"include_usage":true}));
    let (v, converted) = convert(json!({"model":"m","input":"hi","stream":false}));
    assert!(!converted.stream && v.get("stream").is_none() && v.get("stream_options").is_none());
}

#[test]
fn fields_without_a_chat_equivalent_are_ignored() {
    let (v, _) = convert(
        json!({"model":"m","input":"hi","metadata":{"k":"v"},"store":true,
        "include":["reasoning.encrypted_content"],"truncation":"auto","service_tier":"flex",
        "prompt_cache_key":"k","prompt_cache_retention":"24h","top_logprobs":3,
        "max_tool_calls":2,"stream_options":{"include_obfuscation":false},
        "context_management":[{"type":"compaction"}],"background":false,
        "previous_response_id":null,"conversation":null,"prompt":null,"brand_new_field":1}),
    );
    assert_eq!(
        v,
        json!({"model":"m","messages":[{"role":"user","content":"hi"}]})
    );
}

#[test]
fn stored_state_is_refused_with_what_to_do_instead() {
    let cases = [
        (json!({"previous_response_id":"resp_1"}),
         "`previous_response_id` needs a provider that stores responses (openai or azure); send the conversation in `input` instead"),
        (json!({"conversation":"conv_1"}),
         "`conversation` needs a provider that stores conversations (openai or azure); send the conversation in `input` instead"),
        (json!({"prompt":{"id":"pmpt_1"}}),
         "`prompt` (a stored prompt template) needs an openai or azure provider; send `instructions` and `input` instead"),
        (json!({"background":true}),
         "`background: true` needs a provider that stores responses (openai or azure); send the request without it"),
        (json!({"moderation":{"model":"omni-moderation-latest"}}),
         "`moderation` needs an openai or azure provider; send the request without it"),
    ];
    for (extra, want) in cases {
        let mut body = json!({"model":"m","input":"hi"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_eq!(refused(body), want);
    }
}

#[test]
fn bad_bodies_and_top_level_fields_are_refused_by_name() {
    assert!(refused_bytes(b"{\"model\":").starts_with("invalid request body: "));
    assert!(refused_bytes(b"[1]").starts_with("invalid request body: "));
    assert!(refused_bytes(b"").starts_with("invalid request body: "));
    let cases = [
        (json!({"input":"hi"}), "`model` is required"),
        (json!({"model":5,"input":"hi"}), "`model` must be a string"),
        (json!({"model":"m"}), "`input` is required"),
        (
            json!({"model":"m","input":[]}),
            "`input` must not be an empty array",
        ),
        (
            json!({"model":"m","input":5}),
            "`input` must be a string or an array of input items",
        ),
        (
            json!({"model":"m","input":"hi","stream":"yes"}),
            "invalid `stream`: invalid type: string",
        ),
        (
            json!({"model":"m","input":"hi","max_output_tokens":-1}),
            "invalid `max_output_tokens`",
        ),
        (
            json!({"model":"m","input":"hi","temperature":"hot"}),
            "`temperature` must be a number",
        ),
        (
            json!({"model":"m","input":"hi","top_p":[]}),
            "`top_p` must be a number",
        ),
        (
            json!({"model":"m","input":"hi","parallel_tool_calls":1}),
            "invalid `parallel_tool_calls`",
        ),
        (
            json!({"model":"m","input":"hi","user":7}),
            "`user` must be a string",
        ),
        (
            json!({"model":"m","input":"hi","background":"no"}),
            "invalid `background`",
        ),
    ];
    for (body, want) in cases {
        let err = refused(body.clone());
        assert!(err.starts_with(want), "{body}: got {err:?}, want {want:?}");
    }
}

#[test]
fn no_prefix_of_a_request_panics() {
    let body = serde_json::to_vec(&json!({"model":"m","instructions":"i","stream":true,
        "input":[{"role":"user","content":[{"type":"input_text","text":"a\u{e9}\"b"},
            {"type":"input_image","image_url":"data:image/png;base64,AA","detail":"low"}]},
            {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
            {"type":"function_call_output","call_id":"c","output":"o"}],
        "tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],
        "tool_choice":{"type":"function","name":"f"},
        "text":{"format":{"type":"json_schema","name":"n","schema":{}}},
        "reasoning":{"effort":"low"},"max_output_tokens":9}))
    .unwrap();
    let mut out = Vec::new();
    to_chat(&body, &mut out).unwrap();
    for cut in 0..body.len() {
        out.clear();
        assert!(to_chat(&body[..cut], &mut out).is_err());
        assert!(out.is_empty());
    }
}

/// The second request of a tool loop as each client sends it (shapes seen
/// from the openai Agents SDK 0.24, the Vercel AI SDK 6 with `store` on, and
/// Codex CLI 0.171): the same chat conversation comes out of each.
#[test]
fn tool_loops_of_the_judging_clients_convert_alike() {
    let call = json!({"type":"function_call","call_id":"call_1","name":"weather",
        "arguments":"{\"location\":\"SF\"}"});
    let mut agents_call = call.clone();
    agents_call["id"] = json!("fc_1");
    agents_call["status"] = json!("completed");
    let bodies = [
        json!({"model":"m","include":[],"instructions":"Be brief.","input":[
            {"content":"Weather?","role":"user"},
            {"id":"rs_1","summary":[{"text":"Use the tool.","type":"summary_text"}],"type":"reasoning"},
            agents_call,
            {"call_id":"call_1","output":"20C","type":"function_call_output"}]}),
        json!({"model":"m","instructions":"Be brief.","input":[
            {"role":"user","content":[{"type":"input_text","text":"Weather?"}]},
            {"type":"item_reference","id":"rs_1"},
            call,
            {"type":"function_call_output","call_id":"call_1","output":"20C"}]}),
        json!({"model":"m","instructions":"Be brief.","store":false,
            "include":["reasoning.encrypted_content"],"input":[
            {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather?"}]},
            {"type":"reasoning","id":"rs_1","summary":[],"content":null,"encrypted_content":null},
            {"type":"function_call","status":"completed","id":"fc_1","name":"weather",
             "arguments":"{\"location\":\"SF\"}","call_id":"call_1"},
            {"type":"function_call_output","id":"fco_1","call_id":"call_1","output":"20C"}]}),
    ];
    let want = json!([
        {"role":"system","content":"Be brief."},
        {"role":"user","content":"Weather?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"weather","arguments":"{\"location\":\"SF\"}"}}]},
        {"role":"tool","content":"20C","tool_call_id":"call_1"},
    ]);
    for body in bodies {
        let (mut v, _) = convert(body);
        // User text comes as a string from one client and as parts from others.
        if v["messages"][1]["content"].is_array() {
            v["messages"][1]["content"] = v["messages"][1]["content"][0]["text"].clone();
        }
        assert_eq!(v["messages"], want);
    }
}
