//! Configuration: the TOML file and environment, validated into one immutable
//! [`Settings`] snapshot. The data plane reads only `Settings`; nothing here runs
//! per request.

pub mod calendar;
mod catalogue;
mod file;

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::credentials::Secret;
pub use crate::http::url::{BaseUrl, Scheme};
pub use crate::upstream::UpstreamTimeouts;
pub use catalogue::{ProviderKind, WireFormat, BUILTIN_KINDS};
pub use file::{check_file, group_doc, key_doc, load, ConfigError, GroupDoc, KeyDoc, LoadOptions};

/// Everything the gateway needs to run, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address every worker binds (SO_REUSEPORT).
    pub listen: SocketAddr,
    /// Number of worker threads (already resolved: never 0).
    pub workers: usize,
    /// Pin worker i to core i (off on machines whose cores the gateway shares
    /// with busy processes: a pinned thread cannot escape a busy core).
    pub pin_workers: bool,
    /// Start even on a non-loopback address with no inbound auth.
    pub allow_unauthenticated: bool,
    pub limits: Limits,
    pub cors: Cors,
    /// Inbound gateway keys; empty means no inbound auth.
    pub auth_keys: Vec<Secret>,
    /// `[[virtual_keys]]`: gateway keys with an identity, allowed models and
    /// limits (they turn inbound auth on too).
    pub virtual_keys: Vec<VirtualKeySettings>,
    /// `[[teams]]`, `[[customers]]`: limits shared by their keys.
    pub teams: Vec<GroupSettings>,
    pub customers: Vec<GroupSettings>,
    /// `[store]`: request logs, API-made keys, spend.
    pub store: StoreSettings,
    /// `[model_limits."provider/model"]`: (provider, model, limit).
    pub model_limits: Vec<(String, String, RateLimit)>,
    /// `[otlp]`: where request spans are exported; `None`: off.
    pub otlp: Option<OtlpSettings>,
    /// Enabled providers, in a stable order (config order, then built-ins by name).
    pub providers: Vec<ProviderSettings>,
    /// Bare model name -> "provider/model" target.
    pub aliases: Vec<(String, String)>,
    /// `[routes.NAME]`, in file order (kept as written, like providers and
    /// aliases; no two share a name, and none shares an alias's name).
    pub routes: Vec<RouteSettings>,
    /// `[retries]`: how often and how patiently a failed upstream try is
    /// repeated, unless a provider or route overrides it.
    pub retries: RetrySettings,
    /// `[breaker]`: when a provider key is taken out of rotation.
    pub breaker: BreakerSettings,
    /// `[balancing] sticky_header`, lower-cased: requests with the same
    /// value go to the same key while it is healthy.
    pub sticky_header: Option<String>,
    /// Guards the admin endpoints (config reload): `admin.token`, else
    /// `RINGBRIDGE_ADMIN_TOKEN`. `None`: the admin endpoints are off.
    pub admin_token: Option<Secret>,
    /// Provider used for a bare model name that is not an alias.
    pub default_provider: Option<String>,
    /// How often the control plane refreshes each provider's model list.
    pub models_refresh: Duration,
    /// Extra CA certificates (PEM) trusted for upstream TLS.
    pub extra_ca_file: Option<std::path::PathBuf>,
    /// `[pricing."provider/model"]`, in file order: prices that replace or
    /// add to the shipped table (`pricing::Pricing::new` takes them).
    pub pricing: Vec<PriceOverride>,
}

/// One `[pricing."provider/model"]` table. Prices are USD per million
/// tokens, each finite and at least 0.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceOverride {
    /// A configured provider's name (not its kind): `my-azure`.
    pub provider: String,
    /// The model as sent upstream; may contain `/`.
    pub model: String,
    pub input: f64,
    pub output: f64,
    /// Prompt-cache reads; `None`: they cost `input`.
    pub cached_input: Option<f64>,
    /// Reasoning tokens; `None`: they cost `output`.
    pub reasoning: Option<f64>,
}

/// One virtual key, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualKeySettings {
    pub id: String,
    pub name: String,
    pub secret: Secret,
    /// Index into `Settings::teams` / `Settings::customers`.
    pub team: Option<usize>,
    pub customer: Option<usize>,
    /// `provider/model` patterns; empty means every model.
    pub models: Vec<String>,
    pub disabled: bool,
    /// Seconds since the Unix epoch.
    pub expires_at: Option<u64>,
    pub rate_limit: RateLimit,
    pub budget: Option<BudgetSettings>,
}

/// A team or a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSettings {
    pub id: String,
    pub name: String,
    pub rate_limit: RateLimit,
    pub budget: Option<BudgetSettings>,
}

/// A spend limit and the calendar period (UTC) after which it starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSettings {
    /// USD in nano-dollars (1e-9).
    pub limit_nanos: u64,
    pub period: BudgetPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetPeriod {
    Daily,
    Weekly,
    Monthly,
    Never,
}

impl BudgetPeriod {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "daily" => BudgetPeriod::Daily,
            "weekly" => BudgetPeriod::Weekly,
            "monthly" => BudgetPeriod::Monthly,
            "never" => BudgetPeriod::Never,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetPeriod::Daily => "daily",
            BudgetPeriod::Weekly => "weekly",
            BudgetPeriod::Monthly => "monthly",
            BudgetPeriod::Never => "never",
        }
    }
}

/// `[otlp]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    pub endpoint: BaseUrl,
    pub headers: Vec<(String, Secret)>,
    pub timeout: Duration,
    pub service_name: String,
}

/// `[store]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// Bytes of each body kept in the log; `None`: bodies are not logged.
    pub log_bodies: Option<usize>,
    /// Rows older than this go; `None`: kept forever.
    pub retention: Option<Duration>,
    pub max_rows: Option<u64>,
    /// Hourly usage totals older than this go; `None`: kept forever.
    pub usage_retention: Option<Duration>,
    /// Rows each core may have waiting for the store before it drops them.
    pub queue_rows: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreBackend {
    /// `store = false`: no request log, API-made keys and spend are not kept.
    Off,
    Sqlite(std::path::PathBuf),
    /// The URL, and the schema to keep the tables in.
    Postgres(Secret, Option<String>),
}

/// A Postgres schema name the store accepts: 1 to 63 lowercase ASCII
/// letters, digits and `_`, not starting with a digit (so it needs no quoting).
pub fn valid_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Requests and tokens per minute; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

/// Which web origins may call the gateway from a browser.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Exact origins (`scheme://host[:port]`), lower-cased.
    pub allowed_origins: Vec<String>,
    /// `"*"` was configured: any origin.
    pub any_origin: bool,
    /// Seconds a browser may cache a preflight answer.
    pub max_age_secs: u64,
}

impl Cors {
    pub fn is_on(&self) -> bool {
        self.any_origin || !self.allowed_origins.is_empty()
    }

    pub fn allows(&self, origin: &[u8]) -> bool {
        self.any_origin
            || self
                .allowed_origins
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
    }
}

/// Downstream (client side) limits and timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head accepted; larger gets 431.
    pub max_head_bytes: usize,
    /// Largest request body accepted; larger gets 413.
    pub max_body_bytes: usize,
    /// Time allowed to receive a whole request head once its first byte arrived (408).
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection is kept open waiting for the next request.
    pub idle_timeout: Duration,
    /// Time allowed to receive the body once the head is in.
    pub body_read_timeout: Duration,
    /// How long in-flight requests may run after SIGINT/SIGTERM.
    pub shutdown_timeout: Duration,
    /// Open client connections, gateway-wide; `None` until the runtime sizes
    /// it from the open-file limit.
    pub max_connections: Option<usize>,
    /// Request-body bytes buffered at once, gateway-wide; past it new bodies get 503.
    pub max_buffered_body_bytes: usize,
}

/// One enabled provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Name used as the `provider/` prefix of a model.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: BaseUrl,
    /// API keys, shared by weight and health (`router::keys`). Empty for keyless providers.
    pub keys: Vec<Secret>,
    /// `key_options[i]` belongs to `keys[i]`: always the same length and order
    /// (a parallel list so code reading `keys` is unaffected).
    pub key_options: Vec<KeyOptions>,
    /// Allowed upstream model names; empty means any name is forwarded.
    pub models: Vec<String>,
    pub timeouts: UpstreamTimeouts,
    /// Idle connections kept per core for this provider's origin.
    pub max_idle_connections: usize,
    /// Forward the client's `OpenAI-Organization` and `OpenAI-Project` headers
    /// (off: they would pick an account beside the gateway's own key).
    pub forward_organization_headers: bool,
    /// Azure's `api-version` query parameter; empty for other kinds.
    pub api_version: String,
    /// Bedrock's region and credentials; `None` for other kinds.
    pub aws: Option<AwsSettings>,
    /// How `keys` are sent, or where refreshed tokens come from.
    pub auth: ProviderAuth,
    /// `providers.X.retries`, already merged with the global [`Settings::retries`];
    /// `None` when the provider sets none.
    pub retries: Option<RetrySettings>,
    /// `providers.X.breaker`, already merged with the global
    /// [`Settings::breaker`]; `None` when the provider sets none.
    pub breaker: Option<BreakerSettings>,
    /// In-flight limit and wait queue; `None` means unlimited.
    pub concurrency: Option<ConcurrencySettings>,
}

impl Settings {
    /// Settings from TOML text with an empty environment, for other
    /// modules' tests (through a file, as the gateway reads one).
    #[cfg(test)]
    pub fn from_test_toml(text: &str) -> Settings {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "rb-test-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).expect("temp config");
        let opts = LoadOptions {
            config_path: Some(path.clone()),
            ..LoadOptions::default()
        };
        let settings = load(&opts, &|_: &str| None);
        let _ = std::fs::remove_file(path);
        settings.expect("valid test config")
    }
}

/// How one key of a provider is used, beside `ProviderSettings::keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions {
    /// Relative share of the requests the key gets, `1..=10000`.
    pub weight: u32,
    /// Upstream models the key may serve; empty means all of the provider's.
    pub models: Vec<String>,
}

impl Default for KeyOptions {
    /// What a bare-string key, or one from the environment, gets.
    fn default() -> Self {
        Self {
            weight: 1,
            models: Vec::new(),
        }
    }
}

/// Retries of a failed upstream try.
///
/// A provider's or route's `retries` table may set only some fields; the
/// others are inherited from the global `[retries]` (not from the provider's
/// table for a route), and an unset `backoff_max_ms` is raised to
/// `backoff_base_ms` when that is larger. Overrides arrive here already merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Total tries per target (1 = no retry), `1..=10`. Default 2.
    pub attempts: u32,
    /// Wait before the first retry, doubling up to `backoff_max`. Default 100 ms.
    pub backoff_base: Duration,
    /// Longest wait between two tries, at least `backoff_base`, at most
    /// 60 s. Default 5 s.
    pub backoff_max: Duration,
}

/// `[breaker]`: a circuit breaker per provider key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open it; 0 turns this trigger off.
    pub failures: u32,
    /// Failed share of the window's requests that opens it, in thousandths;
    /// 0 turns this trigger off.
    pub failure_permille: u32,
    /// Requests the window must hold before the rate counts.
    pub min_requests: u32,
    /// History the failure rate is computed over.
    pub window: Duration,
    /// How long an open breaker refuses requests before probing.
    pub open: Duration,
    /// Probes let through while half-open; as many successes close it.
    pub half_open_probes: u32,
}

/// A provider's in-flight limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencySettings {
    /// Most requests sent to the provider at once.
    pub max_in_flight: u32,
    /// Lowest limit an adaptive limiter may shrink to, `1..=max_in_flight`;
    /// equal to `max_in_flight` (a fixed limit) unless configured.
    pub min_in_flight: u32,
    /// Requests that may wait for a free slot beyond the limit; more get refused.
    pub queue: u32,
    /// Longest wait in the queue.
    pub queue_timeout: Duration,
}

/// `[routes.NAME]`: a model name clients send, served by weighted targets and
/// then, if they all fail, by the fallbacks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSettings {
    pub name: String,
    /// At least one, at most 16; each names an enabled provider.
    pub targets: Vec<RouteTarget>,
    /// Full `provider/model` names, tried in this order; at most 16.
    pub fallbacks: Vec<String>,
    /// The route's `retries`, already merged with the global [`Settings::retries`].
    pub retries: Option<RetrySettings>,
}

/// One weighted target of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    /// The full `provider/model` string, as written.
    pub model: String,
    /// Relative share of the route's requests, `1..=10000` (1 for a bare string).
    pub weight: u32,
}

/// How requests to a provider are authenticated (Bedrock's SigV4 aside).
#[derive(Debug, Clone)]
pub enum ProviderAuth {
    /// `keys` in the kind's own header (`Authorization: Bearer`, `x-api-key`,
    /// `x-goog-api-key`, Azure's `api-key`), one leased per attempt.
    Keys,
    /// `keys` are OAuth access tokens, sent as `Authorization: Bearer` whatever
    /// the kind (an Azure Entra ID token).
    BearerTokens,
    /// Access tokens the control plane fetches and refreshes (Vertex AI
    /// credentials, Azure Entra ID client credentials).
    Refreshed(crate::credentials::TokenSource),
}

/// What SigV4 signing needs.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}
