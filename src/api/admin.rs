//! Operator endpoints: readiness, Prometheus metrics, the model list.

use super::connection::Client;
use super::context::Worker;
use super::respond::{self, RequestId};

pub async fn ready(
    worker: &Worker,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    if worker.gw.is_ready() {
        respond::full(
            client,
            200,
            b"application/json",
            b"{\"status\":\"ready\"}",
            keep_alive,
            id,
            &[],
        )
        .await
    } else {
        respond::full(
            client,
            503,
            b"application/json",
            b"{\"status\":\"not ready\"}",
            keep_alive,
            id,
            &[],
        )
        .await
    }
}

pub async fn metrics(
    worker: &Worker,
    client: &mut Client,
    keep_alive: bool,
    id: Option<&RequestId>,
) -> bool {
    // This core's numbers are published now; the others' are at most one
    // publish interval old.
    worker.metrics.publish();
    let mut body = Vec::with_capacity(16 * 1024);
    worker.gw.registry.render_prometheus(&mut body);
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
    let doc = worker.gw.models.load_full();
    respond::full(client, 200, b"application/json", &doc, keep_alive, id, &[]).await
}
