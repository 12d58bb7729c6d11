//! The store thread's cost per request-log row: one batch written to a real
//! SQLite file in one transaction, as `runtime::store` does. Every cycle
//! here is a cycle the workers lose on a busy machine.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringbridge::store::{sqlite, LogRow, Store};

const BATCH: usize = 512;

fn row(i: usize) -> LogRow {
    LogRow {
        ts_ms: 1_790_000_000_000 + i as i64,
        request_id: format!("req-{i:032x}"),
        key_id: Some(format!(
            "vk-{}",
            std::env::var("KEYS")
                .map(|k| i % k.parse::<usize>().unwrap())
                .unwrap_or(i % 1000)
        )),
        team_id: Some("bench-team".into()),
        customer_id: None,
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        dialect: "chat".into(),
        status: 200,
        attempts: 1,
        latency_us: 950,
        ttfb_us: Some(900),
        input_tokens: 31,
        output_tokens: 9,
        cached_tokens: 0,
        cost_nanos: 10_050,
        priced: true,
        trace_id: Some(format!("{:032x}", i * 7919)),
        span_id: Some(format!("{:016x}", i * 31)),
        ..LogRow::default()
    }
}

fn insert(c: &mut Criterion) {
    let dir = std::path::PathBuf::from(
        std::env::var("STORE_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .join(format!("rb-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = sqlite::open(&dir.join("log.db")).expect("sqlite");
    // Each batch arrives later than the one before, as real traffic does
    // (the time index then grows at its end).
    let mut next = 0;
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("sqlite_insert_batch", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                (next - BATCH..next).map(row).collect::<Vec<_>>()
            },
            |rows| store.insert_logs(black_box(&rows)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, insert);
criterion_main!(benches);
