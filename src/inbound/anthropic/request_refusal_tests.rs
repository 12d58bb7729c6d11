//! `to_chat` refusals: what Anthropic requires, what the hub cannot carry
//! (each named by its field path), what is Anthropic's own; and inputs cut
//! or mutated anywhere never panic.

use serde_json::{json, Value};

use super::request_tests::{claude_code_request, convert, refused, refused_json, request};
use super::*;

#[test]
fn image_sources_other_than_base64_and_url_are_refused() {
    let image = |source: Value| {
        refused_json(request(
            json!({"messages":[{"role":"user","content":[{"type":"image","source":source}]}]}),
        ))
    };
    assert!(image(json!({"type":"file","file_id":"file_1"}))
        .starts_with("messages.0.content.0.source: Files API images are Anthropic's own"));
    assert!(image(json!({"type":"s3","url":"x"})).contains("unknown image source type 's3'"));
    assert_eq!(
        image(json!({"type":"base64","data":"x"})),
        "messages.0.content.0.source.media_type: Field required"
    );
    assert_eq!(
        image(json!({"type":"url"})),
        "messages.0.content.0.source.url: Field required"
    );
}

#[test]
fn blocks_the_hub_cannot_carry_are_refused_by_type() {
    let user = |block: Value| {
        refused_json(request(
            json!({"messages":[{"role":"user","content":[block]}]}),
        ))
    };
    for kind in [
        "document",
        "search_result",
        "container_upload",
        "server_tool_use",
    ] {
        let err = user(json!({"type":kind,"source":{"type":"text","data":"x"}}));
        assert!(
            err.starts_with(&format!(
                "messages.0.content.0.type: '{kind}' blocks in user messages are not supported"
            )),
            "{err}"
        );
    }
    let err = user(json!({"type":"tool_result","tool_use_id":"t","content":[{"type":"document"}]}));
    assert!(
        err.starts_with("messages.0.content.0.content.0: 'document' blocks in a tool_result"),
        "{err}"
    );
    let assistant = |block: Value| {
        refused_json(request(
            json!({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[block]}]}),
        ))
    };
    for kind in ["image", "web_search_tool_result", "tool_result"] {
        let err = assistant(json!({"type":kind}));
        assert!(
            err.starts_with(&format!(
                "messages.1.content.0.type: '{kind}' blocks in assistant"
            )),
            "{err}"
        );
    }
    assert!(user(json!({"text":"no type"})).starts_with("messages.0.content.0.type: '' blocks"));
}

#[test]
fn malformed_blocks_name_their_field() {
    let user = |block: Value| {
        refused_json(request(
            json!({"messages":[{"role":"user","content":[block]}]}),
        ))
    };
    assert_eq!(
        user(json!({"type":"text"})),
        "messages.0.content.0.text: Field required"
    );
    assert!(user(json!({"type":"text","text":5}))
        .starts_with("messages.0.content.0.text: invalid type: integer `5`"));
    assert_eq!(
        user(json!({"type":"tool_result"})),
        "messages.0.content.0.tool_use_id: Field required"
    );
    assert!(
        user(json!({"type":"tool_result","tool_use_id":"t","content":7}))
            .starts_with("messages.0.content.0.content: Input should be a valid string or a list")
    );
    let assistant = |block: Value| {
        refused_json(request(
            json!({"messages":[{"role":"assistant","content":[block]}]}),
        ))
    };
    assert_eq!(
        assistant(json!({"type":"tool_use","name":"f","input":{}})),
        "messages.0.content.0.id: Field required"
    );
    assert_eq!(
        assistant(json!({"type":"tool_use","id":"t","input":{}})),
        "messages.0.content.0.name: Field required"
    );
    assert_eq!(
        assistant(json!({"type":"tool_use","id":"t","name":"f"})),
        "messages.0.content.0.input: Field required"
    );
    assert_eq!(
        assistant(json!({"type":"tool_use","id":"t","name":"f","input":[1]})),
        "messages.0.content.0.input: Input should be an object"
    );
}

#[test]
fn required_fields_and_wrong_types_are_refused_like_anthropic() {
    let cases = [
        (
            json!({"model":"m","messages":[]}).to_string(),
            "max_tokens: Field required",
        ),
        (
            json!({"max_tokens":5,"messages":[]}).to_string(),
            "model: Field required",
        ),
        (
            json!({"model":"m","max_tokens":5}).to_string(),
            "messages: Field required",
        ),
        (
            json!({"model":"m","max_tokens":5,"messages":[]}).to_string(),
            "messages: at least one message is required",
        ),
        (
            request(json!({"max_tokens":"5"})).to_string(),
            "max_tokens: invalid type: string \"5\", expected u64",
        ),
        (
            request(json!({"max_tokens":-1})).to_string(),
            "max_tokens: invalid value: integer `-1`, expected u64",
        ),
        (
            request(json!({"model":7})).to_string(),
            "model: invalid type: integer `7`, expected a string",
        ),
        (
            request(json!({"messages":"hi"})).to_string(),
            "messages: invalid type: string \"hi\", expected a sequence",
        ),
        (
            request(json!({"messages":[{"content":"x"}]})).to_string(),
            "messages.0.role: Field required",
        ),
        (
            request(json!({"messages":[{"role":"tool","content":"x"}]})).to_string(),
            "messages.0.role: Input should be 'user', 'assistant' or 'system'",
        ),
        (
            request(json!({"messages":[{"role":"system","content":[{"type":"image"}]}]}))
                .to_string(),
            "messages.0.content.0.type: system blocks must be text blocks, not 'image'",
        ),
        (
            request(json!({"messages":[{"role":"user"}]})).to_string(),
            "messages.0.content: Field required",
        ),
        (
            request(json!({"messages":[{"role":"user","content":{}}]})).to_string(),
            "messages.0.content: Input should be a valid string or a list of content blocks",
        ),
        (
            request(json!({"temperature":"hot"})).to_string(),
            "temperature: invalid type: string \"hot\", expected f64",
        ),
        (
            request(json!({"stream":"yes"})).to_string(),
            "stream: invalid type: string \"yes\", expected a boolean",
        ),
        (
            request(json!({"stop_sequences":"END"})).to_string(),
            "stop_sequences: invalid type: string \"END\", expected a sequence",
        ),
        (
            request(json!({"max_tokens":0})).to_string(),
            "max_tokens: 0 (prompt-cache pre-warming) needs an Anthropic provider; use at least 1",
        ),
        (
            r#"{"model":"m","model":"n","max_tokens":1,"messages":[]}"#.to_owned(),
            "the request body is not a valid Messages request: duplicate field `model`",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(refused(body.as_bytes()), want, "{body}");
    }
    for garbage in [
        &b""[..],
        b"not json",
        b"[]",
        b"{",
        b"\xff\xfe",
        b"{\"model\":\"m\"} x",
    ] {
        let err = refused(garbage);
        assert!(
            err.contains("not a valid Messages request") || err.contains("Field required"),
            "{err}"
        );
    }
}

#[test]
fn anthropic_defined_tools_are_refused() {
    for kind in [
        "web_search_20250305",
        "bash_20250124",
        "text_editor_20250728",
        "computer_20250124",
        "code_execution_20250825",
    ] {
        let err = refused_json(request(
            json!({"tools":[{"name":"ok","input_schema":{"type":"object"}},{"type":kind,"name":"x"}]}),
        ));
        assert_eq!(
            err,
            format!(
                "tools.1.type: '{kind}' is an Anthropic-defined tool; it needs a model served by an Anthropic \
                 provider (only custom tools with an input_schema can be sent to this one)"
            )
        );
    }
    assert_eq!(
        refused_json(request(json!({"tools":[{"name":"f"}]}))),
        "tools.0.input_schema: Field required"
    );
    assert_eq!(
        refused_json(request(json!({"tools":[{"input_schema":{}}]}))),
        "tools.0.name: Field required"
    );
    assert_eq!(
        refused_json(request(
            json!({"tools":[{"name":"f","input_schema":"object"}]})
        )),
        "tools.0.input_schema: Input should be an object"
    );
}

#[test]
fn anthropic_hosted_features_are_refused_and_harmless_ones_ignored() {
    assert_eq!(
        refused_json(request(json!({"mcp_servers":[{"type":"url","url":"https://mcp.example","name":"x"}]}))),
        "mcp_servers: MCP connector servers are Anthropic's own; they need a model served by an Anthropic provider"
    );
    assert!(refused_json(request(json!({"container":"container_1"})))
        .starts_with("container: code-execution containers"));
    let (v, _) = convert(request(
        json!({"mcp_servers":[],"container":null,"service_tier":"auto","inference_geo":"us",
        "cache_control":{"type":"ephemeral"},"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}}),
    ));
    assert_eq!(v, convert(request(json!({}))).0);
}

#[test]
fn truncated_and_mutated_bodies_never_panic() {
    let body = claude_code_request().to_string().into_bytes();
    for cut in 0..body.len() {
        let _ = to_chat(&body[..cut], &mut Vec::new());
        let _ = count_tokens_estimate(&body[..cut]);
    }
    // Deterministic byte flips (a small LCG), each tried whole.
    let mut seed = 0x2545_f491_u64;
    for _ in 0..2000 {
        let mut mutated = body.clone();
        for _ in 0..3 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let at = (seed >> 33) as usize % mutated.len();
            mutated[at] = (seed >> 13) as u8;
        }
        let _ = to_chat(&mutated, &mut Vec::new());
        let _ = count_tokens_estimate(&mutated);
    }
}
