//! Inbound API: the client connection loop, the OpenAI dialect's endpoints,
//! inbound auth, health/readiness/metrics, and turning errors into responses.

mod admin;
mod body;
pub mod capacity;
pub mod connection;
pub mod context;
pub mod drain;
pub mod error;
mod proxy;
pub mod respond;
mod translate;

use std::rc::Rc;

pub use connection::serve_connection;
pub use context::{Gateway, Worker};

use connection::{Client, Request};
use error::ApiError;
use respond::RequestId;

use crate::http::request::{Method, RequestHead};

/// What the client asked for; the OpenAI dialect's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    /// Path below the provider's base URL.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
        }
    }

    /// Metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// What a request asks for, decided from its head alone.
pub(crate) enum Target {
    Health,
    Ready,
    Metrics,
    Models,
    Api(Endpoint),
    WrongMethod(&'static str),
    NotFound,
    /// A target that needs the inbound key, without a valid one (the API
    /// endpoint, for metrics, or `None` for the model list).
    Unauthorized(Option<Endpoint>, ApiError),
}

/// The target of a request head, with inbound auth checked: the connection
/// loop refuses an unauthorized request before reading its body.
pub(crate) fn target_of(worker: &Worker, rbuf: &[u8], head: &RequestHead) -> Target {
    let target = target(head.method, head.path(rbuf));
    let endpoint = match target {
        Target::Api(endpoint) => Some(endpoint),
        Target::Models => None,
        other => return other,
    };
    match authorize(worker, rbuf, head) {
        Ok(()) => target,
        Err(e) => Target::Unauthorized(endpoint, e),
    }
}

fn target(method: Method, path: &[u8]) -> Target {
    let get = matches!(method, Method::Get | Method::Head);
    let post = method == Method::Post;
    match path {
        b"/health" | b"/healthz" if get => Target::Health,
        b"/ready" | b"/readyz" if get => Target::Ready,
        b"/metrics" if get => Target::Metrics,
        b"/v1/models" if get => Target::Models,
        b"/v1/chat/completions" | b"/chat/completions" if post => {
            Target::Api(Endpoint::ChatCompletions)
        }
        b"/v1/completions" | b"/completions" if post => Target::Api(Endpoint::Completions),
        b"/v1/embeddings" | b"/embeddings" if post => Target::Api(Endpoint::Embeddings),
        b"/health" | b"/healthz" | b"/ready" | b"/readyz" | b"/metrics" | b"/v1/models" => {
            Target::WrongMethod("GET")
        }
        b"/v1/chat/completions"
        | b"/chat/completions"
        | b"/v1/completions"
        | b"/completions"
        | b"/v1/embeddings"
        | b"/embeddings" => Target::WrongMethod("POST"),
        _ => Target::NotFound,
    }
}

/// Handle one request; returns whether the connection may be kept.
pub(crate) async fn dispatch(
    worker: &Rc<Worker>,
    rbuf: &[u8],
    client: &mut Client,
    req: &Request,
) -> bool {
    let keep_alive = req.head.keep_alive && !worker.gw.shutting_down();
    let request_id = RequestId::from_client_or_new(worker, req.head.header(rbuf, b"x-request-id"));
    let id = Some(&request_id);
    client.head_only = req.head.method == Method::Head;
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
        Target::Api(endpoint) => {
            proxy::forward(
                worker,
                rbuf,
                client,
                req,
                *endpoint,
                &request_id,
                keep_alive,
            )
            .await
        }
        Target::Unauthorized(endpoint, err) => {
            if let Some(endpoint) = endpoint {
                proxy::record_rejection(worker, *endpoint, req.started, err.status);
            }
            respond::error(client, err, keep_alive, id).await && keep_alive
        }
        &Target::WrongMethod(allowed) => {
            let err = ApiError::new(405, format!("method not allowed; use {allowed}"));
            respond::full(
                client,
                405,
                b"application/json",
                &body_of(&err),
                keep_alive,
                id,
                &[(b"allow", allowed.as_bytes())],
            )
            .await
                && keep_alive
        }
        Target::NotFound => {
            let err = ApiError::new(
                404,
                "unknown path; the gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /health, /ready, /metrics",
            );
            respond::error(client, &err, keep_alive, id).await && keep_alive
        }
    }
}

fn body_of(err: &ApiError) -> Vec<u8> {
    let mut b = Vec::new();
    err.push_body(&mut b);
    b
}

/// Inbound auth: `Authorization: Bearer <key>` or `x-api-key: <key>` (Anthropic SDKs).
fn authorize(worker: &Worker, rbuf: &[u8], head: &RequestHead) -> Result<(), ApiError> {
    let gw = &worker.gw;
    if gw.auth_keys.is_empty() {
        return Ok(());
    }
    let presented = head
        .header(rbuf, b"authorization")
        .and_then(|v| {
            (v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer "))
                .then(|| crate::http::trim_ows(&v[7..]))
        })
        .or_else(|| head.header(rbuf, b"x-api-key"));
    match presented {
        Some(k) if gw.key_is_valid(k) => Ok(()),
        Some(_) => Err(ApiError::new(401, "invalid gateway API key")),
        None => Err(ApiError::new(
            401,
            "missing gateway API key; send Authorization: Bearer <key>",
        )),
    }
}
