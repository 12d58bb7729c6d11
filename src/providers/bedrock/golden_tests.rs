//! Replays the recorded Bedrock traffic in `$RINGBRIDGE_FIXTURES/bedrock/`
//! (read in place, never copied): event-stream vectors and bodies through the
//! decoder, and the decoded events through the translators.

pub(super) fn read_fixture(name: &str) -> Vec<u8> {
    crate::providers::fixtures::read("bedrock", name)
}

use serde_json::Value;

use super::eventstream::{Decoder, EventStreamError, HeaderValue, Message};
use super::*;
use crate::providers::fixtures::{self, reassemble, usage_of, Assembled};

const VECTORS_DECODED: &[&str] = &[
    "eventstream-vector-all-headers",
    "eventstream-vector-empty-message",
    "eventstream-vector-payload-one-str-header",
];

const VECTORS_CORRUPTED: &[&str] = &[
    "eventstream-vector-corrupted-length",
    "eventstream-vector-corrupted-payload",
];

const STREAM_BODIES: &[&str] = &[
    "converse-stream-claude-thinking.bin",
    "converse-stream-nova-text.bin",
    "converse-stream-nova-tool-use.bin",
    "converse-stream-text.bin",
];

const STREAM_DECODED: &[&str] = &[
    "converse-stream-reasoning.decoded.txt",
    "converse-stream-text.decoded.txt",
];

/// Test-only standard base64 (with padding), to compare with the vectors.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Decodes `bytes` fed in pieces of the given sizes (cycled).
fn decode_in_pieces(bytes: &[u8], sizes: &[usize]) -> Result<Vec<Message>, EventStreamError> {
    let mut d = Decoder::new();
    let mut messages = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).clamp(1, rest.len()));
        rest = tail;
        d.feed(piece);
        while let Some(m) = d.next_message()? {
            messages.push(m);
        }
    }
    d.finish()?;
    Ok(messages)
}

/// Deterministic pseudo-random split sizes (xorshift), 1..=max.
fn random_sizes(seed: u64, max: usize) -> Vec<usize> {
    let mut x = seed | 1;
    (0..64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % max as u64) as usize + 1
        })
        .collect()
}

#[test]
fn positive_vectors_decode_to_their_recorded_headers_and_payload() {
    for name in VECTORS_DECODED {
        let bytes = read_fixture(&format!("{name}.bin"));
        let want: Value =
            serde_json::from_slice(&read_fixture(&format!("{name}.decoded.json"))).unwrap();
        assert_eq!(want["total_length"], bytes.len(), "{name}");
        let messages = decode_in_pieces(&bytes, &[bytes.len()]).unwrap();
        assert_eq!(messages.len(), 1, "{name}");
        let m = &messages[0];
        assert_eq!(base64(&m.payload), want["payload"], "{name}");
        let got: Vec<Value> = m
            .headers
            .iter()
            .map(|(n, v)| {
                let value = match v {
                    HeaderValue::Bool(b) => Value::from(*b),
                    HeaderValue::Byte(n) => Value::from(*n),
                    HeaderValue::Int16(n) => Value::from(*n),
                    HeaderValue::Int32(n) => Value::from(*n),
                    HeaderValue::Int64(n) | HeaderValue::Timestamp(n) => Value::from(*n),
                    HeaderValue::Bytes(b) => Value::from(base64(b)),
                    HeaderValue::String(s) => Value::from(base64(s.as_bytes())),
                    HeaderValue::Uuid(u) => Value::from(base64(u)),
                };
                serde_json::json!({"name": n, "type": v.type_id(), "value": value})
            })
            .collect();
        assert_eq!(Value::from(got), want["headers"], "{name}");
    }
}

#[test]
fn corrupted_vectors_are_rejected_with_the_expected_error() {
    for name in VECTORS_CORRUPTED {
        let bytes = read_fixture(&format!("{name}.bin"));
        let want = String::from_utf8(read_fixture(&format!("{name}.expected.txt"))).unwrap();
        for sizes in [&[bytes.len()][..], &[1]] {
            let err = decode_in_pieces(&bytes, sizes).unwrap_err();
            assert!(
                err.to_string().starts_with(want.trim()),
                "{name}: got {err}, want {want}"
            );
        }
    }
}

#[test]
fn stream_bodies_decode_the_same_whole_byte_by_byte_and_in_random_splits() {
    for name in STREAM_BODIES {
        let bytes = read_fixture(name);
        let whole = decode_in_pieces(&bytes, &[bytes.len()]).unwrap();
        assert!(whole.len() > 3, "{name}");
        for m in &whole {
            assert_eq!(m.header_str(":message-type"), Some("event"), "{name}");
            assert_eq!(m.header_str(":content-type"), Some("application/json"));
            assert!(m.header_str(":event-type").is_some());
        }
        assert_eq!(
            decode_in_pieces(&bytes, &[1]).unwrap(),
            whole,
            "{name} bytewise"
        );
        for seed in 1..=20u64 {
            let sizes = random_sizes(seed * 7919, 97);
            assert_eq!(
                decode_in_pieces(&bytes, &sizes).unwrap(),
                whole,
                "{name} {seed}"
            );
        }
    }
}

#[test]
fn truncated_stream_body_is_reported_not_silently_dropped() {
    let bytes = read_fixture("converse-stream-text.bin");
    let err = decode_in_pieces(&bytes[..bytes.len() - 3], &[64]).unwrap_err();
    assert!(matches!(err, EventStreamError::Truncated { .. }), "{err}");
}

/// (message type, event type, payload) of each message in a `.bin` body or
/// a `.decoded.txt` listing (`{"<eventType>":{...}}` per line).
fn fixture_events(name: &str) -> Vec<(String, String, Vec<u8>)> {
    let bytes = read_fixture(name);
    if name.ends_with(".bin") {
        return decode_in_pieces(&bytes, &[bytes.len()])
            .unwrap()
            .into_iter()
            .map(|m| {
                let mt = m.header_str(":message-type").unwrap().to_owned();
                let et = m.header_str(":event-type").unwrap().to_owned();
                (mt, et, m.payload)
            })
            .collect();
    }
    // The listing may run objects together on one line.
    serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<serde_json::Map<String, Value>>()
        .map(|obj| {
            let (event, payload) = obj.unwrap().into_iter().next().unwrap();
            ("event".into(), event, serde_json::to_vec(&payload).unwrap())
        })
        .collect()
}

/// Reads the recording the way the ConverseStream contract describes it.
fn expected_from_recording(events: &[(String, String, Vec<u8>)]) -> Assembled<(u64, u64)> {
    let mut a = Assembled::default();
    let mut args: Vec<(u64, String)> = Vec::new();
    for (_, event, payload) in events {
        let v: Value = serde_json::from_slice(payload).unwrap();
        match event.as_str() {
            "contentBlockStart" => {
                let t = &v["start"]["toolUse"];
                a.tools.push((
                    t["toolUseId"].as_str().unwrap().into(),
                    t["name"].as_str().unwrap().into(),
                    Value::Null,
                ));
                args.push((v["contentBlockIndex"].as_u64().unwrap(), String::new()));
            }
            "contentBlockDelta" => {
                let d = &v["delta"];
                if let Some(s) = d["text"].as_str() {
                    a.content.push_str(s);
                }
                if let Some(s) = d["reasoningContent"]["text"].as_str() {
                    a.reasoning.push_str(s);
                }
                if let Some(s) = d["toolUse"]["input"].as_str() {
                    let i = v["contentBlockIndex"].as_u64().unwrap();
                    args.iter_mut()
                        .find(|(b, _)| *b == i)
                        .unwrap()
                        .1
                        .push_str(s);
                }
            }
            "messageStop" => {
                a.finish_reason = Some(
                    match v["stopReason"].as_str().unwrap() {
                        "end_turn" | "stop_sequence" => "stop",
                        "max_tokens" => "length",
                        "tool_use" => "tool_calls",
                        other => panic!("recording has stopReason {other}"),
                    }
                    .into(),
                );
            }
            "metadata" => {
                let u = &v["usage"];
                a.usage = Some((
                    u["inputTokens"].as_u64().unwrap(),
                    u["outputTokens"].as_u64().unwrap(),
                ));
            }
            _ => {}
        }
    }
    for (tool, (_, args)) in a.tools.iter_mut().zip(args) {
        tool.2 = if args.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&args).unwrap()
        };
    }
    a
}

/// What a client reassembles from our output, usage as (prompt, completion).
fn assemble_output(out: &[u8], model: &str) -> Assembled<(u64, u64)> {
    reassemble(out, model).assembled().map_usage(|u| {
        let Usage {
            prompt_tokens,
            completion_tokens,
            ..
        } = usage_of(&u);
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            prompt_tokens + completion_tokens
        );
        (prompt_tokens, completion_tokens)
    })
}

#[test]
fn every_recorded_stream_is_listed() {
    fixtures::assert_all_listed(
        "bedrock",
        |n| n.starts_with("converse-stream") && !n.ends_with(".src.txt"),
        STREAM_BODIES.iter().chain(STREAM_DECODED).copied(),
    );
}

#[test]
fn recorded_streams_translate_to_the_same_content_tools_finish_and_usage() {
    for name in STREAM_BODIES.iter().chain(STREAM_DECODED) {
        let events = fixture_events(name);
        let expected = expected_from_recording(&events);
        assert!(
            expected.finish_reason.is_some() && expected.usage.is_some(),
            "{name}"
        );
        let mut t = StreamTranslator::new("bedrock/claude", true);
        let mut out = Vec::new();
        for (mt, et, payload) in &events {
            t.on_message(mt, et, payload, &mut out)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        t.finish(&mut out);
        let got = assemble_output(&out, "bedrock/claude");
        assert_eq!(got, expected, "{name}");
        let usage = t.usage();
        assert_eq!(
            Some((usage.prompt_tokens, usage.completion_tokens)),
            expected.usage,
            "{name}"
        );
    }
}

#[test]
fn recorded_streams_have_the_expected_shape() {
    let translate = |name: &str| {
        let mut t = StreamTranslator::new("m", false);
        let mut out = Vec::new();
        for (mt, et, payload) in fixture_events(name) {
            t.on_message(&mt, &et, &payload, &mut out).unwrap();
        }
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("\"usage\""),
            "usage chunk without include_usage"
        );
        assert!(!text.contains("\"p\":"), "padding leaked");
        assemble_output(text.as_bytes(), "m")
    };
    let tool = translate("converse-stream-nova-tool-use.bin");
    assert_eq!(tool.tools.len(), 1);
    assert_eq!(tool.tools[0].0, "tooluse_lAG_zP8QRHmSYOwZzzaCqA");
    assert_eq!(tool.tools[0].1, "get_temperature");
    assert_eq!(tool.tools[0].2, serde_json::json!({"city":"Paris"}));
    assert_eq!(tool.finish_reason.as_deref(), Some("tool_calls"));
    assert!(tool.content.starts_with("<thinking>"));

    let thinking = translate("converse-stream-claude-thinking.bin");
    assert!(thinking.reasoning.starts_with("The user has greeted me"));
    assert!(!thinking.content.is_empty());
    assert!(!thinking.reasoning.contains("Eu0C"), "signature leaked");
}

#[test]
fn truncated_recorded_payloads_never_panic() {
    for name in STREAM_BODIES.iter().chain(STREAM_DECODED) {
        let events = fixture_events(name);
        for cut_event in 0..events.len() {
            let (mt, et, payload) = &events[cut_event];
            for cut in (0..payload.len()).step_by(11) {
                let mut t = StreamTranslator::new("m", true);
                let mut out = Vec::new();
                for (mt, et, p) in &events[..cut_event] {
                    t.on_message(mt, et, p, &mut out).unwrap();
                }
                let _ = t.on_message(mt, et, &payload[..cut], &mut out);
                t.finish(&mut out);
                assert!(std::str::from_utf8(&out).is_ok(), "{name}");
            }
        }
    }
}

#[test]
fn recorded_converse_responses_translate() {
    let translate = |name: &str| {
        let mut out = Vec::new();
        let usage = translate_response(&read_fixture(name), "bedrock/m", &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "bedrock/m");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        (v, usage)
    };

    let (v, usage) = translate("converse-text.json");
    let msg = &v["choices"][0]["message"];
    assert!(msg["content"]
        .as_str()
        .unwrap()
        .starts_with("Let me count the \"r\"s"));
    assert!(msg.get("tool_calls").is_none());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        serde_json::json!({"prompt_tokens":22,"completion_tokens":57,"total_tokens":79,
            "prompt_tokens_details":{"cached_tokens":0}})
    );
    assert_eq!(usage, usage_of(&v["usage"]));

    let (v, _) = translate("converse-tool-use.json");
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &msg["tool_calls"][0];
    assert_eq!(call["id"], "tool-use-id");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "bash");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, serde_json::json!({"command":"ls -l"}));

    let (v, usage) = translate("converse-reasoning.json");
    let msg = &v["choices"][0]["message"];
    assert!(msg["reasoning_content"]
        .as_str()
        .unwrap()
        .starts_with("Let me count the r's"));
    assert!(msg["content"]
        .as_str()
        .unwrap()
        .starts_with("There are **3** r's"));
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (51, 78));
}

#[test]
fn test_base64_matches_known_values() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
}
