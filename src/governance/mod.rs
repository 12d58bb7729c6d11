//! Who may call, what, and how often: virtual keys (a gateway key with an
//! identity), the teams and customers they belong to, the models each key
//! may use, and per-minute request and token limits at every level, the
//! tightest winning. Built with the configuration snapshot; the request path
//! reads it without a lock: a hash lookup for the key, then a few atomic
//! operations per limit (`limit::Gcra`), shared by every core.

pub mod limit;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{GroupSettings, RateLimit, Settings, VirtualKeySettings};
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

/// A key's, team's or customer's identity and limits.
#[derive(Debug)]
pub struct Holder {
    pub id: String,
    pub name: String,
    pub limits: Arc<Limits>,
}

/// One virtual key.
#[derive(Debug)]
pub struct VirtualKey {
    pub holder: Holder,
    secret: Box<[u8]>,
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
        self.models
            .iter()
            .map(|p| match p {
                ModelPattern::Any => "*".to_owned(),
                ModelPattern::Provider(p) => format!("{p}/*"),
                ModelPattern::Prefix(p, m) => format!("{p}/{m}*"),
                ModelPattern::Exact(p, m) => format!("{p}/{m}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every virtual key, team and customer of one configuration.
#[derive(Debug, Default)]
pub struct Governance {
    pub keys: Vec<VirtualKey>,
    by_secret: HashMap<Box<[u8]>, usize>,
    pub teams: Vec<Holder>,
    pub customers: Vec<Holder>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Key,
    Team,
    Customer,
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
    pub fn new(settings: &Settings) -> Self {
        let holder = |id: &str, name: &str, rate| Holder {
            id: id.to_owned(),
            name: name.to_owned(),
            limits: Arc::new(Limits::new(rate)),
        };
        let group = |g: &GroupSettings| holder(&g.id, &g.name, g.rate_limit);
        let key = |k: &VirtualKeySettings| VirtualKey {
            holder: holder(&k.id, &k.name, k.rate_limit),
            secret: k.secret.expose().as_bytes().into(),
            team: k.team,
            customer: k.customer,
            models: k.models.iter().map(|p| ModelPattern::parse(p)).collect(),
            disabled: k.disabled,
            expires_at: k.expires_at,
        };
        let keys: Vec<VirtualKey> = settings.virtual_keys.iter().map(key).collect();
        let by_secret = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.secret.clone(), i))
            .collect();
        Self {
            keys,
            by_secret,
            teams: settings.teams.iter().map(group).collect(),
            customers: settings.customers.iter().map(group).collect(),
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
        let &i = self.by_secret.get(presented)?;
        same_secret(&self.keys[i].secret, presented).then_some(i)
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

    /// Take over the counters of keys, teams and customers that stay with
    /// the same limits, so a reload does not hand out a fresh minute.
    pub fn adopt_state(&mut self, previous: &Governance) {
        adopt(
            self.keys.iter_mut().map(|k| &mut k.holder),
            previous.keys.iter().map(|k| &k.holder),
        );
        adopt(self.teams.iter_mut(), previous.teams.iter());
        adopt(self.customers.iter_mut(), previous.customers.iter());
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
