use serde_json::{json, Value};

use crate::inbound::gemini::test_support::*;

#[test]
fn function_declarations_become_function_tools_with_json_schema() {
    let chat = convert(json!({
        "contents": [user("hi")],
        "tools": [
            {"functionDeclarations": [
                {"name": "weather", "description": "Weather in a city",
                 "parameters": {"type": "OBJECT", "properties": {
                     "city": {"type": "STRING"},
                     "days": {"type": "ARRAY", "max_items": "3", "items": {"type": "INTEGER"}}},
                  "required": ["city"]}},
                {"name": "now"},
            ]},
            {"function_declarations": [
                {"name": "lookup", "parameters_json_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
                 "response_json_schema": {"type": "string"}},
            ]},
        ],
    }));
    assert_eq!(
        chat["tools"],
        json!([
            {"type": "function", "function": {"name": "weather", "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "array", "maxItems": 3, "items": {"type": "integer"}}},
                 "required": ["city"]}}},
            {"type": "function", "function": {"name": "now"}},
            {"type": "function", "function": {"name": "lookup",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
        ])
    );
    assert!(chat.get("tool_choice").is_none());
}

#[test]
fn server_tools_and_bad_declarations_are_refused() {
    let with_tools = |tools: &str| {
        refusal(&format!(
            r#"{{"contents":[{{"parts":[{{"text":"x"}}]}}],"tools":{tools}}}"#
        ))
    };
    for tool in [
        "googleSearch",
        "codeExecution",
        "urlContext",
        "google_search_retrieval",
    ] {
        assert_eq!(
            with_tools(&format!(
                r#"[{{"functionDeclarations":[]}},{{"{tool}":{{}}}}]"#
            )),
            format!(
                "tools[1].{tool} is a Gemini server tool: only a Gemini provider can run it \
                 (models not served by one take functionDeclarations only)"
            )
        );
    }
    assert_eq!(
        with_tools(r#"[{"functionDeclarations":[{"description":"no name"}]}]"#),
        "tools[0].functionDeclarations[0] has no name"
    );
    assert_eq!(
        with_tools(
            r#"[{"functionDeclarations":[{"name":"f","parameters":{},"parametersJsonSchema":{}}]}]"#
        ),
        "tools[0].functionDeclarations[0] sets both parameters and parametersJsonSchema; give one"
    );
    assert_eq!(
        with_tools(r#"[{"functionDeclarations":[{"name":"f","parameters":{"type":"WHATEVER"}}]}]"#),
        "tools[0].functionDeclarations[0].parameters.type 'WHATEVER' is not a Gemini schema type \
         (STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, OBJECT or NULL)"
    );
    assert!(with_tools(r#"[{"functionDeclarations":{"name":"f"}}]"#)
        .starts_with("invalid tools[0].functionDeclarations: invalid type: map"));
    // A null tool kind is an unset field.
    let chat = convert(
        json!({"contents": [user("x")], "tools": [{"googleSearch": null,
        "functionDeclarations": [{"name": "f"}]}]}),
    );
    assert_eq!(chat["tools"][0]["function"]["name"], "f");
}

#[test]
fn function_calling_modes_become_tool_choice() {
    let choice = |config: Value| {
        let chat = convert(json!({
            "contents": [user("hi")],
            "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}],
            "toolConfig": {"functionCallingConfig": config},
        }));
        let names: Vec<Value> = chat["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].clone())
            .collect();
        (chat["tool_choice"].clone(), names)
    };
    let all = vec![json!("a"), json!("b"), json!("c")];
    assert_eq!(
        choice(json!({"mode": "AUTO"})),
        (json!("auto"), all.clone())
    );
    assert_eq!(
        choice(json!({"mode": "ANY"})),
        (json!("required"), all.clone())
    );
    assert_eq!(
        choice(json!({"mode": "NONE"})),
        (json!("none"), all.clone())
    );
    assert_eq!(
        choice(json!({"mode": "VALIDATED"})),
        (json!("auto"), all.clone())
    );
    assert_eq!(choice(json!({})), (Value::Null, all.clone()));
    assert_eq!(
        choice(json!({"mode": "ANY", "allowedFunctionNames": ["b"]})),
        (
            json!({"type": "function", "function": {"name": "b"}}),
            vec![json!("b")]
        )
    );
    assert_eq!(
        choice(json!({"mode": "ANY", "allowed_function_names": ["a", "c"]})),
        (json!("required"), vec![json!("a"), json!("c")])
    );
    assert_eq!(
        choice(json!({"mode": "VALIDATED", "allowedFunctionNames": ["c"]})),
        (json!("auto"), vec![json!("c")])
    );
}

#[test]
fn tool_config_without_tools_is_dropped_and_bad_ones_refused() {
    let chat = convert(json!({"contents": [user("hi")],
        "tool_config": {"function_calling_config": {"mode": "ANY"}}}));
    assert!(chat.get("tool_choice").is_none());
    let with = |config: &str| {
        refusal(&format!(
            r#"{{"contents":[{{"parts":[{{"text":"x"}}]}}],"tools":[{{"functionDeclarations":[{{"name":"a"}}]}}],"toolConfig":{{"functionCallingConfig":{config}}}}}"#
        ))
    };
    assert_eq!(
        with(r#"{"mode":"SOMETIMES"}"#),
        "toolConfig.functionCallingConfig.mode 'SOMETIMES' is not one of AUTO, ANY, NONE and \
         VALIDATED"
    );
    assert_eq!(
        with(r#"{"mode":"AUTO","allowedFunctionNames":["a"]}"#),
        "toolConfig.functionCallingConfig.allowedFunctionNames needs mode ANY or VALIDATED"
    );
    assert_eq!(
        with(r#"{"mode":"ANY","allowedFunctionNames":["zz"]}"#),
        "toolConfig.functionCallingConfig.allowedFunctionNames names 'zz', which no \
         functionDeclaration declares"
    );
}
