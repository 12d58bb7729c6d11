//! Model resolution: `provider/model` splits at the first `/`; a bare name goes
//! through the alias table, then the default provider. Built from
//! [`Settings`] into an immutable table that workers share (one per
//! configuration snapshot); what a core remembers between requests is in
//! [`CoreRouting`].

pub mod health;
mod keys;
pub mod limit;
mod local;
mod redact;
mod report;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use std::sync::Arc;

pub use keys::{another_usable, lease, Choice, KeyPolicy, Lease, NoKey, ProviderHealth, Report};
pub use local::CoreRouting;
pub use redact::{Credentials, MIN_MASKED_SECRET_BYTES};

use crate::config::{
    BreakerSettings, ProviderAuth, ProviderKind, ProviderSettings, RetrySettings, Settings,
};
use crate::credentials::TokenSlot;
use crate::providers::spec::Spec;
use crate::upstream::Origin;

/// One provider, ready for the data plane.
#[derive(Debug)]
pub struct Provider {
    pub settings: ProviderSettings,
    pub origin: Origin,
    /// Pre-rendered auth header lines (`Authorization: Bearer …\r\n`, or
    /// Anthropic's `x-api-key` and version), one entry per key.
    pub auth_lines: Vec<Vec<u8>>,
    /// How this provider's requests are authenticated, framed and listed.
    pub spec: Spec,
    /// The refreshed access token, for providers authenticated that way.
    pub token: Option<Arc<TokenSlot>>,
    /// Breakers, cool-downs, latency and the concurrency limit: shared by
    /// every core, kept across reloads.
    pub health: Arc<ProviderHealth>,
    /// How the keys share traffic (weights, per-key models).
    pub key_policy: KeyPolicy,
    /// When a key of this provider is taken out of rotation: its
    /// `breaker` override, else `[breaker]`.
    pub breaker: BreakerSettings,
    /// What must never reach a client.
    credentials: Credentials,
}

/// A provider whose refreshed access token is missing or expired.
#[derive(Debug)]
pub struct NoToken(pub String);

impl Provider {
    /// Appends the headers that authenticate one request with key
    /// `key_index` (the attempt's lease). Fails only for a refreshed token
    /// that is not there, with the reason.
    pub fn push_auth(&self, key_index: usize, out: &mut Vec<u8>) -> Result<(), NoToken> {
        if let Some(slot) = &self.token {
            return match slot.push_header(out) {
                true => Ok(()),
                false => Err(NoToken(slot.problem())),
            };
        }
        if let Some(lines) = self.auth_lines.get(key_index) {
            out.extend_from_slice(lines);
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Overwrite this provider's credentials wherever they appear in `bytes`
    /// (an upstream echoing them); returns how many were found.
    pub fn mask_credentials(&self, bytes: &mut [u8]) -> usize {
        let found = self.credentials.mask(self.token.as_deref(), bytes);
        if found > 0 && self.credentials.should_warn() {
            tracing::warn!(
                provider = self.name(),
                "upstream responses contain a provider credential; masked (logged once a minute)"
            );
        }
        found
    }
    pub fn kind(&self) -> ProviderKind {
        self.settings.kind
    }
}

/// The routing table.
#[derive(Debug)]
pub struct Routes {
    pub providers: Vec<Provider>,
    by_name: HashMap<String, usize>,
    aliases: HashMap<String, (usize, String)>,
    /// `[routes.NAME]`: weighted targets and a fallback chain per name.
    tables: HashMap<String, RouteTable>,
    default: Option<usize>,
    /// `[retries]`, for providers and routes that do not override it.
    retries: RetrySettings,
}

/// One `[routes.NAME]`, resolved to provider indices.
#[derive(Debug)]
struct RouteTable {
    /// Weighted targets, then the fallback chain; `weight` 0 for fallbacks.
    targets: Vec<TableEntry>,
    fallbacks: Vec<TableEntry>,
    total_weight: u64,
}

#[derive(Debug)]
struct TableEntry {
    provider: usize,
    model: String,
    /// `provider/model`, as the table names it.
    asked: String,
    weight: u32,
    retries: RetrySettings,
}

impl TableEntry {
    fn route(&self) -> Route<'_> {
        Route {
            provider: self.provider,
            model: &self.model,
            asked: &self.asked,
            retries: &self.retries,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub provider: usize,
    /// Model name as the upstream expects it.
    pub model: &'a str,
    /// The name the client wrote (its `model`, an alias, or a fallback
    /// entry), which translated answers report.
    pub asked: &'a str,
    /// How often, and how patiently, this candidate is tried.
    pub retries: &'a RetrySettings,
}

/// Routes to try for one request, in order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates<'a> {
    first: Route<'a>,
    rest: Vec<Route<'a>>,
}

impl<'a> Candidates<'a> {
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route<'a>> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }

    /// Append `route` unless the same provider and model are already listed.
    fn push_new(&mut self, route: Route<'a>) {
        let listed = |c: &Route| c.provider == route.provider && c.model == route.model;
        if !self.iter().any(listed) {
            self.rest.push(route);
        }
    }
}

impl RouteTable {
    /// The first of the heaviest targets.
    fn heaviest(&self) -> &TableEntry {
        let targets = self.targets.iter().rev();
        targets
            .max_by_key(|t| t.weight)
            .expect("validated: a route has targets")
    }

    /// A target drawn by weight among those whose provider can take a
    /// request now (among all when none can), the other targets (usable
    /// ones first, each group in the table's order), then the fallbacks.
    fn candidates<'a>(
        &'a self,
        core: &CoreRouting,
        more: usize,
        usable: &dyn Fn(usize) -> bool,
    ) -> Candidates<'a> {
        let up: u64 = self
            .targets
            .iter()
            .map(|t| u64::from(usable(t.provider)))
            .fold(0, |m, u| m << 1 | u);
        let is_up =
            |i: usize| self.targets.len() > 64 || up >> (self.targets.len() - 1 - i) & 1 == 1;
        let healthy_weight: u64 = (0..self.targets.len())
            .filter(|&i| is_up(i))
            .map(|i| u64::from(self.targets[i].weight))
            .sum();
        let (pool, in_pool): (u64, &dyn Fn(usize) -> bool) = match healthy_weight {
            0 => (self.total_weight, &|_| true),
            w => (w, &is_up),
        };
        let mut ticket = core.random() % pool.max(1);
        let drawn = (0..self.targets.len())
            .filter(|&i| in_pool(i))
            .find(|&i| {
                let w = u64::from(self.targets[i].weight);
                let hit = ticket < w;
                ticket = ticket.saturating_sub(w);
                hit
            })
            .unwrap_or(0);
        let mut candidates = Candidates {
            first: self.targets[drawn].route(),
            rest: Vec::with_capacity(self.targets.len() + self.fallbacks.len() + more),
        };
        for healthy in [true, false] {
            for (i, target) in self.targets.iter().enumerate() {
                if i != drawn && is_up(i) == healthy {
                    candidates.push_new(target.route());
                }
            }
        }
        for fallback in &self.fallbacks {
            candidates.push_new(fallback.route());
        }
        candidates
    }
}

/// Why a model could not be routed; each is a client error with a helpful message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown provider `{provider}`; available providers: {available}. Use \"provider/model\", e.g. \"mock/echo\"")]
    UnknownProvider { provider: String, available: String },
    #[error("model `{model}` is not offered by provider `{provider}`; available: {available}")]
    UnknownModel {
        provider: String,
        model: String,
        available: String,
    },
    #[error("model `{model}` has no provider prefix and matches no alias; use \"provider/model\" (providers: {providers}){aliases}")]
    BareModel {
        model: String,
        providers: String,
        aliases: String,
    },
    #[error("missing `model`")]
    MissingModel,
    #[error("`model` is {len} bytes long; the limit is {MAX_MODEL_NAME_BYTES}")]
    ModelTooLong { len: usize },
    #[error("fallbacks[{index}]: {reason}")]
    Fallback {
        index: usize,
        reason: Box<RouteError>,
    },
    #[error("at most {MAX_FALLBACKS} fallbacks may be given; this request has {count}")]
    TooManyFallbacks { count: usize },
}

/// Most fallbacks one request may name: each is a full attempt, and a long
/// chain only delays the final error.
pub const MAX_FALLBACKS: usize = 8;

/// Longest `model` value accepted. Real names (Bedrock inference-profile ARNs,
/// OpenRouter's `vendor/model:variant`) stay well under it; the bound keeps
/// client-chosen names from growing metric labels and error messages.
pub const MAX_MODEL_NAME_BYTES: usize = 256;

impl RouteError {
    /// 404 for a model that does not exist (under any provider prefix, as
    /// OpenAI answers an unknown model), 400 for a malformed choice.
    pub fn status(&self) -> u16 {
        match self {
            RouteError::UnknownModel { .. }
            | RouteError::BareModel { .. }
            | RouteError::UnknownProvider { .. } => 404,
            RouteError::MissingModel
            | RouteError::ModelTooLong { .. }
            | RouteError::TooManyFallbacks { .. } => 400,
            RouteError::Fallback { reason, .. } => reason.status(),
        }
    }
}

impl Routes {
    pub fn new(settings: &Settings) -> Self {
        let providers: Vec<Provider> = settings
            .providers
            .iter()
            .map(|p| {
                let spec = Spec::of(p.kind, &p.auth);
                Provider {
                    origin: Origin::new(&p.base_url),
                    auth_lines: p.keys.iter().map(|k| spec.auth_lines(k.expose())).collect(),
                    spec,
                    token: match p.auth {
                        ProviderAuth::Refreshed(_) => Some(Arc::new(TokenSlot::default())),
                        _ => None,
                    },
                    credentials: Credentials::of(p),
                    health: Arc::new(ProviderHealth::new(p)),
                    key_policy: KeyPolicy::new(p),
                    breaker: p.breaker.unwrap_or(settings.breaker),
                    settings: p.clone(),
                }
            })
            .collect();
        let by_name: HashMap<String, usize> = providers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name().to_owned(), i))
            .collect();
        let aliases = settings
            .aliases
            .iter()
            .filter_map(|(alias, target)| {
                let (prov, model) = target.split_once('/')?;
                Some((alias.clone(), (*by_name.get(prov)?, model.to_owned())))
            })
            .collect();
        let default = settings
            .default_provider
            .as_deref()
            .and_then(|d| by_name.get(d).copied());
        let retries = settings.retries;
        let entry = |target: &str, weight: u32, route_retries: Option<RetrySettings>| {
            // Config validation checked every target names an enabled provider.
            let (prov, model) = target.split_once('/')?;
            let provider = *by_name.get(prov)?;
            let provider_retries = providers[provider].settings.retries;
            Some(TableEntry {
                provider,
                model: model.to_owned(),
                asked: target.to_owned(),
                weight,
                retries: route_retries.or(provider_retries).unwrap_or(retries),
            })
        };
        let tables = settings
            .routes
            .iter()
            .map(|r| {
                let targets: Vec<TableEntry> = r
                    .targets
                    .iter()
                    .filter_map(|t| entry(&t.model, t.weight, r.retries))
                    .collect();
                let fallbacks = r
                    .fallbacks
                    .iter()
                    .filter_map(|f| entry(f, 0, r.retries))
                    .collect();
                let total_weight = targets.iter().map(|t| u64::from(t.weight)).sum();
                let table = RouteTable {
                    targets,
                    fallbacks,
                    total_weight,
                };
                (r.name.clone(), table)
            })
            .collect();
        Self {
            providers,
            by_name,
            aliases,
            tables,
            default,
            retries,
        }
    }

    /// Take over what `previous`'s providers of the same name and kind
    /// learned: access-token slots (when authenticated the same way) and
    /// health (breakers, cool-downs, latency, in-flight counts) while the
    /// keys are the same.
    pub fn adopt_state(&mut self, previous: &Routes) {
        for p in &mut self.providers {
            let Some(i) = previous.provider_by_name(p.name()) else {
                continue;
            };
            let old = &previous.providers[i];
            if old.kind() != p.kind() {
                continue;
            }
            if let (Some(slot), Some(_)) = (&old.token, &p.token) {
                p.token = Some(slot.clone());
            }
            if let Some(health) =
                ProviderHealth::carried_over(&old.health, &old.settings, &p.settings)
            {
                p.health = health;
            }
        }
    }

    pub fn provider(&self, i: usize) -> &Provider {
        &self.providers[i]
    }

    pub fn provider_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The `[routes]` table named `model`. Most gateways have none, and a
    /// name with `/` is never one: neither pays for hashing the name.
    #[inline]
    fn table(&self, model: &str) -> Option<&RouteTable> {
        if self.tables.is_empty() || model.contains('/') {
            return None;
        }
        self.tables.get(model)
    }

    /// Route name -> its heaviest target, for listings.
    pub fn route_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tables
            .iter()
            .map(|(name, table)| (name.as_str(), table.heaviest().asked.as_str()))
    }

    /// Alias name -> "provider/model", for listings.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.aliases
            .iter()
            .map(|(a, (p, m))| (a.as_str(), self.providers[*p].name(), m.as_str()))
    }

    /// The ordered candidates for the client's `model` value and the
    /// request's own `fallbacks`: the driver tries them in turn while a
    /// failure is transient and nothing has reached the client. A `[routes]`
    /// name gives its targets (one drawn by weight first, the others after,
    /// in the table's order) and then its fallbacks. A candidate already in
    /// the list is skipped; a request fallback that does not resolve fails
    /// the request, as a bad `model` does.
    pub fn candidates<'a>(
        &'a self,
        model: &'a str,
        fallbacks: &'a [String],
        core: &CoreRouting,
    ) -> Result<Candidates<'a>, RouteError> {
        if fallbacks.len() > MAX_FALLBACKS {
            return Err(RouteError::TooManyFallbacks {
                count: fallbacks.len(),
            });
        }
        let mut candidates = match self.table(model) {
            Some(table) => {
                let now = health::now_ms();
                let usable = |p: usize| self.providers[p].usable(now);
                table.candidates(core, fallbacks.len(), &usable)
            }
            None if fallbacks.is_empty() => {
                return Ok(Candidates {
                    first: self.resolve(model)?,
                    rest: Vec::new(),
                })
            }
            None => Candidates {
                first: self.resolve(model)?,
                rest: Vec::with_capacity(fallbacks.len()),
            },
        };
        for (index, fallback) in fallbacks.iter().enumerate() {
            let route = self
                .resolve(fallback)
                .map_err(|reason| RouteError::Fallback {
                    index,
                    reason: Box::new(reason),
                })?;
            candidates.push_new(route);
        }
        Ok(candidates)
    }

    /// Resolve the client's `model` value.
    pub fn resolve<'a>(&'a self, model: &'a str) -> Result<Route<'a>, RouteError> {
        if let Some(table) = self.table(model) {
            // The heaviest target stands for the route outside a request
            // (model lookups, a route named as a fallback).
            return Ok(table.heaviest().route());
        }
        self.route_of(model).map(|route| Route {
            asked: model,
            ..route
        })
    }

    fn route_of<'a>(&'a self, model: &'a str) -> Result<Route<'a>, RouteError> {
        if model.is_empty() {
            return Err(RouteError::MissingModel);
        }
        if model.len() > MAX_MODEL_NAME_BYTES {
            return Err(RouteError::ModelTooLong { len: model.len() });
        }
        if let Some(slash) = memchr::memchr(b'/', model.as_bytes()) {
            let (prefix, rest) = (&model[..slash], &model[slash + 1..]);
            if let Some(&i) = self.by_name.get(prefix) {
                return self.check_model(i, rest);
            }
            // `meta-llama/llama-3` with a default provider such as OpenRouter.
            if let Some(i) = self.default {
                return self.check_model(i, model);
            }
            return Err(RouteError::UnknownProvider {
                provider: prefix.to_owned(),
                available: self.provider_list(),
            });
        }
        if let Some((i, target)) = self.aliases.get(model) {
            return self.check_model(*i, target);
        }
        if let Some(i) = self.default {
            return self.check_model(i, model);
        }
        let mut aliases: Vec<&str> = self.aliases.keys().map(String::as_str).collect();
        aliases.sort_unstable();
        Err(RouteError::BareModel {
            model: model.to_owned(),
            providers: self.provider_list(),
            aliases: if aliases.is_empty() {
                String::new()
            } else {
                format!("; aliases: {}", aliases.join(", "))
            },
        })
    }

    fn check_model<'a>(&'a self, i: usize, model: &'a str) -> Result<Route<'a>, RouteError> {
        let p = &self.providers[i];
        if model.is_empty() {
            return Err(RouteError::MissingModel);
        }
        let allowed = &p.settings.models;
        if !allowed.is_empty() && !allowed.iter().any(|m| m == model) {
            return Err(RouteError::UnknownModel {
                provider: p.name().to_owned(),
                model: model.to_owned(),
                available: allowed
                    .iter()
                    .map(|m| format!("{}/{m}", p.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Route {
            provider: i,
            model,
            asked: model,
            retries: p.settings.retries.as_ref().unwrap_or(&self.retries),
        })
    }

    fn provider_list(&self) -> String {
        self.providers
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
