//! Per-minute limits as GCRA (the generic cell rate algorithm): one atomic
//! "theoretical arrival time" per limit, shared by every core, moved by
//! compare-and-swap. `rpm = 3` admits three requests at once and the fourth
//! when a third of a minute has passed since the first: at no moment more
//! than `rate` units in any minute, and no lock, no timer, no window reset.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds on the gateway's monotonic clock.
pub type Nanos = u64;

const MINUTE: Nanos = 60_000_000_000;

/// Now on the clock every limit reads; tests pass their own times instead.
pub fn now_ns() -> Nanos {
    static START: OnceLock<Instant> = OnceLock::new();
    // Start a minute in, so "a full minute ago" is never before zero.
    START.get_or_init(Instant::now).elapsed().as_nanos() as Nanos + MINUTE
}

/// One limit: `per_minute` units (requests or tokens) a minute.
#[derive(Debug)]
pub struct Gcra {
    per_minute: u64,
    /// Nanoseconds one unit occupies.
    interval: Nanos,
    /// When the units taken so far are paid off; at or before now: idle.
    tat: AtomicU64,
}

/// Where a limit stands after a request, for `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limit: u64,
    pub remaining: u64,
    /// Until the limit is whole again.
    pub reset: Nanos,
}

impl Gcra {
    pub fn new(per_minute: u64) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            per_minute,
            interval: (MINUTE / per_minute).max(1),
            tat: AtomicU64::new(0),
        }
    }

    pub fn per_minute(&self) -> u64 {
        self.per_minute
    }

    /// Take `units` if the last minute leaves room for them; else how long
    /// until it would.
    pub fn take(&self, units: u64, now: Nanos) -> Result<Standing, Nanos> {
        let cost = self.interval.saturating_mul(units);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(cost);
            let ahead = next - now;
            if ahead > MINUTE {
                return Err(ahead - MINUTE);
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(self.standing(ahead)),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Whether any room is left now (tokens are known only after a request,
    /// so they are checked before it and charged after it).
    pub fn check(&self, now: Nanos) -> Result<Standing, Nanos> {
        let ahead = self.tat.load(Ordering::Acquire).saturating_sub(now);
        match ahead + self.interval > MINUTE {
            true => Err(ahead + self.interval - MINUTE),
            false => Ok(self.standing(ahead)),
        }
    }

    /// Charge `units` used, room or not: the next requests wait it off.
    pub fn charge(&self, units: u64, now: Nanos) {
        let cost = self.interval.saturating_mul(units);
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |tat| {
                // Never more than a minute of debt beyond the window itself.
                Some(tat.max(now).saturating_add(cost).min(now + 2 * MINUTE))
            });
    }

    /// Undo a [`take`](Self::take) of `units` (another level refused).
    pub fn give_back(&self, units: u64) {
        let cost = self.interval.saturating_mul(units);
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |tat| {
                Some(tat.saturating_sub(cost))
            });
    }

    fn standing(&self, ahead: Nanos) -> Standing {
        Standing {
            limit: self.per_minute,
            remaining: (MINUTE.saturating_sub(ahead) / self.interval).min(self.per_minute),
            reset: ahead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Nanos = 1_000_000_000;

    #[test]
    fn rpm_3_admits_three_then_one_per_twenty_seconds() {
        let g = Gcra::new(3);
        let t0 = MINUTE;
        let first = g.take(1, t0).unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        assert_eq!(g.take(1, t0).unwrap().remaining, 1);
        let third = g.take(1, t0 + SECOND).unwrap();
        assert_eq!(third.remaining, 0);
        // The fourth in the minute is refused, for as long as it must wait.
        assert_eq!(g.take(1, t0 + SECOND), Err(19 * SECOND));
        assert_eq!(g.take(1, t0 + 20 * SECOND).unwrap().remaining, 0);
        // Idle for a minute: whole again.
        assert_eq!(g.take(1, t0 + 200 * SECOND).unwrap().remaining, 2);
    }

    #[test]
    fn a_refused_level_gives_its_unit_back() {
        let g = Gcra::new(2);
        g.take(1, MINUTE).unwrap();
        g.take(1, MINUTE).unwrap();
        assert!(g.take(1, MINUTE).is_err());
        g.give_back(1);
        assert!(g.take(1, MINUTE).is_ok());
    }

    #[test]
    fn tokens_are_checked_before_and_charged_after() {
        let g = Gcra::new(1000);
        let t0 = MINUTE;
        assert_eq!(g.check(t0).unwrap().remaining, 1000);
        g.charge(600, t0);
        assert_eq!(g.check(t0).unwrap().remaining, 400);
        g.charge(600, t0); // a stream's usage, known only at its end
        let wait = g.check(t0).unwrap_err();
        assert!(wait > 12 * SECOND && wait < 13 * SECOND, "{wait}");
        assert!(g.check(t0 + 13 * SECOND).is_ok());
    }

    #[test]
    fn cores_racing_never_admit_more_than_the_limit() {
        let g = std::sync::Arc::new(Gcra::new(1000));
        let admitted: u64 = (0..4)
            .map(|_| {
                let g = g.clone();
                std::thread::spawn(move || (0..1000).filter(|_| g.take(1, MINUTE).is_ok()).count())
            })
            .map(|h| h.join().unwrap() as u64)
            .sum();
        assert_eq!(admitted, 1000);
    }
}
