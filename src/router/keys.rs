//! Choosing a provider key for one attempt, and the lease that reports how
//! the attempt went.
//!
//! Among the keys that may serve the model and are usable now (breaker not
//! open, not cooling down after a 429), a key is drawn by weight twice and
//! the second replaces the first only when the first's load score is over
//! twice its own (power of two choices on EWMA latency × in-flight). With a sticky value (a session header) the choice
//! is a rendezvous hash instead: the same session lands on the same key for
//! as long as that key stays usable, and moves only when it does not.

use std::sync::Arc;
use std::time::Duration;

use super::health::{Admission, KeyHealth, Millis, Outcome};
use super::limit::{Limiter, Load, Slot};
use super::local::CoreRouting;
use crate::config::{BreakerSettings, ProviderSettings};

/// Longest cool-down a 429 can impose on a key, whatever it asks.
const MAX_COOLDOWN_MS: Millis = 600_000;
/// Cool-down after a 429 that does not say how long.
const DEFAULT_COOLDOWN_MS: Millis = 1_000;

/// The shared, gateway-wide state of one provider: kept across reloads
/// while the provider keeps its keys.
#[derive(Debug)]
pub struct ProviderHealth {
    /// One per key; a keyless provider has one.
    pub keys: Box<[KeyHealth]>,
    /// `max_in_flight`, when configured.
    pub limiter: Option<Limiter>,
}

impl ProviderHealth {
    pub fn new(p: &ProviderSettings) -> Self {
        Self {
            keys: (0..p.keys.len().max(1))
                .map(|_| KeyHealth::default())
                .collect(),
            limiter: p.concurrency.as_ref().map(Limiter::new),
        }
    }

    /// `previous`'s state if it describes the same keys and the same kind of
    /// limit (its bounds updated), else fresh state.
    pub fn carried_over(
        previous: &Arc<ProviderHealth>,
        old: &ProviderSettings,
        new: &ProviderSettings,
    ) -> Option<Arc<ProviderHealth>> {
        let same_keys = old.keys.len() == new.keys.len()
            && old
                .keys
                .iter()
                .zip(&new.keys)
                .all(|(a, b)| a.expose() == b.expose());
        if !same_keys || old.concurrency.is_some() != new.concurrency.is_some() {
            return None;
        }
        if let (Some(limiter), Some(c)) = (&previous.limiter, &new.concurrency) {
            limiter.configure(c);
        }
        Some(previous.clone())
    }
}

/// How a provider's keys share traffic: from `keys[].weight` and `models`.
#[derive(Debug)]
pub struct KeyPolicy {
    weights: Box<[u32]>,
    /// `models[i]` empty: key `i` serves every model.
    models: Box<[Vec<String>]>,
}

impl KeyPolicy {
    pub fn new(p: &ProviderSettings) -> Self {
        let n = p.keys.len().max(1);
        let option = |i: usize| p.key_options.get(i);
        Self {
            weights: (0..n).map(|i| option(i).map_or(1, |o| o.weight)).collect(),
            models: (0..n)
                .map(|i| option(i).map_or_else(Vec::new, |o| o.models.clone()))
                .collect(),
        }
    }

    fn serves(&self, key: usize, model: &str) -> bool {
        let models = &self.models[key];
        models.is_empty() || models.iter().any(|m| m == model)
    }
}

/// Why no key was leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoKey {
    /// No key of the provider is allowed this model.
    NoneServes,
    /// Every key that serves it is resting: breakers open (`rate_limited`
    /// false) or cooling down after 429s; one is usable again in `wait`.
    Resting { wait: Millis, rate_limited: bool },
}

/// The inputs of one key choice.
pub struct Choice<'a> {
    pub model: &'a str,
    pub sticky: Option<&'a [u8]>,
    pub breaker: &'a BreakerSettings,
    pub now: Millis,
}

/// Choose a key for an attempt and take it (a breaker probe slot when
/// half-open, an in-flight count); `slot` is the provider's concurrency
/// slot, held until the lease ends.
pub fn lease<'a>(
    health: &'a ProviderHealth,
    policy: &KeyPolicy,
    core: &CoreRouting,
    c: &Choice<'_>,
    slot: Option<Slot<'a>>,
) -> Result<Lease<'a>, NoKey> {
    let n = health.keys.len();
    // Keys whose breaker refused a probe just now: a race with another core
    // over the last probe slot. A few passes settle it; past them the keys
    // count as resting.
    let mut refused = 0u64;
    for _ in 0..MAX_PASSES {
        let mut wait = Millis::MAX;
        let mut rate_limited = false;
        let mut serving = false;
        let not_refused = |i: usize| -> bool { i >= 64 || refused & (1 << i) == 0 };
        let mut total = 0u64;
        for i in 0..n {
            if !policy.serves(i, c.model) {
                continue;
            }
            serving = true;
            match health.keys[i].usable(c.breaker, c.now) {
                Ok(()) if not_refused(i) => total += u64::from(policy.weights[i]),
                Ok(()) => {}
                Err(left) => {
                    rate_limited |= health.keys[i].cooling_for(c.now) > 0;
                    wait = wait.min(left);
                }
            }
        }
        if !serving {
            return Err(NoKey::NoneServes);
        }
        if total == 0 {
            return Err(NoKey::Resting {
                wait: if wait == Millis::MAX { 1000 } else { wait },
                rate_limited,
            });
        }
        let eligible = |i: usize| {
            policy.serves(i, c.model)
                && not_refused(i)
                && health.keys[i].usable(c.breaker, c.now).is_ok()
        };
        let index = match c.sticky {
            Some(value) => (0..n)
                .filter(|&i| eligible(i))
                .max_by_key(|&i| rendezvous(value, i))
                .unwrap_or(0),
            None => two_choices(health, policy, core, total, &eligible),
        };
        let key = &health.keys[index];
        let probe = match key.breaker.admit(c.breaker, c.now) {
            Admission::Pass => false,
            Admission::Probe => true,
            Admission::Refused(_) => {
                // Another core took the last probe slot in between.
                refused |= 1 << index.min(63);
                continue;
            }
        };
        key.started();
        return Ok(Lease {
            key,
            index,
            probe,
            _slot: slot,
            limiter: health.limiter.as_ref(),
            finished: false,
        });
    }
    Err(NoKey::Resting {
        wait: PROBE_RETRY_MS,
        rate_limited: false,
    })
}

/// Two keys drawn by weight among the `eligible` (whose weights sum to
/// `total`); the second wins only when the first is clearly worse (over
/// twice its expected wait), so latency noise and a stale EWMA do not
/// override the weights.
fn two_choices(
    health: &ProviderHealth,
    policy: &KeyPolicy,
    core: &CoreRouting,
    total: u64,
    eligible: &dyn Fn(usize) -> bool,
) -> usize {
    let draw = |ticket: u64| {
        let mut ticket = ticket % total;
        (0..health.keys.len())
            .filter(|&i| eligible(i))
            .find(|&i| {
                let w = u64::from(policy.weights[i]);
                let hit = ticket < w;
                ticket = ticket.saturating_sub(w);
                hit
            })
            .unwrap_or(0)
    };
    let (a, b) = (draw(core.random()), draw(core.random()));
    let score = |i: usize| health.keys[i].load_score();
    if score(b).saturating_mul(2) < score(a) {
        b
    } else {
        a
    }
}

/// Passes over the keys before a lease gives up on racing probes.
const MAX_PASSES: usize = 4;
/// What a client is told to wait when probes were all taken meanwhile.
const PROBE_RETRY_MS: Millis = 1000;

/// Whether any key other than `except` could take a request for `model` now.
pub fn another_usable(
    health: &ProviderHealth,
    policy: &KeyPolicy,
    model: &str,
    except: usize,
    breaker: &BreakerSettings,
    now: Millis,
) -> bool {
    (0..health.keys.len()).any(|i| {
        i != except && policy.serves(i, model) && health.keys[i].usable(breaker, now).is_ok()
    })
}

/// A stable pseudo-random score of (session, key): the session goes to
/// its highest-scoring usable key (FNV-1a, then a 64-bit mix).
fn rendezvous(value: &[u8], key: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in value.iter().chain((key as u64).to_le_bytes().iter()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// One attempt's hold on a key (and the provider's concurrency slot).
/// [`finish`](Lease::finish) reports the outcome; a lease dropped without
/// one (the request was cancelled) counts as teaching nothing.
#[derive(Debug)]
pub struct Lease<'a> {
    key: &'a KeyHealth,
    /// Which of the provider's keys: the auth line to send.
    pub index: usize,
    probe: bool,
    _slot: Option<Slot<'a>>,
    limiter: Option<&'a Limiter>,
    finished: bool,
}

/// What one attempt taught about its key.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub outcome: Outcome,
    pub load: Load,
    /// A 429's `Retry-After`: how long the key rests.
    pub retry_after: Option<Duration>,
}

impl Lease<'_> {
    pub fn finish(mut self, report: Report, breaker: &BreakerSettings, now: Millis) {
        self.finished = true;
        self.key
            .breaker
            .record(breaker, now, report.outcome, self.probe);
        if report.outcome == Outcome::RateLimited {
            let rest = report
                .retry_after
                .map_or(DEFAULT_COOLDOWN_MS, |d| d.as_millis() as u64);
            self.key.cool_down(now, rest.clamp(1, MAX_COOLDOWN_MS));
        }
        if let Load::Answered(took) = report.load {
            self.key.observe_latency(took.as_micros() as u64);
        }
        if let Some(limiter) = self.limiter {
            limiter.observe(report.load, now);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Nothing learned; a probe slot is given back. The clock reading
            // only matters for counted outcomes.
            let any = BreakerSettings::default();
            self.key
                .breaker
                .record(&any, 0, Outcome::Neutral, self.probe);
        }
        self.key.ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyOptions, Settings};

    fn provider(keys: &str) -> ProviderSettings {
        let s = Settings::from_test_toml(&format!(
            "env_providers = false\n[providers.p]\nkind = \"openai-compatible\"\n\
             base_url = \"http://127.0.0.1:9/v1\"\nkeys = {keys}\n"
        ));
        s.providers.into_iter().find(|p| p.name == "p").unwrap()
    }

    fn choice<'a>(breaker: &'a BreakerSettings, now: Millis) -> Choice<'a> {
        Choice {
            model: "m",
            sticky: None,
            breaker,
            now,
        }
    }

    fn counts(p: &ProviderSettings, picks: usize, c: &Choice) -> Vec<usize> {
        let (health, policy) = (ProviderHealth::new(p), KeyPolicy::new(p));
        let core = CoreRouting::new(0);
        let mut seen = vec![0; p.keys.len()];
        for _ in 0..picks {
            let lease = lease(&health, &policy, &core, c, None).unwrap();
            seen[lease.index] += 1;
        }
        seen
    }

    #[test]
    fn weights_hold_within_two_percent_over_many_picks() {
        let p = provider(r#"[{ key = "a", weight = 3 }, "b"]"#);
        assert_eq!(
            p.key_options[0],
            KeyOptions {
                weight: 3,
                models: vec![]
            }
        );
        let b = BreakerSettings::default();
        let seen = counts(&p, 40_000, &choice(&b, 1));
        // P2C on equal (unmeasured) scores keeps the first draw: the weights.
        let share = seen[0] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{seen:?}");
    }

    #[test]
    fn a_slow_key_gets_less_traffic_under_p2c() {
        let p = provider(r#"["a", "b"]"#);
        let (health, policy) = (ProviderHealth::new(&p), KeyPolicy::new(&p));
        health.keys[0].observe_latency(100_000);
        health.keys[1].observe_latency(10_000);
        let (b, core) = (BreakerSettings::default(), CoreRouting::new(0));
        let mut slow = 0;
        for _ in 0..10_000 {
            let lease = lease(&health, &policy, &core, &choice(&b, 1), None).unwrap();
            slow += usize::from(lease.index == 0);
        }
        // Key 0 wins only when both draws are key 0: about a quarter.
        assert!((2_000..3_000).contains(&slow), "{slow}");
    }

    #[test]
    fn resting_keys_are_skipped_and_all_resting_says_for_how_long() {
        let p = provider(r#"["a", "b"]"#);
        let (health, policy) = (ProviderHealth::new(&p), KeyPolicy::new(&p));
        let (b, core) = (BreakerSettings::default(), CoreRouting::new(0));
        health.keys[0].cool_down(1, 1_000);
        for _ in 0..100 {
            let lease = lease(&health, &policy, &core, &choice(&b, 2), None).unwrap();
            assert_eq!(lease.index, 1);
        }
        assert!(!another_usable(&health, &policy, "m", 1, &b, 2));
        assert!(another_usable(&health, &policy, "m", 1, &b, 1_001));
        for t in 0..b.failures {
            health.keys[1]
                .breaker
                .record(&b, 3 + u64::from(t), Outcome::Failure, false);
        }
        let none = lease(&health, &policy, &core, &choice(&b, 10), None).unwrap_err();
        assert_eq!(
            none,
            NoKey::Resting {
                wait: 991,
                rate_limited: true
            }
        );
        let later = lease(&health, &policy, &core, &choice(&b, 2_000), None).unwrap();
        assert_eq!(
            later.index, 0,
            "the cool-down ended; key 1's breaker is open"
        );
    }

    #[test]
    fn per_key_models_restrict_which_keys_serve_a_model() {
        let p = provider(r#"[{ key = "a", models = ["big"] }, "b"]"#);
        let (health, policy) = (ProviderHealth::new(&p), KeyPolicy::new(&p));
        let (b, core) = (BreakerSettings::default(), CoreRouting::new(0));
        let big = Choice {
            model: "big",
            ..choice(&b, 1)
        };
        let mut seen = [0; 2];
        for _ in 0..200 {
            seen[lease(&health, &policy, &core, &big, None).unwrap().index] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
        for _ in 0..200 {
            assert_eq!(
                lease(&health, &policy, &core, &choice(&b, 1), None)
                    .unwrap()
                    .index,
                1
            );
        }
        let only = provider(r#"[{ key = "a", models = ["big"] }]"#);
        let (h, pol) = (ProviderHealth::new(&only), KeyPolicy::new(&only));
        assert_eq!(
            lease(&h, &pol, &core, &choice(&b, 1), None).unwrap_err(),
            NoKey::NoneServes
        );
    }

    #[test]
    fn a_session_sticks_to_its_key_while_it_is_usable() {
        let p = provider(r#"["a", "b", "c"]"#);
        let (health, policy) = (ProviderHealth::new(&p), KeyPolicy::new(&p));
        let (b, core) = (BreakerSettings::default(), CoreRouting::new(0));
        let sticky = |session: &'static [u8], now| Choice {
            sticky: Some(session),
            ..choice(&b, now)
        };
        let first = lease(&health, &policy, &core, &sticky(b"s-1", 1), None)
            .unwrap()
            .index;
        for _ in 0..50 {
            let again = lease(&health, &policy, &core, &sticky(b"s-1", 1), None).unwrap();
            assert_eq!(again.index, first);
        }
        // Sessions spread over the keys.
        let spread: std::collections::HashSet<usize> = (0..64u8)
            .map(|i| {
                let session: &'static [u8] = Box::leak(vec![b's', i].into_boxed_slice());
                lease(&health, &policy, &core, &sticky(session, 1), None)
                    .unwrap()
                    .index
            })
            .collect();
        assert_eq!(spread.len(), 3);
        // Its key rests: the session moves, and comes back after.
        health.keys[first].cool_down(1, 100);
        let moved = lease(&health, &policy, &core, &sticky(b"s-1", 2), None).unwrap();
        assert_ne!(moved.index, first);
        let back = lease(&health, &policy, &core, &sticky(b"s-1", 200), None).unwrap();
        assert_eq!(back.index, first);
    }

    #[test]
    fn leases_count_in_flight_and_a_429_cools_the_key() {
        let p = provider(r#"["a"]"#);
        let (health, policy) = (ProviderHealth::new(&p), KeyPolicy::new(&p));
        let (b, core) = (BreakerSettings::default(), CoreRouting::new(0));
        let l = lease(&health, &policy, &core, &choice(&b, 1), None).unwrap();
        assert_eq!(health.keys[0].in_flight(), 1);
        let report = Report {
            outcome: Outcome::RateLimited,
            load: Load::Overloaded,
            retry_after: Some(Duration::from_secs(2)),
        };
        l.finish(report, &b, 10);
        assert_eq!(health.keys[0].in_flight(), 0);
        assert_eq!(health.keys[0].cooling_for(10), 2_000);
        let dropped = lease(&health, &policy, &core, &choice(&b, 2_010), None).unwrap();
        drop(dropped);
        assert_eq!(health.keys[0].in_flight(), 0);
    }
}
