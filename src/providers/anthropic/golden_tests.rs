//! Replays the recorded Anthropic traffic in `$RINGBRIDGE_FIXTURES/anthropic/`
//! (read in place, never copied) through the translators and checks what an
//! OpenAI client would reassemble against what the recording says.

fn read_fixture(name: &str) -> Vec<u8> {
    crate::providers::fixtures::read("anthropic", name)
}

use serde_json::Value;

use super::*;
use crate::providers::fixtures::{self, reassemble, split_sse, usage_of, Assembled};

/// The events of a `.sse` or `.chunks.txt` fixture as (event name, data).
fn fixture_events(name: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(read_fixture(name)).unwrap();
    if name.ends_with(".sse") {
        return split_sse(&text);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["type"].as_str().unwrap().to_owned(), l.to_owned())
        })
        .collect()
}

/// Reads the recording the way the OpenAI contract describes it.
fn expected_from_recording(events: &[(String, String)]) -> Assembled {
    let mut a = Assembled::default();
    let mut tool_args: Vec<String> = Vec::new();
    let mut tool_block = None;
    let (mut input, mut cache_read, mut cache_write, mut output) = (0, 0, 0, 0);
    let mut take_usage = |u: &Value| {
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        input = n("input_tokens").unwrap_or(input);
        cache_read = n("cache_read_input_tokens").unwrap_or(cache_read);
        cache_write = n("cache_creation_input_tokens").unwrap_or(cache_write);
        output = n("output_tokens").unwrap_or(output);
    };
    for (_, data) in events {
        let v: Value = serde_json::from_str(data).unwrap();
        match v["type"].as_str().unwrap() {
            "message_start" => take_usage(&v["message"]["usage"]),
            "content_block_start" if v["content_block"]["type"] == "tool_use" => {
                let b = &v["content_block"];
                a.tools.push((
                    b["id"].as_str().unwrap().into(),
                    b["name"].as_str().unwrap().into(),
                    Value::Null,
                ));
                tool_args.push(String::new());
                tool_block = v["index"].as_u64();
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match d["type"].as_str().unwrap() {
                    "text_delta" => a.content.push_str(d["text"].as_str().unwrap()),
                    "thinking_delta" => a.reasoning.push_str(d["thinking"].as_str().unwrap()),
                    "input_json_delta" if v["index"].as_u64() == tool_block => tool_args
                        .last_mut()
                        .unwrap()
                        .push_str(d["partial_json"].as_str().unwrap()),
                    _ => {}
                }
            }
            "message_delta" => {
                take_usage(&v["usage"]);
                a.finish_reason = Some(
                    match v["delta"]["stop_reason"].as_str().unwrap() {
                        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
                        "max_tokens" => "length",
                        "tool_use" => "tool_calls",
                        "refusal" => "content_filter",
                        other => panic!("recording has stop_reason {other}"),
                    }
                    .to_owned(),
                );
            }
            _ => {}
        }
    }
    for (tool, args) in a.tools.iter_mut().zip(tool_args) {
        tool.2 = if args.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&args).unwrap()
        };
    }
    let prompt = input + cache_read + cache_write;
    a.usage = Some(
        serde_json::json!({"prompt_tokens":prompt,"completion_tokens":output,
        "total_tokens":prompt + output,"prompt_tokens_details":{"cached_tokens":cache_read}}),
    );
    a
}

/// What a client reassembles from our output; chunk ids name the message.
fn assemble_output(out: &[u8], model: &str) -> Assembled {
    let r = reassemble(out, model);
    assert!(r.id.starts_with("chatcmpl-msg_"), "{}", r.id);
    r.assembled()
}

const STREAM_FIXTURES: &[&str] = &[
    "messages-stream-text.sse",
    "messages-stream-text.chunks.txt",
    "messages-stream-thinking.sse",
    "messages-stream-redacted-thinking.sse",
    "messages-stream-tool-use.sse",
    "messages-stream-tool-no-args.chunks.txt",
];

#[test]
fn every_recorded_stream_is_listed() {
    fixtures::assert_all_listed(
        "anthropic",
        fixtures::is_sse_recording,
        STREAM_FIXTURES.iter().copied(),
    );
}

#[test]
fn recorded_streams_translate_to_the_same_content_tools_and_usage() {
    for name in STREAM_FIXTURES {
        let events = fixture_events(name);
        let expected = expected_from_recording(&events);
        let mut t = StreamTranslator::new("anthropic/claude", true);
        let out = fixtures::replay_events(
            name,
            &events,
            &mut t,
            StreamTranslator::on_event,
            StreamTranslator::finish,
        );
        let got = assemble_output(&out, "anthropic/claude");
        assert_eq!(got, expected, "{name}");
        assert_eq!(
            t.usage(),
            usage_of(expected.usage.as_ref().unwrap()),
            "{name}"
        );
    }
}

#[test]
fn recorded_tool_stream_skips_server_tools_and_numbers_client_tools_from_zero() {
    let mut t = StreamTranslator::new("m", false);
    let mut out = Vec::new();
    for (event, data) in fixture_events("messages-stream-tool-use.sse") {
        t.on_event(&event, data.as_bytes(), &mut out).unwrap();
    }
    t.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("srvtoolu_"), "server tool leaked: {text}");
    assert!(
        !text.contains("\"usage\""),
        "usage chunk without include_usage"
    );
    let got = assemble_output(text.as_bytes(), "m");
    assert_eq!(got.tools.len(), 1);
    assert_eq!(got.tools[0].1, "get_exchange_rate");
    assert_eq!(
        got.tools[0].2,
        serde_json::json!({"from_currency":"USD","to_currency":"EUR"})
    );
}

#[test]
fn recorded_no_arg_tool_gets_empty_object_arguments() {
    let mut t = StreamTranslator::new("m", false);
    let mut out = Vec::new();
    for (event, data) in fixture_events("messages-stream-tool-no-args.chunks.txt") {
        t.on_event(&event, data.as_bytes(), &mut out).unwrap();
    }
    t.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""function":{"arguments":"{}"}"#), "{text}");
    assert!(!text.contains(r#""function":{"arguments":""}"#), "{text}");
}

#[test]
fn recorded_text_message_translates() {
    let mut out = Vec::new();
    let usage = translate_response(
        &read_fixture("messages-text.json"),
        "anthropic/claude-sonnet",
        &mut out,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = fixtures::completion_choice(
        &v,
        "chatcmpl-msg_01VdEjxAP5ahtHKrrRdNBteQ",
        "anthropic/claude-sonnet",
    );
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?"
    );
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        serde_json::json!({"prompt_tokens":12,"completion_tokens":29,"total_tokens":41,
            "prompt_tokens_details":{"cached_tokens":0}})
    );
    assert_eq!(usage, usage_of(&v["usage"]));
}

#[test]
fn recorded_refusal_translates_to_content_filter() {
    let mut out = Vec::new();
    translate_response(&read_fixture("messages-refusal.json"), "m", &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "content_filter");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert!(choice["message"]["refusal"]
        .as_str()
        .unwrap()
        .contains("Usage Policy"));
    assert_eq!(v["usage"]["prompt_tokens"], 18);
    assert_eq!(v["usage"]["completion_tokens"], 5);
}

#[test]
fn sse_splitter_tolerates_crlf() {
    let events = split_sse("event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\ndata: {}\r\n\r\n");
    assert_eq!(
        events,
        vec![
            ("ping".to_owned(), "{\"type\":\"ping\"}".to_owned()),
            (String::new(), "{}".to_owned())
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
            |_, _, _| {},
        );
    }
}
