//! `StreamEncoder`: the events each kind of hub chunk makes, block
//! changes and indices, when `message_delta` goes out, errors; and the
//! grammar validator's own refusals, so the golden tests mean something.

use serde_json::{json, Value};

use super::test_support::{replay, strict_frames, Outcome};
use super::*;

const OUR_BLOCKS: &[&str] = &["text", "thinking", "tool_use"];

fn chunk(delta: Value) -> Value {
    json!({"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"up",
        "choices":[{"index":0,"delta":delta,"finish_reason":null}]})
}

fn finish_chunk(reason: &str) -> Value {
    json!({"id":"chatcmpl-s1","choices":[{"index":0,"delta":{},"finish_reason":reason}]})
}

fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({"id":"chatcmpl-s1","choices":[],"usage":{"prompt_tokens":prompt,"completion_tokens":completion,
        "total_tokens":prompt + completion,"prompt_tokens_details":{"cached_tokens":cached}}})
}

/// Feeds `chunks`, returning the output of each chunk.
fn feed(encoder: &mut StreamEncoder, chunks: &[Value]) -> Vec<Vec<u8>> {
    chunks
        .iter()
        .map(|c| {
            let mut out = Vec::new();
            encoder
                .on_chunk(c.to_string().as_bytes(), &mut out)
                .unwrap_or_else(|e| panic!("{e}: {c}"));
            out
        })
        .collect()
}

/// The whole stream for `chunks` plus `finish`, as (event, data).
fn stream(chunks: &[Value]) -> Vec<(String, Value)> {
    let mut encoder = StreamEncoder::new("claude-client");
    let mut out: Vec<u8> = feed(&mut encoder, chunks).concat();
    encoder.finish(&mut out);
    strict_frames(&out)
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(e, _)| e.as_str()).collect()
}

#[test]
fn text_stream_waits_for_usage_before_message_delta() {
    let mut encoder = StreamEncoder::new("claude-client");
    let outs = feed(
        &mut encoder,
        &[
            chunk(json!({"role":"assistant","content":""})),
            chunk(json!({"content":"Hel"})),
            chunk(json!({"content":"lo"})),
            finish_chunk("stop"),
            usage_chunk(120, 7, 100),
        ],
    );
    let events: Vec<Vec<(String, Value)>> = outs.iter().map(|o| strict_frames(o)).collect();
    assert_eq!(
        names(&events[0]),
        ["message_start"],
        "the role chunk starts the message"
    );
    let start = &events[0][0].1["message"];
    assert_eq!(start["id"], "msg_s1");
    assert_eq!(start["model"], "claude-client");
    assert_eq!(start["usage"]["input_tokens"], 0);
    assert_eq!(
        names(&events[1]),
        ["content_block_start", "content_block_delta"]
    );
    assert_eq!(
        events[1][0].1,
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
    );
    assert_eq!(
        events[2][0].1["delta"],
        json!({"type":"text_delta","text":"lo"})
    );
    assert!(
        events[3].is_empty(),
        "message_delta waits for the usage chunk"
    );
    assert_eq!(
        names(&events[4]),
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(
        events[4][1].1,
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
            "usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":7}})
    );
    let mut rest = Vec::new();
    encoder.finish(&mut rest);
    encoder
        .on_chunk(
            chunk(json!({"content":"late"})).to_string().as_bytes(),
            &mut rest,
        )
        .unwrap();
    encoder.fail(502, "too late", &mut rest);
    assert!(rest.is_empty(), "nothing after message_stop");
}

#[test]
fn block_kinds_change_with_content_and_indices_count_up() {
    let events = stream(&[
        chunk(json!({"role":"assistant","reasoning_content":"Let me"})),
        chunk(json!({"reasoning_content":" think"})),
        chunk(json!({"content":"Two calls."})),
        chunk(
            json!({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}),
        ),
        chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]})),
        chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})),
        chunk(
            json!({"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}),
        ),
        finish_chunk("tool_calls"),
        usage_chunk(10, 20, 0),
    ]);
    let m = replay(&events, OUR_BLOCKS).message();
    assert_eq!(
        m["content"],
        json!([
            {"type":"thinking","thinking":"Let me think","signature":""},
            {"type":"text","text":"Two calls."},
            {"type":"tool_use","id":"call_a","name":"f","input":{"x":1}},
            {"type":"tool_use","id":"call_b","name":"g","input":{}}
        ])
    );
    assert_eq!(m["stop_reason"], "tool_use");
    let starts: Vec<u64> = events
        .iter()
        .filter(|(e, _)| e == "content_block_start")
        .map(|(_, v)| v["index"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 1, 2, 3]);
    let empty_fragment = events.iter().any(|(_, v)| v["delta"]["partial_json"] == "");
    assert!(!empty_fragment, "no empty input_json_delta");
}

#[test]
fn one_chunk_may_carry_everything_at_once() {
    // Groq and Mistral: finish reason and usage on the chunk with the call.
    let mut encoder = StreamEncoder::new("m");
    let all = json!({"id":"x","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"r","content":"c",
        "tool_calls":[{"id":"t","function":{"name":"f","arguments":"{\"a\":true}"}}]},"finish_reason":"tool_calls"}],
        "usage":{"prompt_tokens":5,"completion_tokens":6}});
    let out = feed(&mut encoder, &[all]).concat();
    let events = strict_frames(&out);
    assert_eq!(
        names(&events).last(),
        Some(&"message_stop"),
        "ended at once"
    );
    let m = replay(&events, OUR_BLOCKS).message();
    let types: Vec<&str> = m["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["thinking", "text", "tool_use"]);
    assert_eq!(m["usage"]["output_tokens"], 6);
    let mut rest = Vec::new();
    encoder.finish(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn usage_before_the_finish_reason_does_not_end_the_stream() {
    let with_usage = |mut c: Value| {
        c["usage"] = json!({"prompt_tokens":3,"completion_tokens":1});
        c
    };
    let events = stream(&[
        with_usage(chunk(json!({"content":"a"}))),
        with_usage(chunk(json!({"content":"b"}))),
        with_usage(finish_chunk("length")),
    ]);
    let m = replay(&events, OUR_BLOCKS).message();
    assert_eq!(m["content"][0]["text"], "ab");
    assert_eq!(m["stop_reason"], "max_tokens");
}

#[test]
fn index_less_tool_calls_are_told_apart_by_id() {
    let m = replay(
        &stream(&[
            chunk(
                json!({"tool_calls":[{"id":"t1","function":{"name":"f","arguments":"{\"a\":"}}]}),
            ),
            chunk(json!({"tool_calls":[{"function":{"arguments":"1}"}}]})),
            chunk(json!({"tool_calls":[{"id":"t1","function":{"arguments":""}}]})),
            chunk(json!({"tool_calls":[{"id":"t2","function":{"name":"g","arguments":{"b":2}}}]})),
            finish_chunk("stop"),
        ]),
        OUR_BLOCKS,
    )
    .message();
    assert_eq!(m["content"][0]["input"], json!({"a":1}));
    assert_eq!(
        m["content"][1],
        json!({"type":"tool_use","id":"t2","name":"g","input":{"b":2}})
    );
    assert_eq!(
        m["stop_reason"], "tool_use",
        "a plain stop after tool calls"
    );
}

#[test]
fn missing_ids_are_made_up() {
    let events = stream(&[
        json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"","function":{"name":"f"}}]}}]}),
        json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
    ]);
    let m = replay(&events, OUR_BLOCKS).message();
    assert!(m["id"].as_str().unwrap().len() == 28);
    assert!(m["content"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
}

#[test]
fn a_stream_without_content_still_follows_the_grammar() {
    let events = stream(&[]);
    assert_eq!(
        names(&events),
        ["message_start", "message_delta", "message_stop"]
    );
    let m = replay(&events, OUR_BLOCKS).message();
    assert_eq!(
        (m["content"].clone(), m["stop_reason"].clone()),
        (json!([]), json!("end_turn"))
    );
    // Azure's leading filter chunk (no choice, empty id) is skipped.
    let events = stream(&[
        json!({"choices":[],"id":"","model":"","prompt_filter_results":[]}),
        finish_chunk("content_filter"),
    ]);
    let m = replay(&events, OUR_BLOCKS).message();
    assert_eq!(m["id"], "msg_s1");
    assert_eq!(m["stop_reason"], "refusal");
}

#[test]
fn finish_without_usage_reports_zero_and_runs_once() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = feed(
        &mut encoder,
        &[chunk(json!({"content":"x"})), finish_chunk("stop")],
    )
    .concat();
    encoder.finish(&mut out);
    let len = out.len();
    encoder.finish(&mut out);
    assert_eq!(out.len(), len);
    let m = replay(&strict_frames(&out), OUR_BLOCKS).message();
    assert_eq!(m["usage"]["output_tokens"], 0);
}

#[test]
fn fail_writes_an_error_event_and_closes_nothing() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = feed(&mut encoder, &[chunk(json!({"content":"partial"}))]).concat();
    encoder.fail(504, "upstream timed out", &mut out);
    let events = strict_frames(&out);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        events[3].1,
        json!({"type":"error","error":{"type":"timeout_error","message":"upstream timed out"}})
    );
    let Outcome::Error(error, Some(partial)) = replay(&events, OUR_BLOCKS) else {
        panic!("expected an error");
    };
    assert_eq!(error["type"], "timeout_error");
    assert_eq!(partial["content"][0]["text"], "partial");
    let len = out.len();
    encoder.finish(&mut out);
    encoder.fail(500, "again", &mut out);
    encoder.on_chunk(b"{}", &mut out).unwrap();
    assert_eq!(out.len(), len, "nothing after the error");
    // Failing before anything was written: the error event alone.
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    encoder.fail(529, "Overloaded", &mut out);
    assert_eq!(names(&strict_frames(&out)), ["error"]);
}

#[test]
fn in_band_errors_end_the_stream_with_their_type() {
    let cases = [
        // The gateway's own error frame.
        (
            json!({"error":{"message":"upstream stream ended before message_stop","type":"upstream_error","param":null,"code":"upstream_error"}}),
            "api_error",
        ),
        (
            json!({"error":{"message":"Overloaded","type":"overloaded_error"}}),
            "overloaded_error",
        ),
        (
            json!({"error":{"message":"bad tool call","type":"invalid_request_error","status_code":400}}),
            "invalid_request_error",
        ),
        (
            json!({"error":{"code":429,"message":"slow down"},"choices":[]}),
            "rate_limit_error",
        ),
        (json!({"error":"plain text"}), "api_error"),
        (json!({"error":{"message":5}}), "api_error"),
    ];
    for (error_chunk, kind) in cases {
        let mut encoder = StreamEncoder::new("m");
        let mut out = feed(
            &mut encoder,
            &[chunk(json!({"content":"x"})), error_chunk.clone()],
        )
        .concat();
        encoder.finish(&mut out);
        let events = strict_frames(&out);
        let Outcome::Error(error, _) = replay(&events, OUR_BLOCKS) else {
            panic!("{error_chunk}: expected an error");
        };
        assert_eq!(error["type"], kind, "{error_chunk}");
        assert!(error["message"].is_string());
    }
}

#[test]
fn chunks_that_are_not_chat_chunks_are_bad_answers_and_write_nothing() {
    let garbage: &[&[u8]] = &[
        b"",
        b"not json",
        b"[]",
        b"\xff\xfe",
        br#"{"choices":5}"#,
        br#"{"choices":[{"delta":{"content":7}}]}"#,
        br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
    ];
    for data in garbage {
        let mut encoder = StreamEncoder::new("m");
        let mut out = b"kept".to_vec();
        let result = encoder.on_chunk(data, &mut out);
        if data == br#"{"choices":[{"delta":{"content":7}}]}"# {
            // A content that is neither text nor parts carries nothing.
            assert!(result.is_ok());
            continue;
        }
        assert!(result.is_err(), "{:?}", String::from_utf8_lossy(data));
        assert_eq!(out, b"kept");
    }
}

#[test]
fn a_closed_tool_call_cannot_be_continued() {
    let mut encoder = StreamEncoder::new("m");
    feed(
        &mut encoder,
        &[
            chunk(
                json!({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}),
            ),
            chunk(
                json!({"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}),
            ),
        ],
    );
    let mut out = Vec::new();
    let late = chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}));
    let err = encoder
        .on_chunk(late.to_string().as_bytes(), &mut out)
        .unwrap_err();
    assert!(
        err.0
            .contains("no function name and is not for the open call"),
        "{err}"
    );
    assert!(out.is_empty());
    // Broken: later chunks are ignored and the end is an error event.
    let text = chunk(json!({"content":"x"})).to_string();
    encoder.on_chunk(text.as_bytes(), &mut out).unwrap();
    encoder.finish(&mut out);
    let events = strict_frames(&out);
    assert_eq!(names(&events), ["error"]);
    assert_eq!(events[0].1["error"]["type"], "api_error");
    let message = events[0].1["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("the upstream answer could not be read: hub tool call piece"));
    let len = out.len();
    encoder.finish(&mut out);
    encoder.fail(502, "x", &mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn a_broken_stream_that_fails_reports_the_drivers_error() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    assert!(encoder.on_chunk(b"{", &mut out).is_err());
    assert!(out.is_empty());
    encoder.fail(502, "bad upstream", &mut out);
    let want = json!({"type":"error","error":{"type":"api_error","message":"bad upstream"}});
    assert_eq!(strict_frames(&out), [("error".to_owned(), want)]);
}

#[test]
fn every_prefix_of_a_chunk_is_handled_without_panic() {
    let data = chunk(
        json!({"reasoning_content":"r","content":[{"type":"text","text":"t"}],
        "tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"é\":1}"}}]}),
    )
    .to_string();
    for cut in 0..=data.len() {
        let mut encoder = StreamEncoder::new("m");
        let mut out = Vec::new();
        let read = encoder.on_chunk(&data.as_bytes()[..cut], &mut out);
        encoder.finish(&mut out);
        // A cut chunk is an error event, the whole one a message.
        let outcome = replay(&strict_frames(&out), OUR_BLOCKS);
        assert_eq!(
            read.is_ok(),
            matches!(outcome, Outcome::Message(_)),
            "cut at {cut}"
        );
    }
}

#[test]
fn content_type_is_event_stream() {
    assert_eq!(StreamEncoder::new("m").content_type(), b"text/event-stream");
}

/// The validator must refuse what breaks Anthropic's grammar.
#[test]
fn validator_refuses_broken_grammar() {
    let start = json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",
        "model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}});
    let block = |i: u64, kind: &str| {
        let content = match kind {
            "text" => json!({"type":"text","text":""}),
            _ => json!({"type":"tool_use","id":"t","name":"f","input":{}}),
        };
        json!({"type":"content_block_start","index":i,"content_block":content})
    };
    let text = |i: u64| json!({"type":"content_block_delta","index":i,"delta":{"type":"text_delta","text":"x"}});
    let json_delta = |i: u64, s: &str| json!({"type":"content_block_delta","index":i,"delta":{"type":"input_json_delta","partial_json":s}});
    let stop = |i: u64| json!({"type":"content_block_stop","index":i});
    let delta = json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}});
    let end = json!({"type":"message_stop"});
    let bad: Vec<Vec<Value>> = vec![
        vec![text(0)],
        vec![start.clone(), start.clone()],
        vec![start.clone(), block(1, "text")],
        vec![start.clone(), block(0, "text"), block(1, "text")],
        vec![start.clone(), block(0, "text"), text(1)],
        vec![start.clone(), block(0, "text"), json_delta(0, "{}")],
        vec![
            start.clone(),
            block(0, "tool"),
            json_delta(0, "{\"a\""),
            stop(0),
        ],
        vec![start.clone(), block(0, "text"), delta.clone()],
        vec![start.clone(), end.clone()],
        vec![start.clone(), delta.clone(), end.clone(), end.clone()],
        vec![start.clone(), delta.clone()],
    ];
    for events in bad {
        let events: Vec<(String, Value)> = events
            .into_iter()
            .map(|v| (v["type"].as_str().unwrap().to_owned(), v))
            .collect();
        let result = std::panic::catch_unwind(|| replay(&events, OUR_BLOCKS));
        assert!(result.is_err(), "accepted {events:?}");
    }
    let good: Vec<(String, Value)> = [start, block(0, "text"), text(0), stop(0), delta, end]
        .into_iter()
        .map(|v| (v["type"].as_str().unwrap().to_owned(), v))
        .collect();
    assert_eq!(
        replay(&good, OUR_BLOCKS).message()["content"][0]["text"],
        "x"
    );
}
