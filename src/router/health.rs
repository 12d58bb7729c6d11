//! Gateway-wide health of one provider key: a circuit breaker, a 429
//! cool-down, the requests in flight and an EWMA of the time to a response
//! head. Shared by every core through atomics (no lock on the request
//! path); a lost update under a race only blurs an estimate.
//!
//! Time is passed in as [`Millis`] on the gateway's monotonic clock, so the
//! state machines are tested by driving the clock, without sleeping.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use crate::config::BreakerSettings;

/// Milliseconds on the gateway's monotonic clock (never 0).
pub type Millis = u64;

/// Now, on the gateway's monotonic clock.
pub fn now_ms() -> Millis {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are refused until the open period ends.
    Open,
    /// A few probe requests decide whether it closes or opens again.
    HalfOpen,
}

impl BreakerState {
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 half-open, 2 open: the Prometheus gauge's value.
    pub fn gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => BreakerState::HalfOpen,
            2 => BreakerState::Open,
            _ => BreakerState::Closed,
        }
    }
}

/// Whether a breaker lets a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Pass,
    /// Let through as one of the half-open probes.
    Probe,
    /// Refused; worth asking again in this many milliseconds.
    Refused(Millis),
}

/// How an attempt on a key ended, as the breaker and balancer count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered (any status but the ones below): it is up.
    Success,
    /// Connect error, reset, timeout, or a 500/502/503/504/529 answer.
    Failure,
    /// A 429: the key is rate limited, not broken.
    RateLimited,
    /// Nothing learned (the client went away, the gateway shut down).
    Neutral,
}

/// Failures and requests over the last `window`, in two half-window buckets
/// (so the rate covers between half and all of the window).
#[derive(Debug, Default)]
struct Window {
    bucket: AtomicU64,
    /// `failures << 32 | requests` of the current and previous bucket.
    current: AtomicU64,
    previous: AtomicU64,
}

impl Window {
    fn record(&self, now: Millis, width: Millis, failed: bool) {
        let bucket = now / width.max(1);
        let seen = self.bucket.load(Relaxed);
        if bucket != seen
            && self
                .bucket
                .compare_exchange(seen, bucket, Relaxed, Relaxed)
                .is_ok()
        {
            let last = self.current.swap(0, Relaxed);
            self.previous
                .store(if bucket == seen + 1 { last } else { 0 }, Relaxed);
        }
        self.current
            .fetch_add(1 | (u64::from(failed) << 32), Relaxed);
    }

    /// (failures, requests) still inside the window at `now`.
    fn counts(&self, now: Millis, width: Millis) -> (u64, u64) {
        let bucket = now / width.max(1);
        let seen = self.bucket.load(Relaxed);
        let (cur, prev) = (self.current.load(Relaxed), self.previous.load(Relaxed));
        let sum = match bucket.saturating_sub(seen) {
            0 => cur + prev,
            1 => cur,
            _ => 0,
        };
        (sum >> 32, sum & 0xffff_ffff)
    }

    fn clear(&self) {
        self.current.store(0, Relaxed);
        self.previous.store(0, Relaxed);
    }
}

/// A circuit breaker: opens on `failures` consecutive failures or a failure
/// rate over the window, refuses for `open`, then lets `half_open_probes`
/// probes through; as many successes close it, one failure opens it again.
#[derive(Debug, Default)]
pub struct Breaker {
    state: AtomicU8,
    opened_at: AtomicU64,
    consecutive: AtomicU32,
    probes_out: AtomicU32,
    probe_successes: AtomicU32,
    window: Window,
}

impl Breaker {
    pub fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.state.load(Relaxed))
    }

    /// Whether a request may go now (taking a probe slot when half-open).
    pub fn admit(&self, s: &BreakerSettings, now: Millis) -> Admission {
        match self.state() {
            BreakerState::Closed => Admission::Pass,
            BreakerState::Open => {
                let reopens = self.opened_at.load(Relaxed) + s.open.as_millis() as u64;
                if now < reopens {
                    return Admission::Refused(reopens - now);
                }
                let (open, half) = (BreakerState::Open.gauge(), BreakerState::HalfOpen.gauge());
                if self
                    .state
                    .compare_exchange(open, half, Relaxed, Relaxed)
                    .is_ok()
                {
                    self.probe_successes.store(0, Relaxed);
                    self.probes_out.store(0, Relaxed);
                }
                self.admit_probe(s)
            }
            BreakerState::HalfOpen => self.admit_probe(s),
        }
    }

    /// Whether [`admit`](Self::admit) would let a request through now,
    /// without taking a probe slot (for choosing among keys and `/ready`).
    pub fn usable(&self, s: &BreakerSettings, now: Millis) -> Result<(), Millis> {
        match self.state() {
            BreakerState::Closed => Ok(()),
            BreakerState::Open => {
                let reopens = self.opened_at.load(Relaxed) + s.open.as_millis() as u64;
                match now < reopens {
                    true => Err(reopens - now),
                    false => Ok(()),
                }
            }
            BreakerState::HalfOpen => match self.probes_out.load(Relaxed) < s.half_open_probes {
                true => Ok(()),
                false => Err(PROBE_WAIT_MS),
            },
        }
    }

    fn admit_probe(&self, s: &BreakerSettings) -> Admission {
        if self.probes_out.fetch_add(1, Relaxed) < s.half_open_probes {
            return Admission::Probe;
        }
        self.probes_out.fetch_sub(1, Relaxed);
        Admission::Refused(PROBE_WAIT_MS)
    }

    /// Count an attempt's outcome. `probe`: it was admitted as a probe.
    pub fn record(&self, s: &BreakerSettings, now: Millis, outcome: Outcome, probe: bool) {
        let width = (s.window.as_millis() as u64 / 2).max(1);
        match outcome {
            Outcome::Success => {
                self.consecutive.store(0, Relaxed);
                self.window.record(now, width, false);
                if probe && self.state() == BreakerState::HalfOpen {
                    let closes =
                        self.probe_successes.fetch_add(1, Relaxed) + 1 >= s.half_open_probes;
                    if closes {
                        self.window.clear();
                        self.state.store(BreakerState::Closed.gauge(), Relaxed);
                    }
                }
            }
            Outcome::Failure => {
                let run = self.consecutive.fetch_add(1, Relaxed) + 1;
                self.window.record(now, width, true);
                let opens = match self.state() {
                    BreakerState::HalfOpen => true,
                    BreakerState::Open => false,
                    BreakerState::Closed => {
                        (s.failures > 0 && run >= s.failures) || self.rate_exceeded(s, now, width)
                    }
                };
                if opens {
                    self.open(now);
                }
            }
            Outcome::RateLimited | Outcome::Neutral => {
                // A probe that taught nothing gives its slot back.
                if probe && self.state() == BreakerState::HalfOpen {
                    self.probes_out.fetch_sub(1, Relaxed);
                }
            }
        }
    }

    fn rate_exceeded(&self, s: &BreakerSettings, now: Millis, width: Millis) -> bool {
        if s.failure_permille == 0 {
            return false;
        }
        let (failed, total) = self.window.counts(now, width);
        total >= u64::from(s.min_requests) && failed * 1000 >= total * u64::from(s.failure_permille)
    }

    fn open(&self, now: Millis) {
        self.opened_at.store(now, Relaxed);
        self.consecutive.store(0, Relaxed);
        self.state.store(BreakerState::Open.gauge(), Relaxed);
    }

    /// Failed share of the window's requests, `0.0..=1.0`.
    pub fn error_rate(&self, s: &BreakerSettings, now: Millis) -> f64 {
        let (failed, total) = self
            .window
            .counts(now, (s.window.as_millis() as u64 / 2).max(1));
        match total {
            0 => 0.0,
            n => failed as f64 / n as f64,
        }
    }
}

/// How long a refused request is told to wait while the probes are out.
const PROBE_WAIT_MS: Millis = 1000;

/// Everything the gateway knows about one key of a provider.
#[derive(Debug, Default)]
pub struct KeyHealth {
    pub breaker: Breaker,
    /// Until when the key is left alone after a 429 (0: not cooling down).
    cooldown_until: AtomicU64,
    in_flight: AtomicU32,
    /// EWMA of the time to a response head, in microseconds (0: no sample yet).
    ewma_micros: AtomicU64,
}

impl KeyHealth {
    /// `Ok` when the key may take a request now, else how long until it may.
    pub fn usable(&self, s: &BreakerSettings, now: Millis) -> Result<(), Millis> {
        let until = self.cooldown_until.load(Relaxed);
        if now < until {
            return Err(until - now);
        }
        self.breaker.usable(s, now)
    }

    /// Leave the key alone for `for_ms` (a 429's `Retry-After`).
    pub fn cool_down(&self, now: Millis, for_ms: Millis) {
        self.cooldown_until.fetch_max(now + for_ms, Relaxed);
    }

    pub fn cooling_for(&self, now: Millis) -> Millis {
        self.cooldown_until.load(Relaxed).saturating_sub(now)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    pub fn started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    pub fn ended(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    pub fn ewma_micros(&self) -> u64 {
        self.ewma_micros.load(Relaxed)
    }

    /// Fold one time-to-head sample in (weight 1/8: a few requests move it).
    pub fn observe_latency(&self, micros: u64) {
        let old = self.ewma_micros.load(Relaxed);
        let new = match old {
            0 => micros.max(1),
            _ => (old * 7 + micros) / 8,
        };
        self.ewma_micros.store(new.max(1), Relaxed);
    }

    /// The balancer's cost of sending one more request here: the expected
    /// wait grows with the latency and with the requests already queued on
    /// it. A key with no sample yet costs nothing, so it gets tried.
    pub fn load_score(&self) -> u64 {
        self.ewma_micros()
            .saturating_mul(u64::from(self.in_flight()) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failures: 3,
            failure_permille: 500,
            min_requests: 10,
            window: Duration::from_secs(10),
            open: Duration::from_secs(5),
            half_open_probes: 2,
        }
    }

    #[test]
    fn consecutive_failures_open_then_probes_close_on_schedule() {
        let (s, b) = (settings(), Breaker::default());
        let t = 1_000;
        for i in 0..2 {
            b.record(&s, t + i, Outcome::Failure, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(&s, t + 2, Outcome::Failure, false);
        assert_eq!(b.state(), BreakerState::Open);
        // Open: refused until the period ends, with the time left.
        assert_eq!(b.admit(&s, t + 2), Admission::Refused(5_000));
        assert_eq!(b.admit(&s, t + 4_002), Admission::Refused(1_000));
        assert_eq!(b.usable(&s, t + 4_002), Err(1_000));
        // Half-open: exactly `half_open_probes` requests go through.
        assert_eq!(b.admit(&s, t + 5_002), Admission::Probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.admit(&s, t + 5_003), Admission::Probe);
        assert!(matches!(b.admit(&s, t + 5_004), Admission::Refused(_)));
        assert!(b.usable(&s, t + 5_004).is_err());
        b.record(&s, t + 5_010, Outcome::Success, true);
        assert_eq!(b.state(), BreakerState::HalfOpen, "one success of two");
        b.record(&s, t + 5_011, Outcome::Success, true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(&s, t + 5_012), Admission::Pass);
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_neutral_one_frees_its_slot() {
        let (s, b) = (settings(), Breaker::default());
        for i in 0..3 {
            b.record(&s, 10 + i, Outcome::Failure, false);
        }
        assert_eq!(b.admit(&s, 6_000), Admission::Probe);
        assert_eq!(b.admit(&s, 6_000), Admission::Probe);
        b.record(&s, 6_001, Outcome::Neutral, true);
        assert_eq!(b.admit(&s, 6_002), Admission::Probe, "slot given back");
        b.record(&s, 6_100, Outcome::Failure, true);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(&s, 6_200), Admission::Refused(4_900));
    }

    #[test]
    fn a_failure_rate_over_the_window_opens_it() {
        let s = BreakerSettings {
            failures: 0,
            ..settings()
        };
        let b = Breaker::default();
        // Alternating: never 3 in a row, but half of 10 requests failed.
        for i in 0..9u64 {
            let outcome = if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            b.record(&s, 100 + i, outcome, false);
        }
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "4 of 9, under min_requests"
        );
        b.record(&s, 110, Outcome::Failure, false);
        assert_eq!(b.state(), BreakerState::Open, "5 of 10");
        assert!((b.error_rate(&s, 110) - 0.5).abs() < 1e-9);
        // The window forgets: two half-windows later the rate is empty.
        assert_eq!(b.error_rate(&s, 10_200), 0.0);
    }

    #[test]
    fn rate_limits_neither_open_the_breaker_nor_count_as_success() {
        let (s, b) = (settings(), Breaker::default());
        for i in 0..10 {
            b.record(&s, i, Outcome::RateLimited, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.error_rate(&s, 10), 0.0);
    }

    #[test]
    fn a_cooling_key_is_unusable_until_its_retry_after() {
        let (s, k) = (settings(), KeyHealth::default());
        assert_eq!(k.usable(&s, 100), Ok(()));
        k.cool_down(100, 1_000);
        assert_eq!(k.usable(&s, 600), Err(500));
        assert_eq!(k.cooling_for(600), 500);
        // A shorter later cool-down never shortens the current one.
        k.cool_down(700, 10);
        assert_eq!(k.usable(&s, 1_099), Err(1));
        assert_eq!(k.usable(&s, 1_100), Ok(()));
    }

    #[test]
    fn latency_ewma_and_load_score() {
        let k = KeyHealth::default();
        assert_eq!(k.load_score(), 0, "unmeasured keys get tried");
        k.observe_latency(800);
        assert_eq!(k.ewma_micros(), 800);
        k.observe_latency(1_600);
        assert_eq!(k.ewma_micros(), 900);
        k.started();
        k.started();
        assert_eq!(k.load_score(), 2_700);
        k.ended();
        assert_eq!(k.in_flight(), 1);
    }
}
