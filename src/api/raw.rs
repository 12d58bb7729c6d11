//! Raw pass-through: `/openai/*`, `/anthropic/*`, `/genai/*` and `/cohere/*`
//! go to that provider as they are (any method, body and query), with the
//! provider's credential in place of the gateway key, for the APIs the
//! gateway does not model (files, batches, fine-tuning, audio, images,
//! moderations). Gateway auth, the provider's concurrency limit, key
//! balancing and health apply; the answer, errors included, is relayed as
//! it comes (credentials masked) and counted under the `raw` endpoint.

use super::admit;
use super::error::{GatewayError, UpstreamAnswer};
use super::exchange::{no_credentials, send, Exchange, Record};
use super::respond::Client;
use super::target::RAW_PREFIXES as PREFIXES;
use crate::http::response::push_header_u64;
use crate::router::health::now_ms;
use crate::router::{lease, Choice, Provider, Routes};
use crate::telemetry::RequestRecord;
use crate::upstream::BodyReader;

/// The provider of a raw prefix: the one named like it, else the first of its kind.
fn provider_of(routes: &Routes, prefix: usize) -> Option<&Provider> {
    let (_, name, kind, _) = PREFIXES[prefix];
    let providers = &routes.providers;
    providers
        .iter()
        .find(|p| p.name() == name)
        .or_else(|| providers.iter().find(|p| p.kind() == kind))
}

/// The path below the provider's origin: its base path without a trailing
/// API version (`/v1`, `/v1beta`), since the client's path carries one.
fn base_without_version(base: &str) -> &str {
    match base.rfind('/') {
        Some(at) if is_version(&base[at + 1..]) => &base[..at],
        _ => base,
    }
}

fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&rest[digits..], "" | "beta" | "alpha")
}

/// Serve one raw request; returns whether the connection may be kept.
pub(super) async fn forward(x: &Exchange<'_>, client: &mut Client, prefix: usize) -> bool {
    let mut rec = Record::default();
    let result = attempt(x, client, prefix, &mut rec).await;
    let keep = match result {
        Ok(keep) => keep,
        Err(e) => {
            rec.status = e.status;
            super::respond::error(client, x.dialect, &e, x.keep_alive, Some(x.id)).await
        }
    };
    x.worker.metrics.record(&RequestRecord {
        provider: rec.provider,
        model: "",
        endpoint: "raw",
        status: rec.status,
        total: x.req.started.elapsed(),
        upstream_wait: rec.upstream_wait,
        upstream_ttfb: rec.ttfb,
        prompt_tokens: 0,
        completion_tokens: 0,
    });
    keep && x.keep_alive
}

async fn attempt<'a>(
    x: &'a Exchange<'a>,
    client: &mut Client,
    prefix: usize,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let routes = &x.req.config.routes;
    let Some(provider) = provider_of(routes, prefix) else {
        let (path, name, kind, _) = PREFIXES[prefix];
        return Err(GatewayError::new(
            404,
            format!(
                "no provider for {}*: configure one named `{name}` or of kind `{}`",
                String::from_utf8_lossy(path),
                kind.name()
            ),
        ));
    };
    rec.provider = provider.name();
    let slot = admit::queue(x, client, provider).await?;
    let choice = Choice {
        model: "",
        sticky: admit::sticky_value(x),
        breaker: &provider.breaker,
        now: now_ms(),
    };
    let lease = lease(
        &provider.health,
        &provider.key_policy,
        &x.worker.routing,
        &choice,
        slot,
    )
    .map_err(|no| admit::no_key(provider, "", no))?;
    rec.key = lease.index;
    let result = relay(x, client, provider, prefix, rec).await;
    // An error status is relayed as it is, but still teaches the key's health.
    let taught = match &result {
        Ok(_) if rec.status >= 400 => Err(GatewayError::upstream_status(
            provider.name(),
            rec.status,
            UpstreamAnswer::default(),
            None,
        )),
        Ok(keep) => Ok(*keep),
        Err(e) => Err(e.clone()),
    };
    lease.finish(
        admit::report(&taught, rec.ttfb),
        &provider.breaker,
        now_ms(),
    );
    result
}

async fn relay<'a>(
    x: &Exchange<'a>,
    client: &mut Client,
    provider: &'a Provider,
    prefix: usize,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let (rbuf, req) = (x.rbuf, x.req);
    let mut up = x.worker.take_buf();
    up.extend_from_slice(&rbuf[req.head.method_text.clone()]);
    up.push(b' ');
    up.extend_from_slice(base_without_version(&provider.settings.base_url.path).as_bytes());
    let path = req.head.path(rbuf);
    // The prefix's trailing slash starts the provider's own path.
    up.extend_from_slice(&path[PREFIXES[prefix].0.len() - 1..]);
    let query = req.head.query(rbuf);
    if !query.is_empty() {
        up.push(b'?');
        up.extend_from_slice(query);
    }
    up.extend_from_slice(b" HTTP/1.1\r\n");
    if let Err(missing) = super::passthrough::push_forwarded_headers(&mut up, x, provider, rec.key)
    {
        x.worker.give_buf(up);
        return Err(no_credentials(provider, missing));
    }
    let body = x.body();
    if !body.is_empty() || req.head.method == crate::http::request::Method::Post {
        push_header_u64(&mut up, b"content-length", body.len() as u64);
    }
    up.extend_from_slice(b"\r\n");
    // Sent as it came: no model to splice.
    let request = super::passthrough::with_body(up, x, None, "");
    let resp = send(x, client, provider, request, rec).await?;
    rec.status = resp.head.status;
    let reader = BodyReader::new(resp, provider.settings.timeouts.stream_idle);
    super::passthrough::relay(x, client, provider, reader, rec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_path_replaces_the_base_paths_version() {
        assert_eq!(base_without_version("/v1"), "");
        assert_eq!(base_without_version("/v1beta"), "");
        assert_eq!(base_without_version("/proxy/openai/v1"), "/proxy/openai");
        assert_eq!(base_without_version(""), "");
        assert_eq!(base_without_version("/openai"), "/openai");
        assert_eq!(base_without_version("/v"), "/v");
        assert_eq!(base_without_version("/version"), "/version");
    }
}
