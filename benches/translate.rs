//! Translation cost per request and per stream event, per provider family,
//! next to the pass-through splice of the same body as the baseline; and the
//! inbound dialects' conversions into and out of the chat hub.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ringbridge::inbound;
use ringbridge::providers::{anthropic, bedrock, cohere, gemini};
use ringbridge::schema::peek::{peek, splice_model};

fn chat_body() -> Vec<u8> {
    let text = "Summarise the following paragraph in one sentence. ".repeat(14);
    format!(
        r#"{{"messages":[{{"role":"system","content":"You are terse."}},{{"role":"user","content":"{text}"}}],"model":"anthropic/claude-sonnet-4-5","temperature":0.2,"max_tokens":512,"stream":true,"stream_options":{{"include_usage":true}},"tools":[{{"type":"function","function":{{"name":"lookup","description":"Look a word up","parameters":{{"type":"object","properties":{{"word":{{"type":"string"}}}},"required":["word"]}}}}}}]}}"#
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let body = chat_body();
    let mut g = c.benchmark_group("translate_request");
    g.bench_function("baseline_passthrough_splice", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            let p = peek(black_box(&body)).unwrap();
            out.clear();
            splice_model(&mut out, &body, &p.model.unwrap(), "claude-sonnet-4-5");
            black_box(out.len())
        })
    });
    g.bench_function("anthropic", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            anthropic::translate_request(black_box(&body), "claude-sonnet-4-5", &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("gemini", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            gemini::translate_request(black_box(&body), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("cohere", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            cohere::translate_request(black_box(&body), "command-a-03-2025", &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("bedrock", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            bedrock::translate_request(black_box(&body), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("bedrock_sigv4_sign", |b| {
        let creds = bedrock::sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        b.iter(|| {
            black_box(bedrock::sigv4::sign(
                "POST",
                "bedrock-runtime.us-east-1.amazonaws.com",
                "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                "",
                &[("content-type", "application/json")],
                black_box(&body),
                &creds,
                "us-east-1",
                "bedrock",
                "20261130T120000Z",
            ))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("translate_stream_event");
    let start = br#"{"type":"message_start","message":{"model":"claude-sonnet-4-5","id":"msg_01","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#;
    let block =
        br#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
    let delta = br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the quick brown fox"}   }"#;
    g.bench_function("anthropic_text_delta", |b| {
        let mut t = anthropic::StreamTranslator::new("anthropic/claude-sonnet-4-5", true);
        let mut out = Vec::with_capacity(4096);
        t.on_event("message_start", start, &mut out).unwrap();
        t.on_event("content_block_start", block, &mut out).unwrap();
        b.iter(|| {
            out.clear();
            t.on_event("content_block_delta", black_box(delta), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    let gemini_chunk = br#"{"candidates": [{"content": {"parts": [{"text": " the quick brown fox"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 12,"candidatesTokenCount": 5,"totalTokenCount": 17},"modelVersion": "gemini-2.5-flash","responseId": "abc"}"#;
    g.bench_function("gemini_text_chunk", |b| {
        let mut t = gemini::StreamTranslator::new("gemini/gemini-2.5-flash", true);
        let mut out = Vec::with_capacity(4096);
        t.on_event("", gemini_chunk, &mut out).unwrap();
        b.iter(|| {
            out.clear();
            t.on_event("", black_box(gemini_chunk), &mut out).unwrap();
            black_box(out.len())
        })
    });
    let cohere_start = br#"{"type":"message-start","id":"x","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#;
    let cohere_cstart = br#"{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}"#;
    let cohere_delta = br#"{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" the quick brown fox"}}}}"#;
    g.bench_function("cohere_content_delta", |b| {
        let mut t = cohere::StreamTranslator::new("cohere/command-a", true);
        let mut out = Vec::with_capacity(4096);
        t.on_event("message-start", cohere_start, &mut out).unwrap();
        t.on_event("content-start", cohere_cstart, &mut out)
            .unwrap();
        b.iter(|| {
            out.clear();
            t.on_event("content-delta", black_box(cohere_delta), &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

/// The same conversation in each inbound dialect, as clients send it.
fn dialect_bodies() -> [(&'static str, Vec<u8>); 3] {
    let text = "Summarise the following paragraph in one sentence. ".repeat(14);
    let tool = r#"{"name":"lookup","description":"Look a word up","input_schema":{"type":"object","properties":{"word":{"type":"string"}},"required":["word"]}}"#;
    let anthropic = format!(
        r#"{{"model":"openai/gpt-4o-mini","max_tokens":512,"stream":true,"temperature":0.2,"system":[{{"type":"text","text":"You are terse.","cache_control":{{"type":"ephemeral"}}}}],"messages":[{{"role":"user","content":"{text}"}}],"tools":[{tool}]}}"#
    );
    let responses = format!(
        r#"{{"model":"openai/gpt-4o-mini","max_output_tokens":512,"stream":true,"temperature":0.2,"instructions":"You are terse.","input":[{{"role":"user","content":"{text}"}}],"tools":[{{"type":"function","name":"lookup","description":"Look a word up","parameters":{{"type":"object","properties":{{"word":{{"type":"string"}}}},"required":["word"]}}}}]}}"#
    );
    let gemini = format!(
        r#"{{"systemInstruction":{{"parts":[{{"text":"You are terse."}}]}},"contents":[{{"role":"user","parts":[{{"text":"{text}"}}]}}],"generationConfig":{{"temperature":0.2,"maxOutputTokens":512}},"tools":[{{"functionDeclarations":[{{"name":"lookup","description":"Look a word up","parameters":{{"type":"OBJECT","properties":{{"word":{{"type":"STRING"}}}},"required":["word"]}}}}]}}]}}"#
    );
    [
        ("anthropic", anthropic.into_bytes()),
        ("responses", responses.into_bytes()),
        ("gemini", gemini.into_bytes()),
    ]
}

/// Inbound dialects through the chat hub: the request into chat, a whole
/// chat answer back, and one chat chunk re-encoded.
fn bench_inbound(c: &mut Criterion) {
    let mut g = c.benchmark_group("inbound_to_chat");
    for (name, body) in dialect_bodies() {
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(4096);
            b.iter(|| {
                out.clear();
                match name {
                    "anthropic" => inbound::anthropic::to_chat(black_box(&body), &mut out),
                    "responses" => inbound::responses::to_chat(black_box(&body), &mut out),
                    _ => inbound::gemini::to_chat(
                        black_box(&body),
                        "openai/gpt-4o-mini",
                        true,
                        &mut out,
                    ),
                }
                .unwrap();
                black_box(out.len())
            })
        });
    }
    // Anthropic in, Gemini upstream: the hub, then the Gemini translator.
    let (_, anthropic_body) = &dialect_bodies()[0];
    g.bench_function("anthropic_then_gemini_translator", |b| {
        let (mut hub, mut out) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
        b.iter(|| {
            hub.clear();
            out.clear();
            inbound::anthropic::to_chat(black_box(anthropic_body), &mut hub).unwrap();
            gemini::translate_request(&hub, &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();

    let chat = br#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog, a sentence that uses every letter.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":18,"total_tokens":138,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;
    let mut g = c.benchmark_group("inbound_from_chat");
    g.bench_function("anthropic", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            inbound::anthropic::from_chat(black_box(chat), "openai/gpt-4o-mini", &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("responses", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            inbound::responses::from_chat(black_box(chat), "openai/gpt-4o-mini", &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("gemini", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            inbound::gemini::from_chat(black_box(chat), "openai/gpt-4o-mini", &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();

    let first = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
    let delta = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" the quick brown fox"},"finish_reason":null}]}"#;
    let mut g = c.benchmark_group("inbound_stream_chunk");
    g.bench_function("anthropic_text_delta", |b| {
        let mut e = inbound::anthropic::StreamEncoder::new("openai/gpt-4o-mini");
        let mut out = Vec::with_capacity(4096);
        e.on_chunk(first, &mut out).unwrap();
        e.on_chunk(delta, &mut out).unwrap();
        b.iter(|| {
            out.clear();
            e.on_chunk(black_box(delta), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("responses_text_delta", |b| {
        // The encoder keeps the text for the final event: a fresh one per
        // thousand chunks keeps that growth out of the figure.
        let mut out = Vec::with_capacity(4096);
        b.iter_batched_ref(
            || {
                let mut e = inbound::responses::StreamEncoder::new("openai/gpt-4o-mini");
                e.on_chunk(first, &mut Vec::new()).unwrap();
                e
            },
            |e| {
                out.clear();
                e.on_chunk(black_box(delta), &mut out).unwrap();
                black_box(out.len())
            },
            criterion::BatchSize::NumIterations(1000),
        )
    });
    g.bench_function("gemini_text_delta", |b| {
        let mut e = inbound::gemini::StreamEncoder::new("openai/gpt-4o-mini");
        let mut out = Vec::with_capacity(4096);
        e.on_chunk(first, &mut out).unwrap();
        b.iter(|| {
            out.clear();
            e.on_chunk(black_box(delta), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_inbound);
criterion_main!(benches);
