//! Golden tests: every recorded chat stream, and the streams the gateway's
//! own translators write, through the encoder and the grammar checker; our
//! events against the real service's recorded ones.

use super::*;
use crate::inbound::responses::stream_check::{
    check_stream, chunk, encode, is_chat_stream, payloads, replay, usage_chunk,
};
use crate::inbound::responses::test_support::{assert_same_shape, events, fixture, names};
use serde_json::{json, Value};

/// Every OpenAI-compatible chat stream on record, OpenAI's own first.
#[test]
fn every_recorded_chat_stream_replays_as_a_valid_responses_stream() {
    let openai = names("openai", is_chat_stream);
    assert_eq!(openai.len(), 6, "{openai:?}");
    let mut recordings: Vec<(&str, String)> = openai.into_iter().map(|n| ("openai", n)).collect();
    for provider in ["azure", "deepseek", "groq", "mistral", "openrouter"] {
        recordings.extend(
            names(provider, is_chat_stream)
                .into_iter()
                .map(|n| (provider, n)),
        );
    }
    let mut failed = Vec::new();
    for (provider, name) in &recordings {
        let label = format!("{provider}/{name}");
        let replayed = check_stream(&label, &payloads(provider, name));
        if replayed.terminal == "response.failed" {
            failed.push(label);
        }
    }
    // The two recordings with an error inside the 200 stream.
    assert_eq!(
        failed,
        [
            "groq/chat-stream-mid-stream-error.sse",
            "openrouter/chat-stream-in-band-error.sse"
        ]
    );
    assert_eq!(recordings.len(), 15);
}

#[test]
fn recorded_streams_keep_their_text_tools_reasoning_and_usage() {
    let r = check_stream("text", &payloads("openai", "chat-stream-text.sse"));
    assert_eq!(r.terminal, "response.completed");
    assert!(r.response["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Hi there!"));

    // All 100 tokens went to reasoning: an empty, incomplete message.
    let r = check_stream(
        "include-usage",
        &payloads("openai", "chat-stream-include-usage.sse"),
    );
    assert_eq!(r.terminal, "response.incomplete");
    assert_eq!(r.response["output"][0]["content"][0]["text"], "");
    assert_eq!(r.response["output"][0]["status"], "incomplete");
    assert_eq!(
        r.response["usage"]["output_tokens_details"]["reasoning_tokens"],
        100
    );

    let r = check_stream(
        "parallel",
        &payloads("openai", "chat-stream-parallel-tool-calls-usage.sse"),
    );
    let types: Vec<&str> = r.response["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["function_call", "function_call"]);
    for item in r.response["output"].as_array().unwrap() {
        serde_json::from_str::<Value>(item["arguments"].as_str().unwrap()).unwrap();
    }

    let r = check_stream(
        "deepseek",
        &payloads("deepseek", "chat-stream-reasoning.chunks.txt"),
    );
    assert_eq!(r.response["output"][0]["type"], "reasoning");
    assert_eq!(r.response["output"][1]["type"], "message");
    assert_eq!(
        r.response["usage"]["output_tokens_details"]["reasoning_tokens"],
        205
    );

    // Mistral's one-chunk tool call has no index, and its usage rides on the
    // finish chunk.
    let r = check_stream(
        "mistral",
        &payloads("mistral", "chat-stream-tool-call.chunks.txt"),
    );
    assert_eq!(r.response["output"][0]["call_id"], "gSIMJiOkT");
    assert_eq!(r.response["usage"]["total_tokens"], 146);
}

/// Streams the gateway's own translators write (Anthropic and Gemini
/// recordings through `providers::*::StreamTranslator`) replay as well.
#[test]
fn translated_provider_streams_replay_as_valid_responses_streams() {
    use crate::providers::{anthropic, gemini};
    let mut checked = 0;
    for name in names("anthropic", |n| {
        n.starts_with("messages-stream-") && n.ends_with(".sse")
    }) {
        let mut t = anthropic::StreamTranslator::new("m", true);
        let mut chat = Vec::new();
        for (event, data) in events(&name, &fixture("anthropic", &name)) {
            t.on_event(&event, data.as_bytes(), &mut chat).unwrap();
        }
        t.finish(&mut chat);
        check_stream(&format!("anthropic/{name}"), &chat_frames(&chat));
        checked += 1;
    }
    for name in names("gemini", |n| n.ends_with(".sse")) {
        let mut t = gemini::StreamTranslator::new("m", true);
        let mut chat = Vec::new();
        for (event, data) in events(&name, &fixture("gemini", &name)) {
            t.on_event(&event, data.as_bytes(), &mut chat).unwrap();
        }
        t.finish(&mut chat);
        check_stream(&format!("gemini/{name}"), &chat_frames(&chat));
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

/// The `data:` payloads of a translator's chat stream, `[DONE]` left out.
fn chat_frames(chat: &[u8]) -> Vec<String> {
    events("x.sse", chat).into_iter().map(|(_, d)| d).collect()
}

/// Each of our events has the fields, and their types, of the same event
/// in the real service's recordings.
#[test]
fn events_have_the_real_services_fields_and_types() {
    let (ours, _) = encode(&[
        chunk(json!({"role":"assistant","content":"Hel"}), None),
        chunk(json!({"content":"lo"}), Some("stop")),
        usage_chunk(3, 2),
    ]);
    let mut ours = replay("ours", &ours).events;
    let mut failing = StreamEncoder::new("client/model");
    let mut out = Vec::new();
    failing.fail(429, "slow down", &mut out);
    ours.extend(replay("ours-failed", &out).events);

    let mut compared = std::collections::BTreeSet::new();
    for (provider, name) in [
        ("azure", "responses-stream-text.chunks.txt"),
        ("openai", "responses-stream-logprobs.sse"),
        ("openai", "responses-stream-error.chunks.txt"),
    ] {
        for (_, data) in events(name, &fixture(provider, name)) {
            let real: Value = serde_json::from_str(&data).unwrap();
            let kind = real["type"].as_str().unwrap();
            let our = ours
                .iter()
                .find(|o| o["type"] == kind)
                .unwrap_or_else(|| panic!("we never write {kind}"));
            assert_same_shape(our, &real, &format!("{name}: {kind}"));
            compared.insert(kind.to_owned());
        }
    }
    assert_eq!(compared.len(), 11, "{compared:?}");
}

/// Every prefix of every chunk of a recording, as a broken upstream might
/// send it: the encoder refuses or takes it, never panics, and the stream
/// still ends in the grammar.
#[test]
fn cut_chunks_never_panic_and_still_end_the_stream_well() {
    let datas = payloads("openai", "chat-stream-parallel-tool-calls-usage.sse");
    for cut_at in 0..datas.len() {
        let data = datas[cut_at].as_bytes();
        for cut in (0..data.len()).step_by(5) {
            let mut encoder = StreamEncoder::new("m");
            let mut out = Vec::new();
            for earlier in &datas[..cut_at] {
                encoder.on_chunk(earlier.as_bytes(), &mut out).unwrap();
            }
            match encoder.on_chunk(&data[..cut], &mut out) {
                Ok(()) => encoder.finish(&mut out),
                Err(e) => encoder.fail(502, &e.0, &mut out),
            }
            replay(&format!("chunk {cut_at} cut at {cut}"), &out);
        }
    }
}
