//! One core's labelled series: request counters, token counters and latency histograms.
//!
//! [`Series`] is the core-local, mutable copy written by `record`; [`Snapshot`] is what a core
//! publishes into its shared slot. Entries are append-only, so publishing updates the numbers
//! of entries the slot already has and clones only the new ones.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::RequestRecord;

/// Most distinct `(provider, model, endpoint, status)` label sets a core keeps with the model
/// name as given. Past it, a new set is counted with `model="other"`
/// ([`OVERFLOW_LABEL`]); sets already seen keep their model. The total per core is thus at most
/// `MAX_LABEL_SETS` plus one `"other"` set per (provider, endpoint, status), all three of which
/// come from configuration or code rather than from clients.
pub const MAX_LABEL_SETS: usize = 2_000;

/// Most bytes of model names a core keeps as labels, summed over its named label sets, and the
/// longest single model label. Model names come from clients, so a count of sets alone does not
/// bound memory or the size of a scrape; past either bound a new set is folded like one past
/// [`MAX_LABEL_SETS`].
pub const MAX_MODEL_LABEL_BYTES: usize = 128 * 1024;
pub const MAX_MODEL_LABEL_LEN: usize = 256;

/// Most distinct provider labels a core keeps (each owns two ~184 KiB histograms). Past it, a
/// new provider is counted as `provider="other"`. Providers come from configuration, so this
/// only guards against a bug.
pub const MAX_PROVIDERS: usize = 64;

/// Label value that replaces a model (or provider) beyond the caps above.
pub const OVERFLOW_LABEL: &str = "other";

/// Provider label for requests that never reached routing (`RequestRecord::provider == ""`).
pub const NO_PROVIDER_LABEL: &str = "none";

/// Histogram range, in microseconds: 1 µs to 1 hour, values outside are clamped.
const HIST_LOWEST_US: u64 = 1;
const HIST_HIGHEST_US: u64 = 3_600_000_000;
const HIST_SIGNIFICANT_DIGITS: u8 = 3;

/// Whole microseconds in `d`, saturating.
pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A latency histogram in microseconds plus the exact sum (hdr keeps no sum).
#[derive(Clone)]
pub(super) struct Timing {
    pub(super) hist: Histogram<u64>,
    pub(super) sum_us: u64,
}

impl Timing {
    pub(super) fn new() -> Timing {
        Timing {
            hist: Histogram::new_with_bounds(
                HIST_LOWEST_US,
                HIST_HIGHEST_US,
                HIST_SIGNIFICANT_DIGITS,
            )
            .expect("constant histogram bounds are valid"),
            sum_us: 0,
        }
    }

    fn record(&mut self, us: u64) {
        self.hist.saturating_record(us);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Makes `self` equal to `src` (same bounds, so this is a memset and a memcpy and never
    /// allocates). Skipped when nothing was recorded since the last copy: counts only grow.
    fn copy_from(&mut self, src: &Timing) {
        if self.hist.len() == src.hist.len() && self.sum_us == src.sum_us {
            return;
        }
        self.hist.reset();
        let added = self.hist.add(&src.hist);
        debug_assert!(added.is_ok(), "histograms share bounds");
        self.sum_us = src.sum_us;
    }

    /// Adds `src` into `self` (render-time merge).
    pub(super) fn merge(&mut self, src: &Timing) {
        let added = self.hist.add(&src.hist);
        debug_assert!(added.is_ok(), "histograms share bounds");
        self.sum_us = self.sum_us.saturating_add(src.sum_us);
    }
}

/// Per-provider latency histograms.
#[derive(Clone)]
pub(super) struct ProviderSeries {
    pub(super) name: Box<str>,
    /// `RequestRecord::total`.
    pub(super) duration: Timing,
    /// `RequestRecord::upstream_ttfb`, when present.
    pub(super) ttfb: Timing,
}

/// Per-(provider, model) token counters.
#[derive(Clone)]
pub(super) struct ModelSeries {
    /// Index into `Snapshot::providers`.
    pub(super) provider: u32,
    pub(super) model: Box<str>,
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
}

/// One `ringbridge_requests_total` label set.
#[derive(Clone)]
pub(super) struct RequestSeries {
    /// Index into `Snapshot::models` (which names the provider and model).
    pub(super) model: u32,
    pub(super) endpoint: Box<str>,
    pub(super) status: u16,
    pub(super) count: u64,
}

/// A core's series as published into its slot. Vectors are append-only.
#[derive(Clone)]
pub(super) struct Snapshot {
    pub(super) requests: Vec<RequestSeries>,
    pub(super) models: Vec<ModelSeries>,
    pub(super) providers: Vec<ProviderSeries>,
    /// `total - upstream_wait` of every request.
    pub(super) overhead: Timing,
    /// Request sets whose model is not folded into [`OVERFLOW_LABEL`].
    named_sets: usize,
    /// Bytes of model names over those sets.
    named_model_bytes: usize,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            requests: Vec::new(),
            models: Vec::new(),
            providers: Vec::new(),
            overhead: Timing::new(),
            named_sets: 0,
            named_model_bytes: 0,
        }
    }
}

impl Snapshot {
    /// `(provider, model)` names of request set `i`.
    pub(super) fn names(&self, set: &RequestSeries) -> (&str, &str) {
        let m = &self.models[set.model as usize];
        (&self.providers[m.provider as usize].name, &m.model)
    }
}

/// The core-local series: a [`Snapshot`] plus the index that finds a label set without
/// allocating.
pub(super) struct Series {
    index: HashMap<SetKey, u32, LabelHashBuilder>,
    data: Snapshot,
}

impl Series {
    /// Starts from a previously published snapshot (empty on first start).
    pub(super) fn resume(published: &Snapshot) -> Series {
        let data = published.clone();
        let index = data
            .requests
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let (provider, model) = data.names(set);
                let key = SetKey {
                    provider: provider.into(),
                    model: model.into(),
                    endpoint: set.endpoint.clone(),
                    status: set.status,
                };
                (key, i as u32)
            })
            .collect();
        Series { index, data }
    }

    pub(super) fn record(&mut self, r: &RequestRecord<'_>) {
        let provider = if r.provider.is_empty() {
            NO_PROVIDER_LABEL
        } else {
            r.provider
        };
        let set = match self.find(provider, r.model, r.endpoint, r.status) {
            Some(set) => set,
            None => self.admit(provider, r.model, r.endpoint, r.status),
        };
        let data = &mut self.data;
        let set = &mut data.requests[set as usize];
        set.count += 1;
        let model = &mut data.models[set.model as usize];
        model.prompt_tokens = model.prompt_tokens.saturating_add(r.prompt_tokens);
        model.completion_tokens = model.completion_tokens.saturating_add(r.completion_tokens);
        let provider = &mut data.providers[model.provider as usize];
        provider.duration.record(micros(r.total));
        if let Some(ttfb) = r.upstream_ttfb {
            provider.ttfb.record(micros(ttfb));
        }
        data.overhead
            .record(micros(r.total.saturating_sub(r.upstream_wait)));
    }

    fn find(&self, provider: &str, model: &str, endpoint: &str, status: u16) -> Option<u32> {
        let key = SetKeyRef {
            provider,
            model,
            endpoint,
            status,
        };
        self.index.get(&key as &dyn LabelSet).copied()
    }

    /// Adds a label set not yet in the index, folding provider or model into
    /// [`OVERFLOW_LABEL`] past the caps. Allocates; runs once per new set.
    #[cold]
    fn admit(&mut self, provider: &str, model: &str, endpoint: &str, status: u16) -> u32 {
        let data = &mut self.data;
        let known_provider = data.providers.iter().position(|p| &*p.name == provider);
        let provider = match known_provider {
            None if data.providers.len() >= MAX_PROVIDERS => OVERFLOW_LABEL,
            _ => provider,
        };
        let folded = data.named_sets >= MAX_LABEL_SETS
            || model.len() > MAX_MODEL_LABEL_LEN
            || data.named_model_bytes + model.len() > MAX_MODEL_LABEL_BYTES;
        let model = if folded { OVERFLOW_LABEL } else { model };
        if provider == OVERFLOW_LABEL || folded {
            if let Some(set) = self.find(provider, model, endpoint, status) {
                return set;
            }
        }

        let data = &mut self.data;
        let provider_ix = match data.providers.iter().position(|p| &*p.name == provider) {
            Some(i) => i,
            None => {
                data.providers.push(ProviderSeries {
                    name: provider.into(),
                    duration: Timing::new(),
                    ttfb: Timing::new(),
                });
                data.providers.len() - 1
            }
        } as u32;
        let model_ix = match data
            .models
            .iter()
            .position(|m| m.provider == provider_ix && &*m.model == model)
        {
            Some(i) => i,
            None => {
                data.models.push(ModelSeries {
                    provider: provider_ix,
                    model: model.into(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                });
                data.models.len() - 1
            }
        } as u32;
        data.requests.push(RequestSeries {
            model: model_ix,
            endpoint: endpoint.into(),
            status,
            count: 0,
        });
        if !folded {
            data.named_sets += 1;
            data.named_model_bytes += model.len();
        }
        let set = (data.requests.len() - 1) as u32;
        self.index.insert(
            SetKey {
                provider: provider.into(),
                model: model.into(),
                endpoint: endpoint.into(),
                status,
            },
            set,
        );
        set
    }

    /// Makes `slot` equal to this core's series. Allocates only for entries new since the last
    /// publish.
    pub(super) fn publish_into(&mut self, slot: &mut Snapshot) {
        let src = &self.data;
        sync_vec(&mut slot.requests, &src.requests, |d, s| d.count = s.count);
        sync_vec(&mut slot.models, &src.models, |d, s| {
            d.prompt_tokens = s.prompt_tokens;
            d.completion_tokens = s.completion_tokens;
        });
        sync_vec(&mut slot.providers, &src.providers, |d, s| {
            d.duration.copy_from(&s.duration);
            d.ttfb.copy_from(&s.ttfb);
        });
        slot.overhead.copy_from(&src.overhead);
        slot.named_sets = src.named_sets;
        slot.named_model_bytes = src.named_model_bytes;
    }
}

/// Updates the common prefix of two append-only vectors in place and clones the tail.
fn sync_vec<T: Clone>(dst: &mut Vec<T>, src: &[T], update: impl Fn(&mut T, &T)) {
    debug_assert!(dst.len() <= src.len(), "slot written by one core only");
    for (d, s) in dst.iter_mut().zip(src) {
        update(d, s);
    }
    if dst.len() < src.len() {
        dst.extend_from_slice(&src[dst.len()..]);
    }
}

/// Lets the index be searched with borrowed `&str`s (no allocation per lookup) while it owns
/// its keys: both key types hash and compare through [`LabelSet::labels`], and the owned key
/// borrows as `dyn LabelSet`, as `HashMap::get` requires.
trait LabelSet {
    fn labels(&self) -> (&str, &str, &str, u16);
}

struct SetKey {
    provider: Box<str>,
    model: Box<str>,
    endpoint: Box<str>,
    status: u16,
}

struct SetKeyRef<'a> {
    provider: &'a str,
    model: &'a str,
    endpoint: &'a str,
    status: u16,
}

impl LabelSet for SetKey {
    fn labels(&self) -> (&str, &str, &str, u16) {
        (&self.provider, &self.model, &self.endpoint, self.status)
    }
}

impl LabelSet for SetKeyRef<'_> {
    fn labels(&self) -> (&str, &str, &str, u16) {
        (self.provider, self.model, self.endpoint, self.status)
    }
}

impl<'a> Borrow<dyn LabelSet + 'a> for SetKey {
    fn borrow(&self) -> &(dyn LabelSet + 'a) {
        self
    }
}

impl Hash for dyn LabelSet + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.labels().hash(state);
    }
}

impl PartialEq for dyn LabelSet + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.labels() == other.labels()
    }
}

impl Eq for dyn LabelSet + '_ {}

// Must match the `dyn LabelSet` impls above, as `Borrow` requires.
impl Hash for SetKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.labels().hash(state);
    }
}

impl PartialEq for SetKey {
    fn eq(&self, other: &Self) -> bool {
        self.labels() == other.labels()
    }
}

impl Eq for SetKey {}

/// Builds [`LabelHasher`]s with a per-process random seed.
#[derive(Clone)]
pub(super) struct LabelHashBuilder {
    seed: u64,
}

impl Default for LabelHashBuilder {
    fn default() -> LabelHashBuilder {
        LabelHashBuilder {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl BuildHasher for LabelHashBuilder {
    type Hasher = LabelHasher;

    fn build_hasher(&self) -> LabelHasher {
        LabelHasher { state: self.seed }
    }
}

/// Seeded multiply-fold hash over 8-byte words, for label-set lookups.
///
/// SipHash (std's default) took about half of `record`'s time here, because a label set is
/// hashed as nine small writes (`record/one_set_fixed_values`: 130 ns with SipHash). The seed
/// is random per process, and the index it serves is bounded by [`MAX_LABEL_SETS`], so even a
/// client that found colliding model names could only slow lookups, within that bound.
pub(super) struct LabelHasher {
    state: u64,
}

/// An odd 64-bit constant with well-mixed bits (the fractional part of pi).
const FOLD_MUL: u64 = 0x243f_6a88_85a3_08d3;

/// Multiplies as 128 bits and folds the halves together: every input bit reaches every output bit.
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Exactly 8 bytes as a little-endian word.
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// The last 0..=7 bytes as one word without a variable-length copy: two overlapping 4-byte
/// reads cover 4..=7 bytes, and first, middle and last byte cover 1..=3. The caller mixes in
/// the length, so the overlap cannot make two different tails of equal length collide.
fn tail_word(tail: &[u8]) -> u64 {
    let n = tail.len();
    let u32_at = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&tail[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    if n >= 4 {
        u32_at(0) | (u32_at(n - 4) << 32)
    } else if n > 0 {
        u64::from(tail[0]) | (u64::from(tail[n / 2]) << 8) | (u64::from(tail[n - 1]) << 16)
    } else {
        0
    }
}

impl Hasher for LabelHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut state = self.state;
        let chunks = bytes.chunks_exact(8);
        let tail = chunks.remainder();
        for chunk in chunks {
            state = fold_mul(state ^ word(chunk), FOLD_MUL);
        }
        // The length goes in with the tail so that trailing zero bytes are not lost to padding.
        state = fold_mul(state ^ tail_word(tail), FOLD_MUL ^ bytes.len() as u64);
        self.state = state;
    }

    fn write_u8(&mut self, v: u8) {
        self.state = fold_mul(self.state ^ u64::from(v), FOLD_MUL);
    }

    fn write_u16(&mut self, v: u16) {
        self.state = fold_mul(self.state ^ u64::from(v), FOLD_MUL);
    }

    fn finish(&self) -> u64 {
        fold_mul(self.state, FOLD_MUL.rotate_left(29))
    }
}
