//! Simulation knobs: latency distributions, the failure mix, the per-worker
//! PRNG and the process-wide defaults set by CLI flags. Pure functions over
//! strings and numbers, so they are unit-testable.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::proto::MAX_DELAY_MS;

/// SplitMix64 step: a tiny, well-mixed 64-bit PRNG (Steele, Lea, Flood 2014).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Deterministic PRNG; one per worker and purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// Seeds from the global seed, the worker index and a stream number, so
    /// workers (and streams) get unrelated sequences.
    pub fn new(seed: u64, worker: u64, stream: u64) -> Rng {
        let mut s = seed;
        let a = splitmix64(&mut s);
        let mut w = worker
            .wrapping_mul(0xd1b5_4a32_d192_ed03)
            .wrapping_add(stream.wrapping_mul(0x8cb9_2ba7_2f3d_8dd7));
        let b = splitmix64(&mut w);
        Rng { state: a ^ b }
    }

    pub fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.state)
    }

    /// Uniform in [0, 1) with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

thread_local! {
    /// Per-worker streams: failure draws and timing samples are kept apart so
    /// the failure sequence does not depend on the latency settings.
    static FAIL_RNG: Cell<Rng> = const { Cell::new(Rng { state: 0 }) };
    static TIME_RNG: Cell<Rng> = const { Cell::new(Rng { state: 0 }) };
    /// This worker's seed and index, and the reseed epoch its PRNGs were seeded at.
    static WORKER: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
}

/// Bumped by [`reseed_all`]; a worker that sees a new value reseeds.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Seeds the calling worker thread's PRNGs.
pub fn seed_worker(seed: u64, worker: u64) {
    WORKER.with(|w| w.set((seed, worker, EPOCH.load(Ordering::Relaxed))));
    FAIL_RNG.with(|r| r.set(Rng::new(seed, worker, 0)));
    TIME_RNG.with(|r| r.set(Rng::new(seed, worker, 1)));
}

/// Restarts every worker's PRNG sequences from `--seed` (on `/__reset_stats`),
/// so two measured runs, each after a reset, draw the same latencies and
/// failures: a comparison between targets then differs only by the target.
pub fn reseed_all() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

fn with_rng<T>(key: &'static std::thread::LocalKey<Cell<Rng>>, f: impl FnOnce(&mut Rng) -> T) -> T {
    let epoch = EPOCH.load(Ordering::Relaxed);
    let (seed, worker, seeded_at) = WORKER.with(Cell::get);
    if seeded_at != epoch {
        seed_worker(seed, worker);
    }
    key.with(|c| {
        let mut r = c.get();
        let out = f(&mut r);
        c.set(r);
        out
    })
}

/// A delay distribution, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Fixed(u64),
    Uniform(u64, u64),
    /// Median (µs) and sigma of ln.
    LogNormal(f64, f64),
}

const MAX_DELAY_US: u64 = MAX_DELAY_MS * 1000;

fn parse_ms(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0 && v <= MAX_DELAY_MS as f64).then_some(v)
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

impl Dist {
    pub fn fixed_ms(ms: u64) -> Dist {
        Dist::Fixed(ms.saturating_mul(1000))
    }

    /// `fixed:MS` | `uniform:MIN_MS,MAX_MS` | `lognormal:MEDIAN_MS,SIGMA`.
    /// Milliseconds may be fractional; each is at most one hour.
    pub fn parse(s: &str) -> Result<Dist, String> {
        let s = s.trim();
        let (kind, args) = s.split_once(':').ok_or_else(|| {
            format!("{s:?}: expected fixed:MS, uniform:MIN_MS,MAX_MS or lognormal:MEDIAN_MS,SIGMA")
        })?;
        let kind = kind.trim().to_ascii_lowercase();
        let two = |what: &str| -> Result<(&str, &str), String> {
            args.split_once(',')
                .ok_or_else(|| format!("{s:?}: {kind} needs {what}"))
        };
        let bad_ms = |v: &str| format!("{s:?}: {v:?} is not a delay in ms (0..=3600000)");
        match kind.as_str() {
            "fixed" => {
                let ms = parse_ms(args).ok_or_else(|| bad_ms(args))?;
                Ok(Dist::Fixed(ms_to_us(ms)))
            }
            "uniform" => {
                let (a, b) = two("MIN_MS,MAX_MS")?;
                let lo = parse_ms(a).ok_or_else(|| bad_ms(a))?;
                let hi = parse_ms(b).ok_or_else(|| bad_ms(b))?;
                if lo > hi {
                    return Err(format!("{s:?}: MIN_MS is larger than MAX_MS"));
                }
                Ok(Dist::Uniform(ms_to_us(lo), ms_to_us(hi)))
            }
            "lognormal" => {
                let (a, b) = two("MEDIAN_MS,SIGMA")?;
                let median = parse_ms(a).ok_or_else(|| bad_ms(a))?;
                let sigma: f64 = b
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && (0.0..=10.0).contains(v))
                    .ok_or_else(|| format!("{s:?}: sigma {b:?} must be in 0..=10"))?;
                Ok(Dist::LogNormal(median * 1000.0, sigma))
            }
            _ => Err(format!(
                "{s:?}: unknown distribution {kind:?} (fixed, uniform, lognormal)"
            )),
        }
    }

    /// Draws one delay, capped at one hour.
    pub fn sample_with(self, rng: &mut Rng) -> Duration {
        let us = match self {
            Dist::Fixed(us) => us,
            Dist::Uniform(lo, hi) if lo == hi => lo,
            Dist::Uniform(lo, hi) => lo + rng.next_u64() % (hi - lo + 1),
            Dist::LogNormal(median, sigma) => {
                let v = median * (sigma * rng.next_normal()).exp();
                if v.is_finite() {
                    v.round().min(MAX_DELAY_US as f64) as u64
                } else {
                    MAX_DELAY_US
                }
            }
        };
        Duration::from_micros(us.min(MAX_DELAY_US))
    }

    /// Draws from the calling worker's timing PRNG.
    pub fn sample(self) -> Duration {
        match self {
            Dist::Fixed(us) => Duration::from_micros(us),
            d => with_rng(&TIME_RNG, |r| d.sample_with(r)),
        }
    }
}

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailKind {
    S500,
    S502,
    S503,
    S429,
    Reset,
    Close,
    Cut,
    Hang,
}

impl FailKind {
    pub const ALL: [FailKind; 8] = [
        FailKind::S500,
        FailKind::S502,
        FailKind::S503,
        FailKind::S429,
        FailKind::Reset,
        FailKind::Close,
        FailKind::Cut,
        FailKind::Hang,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailKind::S500 => "500",
            FailKind::S502 => "502",
            FailKind::S503 => "503",
            FailKind::S429 => "429",
            FailKind::Reset => "reset",
            FailKind::Close => "close",
            FailKind::Cut => "cut",
            FailKind::Hang => "hang",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The HTTP status for the status kinds.
    pub fn status(self) -> Option<u16> {
        match self {
            FailKind::S500 => Some(500),
            FailKind::S502 => Some(502),
            FailKind::S503 => Some(503),
            FailKind::S429 => Some(429),
            _ => None,
        }
    }
}

/// Fractions per [`FailKind`] (indexed by `FailKind::index`), summing to ≤ 1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FailMix {
    p: [f64; 8],
}

impl FailMix {
    /// `KIND:FRACTION[,KIND:FRACTION…]`; KIND ∈ 500, 502, 503, 429, reset,
    /// close, cut, hang; each kind at most once; fractions sum to ≤ 1.
    /// An empty string is the empty mix.
    pub fn parse(s: &str) -> Result<FailMix, String> {
        let mut mix = FailMix::default();
        let mut seen = [false; 8];
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (kind, frac) = item
                .split_once(':')
                .ok_or_else(|| format!("{item:?}: expected KIND:FRACTION"))?;
            let kind = kind.trim();
            let k = FailKind::ALL
                .into_iter()
                .find(|k| k.name().eq_ignore_ascii_case(kind))
                .ok_or_else(|| {
                    format!("{item:?}: unknown kind {kind:?} (500, 502, 503, 429, reset, close, cut, hang)")
                })?;
            if std::mem::replace(&mut seen[k.index()], true) {
                return Err(format!("{item:?}: kind {kind:?} given twice"));
            }
            let f: f64 = frac
                .trim()
                .parse()
                .ok()
                .filter(|f: &f64| (0.0..=1.0).contains(f))
                .ok_or_else(|| format!("{item:?}: fraction must be in 0..=1"))?;
            mix.p[k.index()] = f;
        }
        if mix.total() > 1.0 + 1e-9 {
            return Err(format!("{s:?}: fractions sum to more than 1"));
        }
        Ok(mix)
    }

    pub fn total(&self) -> f64 {
        self.p.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.p.iter().all(|p| *p == 0.0)
    }

    /// Maps one uniform draw in [0, 1) to a failure (or none).
    pub fn pick(&self, u: f64) -> Option<FailKind> {
        let mut acc = 0.0;
        for k in FailKind::ALL {
            let p = self.p[k.index()];
            acc += p;
            if p > 0.0 && u < acc {
                return Some(k);
            }
        }
        None
    }

    pub fn draw_with(&self, rng: &mut Rng) -> Option<FailKind> {
        self.pick(rng.next_f64())
    }

    /// One draw from the calling worker's failure PRNG (none for an empty mix,
    /// which does not advance the PRNG).
    pub fn draw(&self) -> Option<FailKind> {
        if self.is_empty() {
            return None;
        }
        with_rng(&FAIL_RNG, |r| self.draw_with(r))
    }
}

/// Process-wide defaults from the CLI; request headers override them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Defaults {
    pub latency: Option<Dist>,
    pub ttft: Option<Dist>,
    pub inter_token: Option<Dist>,
    pub chunks: u32,
    pub body_bytes: Option<usize>,
    pub fail_mix: FailMix,
    /// `--status N`: answer every non-control request with this error status
    /// (an explicit `x-mock-status` / `x-mock-fail` or a drawn failure wins).
    pub status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_parse() {
        assert_eq!(Dist::parse("fixed:5").unwrap(), Dist::Fixed(5000));
        assert_eq!(Dist::parse(" FIXED: 0.25 ").unwrap(), Dist::Fixed(250));
        assert_eq!(Dist::parse("fixed:0").unwrap(), Dist::Fixed(0));
        assert_eq!(
            Dist::parse("uniform:1.5,3").unwrap(),
            Dist::Uniform(1500, 3000)
        );
        assert_eq!(
            Dist::parse("lognormal:50,0.2").unwrap(),
            Dist::LogNormal(50_000.0, 0.2)
        );
        for bad in [
            "",
            "5",
            "fixed:",
            "fixed:-1",
            "fixed:abc",
            "fixed:NaN",
            "fixed:inf",
            "fixed:3600001",
            "uniform:5",
            "uniform:5,1",
            "uniform:1,x",
            "lognormal:50",
            "lognormal:50,-0.1",
            "lognormal:50,11",
            "gamma:1,2",
        ] {
            assert!(Dist::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dist_sampling() {
        let mut r = Rng::new(1, 0, 1);
        assert_eq!(
            Dist::Fixed(1234).sample_with(&mut r),
            Duration::from_micros(1234)
        );
        for _ in 0..1000 {
            let d = Dist::Uniform(1000, 2000).sample_with(&mut r);
            assert!(d >= Duration::from_micros(1000) && d <= Duration::from_micros(2000));
        }
        let mut v: Vec<Duration> = (0..2001)
            .map(|_| Dist::LogNormal(50_000.0, 0.2).sample_with(&mut r))
            .collect();
        v.sort();
        let median = v[1000].as_secs_f64() * 1000.0;
        assert!((45.0..55.0).contains(&median), "{median}");
        assert_eq!(
            Dist::LogNormal(50_000.0, 0.0).sample_with(&mut r),
            Duration::from_millis(50)
        );
        let huge = Dist::LogNormal(3_600_000_000.0, 10.0);
        for _ in 0..100 {
            assert!(huge.sample_with(&mut r) <= Duration::from_secs(3600));
        }
    }

    #[test]
    fn fail_mix_parse() {
        let m = FailMix::parse("500:0.1, 429:0.2,reset:0.05,HANG:0").unwrap();
        assert!((m.total() - 0.35).abs() < 1e-12);
        assert_eq!(m.pick(0.05), Some(FailKind::S500));
        assert_eq!(m.pick(0.15), Some(FailKind::S429));
        assert_eq!(m.pick(0.33), Some(FailKind::Reset));
        assert_eq!(m.pick(0.36), None);
        assert_eq!(m.pick(0.99), None);
        assert!(FailMix::parse("").unwrap().is_empty());
        let all = FailMix::parse("500:1").unwrap();
        assert_eq!(all.pick(0.999_999), Some(FailKind::S500));
        let full = FailMix::parse(
            "500:.125,502:.125,503:.125,429:.125,reset:.125,close:.125,cut:.125,hang:.125",
        )
        .unwrap();
        assert_eq!(full.pick(0.99), Some(FailKind::Hang));
        for bad in [
            "500",
            "404:0.1",
            "500:1.5",
            "500:-0.1",
            "500:x",
            "500:0.6,503:0.5",
            "500:0.1,500:0.1",
        ] {
            assert!(FailMix::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prng_is_deterministic() {
        let seq = |seed, worker| {
            let mut r = Rng::new(seed, worker, 0);
            (0..64).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(seq(1, 0), seq(1, 0));
        assert_ne!(seq(1, 0), seq(1, 1));
        assert_ne!(seq(1, 0), seq(2, 0));
        assert_ne!(Rng::new(1, 0, 0), Rng::new(1, 0, 1));
        // The thread-local streams follow the same sequence.
        let mix = FailMix::parse("500:0.5").unwrap();
        let mut r = Rng::new(7, 3, 0);
        let expect: Vec<_> = (0..100).map(|_| mix.draw_with(&mut r)).collect();
        seed_worker(7, 3);
        let got: Vec<_> = (0..100).map(|_| mix.draw()).collect();
        assert_eq!(got, expect);
        let fails = got.iter().filter(|f| f.is_some()).count();
        assert!((30..=70).contains(&fails), "{fails}");
        // f64 draws are in [0, 1).
        let mut r = Rng::new(0, 0, 0);
        for _ in 0..10_000 {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
        }
        // `reseed_all` (process-wide, hence in this one test) restarts the
        // thread's sequences from its seed.
        seed_worker(11, 0);
        let first: Vec<_> = (0..50).map(|_| mix.draw()).collect();
        let more: Vec<_> = (0..50).map(|_| mix.draw()).collect();
        assert_ne!(first, more);
        reseed_all();
        let again: Vec<_> = (0..50).map(|_| mix.draw()).collect();
        assert_eq!(again, first);
    }
}
