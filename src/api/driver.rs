//! The request driver: one API request as a list of phases.
//!
//! ```text
//! peek (model, stream) -> [authenticated from the head: Caller]
//!   -> resolve: ordered candidates (provider, model)
//!   -> for each candidate: convert -> build -> send -> read head
//!        -> relay (pass-through) | translate (whole or stream) | mock
//!   -> render the error, if any, in the client's dialect -> record
//! ```
//!
//! Phases return values or a [`GatewayError`]; none writes an error to the
//! client. While nothing has reached the client, a transient failure moves on
//! to the next candidate ([`may_retry`]); the first byte written commits the
//! request to its candidate.

use std::borrow::Cow;

use super::convert::{converter, Converter};
use super::error::{may_retry, ErrorKind, GatewayError};
use super::exchange::{record, record_rejection, Asked, Exchange, Record};
use super::respond::{self, Client};
use crate::router::{Provider, Route};
use crate::schema::peek::{peek, unescape};

/// Serve one API request; returns whether the connection may be kept.
pub(super) async fn forward(x: &Exchange<'_>, client: &mut Client) -> bool {
    let asked = match peek_model(x.body()) {
        Ok(asked) => asked,
        Err(e) => {
            record_rejection(x.worker, x.dialect, x.req.started, e.status);
            return respond::error(client, x.dialect, &e, x.keep_alive, Some(x.id)).await
                && x.keep_alive;
        }
    };
    let mut rec = Record::default();
    let result = drive(x, client, &asked, &mut rec).await;
    let keep = match result {
        Ok(keep) => keep,
        Err(mut e) => {
            rec.status = e.status;
            if !rec.provider.is_empty() {
                let mut attempts = Vec::with_capacity(64 + rec.tried.len());
                rec.push_attempts(&mut attempts, e.status);
                e.attempts = Some(attempts);
            }
            if e.side == super::error::Side::Upstream || e.kind == ErrorKind::ShuttingDown {
                tracing::warn!(provider = rec.provider, caller_key = ?x.caller.key, request_id = %x.id.lossy(), error = %e.message, "upstream request failed");
            }
            respond::error(client, x.dialect, &e, x.keep_alive, Some(x.id)).await
        }
    };
    record(x.worker, x.dialect, x.req.started, &rec);
    keep && x.keep_alive
}

/// Resolve, then try candidates in order until one answers or a failure is final.
async fn drive<'a>(
    x: &'a Exchange<'a>,
    client: &mut Client,
    asked: &'a Asked<'a>,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    let routes = &x.req.config.routes;
    let candidates = routes
        .candidates(&asked.model, &asked.fallbacks)
        .map_err(|e| {
            let err = GatewayError::new(e.status(), e.to_string());
            if e.status() == 404 {
                GatewayError {
                    kind: ErrorKind::ModelNotFound,
                    ..err
                }
            } else {
                err
            }
        })?;
    let mut left = candidates.len();
    for route in candidates.iter() {
        left -= 1;
        let provider = routes.provider(route.provider);
        rec.provider = provider.name();
        rec.model = route.model;
        match attempt(x, client, asked, provider, route, rec).await {
            Err(e) if next_candidate(&e, left) => {
                tracing::info!(provider = provider.name(), request_id = %x.id.lossy(), status = e.status, "attempt failed; trying the next candidate");
                rec.attempt_failed(e.status);
            }
            other => return other,
        }
    }
    unreachable!("a route resolves to at least one candidate")
}

/// One candidate: convert, build, send, and answer through the converter.
async fn attempt<'a>(
    x: &'a Exchange<'a>,
    client: &mut Client,
    asked: &'a Asked<'a>,
    provider: &'a Provider,
    route: &Route<'a>,
    rec: &mut Record<'a>,
) -> Result<bool, GatewayError> {
    match converter(x.dialect, provider) {
        Converter::Mock => super::mock::answer(x, client, route.model, rec).await,
        Converter::PassThrough => {
            super::passthrough::attempt(x, client, provider, asked, route.model, rec).await
        }
        Converter::Translate(family) => {
            super::translate::attempt(x, client, provider, family, route.asked, route.model, rec)
                .await
        }
        Converter::Unsupported => Err(GatewayError::new(
            400,
            format!(
                "provider `{}` ({}) does not serve {}",
                provider.name(),
                provider.kind().name(),
                x.dialect.path()
            ),
        )),
    }
}

/// Phase 1: the body is a JSON object with one string `model`.
fn peek_model(body: &[u8]) -> Result<Asked<'_>, GatewayError> {
    let peeked = peek(body).map_err(|e| GatewayError::new(400, e.to_string()))?;
    let Some(range) = peeked.model.clone() else {
        return Err(GatewayError::new(
            400,
            "missing required field `model` (a string such as \"openai/gpt-4o-mini\")",
        ));
    };
    let model = if peeked.model_escaped {
        unescape(&body[range.clone()]).map(Cow::Owned)
    } else {
        std::str::from_utf8(&body[range.clone()])
            .ok()
            .map(Cow::Borrowed)
    };
    let Some(model) = model else {
        return Err(GatewayError::new(400, "`model` is not a valid JSON string"));
    };
    let (fallbacks, cut) = match peeked.fallbacks {
        None => (Vec::new(), None),
        Some(member) => match serde_json::from_slice::<Vec<String>>(&body[member.value]) {
            Ok(list) => (list, Some(member.cut)),
            Err(_) => {
                return Err(GatewayError::new(
                    400,
                    "`fallbacks` must be an array of \"provider/model\" strings",
                ))
            }
        },
    };
    Ok(Asked {
        model,
        range,
        fallbacks,
        cut,
    })
}

/// The driver's decision after a failed attempt: try the next candidate?
fn next_candidate(err: &GatewayError, left: usize) -> bool {
    left > 0 && may_retry(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::{Committed, UpstreamAnswer};
    use crate::upstream::UpstreamError;

    #[test]
    fn peek_phase_returns_the_model_or_a_400() {
        let asked = peek_model(br#"{"model":"mock/echo","messages":[]}"#).unwrap();
        assert_eq!(asked.model, "mock/echo");
        let escaped = peek_model(br#"{"model":"mock\/echo"}"#).unwrap();
        assert_eq!(escaped.model, "mock/echo");
        assert!(matches!(escaped.model, Cow::Owned(_)));
        for bad in [
            &br#"{"messages":[]}"#[..],
            b"[1]",
            b"{\"model\":1}",
            b"not json",
        ] {
            let e = peek_model(bad).err().unwrap();
            assert_eq!((e.status, e.side), (400, super::super::error::Side::Client));
        }
    }

    #[test]
    fn next_candidate_only_before_the_first_byte_and_while_candidates_remain() {
        let reset = GatewayError::upstream("a", &UpstreamError::ClosedBeforeResponse);
        assert!(next_candidate(&reset, 1));
        assert!(!next_candidate(&reset, 0));
        let streaming = reset
            .clone()
            .after(Committed::EventStream { chunked: true });
        assert!(!next_candidate(&streaming, 1));
        let limited = GatewayError::upstream_status("a", 429, UpstreamAnswer::default(), None);
        assert!(next_candidate(&limited, 2));
        let refused = GatewayError::upstream_status("a", 400, UpstreamAnswer::default(), None);
        assert!(!next_candidate(&refused, 2));
    }
}
