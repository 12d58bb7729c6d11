//! What a request asks for, from its head alone: the target (endpoint and
//! dialect) and the caller, with inbound auth checked before any body is read.

use std::ops::Range;
use std::time::Instant;

use super::error::GatewayError;
use crate::http::request::{Method, RequestHead};
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
    /// `POST /admin/reload`, admin access already checked.
    Reload,
    /// `GET /admin/health`, admin access already checked.
    AdminHealth,
    /// A CORS preflight (`OPTIONS` with `Origin`), answered without auth.
    Preflight,
    WrongMethod(&'static str),
    NotFound,
    /// A target that needs the inbound key, without a valid one (the API
    /// dialect, for metrics, or `None` for the model list).
    Unauthorized(Option<Dialect>, GatewayError),
}

/// The target of a request head, with inbound auth checked: the connection
/// loop refuses an unauthorized request before reading its body.
pub(crate) fn target_of(config: &Snapshot, rbuf: &[u8], head: &RequestHead) -> Target {
    let target = target(head.method, head.path(rbuf));
    let dialect = match target {
        Target::Reload | Target::AdminHealth => return admin(config, rbuf, head, target),
        Target::Api(dialect, _) => Some(dialect),
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
            other => other,
        },
        Err(e) => Target::Unauthorized(dialect, e),
    }
}

const MODEL_PREFIX: &[u8] = b"/v1/models/";

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
        b"/v1/chat/completions" | b"/chat/completions" if post => {
            Target::Api(Dialect::OpenAiChat, Caller::default())
        }
        b"/v1/completions" | b"/completions" if post => {
            Target::Api(Dialect::OpenAiCompletions, Caller::default())
        }
        b"/v1/embeddings" | b"/embeddings" if post => {
            Target::Api(Dialect::OpenAiEmbeddings, Caller::default())
        }
        b"/health" | b"/healthz" | b"/ready" | b"/readyz" | b"/metrics" | b"/v1/models" => {
            Target::WrongMethod("GET")
        }
        b"/v1/chat/completions"
        | b"/chat/completions"
        | b"/v1/completions"
        | b"/completions"
        | b"/v1/embeddings"
        | b"/embeddings" => Target::WrongMethod("POST"),
        p if p.len() > MODEL_PREFIX.len() && p.starts_with(MODEL_PREFIX) => match get {
            true => Target::Model(MODEL_PREFIX.len()),
            false => Target::WrongMethod("GET"),
        },
        _ => Target::NotFound,
    }
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

/// Inbound auth: `Authorization: Bearer <key>` or `x-api-key: <key>`
/// (Anthropic SDKs). Returns who is calling.
fn authenticate(
    config: &Snapshot,
    rbuf: &[u8],
    head: &RequestHead,
) -> Result<Caller, GatewayError> {
    if !config.auth_required() {
        return Ok(Caller::default());
    }
    let presented = bearer(rbuf, head).or_else(|| head.header(rbuf, b"x-api-key"));
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
            Target::Unauthorized(..) => "401".into(),
        }
    }

    #[test]
    fn method_and_path_pick_the_target_and_dialect() {
        let cases: [(Method, &[u8], &str); 15] = [
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
    }
}
