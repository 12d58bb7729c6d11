//! Micro-benchmarks of the per-request work on the pass-through path, each next
//! to a baseline in the same run (a memcpy of the same bytes, or a full
//! `serde_json::Value` round trip, which is what a naive gateway would do).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringbridge::config::{self, LoadOptions};
use ringbridge::http::chunked::ChunkedScanner;
use ringbridge::http::request::parse_request_head;
use ringbridge::router::health::{now_ms, Outcome};
use ringbridge::router::limit::Load;
use ringbridge::router::{lease, Choice, CoreRouting, Report, Routes};
use ringbridge::schema::peek::{peek, splice_model};
use ringbridge::schema::usage::scan_usage;
use ringbridge::worker::snapshot::{CoreSnapshot, Published};

/// A ~1 KiB chat request as the OpenAI Python SDK sends it (messages before model).
fn chat_body() -> Vec<u8> {
    let text = "Summarise the following paragraph in one sentence. ".repeat(14);
    format!(
        r#"{{"messages":[{{"role":"system","content":"You are terse."}},{{"role":"user","content":"{text}"}}],"model":"groq/llama-3.1-8b-instant","temperature":0.2,"stream":false}}"#
    )
    .into_bytes()
}

fn request_head(body_len: usize) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nAccept: application/json\r\nContent-Type: application/json\r\nUser-Agent: OpenAI/Python 1.54.0\r\nX-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.54.0\r\nX-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\nX-Stainless-Runtime: CPython\r\nX-Stainless-Runtime-Version: 3.11.7\r\nAuthorization: Bearer gk-0123456789\r\nX-Stainless-Async: false\r\nx-stainless-retry-count: 0\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes()
}

/// The environment the benches run under: four hosted providers with keys.
fn bench_env(k: &str) -> Option<String> {
    matches!(
        k,
        "GROQ_API_KEY" | "OPENAI_API_KEY" | "MISTRAL_API_KEY" | "DEEPSEEK_API_KEY"
    )
    .then(|| "k".to_string())
}

fn settings() -> config::Settings {
    config::load(&LoadOptions::default(), &bench_env).expect("zero config")
}

fn routes() -> Routes {
    Routes::new(&settings())
}

fn routes_from(toml: &str) -> Routes {
    let path = std::env::temp_dir().join(format!("rb-bench-routes-{}.toml", std::process::id()));
    std::fs::write(&path, toml).unwrap();
    let opts = LoadOptions {
        config_path: Some(path.clone()),
        ..LoadOptions::default()
    };
    let settings = config::load(&opts, &bench_env).expect("bench routes");
    let _ = std::fs::remove_file(path);
    Routes::new(&settings)
}

fn bench(c: &mut Criterion) {
    let body = chat_body();
    let head = request_head(body.len());

    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes((head.len() + body.len()) as u64));
    g.bench_function("baseline_memcpy_head_and_body", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            out.extend_from_slice(black_box(&head));
            out.extend_from_slice(black_box(&body));
            black_box(out.len())
        })
    });
    g.bench_function("parse_head", |b| {
        let mut spare = Some(Vec::with_capacity(32));
        b.iter(|| {
            let h = parse_request_head(black_box(&head), 65536, spare.take().unwrap())
                .unwrap()
                .unwrap();
            spare = Some(h.headers);
        })
    });
    g.bench_function("peek_model", |b| b.iter(|| peek(black_box(&body)).unwrap()));
    // A 1 MiB prompt (load scenario 5's shape): peek walks the whole top level.
    let big = format!(
        r#"{{"model":"openai/gpt-4o-mini","messages":[{{"role":"user","content":"{}"}}],"max_tokens":64}}"#,
        "lorem ipsum dolor sit amet ".repeat(40_000)
    )
    .into_bytes();
    g.bench_function("peek_model_1mib_prompt", |b| {
        b.iter(|| peek(black_box(&big)).unwrap())
    });
    let routes = routes();
    let core_routing = CoreRouting::new(0);
    g.bench_function("resolve_route", |b| {
        b.iter(|| {
            // What the driver calls: the candidate list, here one route.
            let candidates = routes
                .candidates(black_box("groq/llama-3.1-8b-instant"), &[], &core_routing)
                .unwrap();
            let provider = candidates.iter().next().unwrap().provider;
            provider
        })
    });
    // A `[routes]` name with three weighted targets and two fallbacks, plus
    // two fallbacks from the request body: the draw and the whole list.
    let table = routes_from(
        r#"
[routes.smart]
targets = [{ model = "openai/gpt-4o", weight = 3 }, { model = "groq/llama-3.3-70b-versatile", weight = 2 }, "deepseek/deepseek-chat"]
fallbacks = ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"]
"#,
    );
    let body_fallbacks = vec!["mistral/mistral-small".to_owned(), "mock/echo".to_owned()];
    g.bench_function("resolve_route_3_targets_4_fallbacks", |b| {
        b.iter(|| {
            let candidates = table
                .candidates(black_box("smart"), &body_fallbacks, &core_routing)
                .unwrap();
            black_box(candidates.len())
        })
    });
    // Route selection as the driver does it for one attempt: the candidates
    // (a model and two body fallbacks), then a lease on one of three
    // weighted keys (P2C), and the outcome reported back (breaker, EWMA).
    let keyed =
        routes_from("[providers.openai]\nkeys = [{ key = \"k1\", weight = 2 }, \"k2\", \"k3\"]\n");
    let breaker = ringbridge::config::BreakerSettings::default();
    let answered = Report {
        outcome: Outcome::Success,
        load: Load::Answered(std::time::Duration::from_millis(300)),
        retry_after: None,
    };
    for (name, fallbacks) in [
        ("route_3_keys_lease_report", vec![]),
        (
            "route_3_keys_2_fallbacks_lease_report",
            vec![
                "groq/llama-3.1-8b-instant".to_owned(),
                "mistral/mistral-small".to_owned(),
            ],
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let candidates = keyed
                    .candidates(black_box("openai/gpt-4o"), &fallbacks, &core_routing)
                    .unwrap();
                let route = candidates.iter().next().unwrap();
                let p = keyed.provider(route.provider);
                let choice = Choice {
                    model: route.model,
                    sticky: None,
                    breaker: &breaker,
                    now: now_ms(),
                };
                let held = lease(&p.health, &p.key_policy, &core_routing, &choice, None).unwrap();
                let key = held.index;
                held.finish(answered, &breaker, now_ms());
                black_box(key)
            })
        });
    }
    // What each request pays to hold its configuration: the per-core cached
    // snapshot, checked against the published generation, cloned and dropped.
    let published = Published::new(settings());
    let core = CoreSnapshot::new(&published);
    g.bench_function("hold_config_snapshot", |b| {
        b.iter(|| black_box(core.get(black_box(&published))).generation)
    });
    g.bench_function("peek_resolve_splice", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            let p = peek(black_box(&body)).unwrap();
            let range = p.model.unwrap();
            let model = std::str::from_utf8(&body[range.clone()]).unwrap();
            let candidates = routes.candidates(model, &[], &core_routing).unwrap();
            let route = candidates.iter().next().unwrap();
            out.clear();
            splice_model(&mut out, &body, &range, route.model);
            black_box(out.len())
        })
    });
    g.bench_function("parse_peek_resolve_splice", |b| {
        let mut out = Vec::with_capacity(4096);
        let mut spare = Some(Vec::with_capacity(32));
        b.iter(|| {
            let h = parse_request_head(black_box(&head), 65536, spare.take().unwrap())
                .unwrap()
                .unwrap();
            let p = peek(black_box(&body)).unwrap();
            let range = p.model.unwrap();
            let model = std::str::from_utf8(&body[range.clone()]).unwrap();
            let candidates = routes.candidates(model, &[], &core_routing).unwrap();
            let route = candidates.iter().next().unwrap();
            out.clear();
            splice_model(&mut out, &body, &range, route.model);
            spare = Some(h.headers);
            black_box(out.len())
        })
    });
    g.bench_function("baseline_serde_value_roundtrip", |b| {
        b.iter_batched(
            || body.clone(),
            |body| {
                let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                v["model"] = serde_json::Value::String("llama-3.1-8b-instant".into());
                black_box(serde_json::to_vec(&v).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("response");
    let completion = br#"{"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_1"}"#;
    g.throughput(Throughput::Bytes(completion.len() as u64));
    g.bench_function("usage_scan_body", |b| {
        b.iter(|| scan_usage(black_box(completion)))
    });
    let mut stream = Vec::new();
    for i in 0..200 {
        let ev = format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}}}}],\"usage\":null}}\n\n");
        stream.extend(format!("{:x}\r\n{ev}\r\n", ev.len()).into_bytes());
    }
    let last = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":200}}\n\ndata: [DONE]\n\n";
    stream.extend(format!("{:x}\r\n{last}\r\n0\r\n\r\n", last.len()).into_bytes());
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("chunked_scan_and_tail_200_events", |b| {
        b.iter(|| {
            let mut tail = ringbridge::schema::usage::Tail::new();
            let mut sc = ChunkedScanner::new();
            let end = sc.scan(black_box(&stream), |p| tail.push(p)).unwrap();
            black_box((end, tail.usage()))
        })
    });
    g.finish();
}

/// The governance check of a request with a virtual key, among 1,000 keys
/// in 10 teams of one customer: key lookup, then the budget checked, the
/// request limit taken and the token limit checked at each of the three
/// levels. Keys from the file are looked up by value, keys from the admin
/// API by the SHA-256 of what is presented.
fn bench_governance(c: &mut Criterion) {
    use ringbridge::config::KeyDoc;
    use ringbridge::governance::limit::now_ns;
    use ringbridge::governance::{secret_hash, ApiEntities, ApiKey, Governance};
    let mut toml = String::from("env_providers = false\n");
    for t in 0..10 {
        toml.push_str(&format!(
            "[[teams]]\nid = \"team-{t}\"\nrate_limit = {{ rpm = 1000000000, tpm = 1000000000 }}\nbudget = {{ limit_usd = 1000000, period = \"monthly\" }}\n"
        ));
    }
    toml.push_str(
        "[[customers]]\nid = \"acme\"\nrate_limit = { rpm = 1000000000, tpm = 1000000000 }\nbudget = { limit_usd = 1000000, period = \"monthly\" }\n",
    );
    for k in 0..1000 {
        toml.push_str(&format!(
            "[[virtual_keys]]\nname = \"key-{k}\"\nkey = \"rb-bench-virtual-key-{k:06}\"\nteam_id = \"team-{}\"\ncustomer_id = \"acme\"\nmodels = [\"groq/*\", \"openai/gpt-4o*\"]\nrate_limit = {{ rpm = 1000000000, tpm = 1000000000 }}\nbudget = {{ limit_usd = 1000000, period = \"daily\" }}\n",
            k % 10
        ));
    }
    let path = std::env::temp_dir().join(format!("rb-bench-gov-{}.toml", std::process::id()));
    std::fs::write(&path, toml).unwrap();
    let opts = LoadOptions {
        config_path: Some(path.clone()),
        ..LoadOptions::default()
    };
    let settings = config::load(&opts, &bench_env).expect("bench governance");
    let _ = std::fs::remove_file(path);
    // The same 1,000 keys made through the admin API instead (hashed).
    let mut api = ApiEntities::default();
    for k in 0..1000 {
        let file = &settings.virtual_keys[k];
        api.keys.push(ApiKey {
            id: format!("api-{k}"),
            secret_hash: secret_hash(format!("rb-bench-api-key-{k:06}").as_bytes()),
            hint: String::new(),
            doc: KeyDoc {
                name: file.name.clone(),
                team_id: Some(format!("team-{}", k % 10)),
                customer_id: Some("acme".into()),
                models: file.models.clone(),
                rate_limit: file.rate_limit,
                budget: file.budget,
                expires_at: None,
                disabled: false,
            },
            stamps: (0, 0),
        });
    }
    let g = Governance::new(&settings, &api);
    let same = |a: &[u8], b: &[u8]| a == b;
    let presented = b"rb-bench-virtual-key-000737".to_vec();
    let hashed = b"rb-bench-api-key-000737".to_vec();
    // A Saturday in December 2026.
    let unix = 1_796_491_800;
    let mut group = c.benchmark_group("governance");
    group.bench_function("key_lookup_1000_keys", |b| {
        b.iter(|| black_box(g.key_of(black_box(&presented), same)))
    });
    group.bench_function("key_lookup_1000_api_keys_hashed", |b| {
        b.iter(|| black_box(g.key_of(black_box(&hashed), same)))
    });
    for (name, key) in [
        ("lookup_admit_3_levels_budgets_and_model_check", &presented),
        (
            "api_key_lookup_admit_3_levels_budgets_and_model_check",
            &hashed,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let k = g.key_of(black_box(key), same).unwrap();
                let admitted = g.admit(k, now_ns(), unix).unwrap();
                black_box((admitted, g.keys[k].allows("groq", "llama-3.1-8b-instant")))
            })
        });
    }
    group.finish();
}

/// The per-request price lookup and cost: an exact name, a dated snapshot
/// (the prefix fallback), and a Bedrock id with region and version.
fn bench_pricing(c: &mut Criterion) {
    use ringbridge::config::{PriceOverride, ProviderKind};
    use ringbridge::pricing::{cost_nanos, Pricing};
    use ringbridge::schema::usage::Usage;
    let overrides = [PriceOverride {
        provider: "my-azure".into(),
        model: "team-deployment".into(),
        input: 1.0,
        output: 2.0,
        cached_input: None,
        reasoning: None,
    }];
    let pricing = Pricing::new(&overrides).expect("shipped prices");
    let mut group = c.benchmark_group("pricing");
    group.bench_function("lookup_exact", |b| {
        b.iter(|| {
            black_box(pricing.price(
                black_box("openai"),
                ProviderKind::OpenAi,
                black_box("gpt-4o-mini"),
            ))
        })
    });
    group.bench_function("lookup_dated", |b| {
        b.iter(|| {
            black_box(pricing.price(
                black_box("anthropic"),
                ProviderKind::Anthropic,
                black_box("claude-3-5-sonnet-20241022"),
            ))
        })
    });
    group.bench_function("lookup_bedrock_regional", |b| {
        b.iter(|| {
            black_box(pricing.price(
                black_box("bedrock"),
                ProviderKind::Bedrock,
                black_box("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            ))
        })
    });
    let price = *pricing
        .price("openai", ProviderKind::OpenAi, "gpt-5")
        .unwrap();
    let usage = Usage::new(10_000, 2_000).with_details(8_000, 1_500);
    group.bench_function("cost_nanos", |b| {
        b.iter(|| black_box(cost_nanos(black_box(&price), black_box(&usage))))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_governance, bench_pricing);
criterion_main!(benches);
