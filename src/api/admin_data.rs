//! The admin API over the store: `/admin/keys`, `/admin/teams`,
//! `/admin/customers` (create, list, read, update, delete) and
//! `/admin/logs`, `/admin/usage`. The worker parses the call and hands it
//! to the store thread (`runtime::store`), then waits for the answer
//! without blocking its core.

use std::time::Duration;

use super::respond::{self, Client, RequestId};
use super::target::Request;
use crate::governance::admin::Answer;
use crate::http::request::Method;
use crate::store::report::{log_filter, usage_query};
use crate::store::EntityKind;
use crate::worker::admin_calls::AdminCall;
use crate::worker::Worker;

/// Longest a call waits for the store thread.
const ANSWER_WAIT: Duration = Duration::from_secs(15);

/// Whether `path` is one of these endpoints.
pub(crate) fn is_admin_data(path: &[u8]) -> bool {
    [
        "/admin/keys",
        "/admin/teams",
        "/admin/customers",
        "/admin/logs",
        "/admin/usage",
    ]
    .iter()
    .any(|p| {
        path.strip_prefix(p.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
    })
}

pub(crate) async fn serve(
    worker: &Worker,
    rbuf: &[u8],
    req: &Request,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let answer = match call_of(rbuf, req) {
        Ok(call) => wait(worker, call).await,
        Err(answer) => answer,
    };
    let body = answer.body.to_string();
    respond::full(
        client,
        answer.status,
        b"application/json",
        body.as_bytes(),
        keep_alive,
        id,
        &[],
    )
    .await
        && keep_alive
}

async fn wait(worker: &Worker, call: AdminCall) -> Answer {
    let calls = &worker.gw.admin_calls;
    let ticket = calls.submit(call);
    match super::admin::wait_for_control(worker, ANSWER_WAIT, || calls.answer(ticket)).await {
        Some(answer) => answer,
        None => {
            calls.abandon(ticket);
            Answer::error(503, "store_unavailable", "the store did not answer in time")
        }
    }
}

/// The call a request makes, or the answer that refuses it.
fn call_of(rbuf: &[u8], req: &Request) -> Result<AdminCall, Answer> {
    let path = req.head.path(rbuf);
    let query = req.head.query(rbuf);
    let verb = &rbuf[req.head.method_text.clone()];
    let get = matches!(req.head.method, Method::Get | Method::Head);
    let text = std::str::from_utf8(path).unwrap_or_default();
    let mut parts = text.trim_end_matches('/').split('/').skip(2);
    let resource = parts.next().unwrap_or_default();
    let id = parts.next();
    if parts.next().is_some() {
        return Err(Answer::error(404, "not_found", "unknown admin path"));
    }
    let wrong = |allowed: &str| Answer::error(405, "method_not_allowed", format!("use {allowed}"));
    match resource {
        "logs" | "usage" => {
            if id.is_some() {
                return Err(Answer::error(404, "not_found", "unknown admin path"));
            }
            if !get {
                return Err(wrong("GET"));
            }
            let bad = |m: String| Answer::error(400, "invalid_request", m);
            return match resource {
                "logs" => log_filter(query).map(AdminCall::Logs).map_err(bad),
                _ => usage_query(query).map(AdminCall::Usage).map_err(bad),
            };
        }
        _ => {}
    }
    let kind = match resource {
        "keys" => EntityKind::Key,
        "teams" => EntityKind::Team,
        "customers" => EntityKind::Customer,
        _ => return Err(Answer::error(404, "not_found", "unknown admin path")),
    };
    let body = || -> Result<serde_json::Value, Answer> {
        serde_json::from_slice(&rbuf[req.body.clone()]).map_err(|e| {
            Answer::error(
                400,
                "invalid_request",
                format!("the body is not valid JSON: {e}"),
            )
        })
    };
    let id = match id.map(|raw| crate::http::percent::decode(raw.as_bytes())) {
        None => None,
        Some(Some(id)) => Some(id),
        Some(None) => {
            return Err(Answer::error(
                400,
                "invalid_request",
                "bad percent-encoding in the id",
            ))
        }
    };
    match (verb, id) {
        (_, None) if get => Ok(AdminCall::List(kind)),
        (b"POST", None) => Ok(AdminCall::Create(kind, body()?)),
        (_, None) => Err(wrong("GET or POST")),
        (_, Some(id)) if get => Ok(AdminCall::Get(kind, id)),
        (b"PATCH", Some(id)) => Ok(AdminCall::Update(kind, id, body()?)),
        (b"DELETE", Some(id)) => Ok(AdminCall::Delete(kind, id)),
        (_, Some(_)) => Err(wrong("GET, PATCH or DELETE")),
    }
}
