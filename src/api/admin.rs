//! Operator endpoints: readiness, Prometheus metrics, the model list.

use super::error::{ErrorKind, GatewayError};
use super::respond::{self, Client, RequestId};
use super::target::Request;
use crate::router::health::now_ms;
use crate::router::Routes;
use crate::worker::Worker;
use serde_json::json;

/// `GET /ready`: 200 once the gateway serves and every `[routes]` name
/// has a target or fallback that can take a request now; else 503 with why.
pub async fn ready(
    worker: &Worker,
    req: &Request,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let unusable = req.config.routes.unusable_routes(now_ms());
    let (status, body) = if !worker.gw.is_ready() {
        (503, json!({"status": "not ready"}))
    } else if !unusable.is_empty() {
        let why =
            "every target and fallback of these routes is resting (breakers open or rate limited)";
        (
            503,
            json!({"status": "not ready", "unusable_routes": unusable, "reason": why}),
        )
    } else {
        (200, json!({"status": "ready"}))
    };
    json_answer(client, status, body.to_string().as_bytes(), keep_alive, id).await
}

/// A JSON answer from an operator endpoint.
async fn json_answer(
    client: &mut Client,
    status: u16,
    body: &[u8],
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    respond::full(
        client,
        status,
        b"application/json",
        body,
        keep_alive,
        id,
        &[],
    )
    .await
}

/// `GET /admin/health`: the router's view of every provider and key.
pub async fn health(
    req: &Request,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let mut doc = req.config.routes.health_json(now_ms());
    doc["generation"] = json!(req.config.generation);
    json_answer(client, 200, doc.to_string().as_bytes(), keep_alive, id).await
}

pub async fn metrics(
    worker: &Worker,
    req: &Request,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    // This core's numbers are published now; the others' are at most one
    // publish interval old.
    worker.metrics.publish();
    let mut body = Vec::with_capacity(16 * 1024);
    worker.gw.registry.render_prometheus(&mut body);
    req.config.routes.push_health_gauges(now_ms(), &mut body);
    worker.gw.costs.render(worker.gw.log.dropped(), &mut body);
    respond::full(
        client,
        200,
        b"text/plain; version=0.0.4; charset=utf-8",
        &body,
        keep_alive,
        id,
        &[],
    )
    .await
}

pub async fn models(
    worker: &Worker,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let list = worker.gw.models.load();
    json_answer(client, 200, &list.doc, keep_alive, id).await
}

/// `GET /v1/models/{id}` (the SDKs' `models.retrieve`; ids hold `/`, raw or
/// as `%2F`). A listed id answers its object; an id the router can send
/// somewhere whose provider's catalogue is not known whole (Azure
/// deployments, a list that failed to load) answers a minimal object; any
/// other id is a 404 `model_not_found`.
pub async fn model(
    worker: &Worker,
    routes: &Routes,
    client: &mut Client,
    raw_id: &[u8],
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let Some(model) = crate::http::percent::decode(raw_id) else {
        let err = GatewayError::new(400, "model id is not valid percent-encoded UTF-8");
        return respond::plain_error(client, &err, keep_alive, id).await;
    };
    let list = worker.gw.models.load();
    if let Some(object) = list.object(&model) {
        return json_answer(client, 200, object, keep_alive, id).await;
    }
    let owner = match routes.resolve(&model) {
        Ok(route) => {
            let provider = routes.provider(route.provider).name();
            (!list.is_complete(provider)).then_some(provider)
        }
        Err(_) => None,
    };
    let Some(owner) = owner else {
        let err = GatewayError::of(
            ErrorKind::ModelNotFound,
            404,
            format!("the model `{model}` does not exist; GET /v1/models lists the models served"),
        );
        return respond::plain_error(client, &err, keep_alive, id).await;
    };
    let mut object = Vec::with_capacity(96 + model.len());
    object.extend_from_slice(b"{\"id\":");
    crate::schema::peek::push_json_string(&mut object, &model);
    object.extend_from_slice(b",\"object\":\"model\",\"created\":0,\"owned_by\":");
    crate::schema::peek::push_json_string(&mut object, owner);
    object.push(b'}');
    json_answer(client, 200, &object, keep_alive, id).await
}

/// Poll `answer` until the control plane has given one, without blocking
/// the core; `None` when `limit` passed or the gateway is shutting down.
pub(super) async fn wait_for_control<T>(
    worker: &Worker,
    limit: std::time::Duration,
    mut answer: impl FnMut() -> Option<T>,
) -> Option<T> {
    let started = std::time::Instant::now();
    loop {
        if let Some(answer) = answer() {
            return Some(answer);
        }
        if started.elapsed() > limit || worker.gw.shutting_down() {
            return None;
        }
        monoio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Longest a `POST /admin/reload` waits for the control thread.
const RELOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `POST /admin/reload`: ask the control thread to reload and answer with
/// the outcome: 200 with the new generation, or 400 with why the file was
/// refused (the running configuration keeps serving).
pub async fn reload(
    worker: &Worker,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    let reloads = &worker.gw.reloads;
    let ticket = reloads.request();
    let Some(outcome) = wait_for_control(worker, RELOAD_WAIT, || reloads.outcome(ticket)).await
    else {
        let err = GatewayError::new(503, "the reload did not finish in time; see the log");
        return respond::plain_error(client, &err, keep_alive, id).await;
    };
    match outcome {
        Ok(generation) => {
            let body = format!("{{\"status\":\"reloaded\",\"generation\":{generation}}}");
            json_answer(client, 200, body.as_bytes(), keep_alive, id).await
        }
        Err(why) => {
            let err = GatewayError::new(
                400,
                format!("configuration refused, nothing changed: {why}"),
            )
            .with_code("invalid_config");
            respond::plain_error(client, &err, keep_alive, id).await
        }
    }
}
