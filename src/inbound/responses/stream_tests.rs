//! The stream encoder's state machine, chunk by chunk, each case replayed
//! through the grammar checker (`stream_check`).

use super::*;
use crate::inbound::responses::stream_check::{
    check_stream, chunk, encode, kinds, replay, usage_chunk,
};
use crate::inbound::responses::test_support::without_ids;
use serde_json::json;

#[test]
fn a_text_stream_writes_the_message_events_in_order() {
    let r = check_stream(
        "text",
        &[
            chunk(json!({"role":"assistant","content":""}), None),
            chunk(json!({"content":"Hi"}), None),
            chunk(json!({"content":" there"}), None),
            chunk(json!({}), Some("stop")),
            usage_chunk(5, 2),
        ],
    );
    assert_eq!(
        kinds(&r),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(r.response["output"][0]["content"][0]["text"], "Hi there");
    assert_eq!(r.response["usage"]["total_tokens"], 7);
}

#[test]
fn reasoning_then_text_then_calls_are_separate_items() {
    let r = check_stream(
        "mixed",
        &[
            chunk(
                json!({"role":"assistant","reasoning_content":"think"}),
                None,
            ),
            chunk(json!({"reasoning_content":"ing"}), None),
            chunk(json!({"content":"ok"}), None),
            chunk(
                json!({"tool_calls":[{"index":0,"id":"c1","type":"function",
                "function":{"name":"f","arguments":""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls":[{"index":0,"function":{"arguments":"1}"}},
                {"index":1,"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
            usage_chunk(1, 1),
        ],
    );
    assert_eq!(
        without_ids(r.response["output"].clone()),
        json!([
            {"type":"reasoning","summary":[{"type":"summary_text","text":"thinking"}]},
            {"type":"message","status":"completed","content":[
                {"type":"output_text","annotations":[],"logprobs":[],"text":"ok"}],"role":"assistant"},
            {"type":"function_call","status":"completed","arguments":"{\"a\":1}","call_id":"c1","name":"f"},
            {"type":"function_call","status":"completed","arguments":"{}","call_id":"c2","name":"g"},
        ])
    );
    assert!(kinds(&r).contains(&"response.reasoning_summary_text.delta"));
}

#[test]
fn the_terminal_event_waits_for_usage_or_finish() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    encoder
        .on_chunk(
            chunk(json!({"content":"a"}), Some("stop")).as_bytes(),
            &mut out,
        )
        .unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("response.output_item.done") && !text.contains("response.completed"));
    encoder
        .on_chunk(usage_chunk(4, 1).as_bytes(), &mut out)
        .unwrap();
    let r = replay("usage", &out);
    assert_eq!(r.response["usage"]["input_tokens"], 4);
    // Nothing after the end: not more chunks, not finish, not fail.
    let len = out.len();
    encoder
        .on_chunk(chunk(json!({"content":"late"}), None).as_bytes(), &mut out)
        .unwrap();
    encoder.finish(&mut out);
    encoder.fail(502, "x", &mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn without_a_usage_chunk_finish_completes_with_zero_usage() {
    let (out, _) = encode(&[chunk(json!({"content":"a"}), Some("stop"))]);
    let r = replay("no-usage", &out);
    assert_eq!(r.terminal, "response.completed");
    assert_eq!(r.response["usage"]["total_tokens"], 0);
    // Nor a finish reason: the stream still completes.
    let (out, _) = encode(&[chunk(json!({"content":"a"}), None)]);
    assert_eq!(replay("no-finish", &out).terminal, "response.completed");
}

#[test]
fn length_ends_in_response_incomplete() {
    let r = check_stream(
        "length",
        &[
            chunk(json!({"content":"cut"}), Some("length")),
            usage_chunk(1, 9),
        ],
    );
    assert_eq!(r.terminal, "response.incomplete");
    assert_eq!(
        r.response["incomplete_details"],
        json!({"reason":"max_output_tokens"})
    );
    assert_eq!(r.response["output"][0]["status"], "incomplete");
}

#[test]
fn an_empty_stream_completes_with_an_empty_message() {
    let r = check_stream(
        "empty",
        &[
            chunk(json!({"role":"assistant","content":""}), Some("stop")),
            usage_chunk(1, 0),
        ],
    );
    assert_eq!(r.response["output"][0]["content"][0]["text"], "");
    let (out, _) = encode(&[]);
    let r = replay("nothing", &out);
    assert_eq!(r.terminal, "response.completed");
    assert_eq!(r.response["output"].as_array().unwrap().len(), 1);
}

#[test]
fn fail_writes_error_then_response_failed_with_the_output_so_far() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    encoder
        .on_chunk(chunk(json!({"content":"par"}), None).as_bytes(), &mut out)
        .unwrap();
    encoder.fail(504, "upstream timed out", &mut out);
    let r = replay("fail", &out);
    assert_eq!(r.terminal, "response.failed");
    let error = r.events.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(
        error["error"],
        json!({"type":"server_error","code":"server_error","message":"upstream timed out","param":null})
    );
    assert_eq!(
        r.response["error"],
        json!({"code":"server_error","message":"upstream timed out"})
    );
    assert_eq!(r.response["output"][0]["status"], "in_progress");
    assert_eq!(r.response["output"][0]["content"][0]["text"], "par");

    // Before any chunk: the stream still opens first, as the real one does.
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    encoder.fail(429, "rate limited", &mut out);
    let r = replay("fail-first", &out);
    assert_eq!(
        kinds(&r),
        [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed"
        ]
    );
    assert_eq!(r.response["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn tool_call_fragments_without_index_follow_their_id_or_the_last_call() {
    let r = check_stream(
        "no-index",
        &[
            chunk(
                json!({"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{\"x\""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls":[{"function":{"arguments":":1}"}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls":[{"id":"b","function":{"name":"g","arguments":"{}"}}]}),
                Some("tool_calls"),
            ),
        ],
    );
    assert_eq!(r.response["output"][0]["arguments"], "{\"x\":1}");
    assert_eq!(r.response["output"][1]["call_id"], "b");
}

#[test]
fn tool_calls_without_an_id_get_one() {
    let (out, _) = encode(&[chunk(
        json!({"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}),
        Some("tool_calls"),
    )]);
    let r = replay("no-id", &out);
    assert!(r.response["output"][0]["call_id"]
        .as_str()
        .unwrap()
        .starts_with("call_"));
}

#[test]
fn broken_chunks_are_bad_answers_that_write_nothing() {
    let cases = [
        ("not json".to_owned(), "chat chunk is not a JSON object"),
        ("{".to_owned(), "chat chunk: EOF"),
        (
            chunk(
                json!({"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}),
                None,
            ),
            "tool call without a function name",
        ),
        (
            chunk(
                json!({"tool_calls":[{"function":{"arguments":"{}"}}]}),
                None,
            ),
            "tool call fragment without index or id before any tool call",
        ),
        (
            json!({"choices":[],"error":{"code":400,"message":"Token limit reached"}}).to_string(),
            "upstream stream error: Token limit reached",
        ),
        (
            json!({"error":"overloaded"}).to_string(),
            "upstream stream error: overloaded",
        ),
    ];
    for (data, want) in cases {
        let mut encoder = StreamEncoder::new("m");
        let mut out = Vec::new();
        encoder
            .on_chunk(
                chunk(json!({"role":"assistant"}), None).as_bytes(),
                &mut out,
            )
            .unwrap();
        let before = out.len();
        let err = encoder.on_chunk(data.as_bytes(), &mut out).unwrap_err();
        assert!(err.0.starts_with(want), "{data}: {}", err.0);
        assert_eq!(out.len(), before, "{data}");
        encoder.fail(502, &err.0, &mut out);
        assert_eq!(replay(&data, &out).terminal, "response.failed");
    }
}

#[test]
fn arguments_for_a_call_already_done_are_refused() {
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    for data in [
        chunk(
            json!({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}),
            None,
        ),
    ] {
        encoder.on_chunk(data.as_bytes(), &mut out).unwrap();
    }
    let late = chunk(
        json!({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}),
        None,
    );
    let err = encoder.on_chunk(late.as_bytes(), &mut out).unwrap_err();
    assert_eq!(
        err.0,
        "arguments for tool call 0 came after its output item was done"
    );
    encoder.fail(502, &err.0, &mut out);
    replay("late", &out);
}

#[test]
fn other_choices_and_repeated_names_are_ignored() {
    let r = check_stream(
        "repeat",
        &[
            chunk(
                json!({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}),
                None,
            ),
            // Some servers repeat the id and name on every fragment.
            chunk(
                json!({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"}"}}]}),
                Some("tool_calls"),
            ),
        ],
    );
    assert_eq!(r.response["output"][0]["arguments"], "{}");
    let second = json!({"choices":[{"index":1,"delta":{"content":"other"},"finish_reason":null}]});
    let null_choices = json!({"choices":null,"usage":null});
    let (out, _) = encode(&[
        chunk(json!({"content":"mine"}), None),
        second.to_string(),
        null_choices.to_string(),
    ]);
    let r = replay("choices", &out);
    assert_eq!(r.response["output"][0]["content"][0]["text"], "mine");
}
