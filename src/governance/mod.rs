//! Who may call, what, how often and for how much: virtual keys (a gateway
//! key with an identity), the teams and customers they belong to, the
//! models each key may use, per-minute request and token limits and USD
//! budgets at every level, the tightest winning. Built with the
//! configuration snapshot from the file and from what the admin API made
//! (`ApiEntities`); the request path reads it without a lock: a hash lookup
//! for the key, then a few atomic operations per limit (`limit::Gcra`) and
//! budget (`budget::Budget`), shared by every core.

pub mod admin;
pub mod budget;
pub mod limit;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{
    BudgetSettings, GroupDoc, GroupSettings, KeyDoc, RateLimit, Settings, VirtualKeySettings,
};
use crate::store::EntityKind;
use budget::{Budget, Exhausted};
use limit::{Gcra, Nanos, Standing};

/// The request and token limits of one key, team or customer.
#[derive(Debug, Default)]
pub struct Limits {
    pub requests: Option<Gcra>,
    pub tokens: Option<Gcra>,
}

impl Limits {
    fn new(rate: RateLimit) -> Self {
        Self {
            requests: rate.rpm.map(Gcra::new),
            tokens: rate.tpm.map(Gcra::new),
        }
    }

    fn same_rates(&self, rate: RateLimit) -> bool {
        self.requests.as_ref().map(Gcra::per_minute) == rate.rpm
            && self.tokens.as_ref().map(Gcra::per_minute) == rate.tpm
    }
}

/// A key's, team's or customer's identity, limits and budget.
#[derive(Debug)]
pub struct Holder {
    pub id: String,
    pub name: String,
    pub limits: Arc<Limits>,
    pub budget: Option<Budget>,
    /// Made through the admin API (else from the config file).
    pub from_api: bool,
}

impl Holder {
    fn new(id: &str, name: &str, rate: RateLimit, budget: Option<BudgetSettings>) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            limits: Arc::new(Limits::new(rate)),
            budget: budget.map(Budget::new),
            from_api: false,
        }
    }
}

/// What a request must present to be a key: the secret itself (keys from
/// the file), or only its SHA-256 (keys from the admin API: the store
/// never holds the secret).
#[derive(Debug)]
enum KeySecret {
    Plain(Box<[u8]>),
    Hashed([u8; 32]),
}

/// Keys, teams and customers the admin API made, as the store keeps them.
#[derive(Debug, Default, Clone)]
pub struct ApiEntities {
    pub keys: Vec<ApiKey>,
    pub teams: Vec<ApiGroup>,
    pub customers: Vec<ApiGroup>,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub secret_hash: [u8; 32],
    /// `rb-…abcd`: enough to tell keys apart in a list.
    pub hint: String,
    pub doc: KeyDoc,
    /// Created and updated, Unix milliseconds.
    pub stamps: (i64, i64),
}

#[derive(Debug, Clone)]
pub struct ApiGroup {
    pub id: String,
    pub doc: GroupDoc,
    pub stamps: (i64, i64),
}

/// Hashes a SHA-256 digest for the map by taking 8 of its bytes: a digest
/// is already uniform, so hashing it again (SipHash) buys nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its length (8 bytes), then its 32 bytes.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

impl std::hash::BuildHasher for DigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// SHA-256 of a presented key, as API-made keys are looked up.
pub fn secret_hash(secret: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// One virtual key.
#[derive(Debug)]
pub struct VirtualKey {
    pub holder: Holder,
    secret: KeySecret,
    pub team: Option<usize>,
    pub customer: Option<usize>,
    models: Vec<ModelPattern>,
    pub disabled: bool,
    /// Unix seconds.
    pub expires_at: Option<u64>,
}

/// `*`, `provider/*`, `provider/prefix*` or `provider/model`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ModelPattern {
    Any,
    Provider(String),
    Prefix(String, String),
    Exact(String, String),
}

impl ModelPattern {
    fn parse(pattern: &str) -> Self {
        match pattern.split_once('/') {
            None => ModelPattern::Any,
            Some((provider, "*")) => ModelPattern::Provider(provider.to_owned()),
            Some((provider, model)) => match model.strip_suffix('*') {
                Some(prefix) => ModelPattern::Prefix(provider.to_owned(), prefix.to_owned()),
                None => ModelPattern::Exact(provider.to_owned(), model.to_owned()),
            },
        }
    }

    fn allows(&self, provider: &str, model: &str) -> bool {
        match self {
            ModelPattern::Any => true,
            ModelPattern::Provider(p) => p == provider,
            ModelPattern::Prefix(p, m) => p == provider && model.starts_with(m.as_str()),
            ModelPattern::Exact(p, m) => p == provider && m == model,
        }
    }
}

impl VirtualKey {
    /// Whether this key may send `model` to `provider` (upstream names).
    pub fn allows(&self, provider: &str, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|p| p.allows(provider, model))
    }

    /// The patterns as configured, for the error that lists them.
    pub fn patterns(&self) -> String {
        self.patterns_list().join(", ")
    }

    pub fn patterns_list(&self) -> Vec<String> {
        self.models
            .iter()
            .map(|p| match p {
                ModelPattern::Any => "*".to_owned(),
                ModelPattern::Provider(p) => format!("{p}/*"),
                ModelPattern::Prefix(p, m) => format!("{p}/{m}*"),
                ModelPattern::Exact(p, m) => format!("{p}/{m}"),
            })
            .collect()
    }
}

/// Every virtual key, team and customer of one configuration.
#[derive(Debug, Default)]
pub struct Governance {
    pub keys: Vec<VirtualKey>,
    by_secret: HashMap<Box<[u8]>, usize>,
    by_hash: HashMap<[u8; 32], usize, DigestHasher>,
    pub teams: Vec<Holder>,
    pub customers: Vec<Holder>,
    /// `[model_limits]`: provider -> model -> limits, across every caller.
    models: HashMap<String, HashMap<String, Arc<Limits>>>,
}

/// Why a key may not make a request now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    Expired,
    /// A request or token limit of this level is used up for this long.
    Limited {
        level: Level,
        what: Unit,
        standing: Standing,
        wait: Nanos,
    },
    /// A budget of this level is spent until it resets.
    OverBudget {
        level: Level,
        exhausted: Exhausted,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Key,
    Team,
    Customer,
    /// `[model_limits]`: one model, every caller.
    Model,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Requests,
    Tokens,
}

/// What an admitted request's `x-ratelimit-*` headers say: the tightest
/// level's standing for requests and for tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admitted {
    pub requests: Option<Standing>,
    pub tokens: Option<Standing>,
}

impl Governance {
    /// From the file's tables and what the admin API made. An API key whose
    /// team or customer no longer exists is kept, disabled: the limits it
    /// was made to be under are unknown.
    pub fn new(settings: &Settings, api: &ApiEntities) -> Self {
        let group = |g: &GroupSettings| Holder::new(&g.id, &g.name, g.rate_limit, g.budget);
        let api_group = |g: &ApiGroup| Holder {
            from_api: true,
            ..Holder::new(&g.id, &g.doc.name, g.doc.rate_limit, g.doc.budget)
        };
        let teams: Vec<Holder> = settings
            .teams
            .iter()
            .map(group)
            .chain(api.teams.iter().map(api_group))
            .collect();
        let customers: Vec<Holder> = settings
            .customers
            .iter()
            .map(group)
            .chain(api.customers.iter().map(api_group))
            .collect();
        let key = |k: &VirtualKeySettings| VirtualKey {
            holder: Holder::new(&k.id, &k.name, k.rate_limit, k.budget),
            secret: KeySecret::Plain(k.secret.expose().as_bytes().into()),
            team: k.team,
            customer: k.customer,
            models: k.models.iter().map(|p| ModelPattern::parse(p)).collect(),
            disabled: k.disabled,
            expires_at: k.expires_at,
        };
        let position = |list: &[Holder], id: &Option<String>| match id {
            None => Ok(None),
            Some(id) => list.iter().position(|h| &h.id == id).map(Some).ok_or(()),
        };
        let api_key = |k: &ApiKey| {
            let team = position(&teams, &k.doc.team_id);
            let customer = position(&customers, &k.doc.customer_id);
            let orphan = team.is_err() || customer.is_err();
            if orphan {
                tracing::warn!(key = %k.id, "its team or customer is gone; the key is disabled");
            }
            VirtualKey {
                holder: Holder {
                    from_api: true,
                    ..Holder::new(&k.id, &k.doc.name, k.doc.rate_limit, k.doc.budget)
                },
                secret: KeySecret::Hashed(k.secret_hash),
                team: team.unwrap_or(None),
                customer: customer.unwrap_or(None),
                models: k
                    .doc
                    .models
                    .iter()
                    .map(|p| ModelPattern::parse(p))
                    .collect(),
                disabled: k.doc.disabled || orphan,
                expires_at: k.doc.expires_at,
            }
        };
        let keys: Vec<VirtualKey> = settings
            .virtual_keys
            .iter()
            .map(key)
            .chain(api.keys.iter().map(api_key))
            .collect();
        let mut by_secret = HashMap::new();
        let mut by_hash = HashMap::default();
        for (i, k) in keys.iter().enumerate() {
            match &k.secret {
                KeySecret::Plain(secret) => by_secret.insert(secret.clone(), i),
                KeySecret::Hashed(hash) => by_hash.insert(*hash, i),
            };
        }
        let mut models: HashMap<String, HashMap<String, Arc<Limits>>> = HashMap::new();
        for (provider, model, rate) in &settings.model_limits {
            models
                .entry(provider.clone())
                .or_default()
                .insert(model.clone(), Arc::new(Limits::new(*rate)));
        }
        Self {
            keys,
            by_secret,
            by_hash,
            teams,
            customers,
            models,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The virtual key `presented` is, if any. The map is keyed by SipHash
    /// with a random key, so lookup time says nothing about other keys; the
    /// match found is confirmed in constant time.
    pub fn key_of(
        &self,
        presented: &[u8],
        same_secret: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Option<usize> {
        if let Some(&i) = self.by_secret.get(presented) {
            let KeySecret::Plain(secret) = &self.keys[i].secret else {
                return None;
            };
            return same_secret(secret, presented).then_some(i);
        }
        if self.by_hash.is_empty() {
            return None;
        }
        // A preimage-resistant hash: the lookup needs no constant-time confirm.
        self.by_hash.get(&secret_hash(presented)).copied()
    }

    /// Every budget with who holds it, for the store thread's spend sync.
    pub fn budgets(&self) -> impl Iterator<Item = (EntityKind, &str, &Budget)> {
        fn of(kind: EntityKind, h: &Holder) -> Option<(EntityKind, &str, &Budget)> {
            h.budget.as_ref().map(|b| (kind, h.id.as_str(), b))
        }
        self.keys
            .iter()
            .filter_map(move |k| of(EntityKind::Key, &k.holder))
            .chain(
                self.teams
                    .iter()
                    .filter_map(move |t| of(EntityKind::Team, t)),
            )
            .chain(
                self.customers
                    .iter()
                    .filter_map(move |c| of(EntityKind::Customer, c)),
            )
    }

    /// Admit one request of key `k` at `now` (Unix seconds `unix_now` for
    /// expiry): every level's request limit is taken, and every level's
    /// token limit must have room. A level that refuses gives back what the
    /// levels before it took.
    pub fn admit(&self, k: usize, now: Nanos, unix_now: u64) -> Result<Admitted, Refusal> {
        let key = &self.keys[k];
        if key.disabled {
            return Err(Refusal::Disabled);
        }
        if key.expires_at.is_some_and(|at| unix_now >= at) {
            return Err(Refusal::Expired);
        }
        let levels = self.levels(key);
        let unix = unix_now as i64;
        for (level, holder) in self.holders(key).into_iter().flatten() {
            if let Some(budget) = &holder.budget {
                budget
                    .check(unix)
                    .map_err(|exhausted| Refusal::OverBudget { level, exhausted })?;
            }
        }
        let mut admitted = Admitted::default();
        // `taken`: the levels before this one, whose request units are taken.
        for (taken, (level, limits)) in levels.iter().flatten().enumerate() {
            if let Some(g) = &limits.tokens {
                match g.check(now) {
                    Ok(s) => admitted.tokens = tighter(admitted.tokens, s),
                    Err(wait) => {
                        self.give_back(&levels, taken);
                        return Err(limited(*level, Unit::Tokens, g, wait));
                    }
                }
            }
            if let Some(g) = &limits.requests {
                match g.take(1, now) {
                    Ok(s) => admitted.requests = tighter(admitted.requests, s),
                    Err(wait) => {
                        self.give_back(&levels, taken);
                        return Err(limited(*level, Unit::Requests, g, wait));
                    }
                }
            }
        }
        Ok(admitted)
    }

    /// Charge a finished request's tokens (input and output, streams
    /// included) to every level of key `k`.
    pub fn charge_tokens(&self, k: usize, tokens: u64, now: Nanos) {
        if tokens == 0 {
            return;
        }
        for (_, limits) in self.levels(&self.keys[k]).iter().flatten() {
            if let Some(g) = &limits.tokens {
                g.charge(tokens, now);
            }
        }
    }

    /// The limits of `provider/model` under `[model_limits]`, if any.
    pub fn model_limits(&self, provider: &str, model: &str) -> Option<&Limits> {
        if self.models.is_empty() {
            return None;
        }
        self.models.get(provider)?.get(model).map(|l| &**l)
    }

    /// Admit one request to `provider/model` under its `[model_limits]`:
    /// its token limit must have room and a request unit is taken.
    pub fn admit_model(
        &self,
        provider: &str,
        model: &str,
        now: Nanos,
    ) -> Result<Admitted, Refusal> {
        let Some(limits) = self.model_limits(provider, model) else {
            return Ok(Admitted::default());
        };
        let mut admitted = Admitted::default();
        if let Some(g) = &limits.tokens {
            admitted.tokens = Some(
                g.check(now)
                    .map_err(|wait| limited(Level::Model, Unit::Tokens, g, wait))?,
            );
        }
        if let Some(g) = &limits.requests {
            admitted.requests = Some(
                g.take(1, now)
                    .map_err(|wait| limited(Level::Model, Unit::Requests, g, wait))?,
            );
        }
        Ok(admitted)
    }

    /// Charge a finished request's tokens to its model's limit.
    pub fn charge_model_tokens(&self, provider: &str, model: &str, tokens: u64, now: Nanos) {
        if let Some(g) = self
            .model_limits(provider, model)
            .and_then(|l| l.tokens.as_ref())
        {
            if tokens > 0 {
                g.charge(tokens, now);
            }
        }
    }

    /// Give back the request unit `admit` took at every level, for a
    /// request refused before it was sent anywhere (a model the key may
    /// not use): it did not use the allowance.
    pub fn refund_request(&self, k: usize) {
        let key = &self.keys[k];
        self.give_back(&self.levels(key), 3);
    }

    /// Charge a finished request's cost (nano-dollars) to every budget of
    /// key `k`'s levels.
    pub fn charge_cost(&self, k: usize, nanos: u64, unix_now: u64) {
        if nanos == 0 {
            return;
        }
        for (_, holder) in self.holders(&self.keys[k]).into_iter().flatten() {
            if let Some(budget) = &holder.budget {
                budget.charge(nanos, unix_now as i64);
            }
        }
    }

    /// Key `k`, its team and its customer.
    pub fn holders<'a>(&'a self, key: &'a VirtualKey) -> [Option<(Level, &'a Holder)>; 3] {
        [
            Some((Level::Key, &key.holder)),
            key.team.map(|t| (Level::Team, &self.teams[t])),
            key.customer.map(|c| (Level::Customer, &self.customers[c])),
        ]
    }

    /// Take over the counters of keys, teams and customers that stay with
    /// the same limits, so a reload does not hand out a fresh minute; and
    /// the spend of every budget whose period stays, whatever its limit.
    pub fn adopt_state(&mut self, previous: &Governance) {
        adopt(
            self.keys.iter_mut().map(|k| &mut k.holder),
            previous.keys.iter().map(|k| &k.holder),
        );
        adopt(self.teams.iter_mut(), previous.teams.iter());
        adopt(self.customers.iter_mut(), previous.customers.iter());
        for (provider, models) in &mut self.models {
            for (model, limits) in models.iter_mut() {
                if let Some(old) = previous.models.get(provider).and_then(|m| m.get(model)) {
                    if old.same_rates(rates_of(limits)) {
                        *limits = old.clone();
                    }
                }
            }
        }
    }

    fn levels<'a>(&'a self, key: &'a VirtualKey) -> [Option<(Level, &'a Limits)>; 3] {
        [
            Some((Level::Key, &*key.holder.limits)),
            key.team.map(|t| (Level::Team, &*self.teams[t].limits)),
            key.customer
                .map(|c| (Level::Customer, &*self.customers[c].limits)),
        ]
    }

    fn give_back(&self, levels: &[Option<(Level, &Limits)>; 3], taken: usize) {
        for (_, limits) in levels.iter().flatten().take(taken) {
            if let Some(g) = &limits.requests {
                g.give_back(1);
            }
        }
    }
}

fn adopt<'n, 'o>(new: impl Iterator<Item = &'n mut Holder>, old: impl Iterator<Item = &'o Holder>) {
    let old: HashMap<&str, &Holder> = old.map(|h| (h.id.as_str(), h)).collect();
    for h in new {
        if let Some(o) = old.get(h.id.as_str()) {
            if o.limits.same_rates(rates_of(&h.limits)) {
                h.limits = o.limits.clone();
            }
            if let (Some(new), Some(old)) = (&mut h.budget, &o.budget) {
                if new.settings.period == old.settings.period {
                    new.spend = old.spend.clone();
                }
            }
        }
    }
}

fn rates_of(limits: &Limits) -> RateLimit {
    RateLimit {
        rpm: limits.requests.as_ref().map(Gcra::per_minute),
        tpm: limits.tokens.as_ref().map(Gcra::per_minute),
    }
}

fn tighter(current: Option<Standing>, next: Standing) -> Option<Standing> {
    match current {
        Some(c) if c.remaining <= next.remaining => Some(c),
        _ => Some(next),
    }
}

fn limited(level: Level, what: Unit, g: &Gcra, wait: Nanos) -> Refusal {
    Refusal::Limited {
        level,
        what,
        standing: Standing {
            limit: g.per_minute(),
            remaining: 0,
            reset: wait,
        },
        wait,
    }
}

#[cfg(test)]
mod tests;
