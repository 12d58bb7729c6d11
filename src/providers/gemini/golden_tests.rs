//! Replays the recorded Gemini traffic in `$RINGBRIDGE_FIXTURES/gemini/`
//! (read in place, never copied) through the translators and checks what an
//! OpenAI client would reassemble against what the recording says.

fn read_fixture(name: &str) -> Vec<u8> {
    crate::providers::fixtures::read("gemini", name)
}

use serde_json::{json, Value};

use super::*;
use crate::providers::fixtures::{self, reassemble, split_sse, usage_of};

/// The events of a `.sse` or `.chunks.txt` fixture as (event name, data).
fn fixture_events(name: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(read_fixture(name)).unwrap();
    if name.ends_with(".sse") {
        return split_sse(&text);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (String::new(), l.to_owned()))
        .collect()
}

/// What a client should end up with, from the recording or our output.
#[derive(Debug, Default, PartialEq)]
struct Assembled {
    /// `chatcmpl-<responseId>`
    id: String,
    content: String,
    reasoning: String,
    /// (name, arguments as JSON)
    tools: Vec<(String, Value)>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

/// The OpenAI usage object for a Gemini `usageMetadata`, checking that our
/// total matches Gemini's `totalTokenCount`.
fn expected_usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("promptTokenCount") + n("toolUsePromptTokenCount");
    let completion = n("candidatesTokenCount") + n("thoughtsTokenCount");
    assert_eq!(prompt + completion, n("totalTokenCount"), "{u}");
    json!({"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt + completion,
        "prompt_tokens_details":{"cached_tokens":n("cachedContentTokenCount")},
        "completion_tokens_details":{"reasoning_tokens":n("thoughtsTokenCount")}})
}

/// Reads the recording the way the Gemini API describes it.
fn expected_from_recording(events: &[(String, String)]) -> Assembled {
    let mut a = Assembled::default();
    let mut last_usage = Value::Null;
    for (_, data) in events {
        let v: Value = serde_json::from_str(data).unwrap();
        if a.id.is_empty() {
            a.id = format!("chatcmpl-{}", v["responseId"].as_str().unwrap());
        }
        if !v["usageMetadata"].is_null() {
            last_usage = v["usageMetadata"].clone();
        }
        let candidate = &v["candidates"][0];
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(call) = part.get("functionCall") {
                let name = call["name"].as_str().unwrap().to_owned();
                a.tools.push((name, call["args"].clone()));
            } else if let Some(text) = part["text"].as_str() {
                if part["thought"] == true {
                    a.reasoning.push_str(text);
                } else {
                    a.content.push_str(text);
                }
            }
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            let mapped = match (reason, a.tools.is_empty()) {
                ("STOP", true) => "stop",
                ("STOP", false) => "tool_calls",
                ("MAX_TOKENS", _) => "length",
                (other, _) => panic!("recording has finishReason {other}"),
            };
            a.finish_reason = Some(mapped.to_owned());
        }
    }
    a.usage = Some(expected_usage(&last_usage));
    a
}

/// What a client reassembles from our output, and the tool-call ids.
fn assemble_output(out: &[u8], model: &str) -> (Assembled, Vec<String>) {
    let r = reassemble(out, model);
    let (ids, tools) = r
        .tools
        .into_iter()
        .map(|(id, name, args)| (id, (name, args)))
        .unzip();
    let a = Assembled {
        id: r.id,
        content: r.content,
        reasoning: r.reasoning,
        tools,
        finish_reason: r.finish_reason,
        usage: r.usage,
    };
    (a, ids)
}

fn replay(name: &str, model: &str, include_usage: bool) -> (Vec<u8>, StreamTranslator) {
    let mut t = StreamTranslator::new(model, include_usage);
    let out = fixtures::replay_events(
        name,
        &fixture_events(name),
        &mut t,
        StreamTranslator::on_event,
        StreamTranslator::finish,
    );
    (out, t)
}

const STREAM_FIXTURES: &[&str] = &[
    "stream-function-call-crlf.sse",
    "stream-text-crlf.sse",
    "stream-text.chunks.txt",
    "stream-thinking-crlf.sse",
    "stream-tool-call-thought-signature.sse",
    "vertex-stream-flex-tier.sse",
];

#[test]
fn every_recorded_stream_is_listed() {
    fixtures::assert_all_listed(
        "gemini",
        fixtures::is_sse_recording,
        STREAM_FIXTURES.iter().copied(),
    );
}

#[test]
fn recorded_streams_translate_to_the_same_text_reasoning_tools_and_usage() {
    for name in STREAM_FIXTURES {
        let expected = expected_from_recording(&fixture_events(name));
        let (out, t) = replay(name, "gemini/gemini", true);
        let (got, ids) = assemble_output(&out, "gemini/gemini");
        assert_eq!(got, expected, "{name}");
        for (i, id) in ids.iter().enumerate() {
            assert!(id.starts_with(&format!("call_{i}_")), "{name}: {id}");
        }
        assert_eq!(
            t.usage(),
            usage_of(expected.usage.as_ref().unwrap()),
            "{name}"
        );
    }
}

#[test]
fn recorded_thinking_stream_puts_thoughts_in_reasoning_content_first() {
    let (out, _) = replay("stream-thinking-crlf.sse", "m", false);
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("\"usage\""),
        "usage chunk without include_usage"
    );
    let first_content = text.find("\"content\":\"T").unwrap();
    let last_reasoning = text.rfind("\"reasoning_content\"").unwrap();
    assert!(last_reasoning < first_content);
    let (got, _) = assemble_output(text.as_bytes(), "m");
    assert!(got.reasoning.starts_with("**Clarifying User Goals**"));
    assert_eq!(got.usage, None);
}

#[test]
fn recorded_function_call_stream_finishes_with_tool_calls() {
    let (out, _) = replay("stream-function-call-crlf.sse", "m", false);
    let (got, ids) = assemble_output(&out, "m");
    assert_eq!(
        got.tools,
        vec![("get_capital".to_owned(), json!({"country":"France"}))]
    );
    assert_eq!(got.finish_reason.as_deref(), Some("tool_calls"));
    assert!(!ids[0].contains("__ts_"), "no signature, none encoded");
}

/// A Gemini 3 tool call's signature survives a full client round trip:
/// stream out, assistant message and tool result back in.
#[test]
fn recorded_thought_signature_round_trips_through_the_tool_call_id() {
    let name = "stream-tool-call-thought-signature.sse";
    let events = fixture_events(name);
    let first: Value = serde_json::from_str(&events[0].1).unwrap();
    let signature = first["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap();
    let (out, _) = replay(name, "m", false);
    let (got, ids) = assemble_output(&out, "m");
    assert_eq!(got.tools, vec![("get_country".to_owned(), json!({}))]);
    assert_eq!(got.finish_reason.as_deref(), Some("tool_calls"));

    let next_turn = json!({"messages":[
        {"role":"user","content":"What is the capital of my country?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":ids[0],"type":"function",
            "function":{"name":"get_country","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":ids[0],"content":"Mexico"}]});
    let mut body = Vec::new();
    translate_request(next_turn.to_string().as_bytes(), &mut body).unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["contents"][1],
        json!({"role":"model","parts":[{"functionCall":{"name":"get_country","args":{}},
            "thoughtSignature":signature}]})
    );
    assert_eq!(
        v["contents"][2],
        json!({"role":"user","parts":[{"functionResponse":{"name":"get_country",
            "response":{"result":"Mexico"}}}]})
    );
}

#[test]
fn recorded_text_response_translates() {
    let mut out = Vec::new();
    let usage = translate_response(
        &read_fixture("generate-content-text.json"),
        "gemini/gemini-3-pro",
        &mut out,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = fixtures::completion_choice(
        &v,
        "chatcmpl-Un6LacrVMcjUxs0PmJfWoQc",
        "gemini/gemini-3-pro",
    );
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y."
    );
    assert!(choice["message"].get("tool_calls").is_none());
    assert!(choice["message"].get("reasoning_content").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":9,"completion_tokens":272,"total_tokens":281,
            "prompt_tokens_details":{"cached_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":244}})
    );
    assert_eq!(usage, usage_of(&v["usage"]));
}

#[test]
fn recorded_function_call_response_translates_and_round_trips() {
    let body = read_fixture("generate-content-function-call.json");
    let mut out = Vec::new();
    translate_response(&body, "m", &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "weather");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"San Francisco"}"#
    );
    assert_eq!(v["usage"]["total_tokens"], 937);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        893
    );

    let recorded: Value = serde_json::from_slice(&body).unwrap();
    let signature = &recorded["candidates"][0]["content"]["parts"][0]["thoughtSignature"];
    let next_turn = json!({"messages":[{"role":"user","content":"weather in SF?"},
        choice["message"].clone(),
        {"role":"tool","tool_call_id":call["id"],"content":"{\"temp_f\":61}"}]});
    let mut req = Vec::new();
    translate_request(next_turn.to_string().as_bytes(), &mut req).unwrap();
    let v: Value = serde_json::from_slice(&req).unwrap();
    assert_eq!(
        v["contents"][1]["parts"],
        json!([{"functionCall":{"name":"weather","args":{"location":"San Francisco"}},
            "thoughtSignature":signature}])
    );
    assert_eq!(
        v["contents"][2]["parts"][0]["functionResponse"],
        json!({"name":"weather","response":{"result":{"temp_f":61}}})
    );
}

#[test]
fn recorded_url_context_response_counts_tool_prompt_tokens() {
    let mut out = Vec::new();
    let usage = translate_response(
        &read_fixture("generate-content-web-fetch.json"),
        "m",
        &mut out,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Pydantic AI is a Python agent framework"));
    assert_eq!(v["id"], "chatcmpl-qgqkaI-iDLrTjMcP0bP24A4");
    assert_eq!(v["usage"]["total_tokens"], 2515);
    assert_eq!(usage, Usage::new(32 + 2395, 41 + 47).with_details(0, 47));
}

#[test]
fn recorded_429_keeps_status_and_gives_retry_after() {
    let mut out = Vec::new();
    let (status, retry_after) =
        translate_error(429, &read_fixture("error-429-retry-info.json"), &mut out);
    assert_eq!((status, retry_after), (429, Some(35)));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        json!({"error":{"message":"You exceeded your current quota, please check your plan.",
            "type":"rate_limit_error","param":null,"code":"RESOURCE_EXHAUSTED"}})
    );
}

#[test]
fn sse_splitter_tolerates_crlf() {
    let events = split_sse("event: ping\r\ndata: {\"a\":1}\r\n\r\ndata: {}\n\ndata: x");
    assert_eq!(
        events,
        vec![
            ("ping".to_owned(), "{\"a\":1}".to_owned()),
            (String::new(), "{}".to_owned()),
            (String::new(), "x".to_owned())
        ]
    );
}

#[test]
fn truncated_recorded_events_never_panic() {
    for name in STREAM_FIXTURES {
        fixtures::replay_truncated(
            name,
            &fixture_events(name),
            || StreamTranslator::new("m", true),
            StreamTranslator::on_event,
            StreamTranslator::finish,
            |result, text, label| {
                assert!(result.is_err(), "{label}");
                assert!(!text.contains("[DONE]"), "{label}");
            },
        );
    }
}

#[test]
fn truncated_recorded_responses_are_bad_response() {
    for name in [
        "generate-content-text.json",
        "generate-content-function-call.json",
        "generate-content-web-fetch.json",
    ] {
        let body = read_fixture(name);
        // Cut inside the top-level object; the closing brace is last.
        let end = body.iter().rposition(|&b| b == b'}').unwrap();
        for cut in (0..end).step_by(5) {
            let mut out = Vec::new();
            assert!(
                translate_response(&body[..cut], "m", &mut out).is_err(),
                "{name} cut at {cut}"
            );
            assert!(out.is_empty());
        }
    }
}
