use serde_json::{json, Value};

use super::*;

const MODEL: &str = "openai/gpt-4o-mini";

fn chunk(delta: Value, finish_reason: Value) -> Vec<u8> {
    json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})
    .to_string()
    .into_bytes()
}

fn text(s: &str) -> Vec<u8> {
    chunk(json!({"content": s}), Value::Null)
}

fn stop(reason: &str) -> Vec<u8> {
    chunk(json!({}), json!(reason))
}

fn usage(prompt: u64, completion: u64, reasoning: u64) -> Vec<u8> {
    json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt",
        "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning}}})
    .to_string()
    .into_bytes()
}

fn feed(encoder: &mut StreamEncoder, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        encoder.on_chunk(c, &mut out).unwrap();
    }
    out
}

/// The pieces of an SSE body, checking its framing.
fn sse_pieces(out: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(out).unwrap();
    assert!(text.is_empty() || text.ends_with("\r\n\r\n"), "{text:?}");
    text.split_terminator("\r\n\r\n")
        .map(|frame| {
            let json = frame.strip_prefix("data: ").expect("data: frame");
            assert!(!json.contains('\n'), "one line per piece: {json:?}");
            serde_json::from_str(json).unwrap()
        })
        .collect()
}

fn candidate(piece: &Value) -> &Value {
    &piece["candidates"][0]
}

#[test]
fn each_text_delta_is_a_piece_at_once() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut out = Vec::new();
    encoder
        .on_chunk(
            &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            &mut out,
        )
        .unwrap();
    assert!(out.is_empty(), "the role chunk carries nothing");
    encoder.on_chunk(&text("Hel"), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\
         \"index\":0}],\"modelVersion\":\"openai/gpt-4o-mini\",\"responseId\":\"chatcmpl-s\"}\r\n\r\n"
    );
    encoder.on_chunk(&text("lo"), &mut out).unwrap();
    let pieces = sse_pieces(&out);
    assert_eq!(pieces.len(), 2);
    assert_eq!(
        candidate(&pieces[1])["content"]["parts"],
        json!([{"text": "lo"}])
    );
}

#[test]
fn reasoning_deltas_are_thought_parts() {
    let mut encoder = StreamEncoder::new(MODEL);
    let out = feed(
        &mut encoder,
        &[chunk(
            json!({"reasoning_content": "let me see", "content": "4"}),
            Value::Null,
        )],
    );
    assert_eq!(
        candidate(&sse_pieces(&out)[0])["content"]["parts"],
        json!([{"text": "let me see", "thought": true}, {"text": "4"}])
    );
}

#[test]
fn the_last_piece_waits_for_usage() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut out = feed(&mut encoder, &[text("Hi"), stop("stop")]);
    assert_eq!(
        sse_pieces(&out).len(),
        1,
        "finish_reason alone writes nothing yet"
    );
    encoder.on_chunk(&usage(9, 30, 20), &mut out).unwrap();
    let pieces = sse_pieces(&out);
    assert_eq!(
        pieces[1],
        json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"},
            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 10,
                "totalTokenCount": 39, "thoughtsTokenCount": 20},
            "modelVersion": MODEL, "responseId": "chatcmpl-s"})
    );
    let len = out.len();
    encoder.finish(&mut out);
    encoder.on_chunk(&text("late"), &mut out).unwrap();
    assert_eq!(out.len(), len, "nothing after the last piece");
}

#[test]
fn finish_writes_the_last_piece_when_no_usage_comes() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut out = feed(&mut encoder, &[text("Hi"), stop("length")]);
    encoder.finish(&mut out);
    let pieces = sse_pieces(&out);
    assert_eq!(pieces.len(), 2);
    assert_eq!(candidate(&pieces[1])["finishReason"], "MAX_TOKENS");
    assert!(pieces[1].get("usageMetadata").is_none());
    encoder.finish(&mut out);
    assert_eq!(sse_pieces(&out).len(), 2, "finish runs once");
}

#[test]
fn text_with_the_finish_reason_goes_in_the_last_piece() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut out = feed(
        &mut encoder,
        &[chunk(json!({"content": "end."}), json!("stop"))],
    );
    assert!(out.is_empty());
    encoder.on_chunk(&text("straggler"), &mut out).unwrap();
    encoder.on_chunk(&usage(1, 2, 0), &mut out).unwrap();
    let pieces = sse_pieces(&out);
    assert_eq!(pieces.len(), 1);
    assert_eq!(
        candidate(&pieces[0])["content"]["parts"],
        json!([{"text": "end."}, {"text": "straggler"}])
    );
}

#[test]
fn tool_call_fragments_become_whole_function_calls_at_the_end() {
    let mut encoder = StreamEncoder::new(MODEL);
    let call = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut call = json!({"index": index, "function": {"arguments": args}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        if let Some(name) = name {
            call["function"]["name"] = json!(name);
        }
        chunk(json!({"tool_calls": [call]}), Value::Null)
    };
    let mut out = feed(
        &mut encoder,
        &[
            text("Checking."),
            call(1, Some("call_b"), Some("time"), ""),
            call(0, Some("call_a"), Some("weather"), "{\"ci"),
            call(0, None, Some("weather"), "ty\": \"Paris\"}"),
            call(2, None, Some("noargs"), ""),
            stop("tool_calls"),
        ],
    );
    assert_eq!(sse_pieces(&out).len(), 1, "only the text so far");
    encoder.finish(&mut out);
    let pieces = sse_pieces(&out);
    assert_eq!(
        candidate(&pieces[1]),
        &json!({"content": {"parts": [
            {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "call_b", "name": "time", "args": {}}},
            {"functionCall": {"id": "call_3", "name": "noargs", "args": {}}},
        ], "role": "model"}, "finishReason": "STOP", "index": 0})
    );
}

#[test]
fn fragments_without_an_index_follow_the_ids() {
    let mut encoder = StreamEncoder::new(MODEL);
    let fragment = |call: Value| chunk(json!({"tool_calls": [call]}), Value::Null);
    let mut out = feed(
        &mut encoder,
        &[
            fragment(json!({"id": "a", "function": {"name": "f", "arguments": "{\"x\":"}})),
            fragment(json!({"function": {"arguments": "1}"}})),
            fragment(json!({"id": "b", "function": {"name": "g", "arguments": "{}"}})),
            stop("tool_calls"),
        ],
    );
    encoder.finish(&mut out);
    assert_eq!(
        candidate(&sse_pieces(&out)[0])["content"]["parts"],
        json!([{"functionCall": {"id": "a", "name": "f", "args": {"x": 1}}},
            {"functionCall": {"id": "b", "name": "g", "args": {}}}])
    );
}

#[test]
fn a_stream_without_finish_reason_ends_with_stop_and_its_calls() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut out = feed(
        &mut encoder,
        &[chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
            Value::Null,
        )],
    );
    encoder.finish(&mut out);
    let pieces = sse_pieces(&out);
    assert_eq!(candidate(&pieces[0])["finishReason"], "STOP");
    assert_eq!(
        candidate(&pieces[0])["content"]["parts"][0]["functionCall"]["name"],
        "f"
    );
}

#[test]
fn usage_before_the_finish_reason_is_kept_for_the_last_piece() {
    let mut encoder = StreamEncoder::new(MODEL);
    let out = feed(&mut encoder, &[usage(3, 4, 0), text("a"), stop("stop")]);
    let pieces = sse_pieces(&out);
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[1]["usageMetadata"]["totalTokenCount"], 7);
}

#[test]
fn usage_null_on_content_chunks_is_no_usage() {
    let mut encoder = StreamEncoder::new(MODEL);
    let with_null_usage = |delta: Value, finish: Value| {
        let mut c: Value = serde_json::from_slice(&chunk(delta, finish)).unwrap();
        c["usage"] = Value::Null;
        c.to_string().into_bytes()
    };
    let out = feed(
        &mut encoder,
        &[
            with_null_usage(json!({"content": "a"}), Value::Null),
            with_null_usage(json!({}), json!("stop")),
        ],
    );
    assert_eq!(sse_pieces(&out).len(), 1, "the last piece still waits");
}

#[test]
fn other_choices_are_not_this_answer() {
    let mut encoder = StreamEncoder::new(MODEL);
    let other = json!({"id": "x", "choices": [{"index": 1, "delta": {"content": "no"}}]});
    let out = feed(&mut encoder, &[other.to_string().into_bytes()]);
    assert!(out.is_empty());
}

#[test]
fn the_json_array_framing_is_googles() {
    let mut encoder = StreamEncoder::new_json_array(MODEL);
    assert_eq!(encoder.content_type(), b"application/json");
    let mut out = feed(&mut encoder, &[text("Hi"), stop("stop"), usage(1, 1, 0)]);
    encoder.finish(&mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    // Pretty-printed pieces; `,` then CR LF between them (marked `,⏎` here).
    let expected = r#"[{
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "Hi"
          }
        ],
        "role": "model"
      },
      "index": 0
    }
  ],
  "modelVersion": "openai/gpt-4o-mini",
  "responseId": "chatcmpl-s"
}
,⏎
{
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": ""
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 1,
    "candidatesTokenCount": 1,
    "totalTokenCount": 2
  },
  "modelVersion": "openai/gpt-4o-mini",
  "responseId": "chatcmpl-s"
}
]"#;
    assert_eq!(text, expected.replace(",⏎\n", ",\r\n"));
    let array: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(array.len(), 2);
}

#[test]
fn an_empty_stream_is_still_one_finished_piece() {
    for mut encoder in [
        StreamEncoder::new(MODEL),
        StreamEncoder::new_json_array(MODEL),
    ] {
        let mut out = Vec::new();
        encoder.finish(&mut out);
        let piece = if encoder.content_type() == b"text/event-stream" {
            sse_pieces(&out).remove(0)
        } else {
            serde_json::from_slice::<Vec<Value>>(&out)
                .unwrap()
                .remove(0)
        };
        assert_eq!(candidate(&piece)["finishReason"], "STOP");
        assert!(piece["responseId"]
            .as_str()
            .unwrap()
            .starts_with("ringbridge-"));
    }
}

#[test]
fn fail_ends_an_sse_stream_with_an_error_piece() {
    let mut encoder = StreamEncoder::new(MODEL);
    assert_eq!(encoder.content_type(), b"text/event-stream");
    let mut out = feed(&mut encoder, &[text("Hi"), stop("stop")]);
    out.clear();
    encoder.fail(502, "upstream cut the stream", &mut out);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "data: {\"error\":{\"code\":502,\"message\":\"upstream cut the stream\",\
         \"status\":\"INTERNAL\"}}\r\n\r\n"
    );
    encoder.finish(&mut out);
    encoder.fail(500, "again", &mut out);
    assert_eq!(sse_pieces(&out).len(), 1, "nothing after the error");
}

#[test]
fn fail_ends_the_json_array_with_the_error_element() {
    let mut encoder = StreamEncoder::new_json_array(MODEL);
    let mut out = feed(&mut encoder, &[text("Hi")]);
    encoder.fail(503, "overloaded", &mut out);
    let array: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(array.len(), 2);
    assert_eq!(
        array[1],
        json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    );

    let mut encoder = StreamEncoder::new_json_array(MODEL);
    let mut out = Vec::new();
    encoder.fail(429, "quota", &mut out);
    let array: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        array,
        vec![json!({"error": {"code": 429, "message": "quota",
        "status": "RESOURCE_EXHAUSTED"}})]
    );
}

#[test]
fn chunks_that_are_not_chat_chunks_are_bad_answers_and_write_nothing() {
    let bad = |data: &[u8]| {
        let mut encoder = StreamEncoder::new(MODEL);
        let mut out = Vec::new();
        let e = encoder.on_chunk(data, &mut out).unwrap_err();
        assert!(out.is_empty());
        e.0
    };
    assert_eq!(bad(b"[DONE]"), "chat chunk is not a JSON object");
    assert_eq!(bad(b"[]"), "chat chunk is not a JSON object");
    assert!(bad(b"{\"choices\":").starts_with("chat chunk: EOF"));
    assert!(bad(br#"{"choices":{}}"#).starts_with("chat chunk: invalid type: map"));
    assert_eq!(
        bad(br#"{"error":{"message":"boom","code":400}}"#),
        r#"upstream stream error: {"message":"boom","code":400}"#
    );
    assert_eq!(
        bad(br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#),
        "tool call 0 finished without a name"
    );
}

#[test]
fn a_null_error_field_is_no_error() {
    let mut encoder = StreamEncoder::new(MODEL);
    let mut data: Value = serde_json::from_slice(&text("a")).unwrap();
    data["error"] = Value::Null;
    let out = feed(&mut encoder, &[data.to_string().into_bytes()]);
    assert_eq!(sse_pieces(&out).len(), 1);
}

#[test]
fn arbitrary_chunks_never_panic() {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\xff",
        b"{}",
        b"{\"choices\":null,\"usage\":null}",
        b"{\"choices\":[null]}",
        b"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":4294967295,\"id\":\"x\"}]}}]}",
        b"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x\"}]}}]}",
        b"{\"usage\":{\"prompt_tokens\":18446744073709551615,\"completion_tokens\":18446744073709551615}}",
    ];
    for input in inputs {
        for mut encoder in [
            StreamEncoder::new(MODEL),
            StreamEncoder::new_json_array(MODEL),
        ] {
            let mut out = Vec::new();
            let _ = encoder.on_chunk(input, &mut out);
            let _ = encoder.on_chunk(&stop("stop"), &mut out);
            encoder.finish(&mut out);
            assert!(std::str::from_utf8(&out).is_ok());
        }
    }
}
