//! `CoreMetrics::record` must not allocate once a label set has been seen (ARCHITECTURE.md §4).
//! A counting global allocator counts this thread's allocations around the steady-state calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use ringbridge::telemetry::{Registry, RequestRecord};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; the thread-local counter is a
// const-initialised `Cell`, which needs no allocation and no lazy initialisation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn record_allocates_nothing_once_label_sets_are_known() {
    let registry = Registry::new(1);
    let core = registry.core(0);
    let models = ["gpt-4o", "gpt-4o-mini", "o3"];
    let statuses = [200, 429, 502];
    let record = |model: &str, status: u16, i: u64| {
        core.record(&RequestRecord {
            provider: "openai",
            model,
            endpoint: "chat_completions",
            status,
            total: Duration::from_micros(1_000 + i * 37),
            upstream_wait: Duration::from_micros(900 + i * 31),
            upstream_ttfb: Some(Duration::from_micros(500 + i)),
            prompt_tokens: 12,
            completion_tokens: 40,
        });
    };
    // Warm-up: every label set is admitted once (this allocates).
    for model in models {
        for status in statuses {
            record(model, status, 0);
        }
    }
    core.publish();

    let before = allocations();
    for i in 0..10_000u64 {
        let model = models[(i % 3) as usize];
        let status = statuses[(i / 3 % 3) as usize];
        record(model, status, i);
        let _guard = core.inflight();
    }
    let after = allocations();
    assert_eq!(after - before, 0, "record allocated in steady state");

    // Publishing known series into an already-filled slot does not allocate either.
    let before = allocations();
    core.publish();
    assert_eq!(
        allocations() - before,
        0,
        "publish allocated for known series"
    );
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v: Vec<u64> = Vec::with_capacity(16);
    assert!(allocations() > before);
    drop(v);
}

#[test]
fn pass_through_request_work_allocates_nothing_in_steady_state() {
    use ringbridge::config::{self, LoadOptions};
    use ringbridge::http::chunked::ChunkedScanner;
    use ringbridge::http::request::parse_request_head;
    use ringbridge::router::Routes;
    use ringbridge::schema::peek::{peek, splice_model};
    use ringbridge::schema::usage::Tail;

    let env = |k: &str| (k == "GROQ_API_KEY").then(|| "k".to_string());
    let routes = Routes::new(&config::load(&LoadOptions::default(), &env).unwrap());
    let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"groq/llama-3.1-8b-instant","stream":true}"#;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut response = Vec::new();
    for event in [
        "data: {\"usage\":null}\n\n",
        "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n",
    ] {
        response.extend(format!("{:x}\r\n{event}\r\n", event.len()).into_bytes());
    }
    response.extend_from_slice(b"0\r\n\r\n");
    let response = &response[..];
    let mut spans = Some(Vec::with_capacity(32));
    let mut out = Vec::with_capacity(4096);
    let mut tail = Some(Tail::with_buffer(Vec::with_capacity(16 * 1024)));
    let mut run = || {
        let h = parse_request_head(head.as_bytes(), 65536, spans.take().unwrap())
            .unwrap()
            .unwrap();
        let p = peek(body).unwrap();
        let range = p.model.unwrap();
        let model = std::str::from_utf8(&body[range.clone()]).unwrap();
        let route = routes.resolve(model).unwrap();
        out.clear();
        splice_model(&mut out, body, &range, route.model);
        let mut t = Tail::with_buffer(tail.take().unwrap().into_buffer());
        let end = ChunkedScanner::new().scan(response, |d| t.push(d)).unwrap();
        assert_eq!(end, Some(response.len()));
        assert_eq!(t.usage().completion_tokens, 4);
        tail = Some(t);
        spans = Some(h.headers);
    };
    run();
    let before = allocations();
    for _ in 0..1000 {
        run();
    }
    assert_eq!(
        allocations() - before,
        0,
        "the pass-through request work allocated"
    );
}
