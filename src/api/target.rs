//! What a request asks for, from its head alone: the target (endpoint and
//! dialect) and the caller, with inbound auth checked before any body is read.

use std::ops::Range;
use std::time::Instant;

use super::error::GatewayError;
use crate::config::ProviderKind;
use crate::http::request::{Method, RequestHead};
use crate::inbound::gemini::{self, Method as GeminiMethod};
use crate::schema::dialect::Dialect;
use crate::worker::snapshot::{AdminAccess, Held, Snapshot};
use crate::worker::Caller;

/// A request whose head and body are in `rbuf`.
pub struct Request {
    pub head: RequestHead,
    pub body: Range<usize>,
    /// First byte of the next request in `rbuf`.
    pub end: usize,
    /// Head fully received.
    pub started: Instant,
    /// What the request asks for, inbound auth already checked.
    pub(crate) target: Target,
    /// The configuration the request was accepted under, held to its end.
    pub config: Held,
}

/// What a request asks for, decided from its head alone.
pub(crate) enum Target {
    Health,
    Ready,
    Metrics,
    Models,
    /// `GET /v1/models/{id}`: the id starts at this offset of the path.
    Model(usize),
    Api(Dialect, Caller),
    /// `/openai/*`, `/anthropic/*`, `/genai/*`, `/cohere/*` for the
    /// provider's own APIs (`api::raw`): the index of the prefix.
    Raw(usize, Caller),
    /// `POST /admin/reload`, admin access already checked.
    Reload,
    /// `GET /admin/health`, admin access already checked.
    AdminHealth,
    /// `/admin/keys`, `/admin/teams`, `/admin/customers`, `/admin/logs`,
    /// `/admin/usage`, admin access already checked (`api::admin_data`).
    AdminData,
    /// A CORS preflight (`OPTIONS` with `Origin`), answered without auth.
    Preflight,
    WrongMethod(&'static str),
    NotFound,
    /// A target that needs the inbound key, without a valid one (the API
    /// dialect, for metrics, or `None` for the model list).
    Unauthorized(Option<Dialect>, GatewayError),
}

impl Target {
    /// The dialect whose shapes this target's answers and errors take.
    pub(crate) fn dialect(&self) -> Option<Dialect> {
        match *self {
            Target::Api(dialect, _) => Some(dialect),
            Target::Raw(prefix, _) => Some(raw_dialect(prefix)),
            Target::Unauthorized(dialect, _) => dialect,
            _ => None,
        }
    }
}

/// The target of a request head, with inbound auth checked: the connection
/// loop refuses an unauthorized request before reading its body.
pub(crate) fn target_of(config: &Snapshot, rbuf: &[u8], head: &RequestHead) -> Target {
    let target = match target(head.method, head.path(rbuf)) {
        Target::Api(Dialect::GeminiStream { .. }, caller) => Target::Api(
            Dialect::GeminiStream {
                sse: gemini::alt_sse(head.query(rbuf)),
            },
            caller,
        ),
        target => target,
    };
    let dialect = match target {
        Target::Reload | Target::AdminHealth | Target::AdminData => {
            return admin(config, rbuf, head, target)
        }
        Target::Api(dialect, _) => Some(dialect),
        Target::Raw(prefix, _) => Some(raw_dialect(prefix)),
        Target::Models | Target::Model(_) => None,
        Target::WrongMethod(_)
            if head.method == Method::Options && config.settings.cors.is_on() =>
        {
            return Target::Preflight
        }
        other => return other,
    };
    match authenticate(config, rbuf, head) {
        Ok(caller) => match target {
            Target::Api(dialect, _) => Target::Api(dialect, caller),
            Target::Raw(prefix, _) => Target::Raw(prefix, caller),
            other => other,
        },
        Err(e) => Target::Unauthorized(dialect, e),
    }
}

const MODEL_PREFIX: &[u8] = b"/v1/models/";

/// Where Gemini clients put `models/{model}:{method}`: below `/genai` (the
/// base URL the gateway documents) or at the root (google-genai pointed at
/// the gateway itself), in either API version.
const GEMINI_PREFIXES: [&[u8]; 4] = [
    b"/genai/v1beta/models/",
    b"/genai/v1/models/",
    b"/v1beta/models/",
    b"/v1/models/",
];

/// The model and method of a Gemini `…/models/{model}:{method}` path.
pub(crate) fn gemini_model_path(path: &[u8]) -> Option<(std::borrow::Cow<'_, str>, GeminiMethod)> {
    let prefix = GEMINI_PREFIXES.iter().find(|p| path.starts_with(p))?;
    gemini::parse_path(&path[prefix.len()..])
}

fn target(method: Method, path: &[u8]) -> Target {
    let get = matches!(method, Method::Get | Method::Head);
    let post = method == Method::Post;
    match path {
        b"/health" | b"/healthz" if get => Target::Health,
        b"/ready" | b"/readyz" if get => Target::Ready,
        b"/metrics" if get => Target::Metrics,
        b"/v1/models" if get => Target::Models,
        b"/admin/reload" if post => Target::Reload,
        b"/admin/reload" => Target::WrongMethod("POST"),
        b"/admin/health" if get => Target::AdminHealth,
        b"/admin/health" => Target::WrongMethod("GET"),
        _ if super::admin_data::is_admin_data(path) => Target::AdminData,
        b"/v1/chat/completions" | b"/chat/completions" if post => {
            Target::Api(Dialect::OpenAiChat, Caller::default())
        }
        b"/v1/completions" | b"/completions" if post => {
            Target::Api(Dialect::OpenAiCompletions, Caller::default())
        }
        b"/v1/embeddings" | b"/embeddings" if post => {
            Target::Api(Dialect::OpenAiEmbeddings, Caller::default())
        }
        b"/v1/responses" | b"/responses" | b"/openai/v1/responses" if post => {
            Target::Api(Dialect::Responses, Caller::default())
        }
        b"/v1/messages" | b"/anthropic/v1/messages" if post => {
            Target::Api(Dialect::AnthropicMessages, Caller::default())
        }
        b"/v1/messages/count_tokens" | b"/anthropic/v1/messages/count_tokens" if post => {
            Target::Api(Dialect::AnthropicCountTokens, Caller::default())
        }
        b"/health" | b"/healthz" | b"/ready" | b"/readyz" | b"/metrics" | b"/v1/models" => {
            Target::WrongMethod("GET")
        }
        b"/v1/chat/completions"
        | b"/chat/completions"
        | b"/v1/completions"
        | b"/completions"
        | b"/v1/embeddings"
        | b"/embeddings"
        | b"/v1/responses"
        | b"/responses"
        | b"/openai/v1/responses"
        | b"/v1/messages"
        | b"/anthropic/v1/messages"
        | b"/v1/messages/count_tokens"
        | b"/anthropic/v1/messages/count_tokens" => Target::WrongMethod("POST"),
        p if post && gemini_model_path(p).is_some() => match gemini_model_path(p) {
            Some((_, GeminiMethod::Generate)) => {
                Target::Api(Dialect::GeminiGenerate, Caller::default())
            }
            // `target_of` reads `alt=sse` from the query.
            _ => Target::Api(Dialect::GeminiStream { sse: false }, Caller::default()),
        },
        p if p.len() > MODEL_PREFIX.len() && p.starts_with(MODEL_PREFIX) => match get {
            true => Target::Model(MODEL_PREFIX.len()),
            false => Target::WrongMethod("GET"),
        },
        p => match raw_prefix(p) {
            Some(prefix) => Target::Raw(prefix, Caller::default()),
            None => Target::NotFound,
        },
    }
}

/// The raw prefixes: the path segment, the provider name looked up first,
/// the kind looked up next, and the dialect whose error shape its clients read.
pub(crate) const RAW_PREFIXES: [(&[u8], &str, ProviderKind, Dialect); 4] = [
    (
        b"/openai/",
        "openai",
        ProviderKind::OpenAi,
        Dialect::OpenAiChat,
    ),
    (
        b"/anthropic/",
        "anthropic",
        ProviderKind::Anthropic,
        Dialect::AnthropicMessages,
    ),
    (
        b"/genai/",
        "gemini",
        ProviderKind::Gemini,
        Dialect::GeminiGenerate,
    ),
    (
        b"/cohere/",
        "cohere",
        ProviderKind::Cohere,
        Dialect::OpenAiChat,
    ),
];

/// Which raw prefix `path` has (an index for [`Target::Raw`]), if any.
fn raw_prefix(path: &[u8]) -> Option<usize> {
    RAW_PREFIXES
        .iter()
        .position(|(p, ..)| path.len() > p.len() && path.starts_with(p))
}

/// The dialect whose error shape a raw request's clients read.
fn raw_dialect(prefix: usize) -> Dialect {
    RAW_PREFIXES[prefix].3
}

/// Admin endpoints: the admin token as a bearer token, or a loopback
/// listener when no token is configured.
fn admin(config: &Snapshot, rbuf: &[u8], head: &RequestHead, allowed: Target) -> Target {
    match config.admin_access(bearer(rbuf, head)) {
        AdminAccess::Allowed => allowed,
        AdminAccess::WrongToken => Target::Unauthorized(
            None,
            GatewayError::new(401, "admin endpoints need the admin token as Authorization: Bearer"),
        ),
        AdminAccess::Off => Target::Unauthorized(
            None,
            GatewayError::new(
                403,
                "admin endpoints are off on a non-loopback listener without [admin] token or RINGBRIDGE_ADMIN_TOKEN",
            ),
        ),
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer<'r>(rbuf: &'r [u8], head: &RequestHead) -> Option<&'r [u8]> {
    head.header(rbuf, b"authorization").and_then(|v| {
        (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer "))
            .then(|| crate::http::trim_ows(&v[7..]))
    })
}

/// Longest `x-ringbridge-timeout-ms` accepted: an hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// The deadline a client set with `x-ringbridge-timeout-ms`, counted from
/// when its head arrived.
pub(crate) fn deadline_of(
    rbuf: &[u8],
    req: &Request,
) -> Result<Option<std::time::Instant>, GatewayError> {
    let Some(value) = req.head.header(rbuf, b"x-ringbridge-timeout-ms") else {
        return Ok(None);
    };
    let ms = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms));
    match ms {
        Some(ms) => Ok(Some(req.started + std::time::Duration::from_millis(ms))),
        None => Err(GatewayError::new(
            400,
            format!("x-ringbridge-timeout-ms must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"),
        )),
    }
}

/// Inbound auth: `Authorization: Bearer <key>`, `x-api-key: <key>`
/// (Anthropic SDKs) or `x-goog-api-key: <key>` (Google's). Returns who is
/// calling.
fn authenticate(
    config: &Snapshot,
    rbuf: &[u8],
    head: &RequestHead,
) -> Result<Caller, GatewayError> {
    if !config.auth_required() {
        return Ok(Caller::default());
    }
    let presented = bearer(rbuf, head)
        .or_else(|| head.header(rbuf, b"x-api-key"))
        .or_else(|| head.header(rbuf, b"x-goog-api-key"));
    match presented.map(|k| config.caller_of(k)) {
        Some(Some(caller)) => Ok(caller),
        Some(None) => Err(GatewayError::new(401, "invalid gateway API key")),
        None => Err(GatewayError::new(
            401,
            "missing gateway API key; send Authorization: Bearer <key>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(t: Target) -> String {
        match t {
            Target::Api(d, _) => format!("api {d:?}"),
            Target::Model(at) => format!("model@{at}"),
            Target::WrongMethod(m) => format!("use {m}"),
            Target::Health => "health".into(),
            Target::Ready => "ready".into(),
            Target::Metrics => "metrics".into(),
            Target::Models => "models".into(),
            Target::NotFound => "404".into(),
            Target::Preflight => "preflight".into(),
            Target::Reload => "reload".into(),
            Target::AdminHealth => "admin health".into(),
            Target::AdminData => "admin data".into(),
            Target::Raw(prefix, _) => format!("raw {prefix}"),
            Target::Unauthorized(..) => "401".into(),
        }
    }

    #[test]
    fn method_and_path_pick_the_target_and_dialect() {
        let cases: [(Method, &[u8], &str); 20] = [
            (Method::Post, b"/v1/messages", "api AnthropicMessages"),
            (
                Method::Post,
                b"/anthropic/v1/messages",
                "api AnthropicMessages",
            ),
            (
                Method::Post,
                b"/v1/messages/count_tokens",
                "api AnthropicCountTokens",
            ),
            (Method::Get, b"/v1/messages", "use POST"),
            (Method::Post, b"/v1/responses", "api Responses"),
            (Method::Get, b"/admin/health", "admin health"),
            (Method::Post, b"/admin/health", "use GET"),
            (Method::Post, b"/admin/reload", "reload"),
            (Method::Get, b"/admin/reload", "use POST"),
            (Method::Post, b"/v1/chat/completions", "api OpenAiChat"),
            (Method::Post, b"/chat/completions", "api OpenAiChat"),
            (Method::Post, b"/v1/completions", "api OpenAiCompletions"),
            (Method::Post, b"/v1/embeddings", "api OpenAiEmbeddings"),
            (Method::Get, b"/v1/chat/completions", "use POST"),
            (Method::Options, b"/v1/chat/completions", "use POST"),
            (Method::Get, b"/v1/models", "models"),
            (Method::Get, b"/v1/models/mock/echo", "model@11"),
            (Method::Post, b"/v1/models/mock/echo", "use GET"),
            (Method::Head, b"/health", "health"),
            (Method::Get, b"/v1/nothing", "404"),
        ];
        for (method, path, expected) in cases {
            assert_eq!(name(target(method, path)), expected, "{method:?} {path:?}");
        }
        assert_eq!(name(target(Method::Get, b"/v1/models/")), "404");
        // The provider's own APIs, any method, beside the dialect endpoints.
        assert_eq!(name(target(Method::Get, b"/openai/v1/files")), "raw 0");
        assert_eq!(name(target(Method::Other, b"/openai/v1/files/f")), "raw 0");
        assert_eq!(
            name(target(Method::Post, b"/anthropic/v1/messages/batches")),
            "raw 1"
        );
        assert_eq!(
            name(target(Method::Post, b"/anthropic/v1/messages")),
            "api AnthropicMessages"
        );
        assert_eq!(
            name(target(Method::Post, b"/genai/upload/v1beta/files")),
            "raw 2"
        );
        assert_eq!(name(target(Method::Post, b"/cohere/v2/rerank")), "raw 3");
        assert_eq!(name(target(Method::Post, b"/openai/")), "404");
        let gemini = |p: &[u8]| name(target(Method::Post, p));
        assert_eq!(
            gemini(b"/genai/v1beta/models/mock/echo:generateContent"),
            "api GeminiGenerate"
        );
        assert_eq!(
            gemini(b"/v1beta/models/openai%2Fgpt-4o:streamGenerateContent"),
            "api GeminiStream { sse: false }"
        );
        assert_eq!(
            gemini(b"/genai/v1beta/models/mock/echo:countTokens"),
            "raw 2"
        );
        assert_eq!(gemini(b"/v1beta/models/mock/echo:countTokens"), "404");
        assert_eq!(
            gemini(b"/v1/models/mock/echo:generateContent"),
            "api GeminiGenerate"
        );
        assert_eq!(gemini(b"/v1/models/mock/echo"), "use GET");
    }
}
