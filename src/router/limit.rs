//! A provider's gateway-wide concurrency limit: requests in flight, the
//! bounded queue beyond it, and the adaptive limit between `min_in_flight`
//! and `max_in_flight` (AIMD on what the gateway observes: 429/503/529 and
//! timeouts, or a time to head well above its baseline, shrink it by a tenth;
//! healthy answers grow it by about one per limit's worth of answers).
//!
//! Atomics shared by every core: `max_in_flight = 2` means two in the whole
//! process. Waiting is a short poll, not a wake-up list: a queue only forms
//! under overload, LLM answers take far longer than the poll interval, and it
//! keeps a waiter on one core from depending on another core to wake it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::health::Millis;
use crate::config::ConcurrencySettings;

/// How often a queued request looks for a free slot.
pub const QUEUE_POLL: Duration = Duration::from_millis(5);

/// Shortest time between two decreases: one burst of failures is one signal.
const DECREASE_SPACING_MS: Millis = 100;

/// What an attempt's answer says about the provider's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// An answer, arriving after this long (time to the response head).
    Answered(Duration),
    /// 429, 503, 529 or a timeout: the provider is over its capacity.
    Overloaded,
    /// Nothing learned about its load.
    Unknown,
}

#[derive(Debug)]
pub struct Limiter {
    in_flight: AtomicU32,
    waiting: AtomicU32,
    /// The current limit, in thousandths of a request (so additive
    /// increase can be fractional).
    limit_milli: AtomicU64,
    min: AtomicU32,
    max: AtomicU32,
    queue: AtomicU32,
    queue_timeout_ms: AtomicU64,
    /// Fast and slow EWMAs of the time to head, in microseconds.
    recent_micros: AtomicU64,
    baseline_micros: AtomicU64,
    last_decrease: AtomicU64,
}

/// A slot in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot<'a>(&'a Limiter);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// A place in the queue; dropping it leaves the queue.
#[derive(Debug)]
pub struct Place<'a>(&'a Limiter);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Relaxed);
    }
}

impl Limiter {
    pub fn new(c: &ConcurrencySettings) -> Self {
        let limiter = Limiter {
            in_flight: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            limit_milli: AtomicU64::new(u64::from(c.max_in_flight) * 1000),
            min: AtomicU32::new(0),
            max: AtomicU32::new(0),
            queue: AtomicU32::new(0),
            queue_timeout_ms: AtomicU64::new(0),
            recent_micros: AtomicU64::new(0),
            baseline_micros: AtomicU64::new(0),
            last_decrease: AtomicU64::new(0),
        };
        limiter.configure(c);
        limiter
    }

    /// Take new bounds (a reload), keeping what is in flight and queued.
    pub fn configure(&self, c: &ConcurrencySettings) {
        self.min.store(c.min_in_flight, Relaxed);
        self.max.store(c.max_in_flight, Relaxed);
        self.queue.store(c.queue, Relaxed);
        self.queue_timeout_ms
            .store(c.queue_timeout.as_millis() as u64, Relaxed);
        let (lo, hi) = (
            u64::from(c.min_in_flight) * 1000,
            u64::from(c.max_in_flight) * 1000,
        );
        let _ = self
            .limit_milli
            .fetch_update(Relaxed, Relaxed, |l| Some(l.clamp(lo, hi)));
    }

    /// The current limit, in whole requests.
    pub fn limit(&self) -> u32 {
        (self.limit_milli.load(Relaxed) / 1000) as u32
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    pub fn waiting(&self) -> u32 {
        self.waiting.load(Relaxed)
    }

    pub fn bounds(&self) -> (u32, u32) {
        (self.min.load(Relaxed), self.max.load(Relaxed))
    }

    pub fn queue_timeout(&self) -> Duration {
        Duration::from_millis(self.queue_timeout_ms.load(Relaxed))
    }

    /// A slot, if one is free under the current limit.
    pub fn try_acquire(&self) -> Option<Slot<'_>> {
        let limit = self.limit();
        self.in_flight
            .fetch_update(Relaxed, Relaxed, |n| (n < limit).then_some(n + 1))
            .ok()
            .map(|_| Slot(self))
    }

    /// A slot for a request arriving now: only when nobody is queued, so
    /// arrivals do not overtake the queue.
    pub fn try_acquire_arriving(&self) -> Option<Slot<'_>> {
        match self.waiting() {
            0 => self.try_acquire(),
            _ => None,
        }
    }

    /// A place in the queue, if it is not full.
    pub fn enqueue(&self) -> Option<Place<'_>> {
        let queue = self.queue.load(Relaxed);
        self.waiting
            .fetch_update(Relaxed, Relaxed, |n| (n < queue).then_some(n + 1))
            .ok()
            .map(|_| Place(self))
    }

    /// Adapt the limit to one attempt's answer.
    pub fn observe(&self, load: Load, now: Millis) {
        let (min, max) = self.bounds();
        if min == max {
            return;
        }
        let overloaded = match load {
            Load::Unknown => return,
            Load::Overloaded => true,
            Load::Answered(took) => self.slower_than_baseline(took.as_micros() as u64),
        };
        let (lo, hi) = (u64::from(min) * 1000, u64::from(max) * 1000);
        if overloaded {
            // 0: never decreased (the clock starts at 1).
            let last = self.last_decrease.load(Relaxed);
            if (last != 0 && now.saturating_sub(last) < DECREASE_SPACING_MS)
                || self
                    .last_decrease
                    .compare_exchange(last, now, Relaxed, Relaxed)
                    .is_err()
            {
                return;
            }
            let _ = self
                .limit_milli
                .fetch_update(Relaxed, Relaxed, |l| Some((l - l / 10).max(lo)));
        } else {
            let _ = self.limit_milli.fetch_update(Relaxed, Relaxed, |l| {
                Some((l + 1_000_000 / l.max(1000)).min(hi))
            });
        }
    }

    /// Fold a sample into both EWMAs; true when the recent one is more than
    /// twice the baseline (the upstream slowed down: queueing somewhere).
    fn slower_than_baseline(&self, micros: u64) -> bool {
        let micros = micros.max(1);
        let fold = |cell: &AtomicU64, shift: u32| {
            let old = cell.load(Relaxed);
            let new = match old {
                0 => micros,
                _ => old - (old >> shift) + (micros >> shift),
            };
            cell.store(new.max(1), Relaxed);
            new
        };
        let recent = fold(&self.recent_micros, 2);
        let baseline = fold(&self.baseline_micros, 6);
        recent > baseline.saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(min: u32, max: u32, queue: u32) -> ConcurrencySettings {
        ConcurrencySettings {
            max_in_flight: max,
            min_in_flight: min,
            queue,
            queue_timeout: Duration::from_millis(250),
        }
    }

    #[test]
    fn slots_and_queue_places_are_bounded_and_given_back() {
        let l = Limiter::new(&settings(2, 2, 1));
        let a = l.try_acquire_arriving().unwrap();
        let _b = l.try_acquire_arriving().unwrap();
        assert!(l.try_acquire_arriving().is_none(), "at the limit");
        let place = l.enqueue().unwrap();
        assert!(l.enqueue().is_none(), "queue of one is full");
        drop(a);
        assert!(l.try_acquire_arriving().is_none(), "the queue goes first");
        let slot = l.try_acquire().unwrap();
        drop(place);
        assert_eq!((l.in_flight(), l.waiting()), (2, 0));
        drop(slot);
        assert_eq!(l.in_flight(), 1);
    }

    #[test]
    fn the_limit_falls_on_overload_and_recovers_on_health() {
        let l = Limiter::new(&settings(4, 40, 0));
        assert_eq!(l.limit(), 40);
        let mut now = 1_000;
        for _ in 0..30 {
            l.observe(Load::Overloaded, now);
            now += DECREASE_SPACING_MS;
        }
        assert_eq!(l.limit(), 4, "floored at min_in_flight");
        // The first signal counts, however early on the clock.
        let early = Limiter::new(&settings(4, 40, 0));
        early.observe(Load::Overloaded, 1);
        assert_eq!(early.limit(), 36);
        // Decreases are spaced: a burst at one instant counts once.
        let l2 = Limiter::new(&settings(4, 40, 0));
        for _ in 0..10 {
            l2.observe(Load::Overloaded, 5_000);
        }
        assert_eq!(l2.limit(), 36);
        // Additive increase: about one per limit's worth of good answers.
        let fast = Load::Answered(Duration::from_millis(20));
        for _ in 0..4 {
            l.observe(fast, now);
        }
        assert_eq!(l.limit(), 4, "+1/limit per answer: 4.92");
        l.observe(fast, now);
        assert_eq!(l.limit(), 5);
        for _ in 0..2_000 {
            l.observe(fast, now);
        }
        assert_eq!(l.limit(), 40, "capped at max_in_flight");
    }

    #[test]
    fn latency_well_above_baseline_lowers_the_limit() {
        let l = Limiter::new(&settings(1, 20, 0));
        let mut now = 1_000;
        for _ in 0..200 {
            l.observe(Load::Answered(Duration::from_millis(10)), now);
            now += 1;
        }
        assert_eq!(l.limit(), 20);
        for _ in 0..20 {
            now += DECREASE_SPACING_MS;
            l.observe(Load::Answered(Duration::from_millis(200)), now);
        }
        assert!(l.limit() < 20, "slowed down: {}", l.limit());
    }

    #[test]
    fn a_fixed_limit_never_moves_and_reload_keeps_the_count() {
        let l = Limiter::new(&settings(3, 3, 0));
        l.observe(Load::Overloaded, 1_000);
        assert_eq!(l.limit(), 3);
        let _a = l.try_acquire().unwrap();
        l.configure(&settings(1, 1, 5));
        assert_eq!((l.limit(), l.in_flight()), (1, 1));
        assert!(l.try_acquire().is_none());
        assert!(l.enqueue().is_some());
    }
}
