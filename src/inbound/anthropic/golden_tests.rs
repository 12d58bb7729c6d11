//! Golden tests against the recorded traffic in `../shared/fixtures` (read
//! in place): every OpenAI-compatible chat stream recording through the
//! [`StreamEncoder`], replayed by the grammar validator, and equal to what
//! [`from_chat`] makes of the same answer; the chat completion recordings
//! through `from_chat`; and our shapes against Anthropic's own recordings.

use serde_json::{json, Value};

use super::test_support::{
    assert_same_shape, completion_from_chunks, fixture_names, read_fixture, recording_events,
    replay, strict_frames, Outcome,
};
use super::*;

/// Fields Anthropic sends that we leave out: `stop_details` and
/// `server_tool_use` describe Anthropic's own refusals and server tools,
/// `service_tier`/`inference_geo` its capacity and regions, `caller` its
/// programmatic tool calling. The SDKs treat all as optional.
const ANTHROPIC_ONLY: &[&str] = &[
    "stop_details",
    "service_tier",
    "inference_geo",
    "server_tool_use",
    "caller",
];

/// Block types our streams may contain.
const OUR_BLOCKS: &[&str] = &["text", "thinking", "tool_use"];

/// Providers whose chat streams are OpenAI chunks (as sent, or Azure's).
const CHAT_STREAM_PROVIDERS: &[&str] = &[
    "openai",
    "deepseek",
    "groq",
    "mistral",
    "openrouter",
    "azure",
];

/// The `data:` payloads of a chat stream recording, as the driver hands
/// them over: `[DONE]` left out, an `event: error` frame's data included.
fn chat_chunks(provider: &str, name: &str) -> Vec<String> {
    recording_events(provider, name)
        .into_iter()
        .map(|(_, data)| data)
        .filter(|data| data != "[DONE]")
        .collect()
}

/// The Anthropic stream the encoder writes for `chunks`, finished.
fn encode(chunks: &[String], model: &str) -> Vec<u8> {
    let mut encoder = StreamEncoder::new(model);
    let mut out = Vec::new();
    for chunk in chunks {
        encoder
            .on_chunk(chunk.as_bytes(), &mut out)
            .unwrap_or_else(|e| panic!("{e}: {chunk}"));
    }
    encoder.finish(&mut out);
    out
}

fn from_chat_value(completion: &Value, model: &str) -> Value {
    let mut out = Vec::new();
    from_chat(completion.to_string().as_bytes(), model, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn anthropic_json(name: &str) -> Value {
    serde_json::from_slice(&read_fixture("anthropic", name)).unwrap()
}

fn anthropic_stream(name: &str) -> Vec<(String, Value)> {
    recording_events("anthropic", name)
        .into_iter()
        .map(|(event, data)| (event, serde_json::from_str(&data).unwrap()))
        .collect()
}

fn anthropic_stream_names() -> Vec<String> {
    fixture_names("anthropic", |n| {
        n.starts_with("messages-stream-") && (n.ends_with(".sse") || n.ends_with(".chunks.txt"))
    })
}

#[test]
fn validator_accepts_every_anthropic_stream_recording() {
    let names = anthropic_stream_names();
    assert_eq!(names.len(), 6, "{names:?}");
    let any_block = &[
        "text",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "server_tool_use",
        "tool_search_tool_result",
    ];
    for name in &names {
        let message = replay(&anthropic_stream(name), any_block).message();
        // Anthropic itself repeats input_tokens in message_delta's usage.
        assert!(
            message["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{name}"
        );
        match name.as_str() {
            "messages-stream-text.sse" => assert_eq!(
                message["content"][0]["text"],
                "Hi there! How are you doing today? Is there anything I can help you with?"
            ),
            "messages-stream-tool-no-args.chunks.txt" => {
                assert_eq!(message["content"][1]["input"], json!({}));
                assert_eq!(message["stop_reason"], "tool_use");
            }
            "messages-stream-tool-use.sse" => assert_eq!(
                message["content"][4]["input"],
                json!({"from_currency": "USD", "to_currency": "EUR"})
            ),
            "messages-stream-thinking.sse" => {
                assert!(!message["content"][0]["signature"]
                    .as_str()
                    .unwrap()
                    .is_empty());
            }
            _ => {}
        }
    }
}

#[test]
fn every_chat_stream_recording_follows_the_grammar_and_matches_from_chat() {
    let mut replayed = 0;
    for provider in CHAT_STREAM_PROVIDERS {
        let names = fixture_names(provider, |n| {
            n.starts_with("chat-stream-") && (n.ends_with(".sse") || n.ends_with(".chunks.txt"))
        });
        for name in names {
            let chunks = chat_chunks(provider, &name);
            let out = encode(&chunks, "client-model");
            let outcome = replay(&strict_frames(&out), OUR_BLOCKS);
            let label = format!("{provider}/{name}");
            match label.as_str() {
                // Groq's `event: error` (type invalid_request_error) and
                // OpenRouter's in-band error (code 400).
                "groq/chat-stream-mid-stream-error.sse"
                | "openrouter/chat-stream-in-band-error.sse" => {
                    let Outcome::Error(error, Some(partial)) = outcome else {
                        panic!("{label}: expected an error after message_start");
                    };
                    assert_eq!(error["type"], "invalid_request_error", "{label}");
                    assert!(error["message"].as_str().unwrap().len() > 10, "{label}");
                    assert_eq!(partial["content"][0]["type"], "thinking", "{label}");
                }
                _ => {
                    let streamed = outcome.message();
                    let whole = from_chat_value(&completion_from_chunks(&chunks), "client-model");
                    assert_eq!(streamed, whole, "{label}");
                    check_recording_facts(&label, &streamed);
                }
            }
            replayed += 1;
        }
    }
    assert_eq!(replayed, 15, "chat stream recordings replayed");
}

/// What each recording is known to hold, checked on the streamed message.
fn check_recording_facts(label: &str, m: &Value) {
    let blocks: Vec<&str> = m["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    let usage = &m["usage"];
    match label {
        "openai/chat-stream-include-usage.sse" => {
            assert!(blocks.is_empty());
            assert_eq!(m["stop_reason"], "max_tokens");
            assert_eq!(
                (
                    usage["input_tokens"].as_u64(),
                    usage["output_tokens"].as_u64()
                ),
                (Some(12), Some(100))
            );
        }
        "openai/chat-stream-text.sse" | "openai/chat-stream-long-text.chunks.txt" => {
            assert_eq!(blocks, ["text"]);
            assert_eq!(m["stop_reason"], "end_turn");
        }
        "openai/chat-stream-parallel-tool-calls-usage.sse" => {
            assert!(
                blocks.len() >= 2 && blocks.iter().all(|b| *b == "tool_use"),
                "{blocks:?}"
            );
            assert_eq!(m["content"][0]["name"], "get_country");
            assert_eq!(m["content"][0]["input"], json!({}));
            assert_eq!(m["stop_reason"], "tool_use");
        }
        "openai/chat-stream-tool-call-args-fragments.sse" => {
            assert_eq!(blocks, ["tool_use"]);
            assert!(m["content"][0]["input"]["answers"].is_array());
            assert_eq!(usage["input_tokens"], 448);
        }
        "deepseek/chat-stream-tool-call.chunks.txt" => {
            assert_eq!(blocks, ["thinking", "tool_use"]);
            assert_eq!(
                (
                    usage["input_tokens"].as_u64(),
                    usage["cache_read_input_tokens"].as_u64()
                ),
                (Some(19), Some(320))
            );
        }
        "deepseek/chat-stream-reasoning.chunks.txt"
        | "openrouter/chat-stream-reasoning.sse"
        | "mistral/chat-stream-thinking.sse" => {
            assert_eq!(blocks, ["thinking", "text"]);
        }
        "groq/chat-stream-tool-call.chunks.txt" | "mistral/chat-stream-tool-call.chunks.txt" => {
            assert_eq!(blocks, ["tool_use"]);
            assert!(usage["input_tokens"].as_u64().unwrap() > 100);
        }
        "azure/chat-stream-model-router.chunks.txt" => {
            assert_eq!(blocks, ["text"]);
            assert_eq!(m["id"], "msg_CYPS1lijGoK8gd9lYzY3r9Sx50nbt");
        }
        _ => {}
    }
}

#[test]
fn chat_completion_recordings_become_messages_shaped_like_anthropics() {
    let reference = anthropic_json("messages-text.json");
    let cases = [
        (
            "openai",
            "chat-completion-basic.json",
            &["text"][..],
            "end_turn",
        ),
        (
            "openai",
            "chat-completion-reasoning-model.json",
            &["text"],
            "end_turn",
        ),
        (
            "openai",
            "chat-completion-tool-call.json",
            &["tool_use"],
            "tool_use",
        ),
        (
            "openai",
            "chat-completion-parallel-tool-calls.json",
            &["tool_use"],
            "tool_use",
        ),
        (
            "deepseek",
            "chat-reasoning.json",
            &["thinking", "text"],
            "end_turn",
        ),
        ("groq", "chat-tool-call.json", &["tool_use"], "tool_use"),
        ("mistral", "chat-text.json", &["text"], "end_turn"),
        (
            "azure",
            "chat-completion-content-filter.json",
            &["text"],
            "end_turn",
        ),
    ];
    let openai = fixture_names("openai", |n| n.starts_with("chat-completion-"));
    assert_eq!(
        openai.len(),
        4,
        "every OpenAI completion recording is a case: {openai:?}"
    );
    for (provider, name, blocks, stop) in cases {
        let chat: Value = serde_json::from_slice(&read_fixture(provider, name)).unwrap();
        let m = from_chat_value(&chat, "client-model");
        let label = format!("{provider}/{name}");
        assert_same_shape(&m, &reference, ANTHROPIC_ONLY, &label);
        let types: Vec<&str> = m["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, blocks, "{label}");
        assert_eq!(m["stop_reason"], stop, "{label}");
        assert_eq!(m["model"], "client-model");
        let u = &chat["usage"];
        assert_eq!(
            m["usage"]["output_tokens"], u["completion_tokens"],
            "{label}"
        );
        for block in m["content"].as_array().unwrap() {
            match block["type"].as_str().unwrap() {
                "text" => assert_same_shape(block, &reference["content"][0], &[], &label),
                "tool_use" => {
                    assert!(block["input"].is_object());
                    assert!(block["id"].as_str().is_some_and(|id| !id.is_empty()));
                }
                _ => {}
            }
        }
    }
}

#[test]
fn content_filter_answer_is_shaped_like_anthropics_refusal() {
    let reference = anthropic_json("messages-refusal.json");
    let chat = json!({"id":"chatcmpl-r","choices":[{"index":0,"message":{"role":"assistant","content":null},
        "finish_reason":"content_filter"}],"usage":{"prompt_tokens":18,"completion_tokens":5}});
    let m = from_chat_value(&chat, "claude-fable-5");
    assert_same_shape(&m, &reference, ANTHROPIC_ONLY, "refusal");
    assert_eq!(m["content"], json!([]));
    assert_eq!(m["stop_reason"], "refusal");
}

#[test]
fn stream_events_are_shaped_like_anthropics() {
    // Every event and block kind we write, against the first of its kind in
    // Anthropic's recordings.
    let chunks: Vec<String> = [
        json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm"}}]}),
        json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]}),
        json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",
            "type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}),
        json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        json!({"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    let ours = strict_frames(&encode(&chunks, "m"));
    let mut theirs: Vec<(String, Value)> = Vec::new();
    for name in anthropic_stream_names() {
        theirs.extend(anthropic_stream(&name));
    }
    // The kind of an event for matching: its type, plus the block or delta type.
    let kind = |v: &Value| {
        let sub = v["content_block"]["type"]
            .as_str()
            .or(v["delta"]["type"].as_str());
        format!("{}/{}", v["type"].as_str().unwrap(), sub.unwrap_or(""))
    };
    let mut checked = Vec::new();
    for (_, event) in &ours {
        let k = kind(event);
        let reference = theirs
            .iter()
            .find(|(_, t)| kind(t) == k)
            .unwrap_or_else(|| panic!("no Anthropic event of kind {k}"));
        assert_same_shape(event, &reference.1, ANTHROPIC_ONLY, &k);
        checked.push(k);
    }
    checked.dedup();
    assert_eq!(
        checked,
        [
            "message_start/",
            "content_block_start/thinking",
            "content_block_delta/thinking_delta",
            "content_block_stop/",
            "content_block_start/text",
            "content_block_delta/text_delta",
            "content_block_stop/",
            "content_block_start/tool_use",
            "content_block_delta/input_json_delta",
            "content_block_stop/",
            "message_delta/",
            "message_stop/",
        ]
    );
}

#[test]
fn errors_are_shaped_like_anthropics() {
    // Anthropic's documented error body, as its SDKs parse it.
    let reference =
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}});
    let mut out = Vec::new();
    write_error(529, "overloaded_error", "Overloaded", &mut out);
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), reference);
    let mut encoder = StreamEncoder::new("m");
    let mut out = Vec::new();
    encoder.fail(529, "Overloaded", &mut out);
    assert_eq!(strict_frames(&out), [("error".to_owned(), reference)]);
    let count: Value =
        serde_json::from_slice(&read_fixture("anthropic", "count-tokens.json")).unwrap();
    let mut out = Vec::new();
    write_count_tokens(42, &mut out);
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), count);
}

#[test]
fn recordings_cut_anywhere_still_end_in_valid_grammar() {
    // Up to a dozen chunks of each recording, each cut every 11 bytes: the
    // stream before it is replayed, the cut chunk fails or is read whole,
    // and finish closes it; the output must always replay.
    for provider in CHAT_STREAM_PROVIDERS {
        let names = fixture_names(provider, |n| n.starts_with("chat-stream-"));
        for name in names {
            let chunks = chat_chunks(provider, &name);
            let step = chunks.len().div_ceil(12).max(1);
            let mut encoder = StreamEncoder::new("m");
            let mut out = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                if i % step == 0 {
                    for cut in (0..chunk.len()).step_by(11) {
                        let (mut encoder, mut out) = (encoder.clone(), out.clone());
                        let _ = encoder.on_chunk(&chunk.as_bytes()[..cut], &mut out);
                        encoder.finish(&mut out);
                        replay(&strict_frames(&out), OUR_BLOCKS);
                    }
                }
                encoder.on_chunk(chunk.as_bytes(), &mut out).unwrap();
            }
        }
    }
}
