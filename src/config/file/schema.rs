//! The config file's shape, as written by the user: one serde struct per table,
//! every table refusing unknown keys. Every field is optional here so resolution
//! can tell "unset" from "set to the default"; the defaults are the constants.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// `listen` when neither the command line nor the file gives one.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Upper bound for `workers`.
pub(crate) const MAX_WORKERS: usize = 1024;
/// `models_refresh_secs` default: 10 minutes.
pub(crate) const DEFAULT_MODELS_REFRESH_SECS: u64 = 600;
/// `models_refresh_secs` upper bound: one week.
pub(crate) const MAX_MODELS_REFRESH_SECS: u64 = 7 * 24 * 3600;

pub(crate) const DEFAULT_MAX_HEAD_BYTES: u64 = 64 * 1024;
/// Smallest `max_head_bytes`: a request line plus a few headers.
pub(crate) const MIN_MAX_HEAD_BYTES: u64 = 1024;
/// Largest `max_head_bytes`: 1 MiB.
pub(crate) const MAX_MAX_HEAD_BYTES: u64 = 1024 * 1024;
pub(crate) const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub(crate) const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 30_000;
pub(crate) const DEFAULT_IDLE_TIMEOUT_MS: u64 = 75_000;
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// `max_connections` upper bound.
pub(crate) const MAX_MAX_CONNECTIONS: u64 = 1_000_000;
pub(crate) const DEFAULT_MAX_BUFFERED_BODY_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
pub(crate) const DEFAULT_FIRST_BYTE_TIMEOUT_MS: u64 = 60_000;
pub(crate) const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Every timeout must be in `1..=MAX_TIMEOUT_MS` (one day): a larger value is
/// almost certainly a unit mistake.
pub(crate) const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;

pub(crate) const DEFAULT_MAX_IDLE_CONNECTIONS: u64 = 256;
pub(crate) const MAX_MAX_IDLE_CONNECTIONS: u64 = 100_000;

pub(crate) const DEFAULT_RETRY_ATTEMPTS: u64 = 2;
pub(crate) const MAX_RETRY_ATTEMPTS: u64 = 10;
pub(crate) const DEFAULT_BACKOFF_BASE_MS: u64 = 100;
pub(crate) const DEFAULT_BACKOFF_MAX_MS: u64 = 5_000;
/// A longer pause between tries outlasts any client's patience.
pub(crate) const MAX_BACKOFF_MS: u64 = 60_000;

/// Largest weight of a key or route target: enough for any ratio that matters.
pub(crate) const MAX_WEIGHT: u64 = 10_000;
/// Targets and fallbacks per route: a longer list is a mistake, and every
/// fallback multiplies a failing request's latency.
pub(crate) const MAX_ROUTE_TARGETS: usize = 16;
pub(crate) const MAX_ROUTE_NAME_BYTES: usize = 256;

/// Upper bound for `max_in_flight` (like `max_connections`).
pub(crate) const MAX_MAX_IN_FLIGHT: u64 = 1_000_000;
pub(crate) const MAX_QUEUE: u64 = 100_000;
pub(crate) const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 5_000;
pub(crate) const MAX_QUEUE_TIMEOUT_MS: u64 = 600_000;

/// An admin token guards config reload: shorter ones are guessable.
pub(crate) const MIN_ADMIN_TOKEN_BYTES: usize = 16;

/// The whole file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileConfig {
    /// `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`. Default [`DEFAULT_LISTEN`].
    pub(crate) listen: Option<String>,
    /// Worker threads; 0 means one per available core. Default 0.
    pub(crate) workers: Option<usize>,
    /// Pin worker i to core i. Default true.
    pub(crate) pin_workers: Option<bool>,
    /// Provider for a bare model name that is not an alias. Default none.
    pub(crate) default_provider: Option<String>,
    /// Also enable built-ins whose key variable is set. Default true.
    pub(crate) env_providers: Option<bool>,
    /// Seconds between model-list refreshes. Default [`DEFAULT_MODELS_REFRESH_SECS`].
    pub(crate) models_refresh_secs: Option<u64>,
    /// PEM file of CA certificates trusted for upstream TLS in addition to the
    /// built-in Mozilla roots (private CAs, TLS-inspecting proxies). Default none.
    pub(crate) extra_ca_file: Option<String>,
    pub(crate) limits: LimitsFile,
    pub(crate) timeouts: TimeoutsFile,
    pub(crate) auth: AuthFile,
    /// `[[virtual_keys]]`.
    pub(crate) virtual_keys: Vec<VirtualKeyFile>,
    /// `[[teams]]`.
    pub(crate) teams: Vec<GroupFile>,
    /// `[[customers]]`.
    pub(crate) customers: Vec<GroupFile>,
    pub(crate) cors: CorsFile,
    pub(crate) store: StoreChoice,
    pub(crate) otlp: OtlpFile,
    /// `[model_limits."provider/model"]`: requests and tokens per minute for
    /// one model, across every caller.
    pub(crate) model_limits: Ordered<RateLimitFile>,
    pub(crate) admin: AdminFile,
    pub(crate) retries: RetriesFile,
    pub(crate) breaker: BreakerFile,
    pub(crate) balancing: BalancingFile,
    /// Bare model name -> `provider/model`, in file order.
    pub(crate) aliases: Ordered<String>,
    /// Route name -> route table, in file order.
    pub(crate) routes: Ordered<RouteFile>,
    /// Provider name -> provider table, in file order.
    pub(crate) providers: Ordered<ProviderFile>,
    /// `"provider/model"` -> its price, in file order.
    pub(crate) pricing: Ordered<PriceFile>,
}

/// `[pricing."provider/model"]`: USD per million tokens.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PriceFile {
    /// Required: input tokens not read from a prompt cache.
    pub(crate) input: Option<f64>,
    /// Required: output tokens.
    pub(crate) output: Option<f64>,
    /// Input tokens read from a prompt cache. Default `input`.
    pub(crate) cached_input: Option<f64>,
    /// Reasoning tokens. Default `output`.
    pub(crate) reasoning: Option<f64>,
}

/// Largest price in USD per million tokens: a dollar a token is past every
/// real price, so a larger value is almost certainly a unit mistake.
pub(crate) const MAX_PRICE_USD_PER_MILLION: f64 = 1_000_000.0;

/// `[admin]`: the admin endpoints.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AdminFile {
    /// `env:VAR` reference or a literal token, at least 16 bytes. Default
    /// `RINGBRIDGE_ADMIN_TOKEN`, else none (admin endpoints off).
    pub(crate) token: Option<String>,
}

/// `[retries]`, and a provider's or route's `retries = { ... }`, where unset
/// fields inherit the global table's.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RetriesFile {
    /// Total tries per target, `1..=10`. Default 2.
    pub(crate) attempts: Option<u64>,
    /// Milliseconds before the first retry, `0..=60000`. Default 100.
    pub(crate) backoff_base_ms: Option<u64>,
    /// Milliseconds, `backoff_base_ms..=60000`. Default 5000 (or
    /// `backoff_base_ms` if larger).
    pub(crate) backoff_max_ms: Option<u64>,
}

/// `[breaker]`: when a provider key is taken out of rotation, and how it
/// comes back.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BreakerFile {
    /// Consecutive failures that open the breaker, `0..=1000` (0: only the
    /// rate opens it). Default 10.
    pub(crate) failures: Option<u64>,
    /// Share of failed requests in the window that opens it, `0.0..=1.0`
    /// (0: only consecutive failures open it). Default 0.5.
    pub(crate) failure_rate: Option<f64>,
    /// Requests the window must hold before the rate counts, `1..=100000`. Default 20.
    pub(crate) min_requests: Option<u64>,
    /// Milliseconds of history the rate is computed over, `1000..=3600000`. Default 30000.
    pub(crate) window_ms: Option<u64>,
    /// Milliseconds an open breaker refuses requests, `1..=3600000`. Default 15000.
    pub(crate) open_ms: Option<u64>,
    /// Probe requests let through while half-open; that many successes
    /// close it, `1..=100`. Default 2.
    pub(crate) half_open_probes: Option<u64>,
}

/// `[balancing]`: how a provider's keys share the traffic.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BalancingFile {
    /// A request header whose value pins a session to one key while that key
    /// is healthy (e.g. `x-session-id`). Default none.
    pub(crate) sticky_header: Option<String>,
}

/// `[routes.<name>]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RouteFile {
    /// `"provider/model"` (weight 1) or `{ model, weight }`; 1 to 16.
    pub(crate) targets: Vec<OrTable<TargetTable>>,
    /// `"provider/model"` names tried in order once the targets failed; at most 16.
    pub(crate) fallbacks: Vec<String>,
    pub(crate) retries: Option<RetriesFile>,
}

/// A route target written as a table.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetTable {
    pub(crate) model: String,
    /// `1..=10000`. Default 1.
    pub(crate) weight: Option<u64>,
}

/// A provider key written as a table.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyTable {
    /// `env:VAR` reference or the literal key.
    pub(crate) key: String,
    /// `1..=10000`. Default 1.
    pub(crate) weight: Option<u64>,
    /// Upstream models this key may serve; empty or absent means all.
    #[serde(default)]
    pub(crate) models: Vec<String>,
}

/// `[limits]`: downstream (client side) limits.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LimitsFile {
    /// Bytes, `1024..=1048576`. Default 65536.
    pub(crate) max_head_bytes: Option<u64>,
    /// Bytes, `> 0`. Default 33554432 (32 MiB).
    pub(crate) max_body_bytes: Option<u64>,
    /// Milliseconds. Default 10000.
    pub(crate) header_read_timeout_ms: Option<u64>,
    /// Milliseconds. Default 30000.
    pub(crate) body_read_timeout_ms: Option<u64>,
    /// Milliseconds. Default 75000.
    pub(crate) idle_timeout_ms: Option<u64>,
    /// Milliseconds. Default 30000.
    pub(crate) shutdown_timeout_ms: Option<u64>,
    /// Connections, `0..=1000000`; 0 (the default) means automatic.
    pub(crate) max_connections: Option<u64>,
    /// Bytes, at least `max_body_bytes`. Default 268435456 (256 MiB).
    pub(crate) max_buffered_body_bytes: Option<u64>,
}

/// `[timeouts]`: upstream timeouts every provider inherits.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TimeoutsFile {
    /// Milliseconds. Default 5000.
    pub(crate) connect_ms: Option<u64>,
    /// Milliseconds. Default 60000.
    pub(crate) first_byte_ms: Option<u64>,
    /// Milliseconds. Default 60000.
    pub(crate) stream_idle_ms: Option<u64>,
}

/// `[cors]`: browsers calling the gateway from web pages.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CorsFile {
    /// Origins (`https://app.example.com`) allowed to call, or `"*"` for any.
    /// Default none: CORS off.
    pub(crate) allowed_origins: Vec<String>,
    /// Seconds a browser may cache a preflight answer. Default 600.
    pub(crate) max_age_secs: Option<u64>,
}

/// `[[virtual_keys]]`: a gateway key with an identity and its own limits.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct VirtualKeyFile {
    /// Required: who the key is for, in logs and errors.
    pub(crate) name: Option<String>,
    /// Required: `env:VAR` or the literal key.
    pub(crate) key: Option<String>,
    /// Default `vk-<name>`.
    pub(crate) id: Option<String>,
    /// A `[[teams]]` id.
    pub(crate) team_id: Option<String>,
    /// A `[[customers]]` id.
    pub(crate) customer_id: Option<String>,
    /// `provider/model` patterns (`openai/*`, `mock/echo`, `*`). Default all.
    pub(crate) models: Option<Vec<String>>,
    pub(crate) disabled: bool,
    /// RFC 3339.
    pub(crate) expires_at: Option<String>,
    pub(crate) rate_limit: Option<RateLimitFile>,
    pub(crate) budget: Option<BudgetFile>,
}

/// `[[teams]]` and `[[customers]]`: a group of keys with limits of its own.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GroupFile {
    /// Required.
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) rate_limit: Option<RateLimitFile>,
    pub(crate) budget: Option<BudgetFile>,
}

/// `budget = { limit_usd, period }`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BudgetFile {
    /// Required: USD a period may spend.
    pub(crate) limit_usd: Option<f64>,
    /// `daily`, `weekly`, `monthly` (UTC calendar periods) or `never`.
    /// Default `monthly`.
    pub(crate) period: Option<String>,
}

/// `[otlp]`: trace export.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OtlpFile {
    /// `http(s)://host:port/v1/traces`. Default `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else off.
    pub(crate) endpoint: Option<String>,
    /// Extra headers (a hosted collector's key), values literal or `env:VAR`.
    pub(crate) headers: Ordered<String>,
    /// `service.name` of the spans. Default `ringbridge`.
    pub(crate) service_name: Option<String>,
    /// Per connect, write and read. Default 5000.
    pub(crate) timeout_ms: Option<u64>,
}

/// `store = false`, or a `[store]` table.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum StoreChoice {
    Switch(bool),
    Table(StoreFile),
}

impl Default for StoreChoice {
    fn default() -> Self {
        StoreChoice::Table(StoreFile::default())
    }
}

/// `[store]`: where request logs, API-made keys and spend are kept.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StoreFile {
    /// SQLite file. Default `ringbridge.db` in the working directory.
    pub(crate) sqlite: Option<String>,
    /// `postgres://user:password@host:port/db` or `env:VAR`; wins over `sqlite`.
    pub(crate) postgres: Option<String>,
    /// Postgres schema for the tables (created if missing). Default the
    /// connection's `search_path` (usually `public`).
    pub(crate) postgres_schema: Option<String>,
    /// Keep request and response bodies in the log. Default false.
    pub(crate) log_bodies: Option<bool>,
    /// Bytes of each body kept when `log_bodies` is on. Default 16384.
    pub(crate) body_max_bytes: Option<u64>,
    /// Days a log row is kept. Default 30; 0 keeps rows forever.
    pub(crate) retention_days: Option<u64>,
    /// Most log rows kept (the oldest go first). Default none.
    pub(crate) max_rows: Option<u64>,
    /// Days the hourly usage totals are kept. Default 400; 0 keeps them.
    pub(crate) usage_retention_days: Option<u64>,
    /// Rows each core may have waiting for the store. Default 8192.
    pub(crate) queue_rows: Option<u64>,
}

/// `rate_limit = { rpm, tpm }`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RateLimitFile {
    /// Requests per minute.
    pub(crate) rpm: Option<u64>,
    /// Tokens (input and output) per minute.
    pub(crate) tpm: Option<u64>,
}

/// Largest `rpm` or `tpm`: a billion a minute is no limit at all.
pub(crate) const MAX_RATE_PER_MINUTE: u64 = 1_000_000_000;
/// Virtual keys, teams and customers in the file: enough for any file a
/// person writes (the admin API is for more).
pub(crate) const MAX_VIRTUAL_KEYS: usize = 100_000;

/// `[auth]`: inbound (gateway) keys.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AuthFile {
    /// `env:VAR` references or literal keys. Default none.
    pub(crate) keys: Vec<String>,
}

/// `[providers.<name>]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ProviderFile {
    /// A built-in kind name; defaults to the table name when that is one.
    pub(crate) kind: Option<String>,
    /// Default: `<KIND>_BASE_URL`, then the kind's default.
    pub(crate) base_url: Option<String>,
    /// `env:VAR` references or literal keys, each bare or as a
    /// `{ key, weight, models }` table. Default `["env:<KIND>_API_KEY"]` if set.
    pub(crate) keys: Option<Vec<OrTable<KeyTable>>>,
    /// Allowed upstream model names; empty or absent means any.
    pub(crate) models: Vec<String>,
    /// Milliseconds. Default `timeouts.connect_ms`.
    pub(crate) connect_timeout_ms: Option<u64>,
    /// Milliseconds. Default `timeouts.first_byte_ms`.
    pub(crate) first_byte_timeout_ms: Option<u64>,
    /// Milliseconds. Default `timeouts.stream_idle_ms`.
    pub(crate) stream_idle_timeout_ms: Option<u64>,
    /// Per core. Default 256.
    pub(crate) max_idle_connections: Option<u64>,
    /// Forward the client's `OpenAI-Organization` / `OpenAI-Project`. Default false.
    pub(crate) forward_organization_headers: Option<bool>,
    /// Azure only: the `api-version` query parameter. Default `OPENAI_API_VERSION`,
    /// then [`DEFAULT_AZURE_API_VERSION`].
    pub(crate) api_version: Option<String>,
    /// Bedrock only: AWS region. Default `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub(crate) region: Option<String>,
    /// Bedrock only: key references. Default `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub(crate) aws_access_key_id: Option<String>,
    pub(crate) aws_secret_access_key: Option<String>,
    pub(crate) aws_session_token: Option<String>,
    /// Vertex only: Google Cloud project. Default `GOOGLE_CLOUD_PROJECT`, then
    /// the credentials file's project.
    pub(crate) project: Option<String>,
    /// Vertex only: region such as `us-central1`, or `global`. Default
    /// `GOOGLE_CLOUD_LOCATION`, then [`DEFAULT_VERTEX_LOCATION`].
    pub(crate) location: Option<String>,
    /// Vertex only: service-account key file or authorized-user credentials.
    /// Default `GOOGLE_APPLICATION_CREDENTIALS`.
    pub(crate) credentials_file: Option<String>,
    /// Azure only: a Microsoft Entra ID access token (key reference). Default
    /// `AZURE_OPENAI_AD_TOKEN`.
    pub(crate) ad_token: Option<String>,
    /// Azure only: Entra ID client credentials. Default `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (a key reference).
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    /// Azure only: Entra authority. Default `AZURE_AUTHORITY_HOST`, then
    /// `https://login.microsoftonline.com`.
    pub(crate) authority_host: Option<String>,
    /// Overrides fields of the global `[retries]`. Default none.
    pub(crate) retries: Option<RetriesFile>,
    /// Overrides fields of the global `[breaker]`. Default none.
    pub(crate) breaker: Option<BreakerFile>,
    /// Requests in flight at once, `1..=1000000`. Default none: unlimited.
    pub(crate) max_in_flight: Option<u64>,
    /// Floor of an adaptive limit, `1..=max_in_flight`. Default `max_in_flight`.
    pub(crate) min_in_flight: Option<u64>,
    /// Requests waiting beyond the limit, `0..=100000`. Default `max_in_flight`
    /// (at most 100000).
    pub(crate) queue: Option<u64>,
    /// Milliseconds a request may wait in the queue, `1..=600000`. Default 5000.
    pub(crate) queue_timeout_ms: Option<u64>,
}

/// Vertex AI's location when neither the file nor `GOOGLE_CLOUD_LOCATION` sets one.
pub(crate) const DEFAULT_VERTEX_LOCATION: &str = "us-central1";

/// Azure OpenAI's `api-version` when neither the file nor `OPENAI_API_VERSION` sets one.
pub(crate) const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// A list entry written either as a bare string (`"env:KEY"`) or as a table
/// (`{ key = "env:KEY", weight = 2 }`). Hand-written rather than
/// `#[serde(untagged)]`, which would hide the key path and the reason of an
/// error inside the table.
#[derive(Debug)]
pub(crate) enum OrTable<T> {
    Bare(String),
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OrTable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrTableVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OrTableVisitor<T> {
            type Value = OrTable<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a table")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OrTable::Bare(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OrTable::Table)
            }
        }

        deserializer.deserialize_any(OrTableVisitor(PhantomData))
    }
}

/// A TOML table kept as `(key, value)` pairs in file order. A `HashMap` would lose
/// the order, which decides provider order in `Settings`. TOML itself refuses a
/// duplicate key, so the pairs have unique keys.
#[derive(Debug)]
pub(crate) struct Ordered<V>(pub(crate) Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }

        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}
