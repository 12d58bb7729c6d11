//! The store thread's cost per request-log row: batches written to a real
//! SQLite file, one transaction each, as `runtime::store` does. Every
//! cycle here is a cycle the workers lose on a busy machine. The file lives
//! in `STORE_BENCH_DIR` (default: the temp dir); on a tmpfs such as
//! `/dev/shm` the figures are CPU alone, without the disk's fsyncs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringbridge::store::{sqlite, LogRow, Store};

const BATCH: usize = 512;

fn row(i: usize, keys: usize) -> LogRow {
    LogRow {
        ts_ms: 1_790_000_000_000 + i as i64,
        request_id: format!("req-{i:032x}"),
        key_id: Some(format!("vk-{}", i % keys)),
        team_id: Some("bench-team".into()),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        dialect: "chat".into(),
        status: 200,
        attempts: 1,
        latency_us: 950,
        ttfb_us: Some(900),
        input_tokens: 31,
        output_tokens: 9,
        cost_nanos: 10_050,
        priced: true,
        ..LogRow::default()
    }
}

fn insert(c: &mut Criterion) {
    let base = std::env::var_os("STORE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("rb-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(BATCH as u64));
    // One busy key, and traffic spread over 1,000 keys (a bucket each).
    for keys in [1, 1000] {
        let mut store = sqlite::open(&dir.join(format!("log-{keys}.db"))).expect("sqlite");
        // Each batch arrives later than the one before, as real traffic does.
        let mut next = 0;
        g.bench_function(format!("sqlite_insert_batch_{keys}_keys"), |b| {
            b.iter_batched(
                || {
                    next += BATCH;
                    (next - BATCH..next)
                        .map(|i| row(i, keys))
                        .collect::<Vec<_>>()
                },
                |rows| store.insert_logs(black_box(&rows)).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, insert);
criterion_main!(benches);
