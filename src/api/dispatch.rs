//! Serving one request by its target: the operator endpoints here, the API
//! through the driver.

use std::rc::Rc;

use super::error::GatewayError;
use super::exchange::Exchange;
use super::respond::{self, Client, RequestId};
use super::target::{deadline_of, Request, Target};
use super::{admin, cors, driver};
use crate::http::request::{Method, RequestHead};
use crate::schema::dialect::Dialect;
use crate::worker::snapshot::Snapshot;
use crate::worker::Worker;

/// Set what the client's answers depend on, from a request head just read.
pub(crate) fn begin_request(
    config: &Snapshot,
    rbuf: &[u8],
    head: &RequestHead,
    client: &mut Client,
) {
    client.head_only = head.method == Method::Head;
    client.http10 = head.http10;
    client.cors.clear();
    cors::push_headers(
        &config.settings.cors,
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
        Target::Ready => admin::ready(worker, req, client, keep_alive, id).await && keep_alive,
        Target::Metrics => admin::metrics(worker, req, client, keep_alive, id).await && keep_alive,
        Target::AdminHealth => admin::health(req, client, keep_alive, id).await && keep_alive,
        Target::Models => admin::models(worker, client, keep_alive, id).await && keep_alive,
        &Target::Model(at) => {
            let path = req.head.path(rbuf);
            admin::model(
                worker,
                &req.config.routes,
                client,
                &path[at..],
                keep_alive,
                id,
            )
            .await
                && keep_alive
        }
        Target::Preflight => cors::preflight(rbuf, req, client, keep_alive, id).await,
        Target::Reload => admin::reload(worker, client, keep_alive, id).await && keep_alive,
        Target::AdminData => {
            super::admin_data::serve(worker, rbuf, req, client, keep_alive, id).await
        }
        &Target::Api(dialect, caller) => {
            let deadline = match deadline_of(rbuf, req) {
                Ok(deadline) => deadline,
                Err(e) => {
                    super::request_log::refused(worker, dialect, req.started, id, &e);
                    return respond::error(client, dialect, &e, keep_alive, id).await && keep_alive;
                }
            };
            let exchange = Exchange {
                worker,
                rbuf,
                shared,
                req,
                dialect,
                caller,
                id: &request_id,
                keep_alive,
                deadline,
                hub: std::cell::OnceCell::new(),
                trace: super::exchange::Trace::of(worker, rbuf, req),
            };
            driver::forward(&exchange, client).await
        }
        &Target::Raw(prefix, caller) => {
            let exchange = Exchange {
                worker,
                rbuf,
                shared,
                req,
                // Only its error shape matters here.
                dialect: super::target::RAW_PREFIXES[prefix].3,
                caller,
                id: &request_id,
                keep_alive,
                deadline: None,
                hub: std::cell::OnceCell::new(),
                trace: super::exchange::Trace::of(worker, rbuf, req),
            };
            super::raw::forward(&exchange, client, prefix).await
        }
        Target::Unauthorized(dialect, err) => {
            if let Some(dialect) = dialect {
                super::request_log::refused(worker, *dialect, req.started, id, err);
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
                "unknown path; the gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /health, /ready, /metrics, /admin/health, /admin/reload, /admin/keys, /admin/teams, /admin/customers, /admin/logs, /admin/usage",
            );
            respond::plain_error(client, &err, keep_alive, id).await && keep_alive
        }
    }
}
