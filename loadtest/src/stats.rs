//! Process-wide counters shared by all worker threads.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::sim::FailKind;

pub static CONNECTIONS_ACCEPTED: AtomicU64 = AtomicU64::new(0);
pub static CONNECTIONS_OPEN: AtomicU64 = AtomicU64::new(0);
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);
pub static BYTES_RECEIVED: AtomicU64 = AtomicU64::new(0);
/// Injected failures (`--fail-mix` / `x-mock-fail-mix`), indexed by `FailKind::index`.
static FAILED_INJECTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

pub fn count_injected(kind: FailKind) {
    FAILED_INJECTED[kind.index()].fetch_add(1, Relaxed);
}

/// POST requests per key (the bearer token or API-key header), for tests of
/// how a gateway spreads traffic over keys. At most `MAX_KEYS` distinct keys.
static BY_KEY: std::sync::Mutex<Vec<(Vec<u8>, u64)>> = std::sync::Mutex::new(Vec::new());
const MAX_KEYS: usize = 64;

pub fn count_key(key: Option<&[u8]>) {
    let Some(key) = key else { return };
    let Ok(mut seen) = BY_KEY.lock() else { return };
    if let Some(entry) = seen.iter_mut().find(|(k, _)| k == key) {
        entry.1 += 1;
    } else if seen.len() < MAX_KEYS && key.len() <= 256 {
        seen.push((key.to_vec(), 1));
    }
}

/// Counts a connection as accepted and open until dropped.
pub struct OpenGuard(());

impl OpenGuard {
    pub fn new() -> Self {
        CONNECTIONS_ACCEPTED.fetch_add(1, Relaxed);
        CONNECTIONS_OPEN.fetch_add(1, Relaxed);
        OpenGuard(())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        CONNECTIONS_OPEN.fetch_sub(1, Relaxed);
    }
}

/// Zeroes everything but `connections_open`.
pub fn reset() {
    CONNECTIONS_ACCEPTED.store(0, Relaxed);
    REQUESTS.store(0, Relaxed);
    BYTES_RECEIVED.store(0, Relaxed);
    for c in &FAILED_INJECTED {
        c.store(0, Relaxed);
    }
    if let Ok(mut seen) = BY_KEY.lock() {
        seen.clear();
    }
}

pub fn render(out: &mut Vec<u8>) {
    use crate::render::push_u64;
    out.extend_from_slice(br#"{"connections_accepted":"#);
    push_u64(out, CONNECTIONS_ACCEPTED.load(Relaxed));
    out.extend_from_slice(br#","connections_open":"#);
    push_u64(out, CONNECTIONS_OPEN.load(Relaxed));
    out.extend_from_slice(br#","requests":"#);
    push_u64(out, REQUESTS.load(Relaxed));
    out.extend_from_slice(br#","bytes_received":"#);
    push_u64(out, BYTES_RECEIVED.load(Relaxed));
    out.extend_from_slice(br#","tokens_issued":"#);
    push_u64(out, crate::oauth::issued_count());
    out.extend_from_slice(br#","requests_failed_injected":{"#);
    for (i, kind) in FailKind::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(kind.name().as_bytes());
        out.extend_from_slice(b"\":");
        push_u64(out, FAILED_INJECTED[kind.index()].load(Relaxed));
    }
    out.extend_from_slice(br#"},"requests_by_key":{"#);
    if let Ok(seen) = BY_KEY.lock() {
        for (i, (key, n)) in seen.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            // Keys in tests are plain tokens; anything else is dropped.
            out.extend(
                key.iter()
                    .filter(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b)),
            );
            out.extend_from_slice(b"\":");
            push_u64(out, *n);
        }
    }
    out.extend_from_slice(b"}}");
}
