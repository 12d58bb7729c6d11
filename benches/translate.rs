//! Translation cost per request and per stream event, per provider family,
//! next to the pass-through splice of the same body as the baseline.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ringbridge::providers::anthropic;
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
