//! Spend limits in USD per calendar period (UTC days, ISO weeks from
//! Monday, months, or never reset). Each key, team and customer with a
//! budget holds one [`Spend`]: what this instance knows was spent in the
//! current period, plus what it charged since it last told the store. The
//! request path only reads and adds atomics; the store thread syncs
//! `unsynced` into the shared total (`Store::add_spend`) and writes back the
//! total all instances have reported, so N gateways on one Postgres enforce
//! one budget, each overshooting by at most what it charges between syncs.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::calendar::{civil_from_days, days_from_civil};
use crate::config::{BudgetPeriod, BudgetSettings};

const DAY: i64 = 86_400;

/// Unix seconds when the period holding `now` began (0 for `never`).
pub fn period_start(period: BudgetPeriod, now: i64) -> i64 {
    match period {
        BudgetPeriod::Daily => now.div_euclid(DAY) * DAY,
        // 1970-01-01 was a Thursday: Monday 1969-12-29 is day -3.
        BudgetPeriod::Weekly => (now.div_euclid(DAY) + 3).div_euclid(7) * 7 * DAY - 3 * DAY,
        BudgetPeriod::Monthly => {
            let (y, m, _) = civil_from_days(now.div_euclid(DAY));
            days_from_civil(y, m, 1) * DAY
        }
        BudgetPeriod::Never => 0,
    }
}

/// Unix seconds when the period holding `now` ends; `None` for `never`.
pub fn period_end(period: BudgetPeriod, now: i64) -> Option<i64> {
    let start = period_start(period, now);
    match period {
        BudgetPeriod::Daily => Some(start + DAY),
        BudgetPeriod::Weekly => Some(start + 7 * DAY),
        BudgetPeriod::Monthly => {
            let (y, m, _) = civil_from_days(start.div_euclid(DAY));
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some(days_from_civil(y, m, 1) * DAY)
        }
        BudgetPeriod::Never => None,
    }
}

/// A budget's counters, shared across configuration snapshots.
#[derive(Debug, Default)]
pub struct Spend {
    /// The period the counters are for (Unix seconds of its start).
    period_start: AtomicI64,
    /// When that period ends (0: not yet known): until then a check needs
    /// no calendar arithmetic.
    period_end: AtomicI64,
    /// Nano-dollars spent in the period, as far as this instance knows.
    spent: AtomicU64,
    /// Nano-dollars charged here and not yet added to the store's total.
    unsynced: AtomicU64,
}

/// A limit and the counters it is checked against.
#[derive(Debug, Clone)]
pub struct Budget {
    pub settings: BudgetSettings,
    pub spend: Arc<Spend>,
}

/// A budget with nothing left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    pub limit_nanos: u64,
    pub spent_nanos: u64,
    /// Unix seconds when it starts over; `None`: never.
    pub resets_at: Option<i64>,
}

impl Budget {
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            settings,
            spend: Arc::new(Spend::default()),
        }
    }

    /// Refused when the period's spend has reached the limit.
    pub fn check(&self, now: i64) -> Result<(), Exhausted> {
        let spent = self.spent(now);
        if spent >= self.settings.limit_nanos {
            return Err(Exhausted {
                limit_nanos: self.settings.limit_nanos,
                spent_nanos: spent,
                resets_at: period_end(self.settings.period, now),
            });
        }
        Ok(())
    }

    /// Spend in the period holding `now`.
    pub fn spent(&self, now: i64) -> u64 {
        self.roll(now);
        self.spend.spent.load(Ordering::Acquire)
    }

    pub fn charge(&self, nanos: u64, now: i64) {
        self.roll(now);
        self.spend.spent.fetch_add(nanos, Ordering::AcqRel);
        self.spend.unsynced.fetch_add(nanos, Ordering::AcqRel);
    }

    /// Start the counters over when `now` is in a later period. The one
    /// caller that moves `period_start` resets them; a charge racing with it
    /// may land in either period, which is within a sync's tolerance.
    fn roll(&self, now: i64) {
        if now < self.spend.period_end.load(Ordering::Acquire) {
            return;
        }
        let start = period_start(self.settings.period, now);
        let seen = self.spend.period_start.load(Ordering::Acquire);
        if seen < start
            && self
                .spend
                .period_start
                .compare_exchange(seen, start, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.spend.spent.store(0, Ordering::Release);
            self.spend.unsynced.store(0, Ordering::Release);
        }
        if self.spend.period_start.load(Ordering::Acquire) == start {
            let end = period_end(self.settings.period, now).unwrap_or(i64::MAX);
            self.spend.period_end.store(end, Ordering::Release);
        }
    }

    /// For the store thread: the period and the spend to add to the
    /// store's total, taken from the counters.
    pub fn take_unsynced(&self, now: i64) -> (i64, u64) {
        self.roll(now);
        let start = self.spend.period_start.load(Ordering::Acquire);
        (start, self.spend.unsynced.swap(0, Ordering::AcqRel))
    }

    /// For the store thread: the total every instance has reported for
    /// `period`, plus what was charged here since the take.
    pub fn set_synced(&self, period: i64, total: u64) {
        if self.spend.period_start.load(Ordering::Acquire) == period {
            let pending = self.spend.unsynced.load(Ordering::Acquire);
            self.spend
                .spent
                .store(total.saturating_add(pending), Ordering::Release);
        }
    }

    /// Give a spend that could not reach the store back to the counters.
    pub fn untake(&self, period: i64, nanos: u64) {
        if self.spend.period_start.load(Ordering::Acquire) == period {
            self.spend.unsynced.fetch_add(nanos, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::calendar::rfc3339;

    // 2026-12-05T17:30:00Z, a Saturday.
    const NOW: i64 = 1_796_491_800;

    #[test]
    fn calendar_periods_in_utc() {
        assert_eq!(rfc3339(NOW), "2026-12-05T17:30:00Z");
        let at = |p, now| rfc3339(period_start(p, now));
        assert_eq!(at(BudgetPeriod::Daily, NOW), "2026-12-05T00:00:00Z");
        assert_eq!(at(BudgetPeriod::Weekly, NOW), "2026-11-30T00:00:00Z");
        assert_eq!(at(BudgetPeriod::Monthly, NOW), "2026-12-01T00:00:00Z");
        assert_eq!(period_start(BudgetPeriod::Never, NOW), 0);
        let end = |p, now| period_end(p, now).map(rfc3339);
        assert_eq!(
            end(BudgetPeriod::Daily, NOW).unwrap(),
            "2026-12-06T00:00:00Z"
        );
        assert_eq!(
            end(BudgetPeriod::Weekly, NOW).unwrap(),
            "2026-12-07T00:00:00Z"
        );
        assert_eq!(
            end(BudgetPeriod::Monthly, NOW).unwrap(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(end(BudgetPeriod::Never, NOW), None);
        // A Monday is its own week's start; February in a leap year.
        let monday = days_from_civil(2026, 11, 30) * DAY;
        assert_eq!(period_start(BudgetPeriod::Weekly, monday), monday);
        let feb = days_from_civil(2028, 2, 10) * DAY;
        assert_eq!(
            end(BudgetPeriod::Monthly, feb).unwrap(),
            "2028-03-01T00:00:00Z"
        );
        assert_eq!(at(BudgetPeriod::Weekly, 0), "1969-12-29T00:00:00Z");
        for days in [-1000, 0, 59, 60, 365, 20_000, 40_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn spend_reaches_the_limit_then_a_new_period_starts_over() {
        let b = Budget::new(BudgetSettings {
            limit_nanos: 1_000,
            period: BudgetPeriod::Daily,
        });
        assert_eq!(b.check(NOW), Ok(()));
        b.charge(600, NOW);
        assert_eq!(b.check(NOW), Ok(()));
        b.charge(400, NOW + 10);
        let refused = b.check(NOW + 20).unwrap_err();
        assert_eq!(refused.spent_nanos, 1_000);
        assert_eq!(
            refused.resets_at.map(rfc3339).unwrap(),
            "2026-12-06T00:00:00Z"
        );
        // The clock passes midnight: the budget is whole again.
        let tomorrow = period_end(BudgetPeriod::Daily, NOW).unwrap() + 5;
        assert_eq!(b.check(tomorrow), Ok(()));
        assert_eq!(b.spent(tomorrow), 0);
        // Yesterday's unsynced spend went with its period.
        assert_eq!(b.take_unsynced(tomorrow), (tomorrow - 5, 0));
    }

    #[test]
    fn sync_adds_other_instances_spend_and_keeps_what_came_meanwhile() {
        let b = Budget::new(BudgetSettings {
            limit_nanos: 10_000,
            period: BudgetPeriod::Monthly,
        });
        b.charge(100, NOW);
        let (period, delta) = b.take_unsynced(NOW);
        assert_eq!(delta, 100);
        b.charge(50, NOW); // arrives while the store is asked
                           // The store's total: ours (100) plus 5,000 from another instance.
        b.set_synced(period, 5_100);
        assert_eq!(b.spent(NOW), 5_150);
        assert_eq!(b.take_unsynced(NOW).1, 50);
        // A failed sync gives the spend back for the next one.
        b.untake(period, 50);
        assert_eq!(b.take_unsynced(NOW).1, 50);
    }
}
