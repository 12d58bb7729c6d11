//! Inbound API: the client connection loop, the OpenAI dialect's endpoints,
//! inbound auth, CORS, health/readiness/metrics/models, and the request
//! driver behind the API endpoints.

mod admin;
pub mod connection;
mod convert;
mod cors;
mod driver;
pub mod error;
mod mock;
mod passthrough;
pub mod respond;
mod translate;

use std::rc::Rc;

pub use crate::worker::{Gateway, Worker};
pub use connection::serve_connection;

use connection::Request;
use error::GatewayError;
use respond::{Client, RequestId};

use crate::http::request::{Method, RequestHead};
use crate::schema::dialect::Dialect;
use crate::worker::Caller;

/// What a request asks for, decided from its head alone.
pub(crate) enum Target {
    Health,
    Ready,
    Metrics,
    Models,
    /// `GET /v1/models/{id}`: the id starts at this offset of the path.
    Model(usize),
    Api(Dialect, Caller),
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
pub(crate) fn target_of(worker: &Worker, rbuf: &[u8], head: &RequestHead) -> Target {
    let target = target(head.method, head.path(rbuf));
    let dialect = match target {
        Target::Api(dialect, _) => Some(dialect),
        Target::Models | Target::Model(_) => None,
        Target::WrongMethod(_)
            if head.method == Method::Options && worker.gw.settings.cors.is_on() =>
        {
            return Target::Preflight
        }
        other => return other,
    };
    match authenticate(worker, rbuf, head) {
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

/// Set what the client's answers depend on, from a request head just read.
pub(crate) fn begin_request(worker: &Worker, rbuf: &[u8], head: &RequestHead, client: &mut Client) {
    client.head_only = head.method == Method::Head;
    client.http10 = head.http10;
    client.cors.clear();
    cors::push_headers(
        &worker.gw.settings.cors,
        head.header(rbuf, b"origin"),
        &mut client.cors,
    );
}

/// Handle one request; returns whether the connection may be kept.
pub(crate) async fn dispatch(
    worker: &Rc<Worker>,
    rbuf: &[u8],
    shared: Option<&Rc<Vec<u8>>>,
    client: &mut Client,
    req: &Request,
) -> bool {
    let keep_alive = req.head.keep_alive && !worker.gw.shutting_down();
    let request_id = RequestId::from_client_or_new(worker, req.head.header(rbuf, b"x-request-id"));
    let id = Some(&request_id);
    match &req.target {
        Target::Health => {
            respond::full(
                client,
                200,
                b"application/json",
                b"{\"status\":\"ok\"}",
                keep_alive,
                id,
                &[],
            )
            .await
                && keep_alive
        }
        Target::Ready => admin::ready(worker, client, keep_alive, id).await && keep_alive,
        Target::Metrics => admin::metrics(worker, client, keep_alive, id).await && keep_alive,
        Target::Models => admin::models(worker, client, keep_alive, id).await && keep_alive,
        &Target::Model(at) => {
            let path = req.head.path(rbuf);
            admin::model(worker, client, &path[at..], keep_alive, id).await && keep_alive
        }
        Target::Preflight => cors::preflight(worker, rbuf, req, client, keep_alive, id).await,
        &Target::Api(dialect, caller) => {
            let exchange = driver::Exchange {
                worker,
                rbuf,
                shared,
                req,
                dialect,
                caller,
                id: &request_id,
                keep_alive,
            };
            driver::forward(&exchange, client).await
        }
        Target::Unauthorized(dialect, err) => {
            if let Some(dialect) = dialect {
                driver::record_rejection(worker, *dialect, req.started, err.status);
            }
            let dialect = dialect.unwrap_or(Dialect::OpenAiChat);
            respond::error(client, dialect, err, keep_alive, id).await && keep_alive
        }
        &Target::WrongMethod(allowed) => {
            let err = GatewayError::new(405, format!("method not allowed; use {allowed}"));
            let mut body = Vec::new();
            err.push_body(Dialect::OpenAiChat, &mut body);
            respond::full(
                client,
                405,
                b"application/json",
                &body,
                keep_alive,
                id,
                &[(b"allow", allowed.as_bytes())],
            )
            .await
                && keep_alive
        }
        Target::NotFound => {
            let err = GatewayError::new(
                404,
                "unknown path; the gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /health, /ready, /metrics",
            );
            respond::plain_error(client, &err, keep_alive, id).await && keep_alive
        }
    }
}

/// Inbound auth: `Authorization: Bearer <key>` or `x-api-key: <key>`
/// (Anthropic SDKs). Returns who is calling.
fn authenticate(worker: &Worker, rbuf: &[u8], head: &RequestHead) -> Result<Caller, GatewayError> {
    let gw = &worker.gw;
    if gw.auth_keys.is_empty() {
        return Ok(Caller::default());
    }
    let presented = head
        .header(rbuf, b"authorization")
        .and_then(|v| {
            (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer "))
                .then(|| crate::http::trim_ows(&v[7..]))
        })
        .or_else(|| head.header(rbuf, b"x-api-key"));
    match presented.map(|k| gw.caller_of(k)) {
        Some(Some(caller)) => Ok(caller),
        Some(None) => Err(GatewayError::new(401, "invalid gateway API key")),
        None => Err(GatewayError::new(
            401,
            "missing gateway API key; send Authorization: Bearer <key>",
        )),
    }
}
