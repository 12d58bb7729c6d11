//! Replays the recorded Cohere traffic in `$RINGBRIDGE_FIXTURES/cohere/`
//! (read in place, never copied) through the translators and checks what an
//! OpenAI client would reassemble against what the recording says.

fn read_fixture(name: &str) -> Vec<u8> {
    crate::providers::fixtures::read("cohere", name)
}

use serde_json::{json, Value};

use super::*;
use crate::providers::fixtures::{self, reassemble, usage_of, Assembled};

/// The events of a `.chunks.txt` fixture (one data payload per line) as
/// (event name, data); the name is the JSON `type`, as an SSE `event:` line
/// would carry it.
fn fixture_events(name: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(read_fixture(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["type"].as_str().unwrap().to_owned(), l.to_owned())
        })
        .collect()
}

/// Reads the recording the way Cohere's stream reference describes it.
fn expected_from_recording(events: &[(String, String)]) -> Assembled {
    let mut a = Assembled::default();
    let mut args: Vec<String> = Vec::new();
    for (_, data) in events {
        let v: Value = serde_json::from_str(data).unwrap();
        let m = &v["delta"]["message"];
        match v["type"].as_str().unwrap() {
            "content-delta" => a.content.push_str(m["content"]["text"].as_str().unwrap()),
            "tool-plan-delta" => a.reasoning.push_str(m["tool_plan"].as_str().unwrap()),
            "tool-call-start" => {
                let c = &m["tool_calls"];
                a.tools.push((
                    c["id"].as_str().unwrap().into(),
                    c["function"]["name"].as_str().unwrap().into(),
                    Value::Null,
                ));
                args.push(c["function"]["arguments"].as_str().unwrap().into());
            }
            "tool-call-delta" => args
                .last_mut()
                .unwrap()
                .push_str(m["tool_calls"]["function"]["arguments"].as_str().unwrap()),
            "message-end" => {
                let d = &v["delta"];
                a.finish_reason = Some(
                    match d["finish_reason"].as_str().unwrap() {
                        "COMPLETE" | "STOP_SEQUENCE" => "stop",
                        "MAX_TOKENS" => "length",
                        "TOOL_CALL" => "tool_calls",
                        other => panic!("recording has finish_reason {other}"),
                    }
                    .to_owned(),
                );
                let (input, output) = (
                    d["usage"]["tokens"]["input_tokens"].as_u64().unwrap(),
                    d["usage"]["tokens"]["output_tokens"].as_u64().unwrap(),
                );
                a.usage = Some(json!({"prompt_tokens":input,"completion_tokens":output,
                    "total_tokens":input + output,
                    "prompt_tokens_details":{"cached_tokens":d["usage"]["cached_tokens"]}}));
            }
            _ => {}
        }
    }
    for (tool, args) in a.tools.iter_mut().zip(args) {
        tool.2 = serde_json::from_str(&args).unwrap();
    }
    a
}

/// What a client reassembles from our output; chunk ids name the upstream
/// response.
fn assemble_output(out: &[u8], model: &str, upstream_id: &str) -> Assembled {
    let r = reassemble(out, model);
    assert_eq!(r.id, format!("chatcmpl-{upstream_id}"));
    r.assembled()
}

const STREAM_FIXTURES: &[&str] = &[
    "chat-v2-stream-text.chunks.txt",
    "chat-v2-stream-tool-call.chunks.txt",
];

#[test]
fn every_recorded_stream_is_listed() {
    fixtures::assert_all_listed(
        "cohere",
        fixtures::is_sse_recording,
        STREAM_FIXTURES.iter().copied(),
    );
}

fn replay(name: &str, include_usage: bool) -> (Vec<u8>, StreamTranslator) {
    let mut t = StreamTranslator::new("cohere/command-a", include_usage);
    let out = fixtures::replay_events(
        name,
        &fixture_events(name),
        &mut t,
        StreamTranslator::on_event,
        StreamTranslator::finish,
    );
    (out, t)
}

#[test]
fn recorded_streams_translate_to_the_same_content_tools_and_usage() {
    for name in STREAM_FIXTURES {
        let events = fixture_events(name);
        let expected = expected_from_recording(&events);
        let id: Value = serde_json::from_str(&events[0].1).unwrap();
        let (out, t) = replay(name, true);
        let got = assemble_output(&out, "cohere/command-a", id["id"].as_str().unwrap());
        assert_eq!(got, expected, "{name}");
        assert_eq!(
            t.usage(),
            usage_of(expected.usage.as_ref().unwrap()),
            "{name}"
        );
    }
}

#[test]
fn recorded_text_stream_says_paris_and_stops() {
    let (out, t) = replay("chat-v2-stream-text.chunks.txt", false);
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("\"usage\""),
        "usage chunk without include_usage"
    );
    let got = assemble_output(
        text.as_bytes(),
        "cohere/command-a",
        "321d178c-2c12-44d3-ae42-2f5510f6b1cc",
    );
    assert_eq!(got.content, "The capital of France is Paris.");
    assert_eq!(got.reasoning, "");
    assert!(got.tools.is_empty());
    assert_eq!(got.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (t.usage().prompt_tokens, t.usage().completion_tokens),
        (507, 10)
    );
}

#[test]
fn recorded_tool_stream_gives_plan_as_reasoning_and_two_indexed_calls() {
    let (out, _) = replay("chat-v2-stream-tool-call.chunks.txt", true);
    let got = assemble_output(
        &out,
        "cohere/command-a",
        "2941521a-b87a-45f6-9b0d-235fd66c3025",
    );
    assert_eq!(got.content, "");
    assert!(got.reasoning.starts_with("I will use the weather tool"));
    assert_eq!(
        got.tools,
        vec![
            (
                "weather_e8p4pn45zt0t".to_owned(),
                "weather".to_owned(),
                json!({"location":"San Francisco"})
            ),
            (
                "cityAttractions_pyxssbwnq9fq".to_owned(),
                "cityAttractions".to_owned(),
                json!({"city":"San Francisco"})
            ),
        ]
    );
    assert_eq!(got.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        got.usage,
        Some(
            json!({"prompt_tokens":1549,"completion_tokens":95,"total_tokens":1644,
            "prompt_tokens_details":{"cached_tokens":1504}})
        )
    );
}

#[test]
fn recorded_text_response_translates() {
    let mut out = Vec::new();
    let usage = translate_response(
        &read_fixture("chat-v2-text.json"),
        "cohere/command-a",
        &mut out,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = fixtures::completion_choice(
        &v,
        "chatcmpl-e7592632-1e3d-424f-b129-bd5f9f980f7b",
        "cohere/command-a",
    );
    assert_eq!(
        choice,
        &json!({"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},
            "finish_reason":"stop","logprobs":null})
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":507,"completion_tokens":10,"total_tokens":517,
            "prompt_tokens_details":{"cached_tokens":448}})
    );
    assert_eq!(usage, usage_of(&v["usage"]));
}

#[test]
fn recorded_tool_call_response_translates() {
    let mut out = Vec::new();
    let usage = translate_response(&read_fixture("chat-v2-tool-call.json"), "m", &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let msg = &choice["message"];
    assert_eq!(msg["content"], Value::Null);
    assert!(msg["reasoning_content"]
        .as_str()
        .unwrap()
        .starts_with("I will use the weather tool"));
    let calls = msg["tool_calls"].as_array().unwrap();
    let got: Vec<(&str, &str, Value)> = calls
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "function");
            (
                c["id"].as_str().unwrap(),
                c["function"]["name"].as_str().unwrap(),
                serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "weather_dqgshstja6p9",
                "weather",
                json!({"location":"San Francisco"})
            ),
            (
                "cityAttractions_dcxfx4myvx68",
                "cityAttractions",
                json!({"city":"San Francisco"})
            ),
        ]
    );
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1549, 103));
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 992);
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
            |_, _, _| {},
        );
    }
}

#[test]
fn truncated_recorded_responses_are_errors_not_panics() {
    for name in ["chat-v2-text.json", "chat-v2-tool-call.json"] {
        let body = read_fixture(name);
        for cut in 0..body.len() - 1 {
            let mut out = Vec::new();
            if translate_response(&body[..cut], "m", &mut out).is_err() {
                assert!(out.is_empty(), "{name} cut at {cut}");
            }
        }
    }
}
