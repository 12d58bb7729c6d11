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
use std::time::{Duration, Instant};

use super::admit;
use super::convert::{converter, Converter, HubLeg};
use super::error::{may_retry, ErrorKind, GatewayError};
use super::exchange::{client_hung_up, record, Asked, Exchange, Record};
use super::respond::{self, Client};
use super::{govern, hub, request_log};
use crate::config::RetrySettings;
use crate::http::response::push_header;
use crate::router::health::now_ms;
use crate::router::{another_usable, lease, Choice, Provider, Route};
use crate::schema::dialect::Dialect;
use crate::schema::peek::{peek_members, unescape, Peek};

/// Serve one API request; returns whether the connection may be kept.
pub(super) async fn forward(x: &Exchange<'_>, client: &mut Client) -> bool {
    let asked = match x.dialect {
        Dialect::GeminiGenerate | Dialect::GeminiStream { .. } => model_in_path(x),
        _ => peek_model(x.body(), required_members(x.dialect)),
    };
    let asked = match asked {
        Ok(asked) => asked,
        Err(e) => {
            request_log::refused(x.worker, x.dialect, x.req.started, Some(x.id), &e);
            return respond::error(client, x.dialect, &e, x.keep_alive, Some(x.id)).await
                && x.keep_alive;
        }
    };
    let mut rec = Record {
        wants_cost: govern::wants_cost(x),
        ..Record::default()
    };
    if let Some(cap) = x.req.config.settings.store.log_bodies {
        *client.capture.borrow_mut() = Some(respond::Capture {
            bytes: Vec::new(),
            cap,
        });
    }
    let result = match govern::admit(x, &mut rec) {
        Ok(()) => drive(x, client, &asked, &mut rec).await,
        Err(e) => Err(e),
    };
    let (keep, error) = match result {
        Ok(keep) => (keep, None),
        Err(mut e) => {
            rec.status = e.status;
            if e.kind == ErrorKind::ModelNotAllowed {
                govern::refund(x);
            }
            if !rec.provider.is_empty() {
                let lines = e.header_lines.get_or_insert_with(Default::default);
                lines.extend_from_slice(b"x-ringbridge-attempts: ");
                rec.push_attempts(lines, e.status);
                lines.extend_from_slice(b"\r\n");
            }
            if e.side == super::error::Side::Upstream || e.kind == ErrorKind::ShuttingDown {
                tracing::warn!(provider = rec.provider, caller_key = ?x.caller.key, request_id = %x.id.lossy(), error = %e.message, "upstream request failed");
            }
            let keep = respond::error(client, x.dialect, &e, x.keep_alive, Some(x.id)).await;
            (keep, Some(e))
        }
    };
    let cost = rec.cost();
    govern::charge(x, &rec, cost.0);
    record(x.worker, x.dialect, x.req.started, &rec);
    let response_body = client.capture.borrow_mut().take().map(|c| c.bytes);
    request_log::finished(x, &rec, error.as_ref(), cost, response_body);
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
        .candidates(&asked.model, &asked.fallbacks, &x.worker.routing)
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
    let allowed =
        |route: &Route<'_>| govern::allows(x, routes.provider(route.provider).name(), route.model);
    let mut left = candidates.iter().filter(|r| allowed(r)).count();
    if left == 0 {
        return Err(govern::not_allowed(x, &asked.model));
    }
    for route in candidates.iter().filter(|r| allowed(r)) {
        left -= 1;
        let provider = routes.provider(route.provider);
        rec.provider = provider.name();
        rec.model = route.model;
        rec.price = x
            .req
            .config
            .pricing
            .price(provider.name(), provider.kind(), route.model);
        if converter(x.dialect, provider) == Converter::Estimate {
            // Nothing goes upstream: no slot, no key, no health report.
            return estimate(x, client, rec).await;
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let admitted = govern::admit_model(x, provider.name(), route.model, rec);
            let attempt = match admitted {
                Ok(()) => on_a_key(x, client, asked, provider, route, rec).await,
                Err(e) => Err((e, false)),
            };
            let (e, other_key) = match attempt {
                Err(failed) => failed,
                ok => return ok.map_err(|(e, _)| e),
            };
            let random = x.worker.routing.random();
            let next = decide(
                &e,
                tries,
                route.retries,
                left,
                x.deadline,
                random,
                other_key,
            );
            if next == Next::Stop {
                return Err(e);
            }
            tracing::info!(provider = provider.name(), request_id = %x.id.lossy(), status = e.status, next = ?next, "attempt failed");
            rec.attempt_failed(e.status);
            match next {
                Next::Retry(wait) if !wait.is_zero() => {
                    if !backoff(x, client, wait).await {
                        return Err(e);
                    }
                }
                Next::Retry(_) => {}
                Next::Candidate | Next::Stop => break,
            }
        }
    }
    unreachable!("a route resolves to at least one candidate")
}

/// Admit, lease a key, attempt, and report the outcome to the key's
/// health. On failure, also says whether another key of the provider could
/// take a retry at once (after a 429).
async fn on_a_key<'a>(
    x: &'a Exchange<'a>,
    client: &mut Client,
    asked: &'a Asked<'a>,
    provider: &'a Provider,
    route: &Route<'a>,
    rec: &mut Record<'a>,
) -> Result<bool, (GatewayError, bool)> {
    let slot = admit::queue(x, client, provider)
        .await
        .map_err(|e| (e, false))?;
    let choice = Choice {
        model: route.model,
        sticky: admit::sticky_value(x),
        breaker: &provider.breaker,
        now: now_ms(),
    };
    let policy = &provider.key_policy;
    let lease = lease(&provider.health, policy, &x.worker.routing, &choice, slot)
        .map_err(|no| (admit::no_key(provider, route.model, no), false))?;
    rec.key = lease.index;
    let result = attempt(x, client, asked, provider, route, rec).await;
    let now = now_ms();
    lease.finish(admit::report(&result, rec.ttfb), &provider.breaker, now);
    result.map_err(|mut e| {
        let health = &provider.health;
        let other = e.status == 429
            && another_usable(health, policy, route.model, rec.key, &provider.breaker, now);
        if e.status == 429 && !other {
            // A retry on this provider must wait until its key rests no more.
            let resting = Duration::from_millis(health.keys[rec.key].cooling_for(now));
            e.retry_after = Some(e.retry_after.unwrap_or_default().max(resting));
        }
        (e, other)
    })
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
        Converter::Mock => {
            super::mock::answer(x, client, x.body(), route.model, route.asked, rec).await
        }
        Converter::PassThrough => {
            super::passthrough::attempt(x, client, provider, asked, route.model, rec).await
        }
        Converter::Translate(family) => {
            let body = x.body();
            super::translate::attempt(
                x,
                client,
                provider,
                family,
                body,
                route.asked,
                route.model,
                rec,
            )
            .await
        }
        Converter::Hub(leg) => {
            let chat = hub::body(x, &asked.model)?;
            let result = match leg {
                HubLeg::Mock => {
                    super::mock::answer(x, client, chat, route.model, route.asked, rec).await
                }
                HubLeg::Translate(family) => {
                    super::translate::attempt(
                        x,
                        client,
                        provider,
                        family,
                        chat,
                        route.asked,
                        route.model,
                        rec,
                    )
                    .await
                }
            };
            result.map_err(|e| hub::reshape(x.dialect, e))
        }
        Converter::Estimate => estimate(x, client, rec).await,
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

/// `count_tokens` where the provider does not count: the gateway's
/// estimate, marked `x-ringbridge-token-count: estimate`.
async fn estimate(
    x: &Exchange<'_>,
    client: &mut Client,
    rec: &mut Record<'_>,
) -> Result<bool, GatewayError> {
    let mut body = Vec::with_capacity(32);
    hub::estimate_tokens(x.body(), &mut body)?;
    rec.status = 200;
    let mut lines = Vec::with_capacity(160 + rec.tried.len());
    push_header(
        &mut lines,
        b"x-ringbridge-provider",
        rec.provider.as_bytes(),
    );
    rec.push_attempts_header(&mut lines, 200);
    push_header(&mut lines, b"x-ringbridge-token-count", b"estimate");
    Ok(respond::full_with_lines(
        client,
        200,
        b"application/json",
        &body,
        x.keep_alive,
        Some(x.id),
        &lines,
    )
    .await
        && x.keep_alive)
}

/// Phase 1: the body is a JSON object with one string `model` and every
/// member in `required`, found in one walk.
fn peek_model<'b>(body: &'b [u8], required: &[&str]) -> Result<Asked<'b>, GatewayError> {
    let peeked = peek_members(body, required).map_err(|e| GatewayError::new(400, e.to_string()))?;
    missing_member(&peeked, required)?;
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
        stream: peeked.stream,
    })
}

/// The members a dialect's request cannot do without, checked with the
/// peek so a request missing one is refused before any upstream sees it,
/// whether it would go as bytes or through the hub (whose converters check
/// the rest).
fn required_members(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::AnthropicMessages => &["messages", "max_tokens"],
        Dialect::AnthropicCountTokens => &["messages"],
        Dialect::GeminiGenerate | Dialect::GeminiStream { .. } => &["contents"],
        _ => &[],
    }
}

/// The first of `required` the peek did not find, as the client's 400.
fn missing_member(peeked: &Peek, required: &[&str]) -> Result<(), GatewayError> {
    match (0..required.len()).find(|n| peeked.present & (1 << n) == 0) {
        Some(n) => Err(GatewayError::new(
            400,
            format!("{}: Field required", required[n]),
        )),
        None => Ok(()),
    }
}

/// Gemini's model is in the path (`…/models/{model}:{method}`), and the
/// body, which has no `model`, goes to a Gemini upstream as it is.
fn model_in_path<'b>(x: &Exchange<'b>) -> Result<Asked<'b>, GatewayError> {
    // The body must still be one JSON object, whoever reads it next.
    let required = required_members(x.dialect);
    let peeked =
        peek_members(x.body(), required).map_err(|e| GatewayError::new(400, e.to_string()))?;
    missing_member(&peeked, required)?;
    let path = x.req.head.path(x.rbuf);
    match super::target::gemini_model_path(path) {
        Some((model, _)) => Ok(Asked {
            model,
            range: 0..0,
            fallbacks: Vec::new(),
            cut: None,
            stream: false,
        }),
        None => Err(GatewayError::new(400, "no model in the request path")),
    }
}

/// What the driver does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The same candidate again, after this backoff.
    Retry(Duration),
    /// The next candidate, at once.
    Candidate,
    /// Answer the client with this failure.
    Stop,
}

/// The retry rule, in one place. Only a transient failure before any byte
/// reached the client ([`may_retry`]) is tried again: the same candidate up
/// to its `attempts`, after a backoff (none after a 429 when `other_key`
/// of the provider can take it), then the next candidate (`left` more), as
/// long as the request's deadline leaves time for the wait. A candidate
/// refused before its upstream was touched (keys resting, queue full) is
/// not retried: the next one is tried at once.
fn decide(
    err: &GatewayError,
    tries: u32,
    retries: &RetrySettings,
    left: usize,
    deadline: Option<Instant>,
    random: u64,
    other_key: bool,
) -> Next {
    let next_candidate = match left > 0 && fits_deadline(deadline, Duration::ZERO) {
        true => Next::Candidate,
        false => Next::Stop,
    };
    if err.skips_candidate() {
        return next_candidate;
    }
    if !may_retry(err) {
        return Next::Stop;
    }
    if tries < retries.attempts {
        if other_key && err.status == 429 {
            return Next::Retry(Duration::ZERO);
        }
        let wait = retry_wait(retries, tries, err.retry_after, random);
        if let Some(wait) = wait.filter(|w| fits_deadline(deadline, *w)) {
            return Next::Retry(wait);
        }
    }
    next_candidate
}

/// How long to wait before try `tries + 1` of a candidate: exponential
/// backoff with full jitter (a uniform draw below `base * 2^(tries-1)`,
/// capped at `backoff_max`), or the upstream's `Retry-After` when it asks
/// for longer. `None` when it asks for more than `backoff_max`: waiting that
/// long for one target is worse than moving on.
fn retry_wait(
    retries: &RetrySettings,
    tries: u32,
    retry_after: Option<Duration>,
    random: u64,
) -> Option<Duration> {
    let ceiling = retries
        .backoff_base
        .saturating_mul(1 << (tries - 1).min(20))
        .min(retries.backoff_max);
    let jittered = match ceiling.as_micros() as u64 {
        0 => Duration::ZERO,
        micros => Duration::from_micros(random % (micros + 1)),
    };
    match retry_after {
        Some(asked) if asked > retries.backoff_max => None,
        Some(asked) => Some(asked.max(jittered)),
        None => Some(jittered),
    }
}

/// Whether waiting `wait` still leaves time before the request's deadline.
fn fits_deadline(deadline: Option<Instant>, wait: Duration) -> bool {
    deadline.is_none_or(|d| Instant::now() + wait < d)
}

/// Sleep before a retry; false when the client hung up or the gateway is
/// shutting down meanwhile.
async fn backoff(x: &Exchange<'_>, client: &Client, wait: Duration) -> bool {
    monoio::select! {
        _ = monoio::time::sleep(wait) => !x.worker.gw.shutting_down(),
        _ = x.worker.drain.cut_requested() => false,
        _ = client_hung_up(&client.stream) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::{Committed, UpstreamAnswer};
    use crate::upstream::UpstreamError;

    #[test]
    fn peek_phase_returns_the_model_or_a_400() {
        let asked = peek_model(br#"{"model":"mock/echo","messages":[]}"#, &[]).unwrap();
        assert_eq!(asked.model, "mock/echo");
        let escaped = peek_model(br#"{"model":"mock\/echo"}"#, &[]).unwrap();
        assert_eq!(escaped.model, "mock/echo");
        assert!(matches!(escaped.model, Cow::Owned(_)));
        for bad in [
            &br#"{"messages":[]}"#[..],
            b"[1]",
            b"{\"model\":1}",
            b"not json",
        ] {
            let e = peek_model(bad, &[]).err().unwrap();
            assert_eq!((e.status, e.side), (400, super::super::error::Side::Client));
        }
    }

    const RETRIES: RetrySettings = RetrySettings {
        attempts: 2,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(5),
    };

    #[test]
    fn retries_only_transient_failures_before_the_first_byte() {
        let reset = GatewayError::upstream("a", &UpstreamError::ClosedBeforeResponse);
        let decide_now =
            |e: &GatewayError, tries, left| decide(e, tries, &RETRIES, left, None, 7, false);
        assert!(matches!(decide_now(&reset, 1, 0), Next::Retry(_)));
        assert_eq!(decide_now(&reset, 2, 1), Next::Candidate);
        assert_eq!(decide_now(&reset, 2, 0), Next::Stop);
        let streaming = reset
            .clone()
            .after(Committed::EventStream { chunked: true });
        assert_eq!(decide_now(&streaming, 1, 1), Next::Stop);
        let limited = GatewayError::upstream_status("a", 429, UpstreamAnswer::default(), None);
        assert!(matches!(decide_now(&limited, 1, 2), Next::Retry(_)));
        let refused = GatewayError::upstream_status("a", 400, UpstreamAnswer::default(), None);
        assert_eq!(decide_now(&refused, 1, 2), Next::Stop);
        let once = RetrySettings {
            attempts: 1,
            ..RETRIES
        };
        assert_eq!(decide(&reset, 1, &once, 1, None, 7, false), Next::Candidate);
    }

    #[test]
    fn backoff_is_jittered_exponential_and_honours_retry_after() {
        // Full jitter: any draw lands in [0, base * 2^(tries-1)], capped.
        for (tries, ceiling_ms) in [(1, 100), (2, 200), (3, 400), (10, 5000), (40, 5000)] {
            for random in [0, 1, 12_345, u64::MAX] {
                let wait = retry_wait(&RETRIES, tries, None, random).unwrap();
                assert!(
                    wait <= Duration::from_millis(ceiling_ms),
                    "{tries}: {wait:?}"
                );
            }
        }
        assert_eq!(retry_wait(&RETRIES, 3, None, 400_001), Some(Duration::ZERO));
        // Retry-After wins when it asks for longer, but not beyond backoff_max.
        let asked = Some(Duration::from_secs(1));
        assert_eq!(retry_wait(&RETRIES, 1, asked, 0), asked);
        assert_eq!(
            retry_wait(&RETRIES, 1, Some(Duration::from_secs(6)), 0),
            None
        );
        let limited = GatewayError::upstream_status(
            "a",
            429,
            UpstreamAnswer::default(),
            Some(Duration::from_secs(30)),
        );
        assert_eq!(
            decide(&limited, 1, &RETRIES, 1, None, 0, false),
            Next::Candidate
        );
        assert_eq!(decide(&limited, 1, &RETRIES, 0, None, 0, false), Next::Stop);
        // Another key of the provider takes the retry at once.
        assert_eq!(
            decide(&limited, 1, &RETRIES, 0, None, 0, true),
            Next::Retry(Duration::ZERO)
        );
        assert_eq!(decide(&limited, 2, &RETRIES, 0, None, 0, true), Next::Stop);
    }

    #[test]
    fn a_candidate_refused_before_its_upstream_moves_on_at_once() {
        let resting = GatewayError::of(ErrorKind::ProviderUnavailable, 503, "resting");
        let busy = GatewayError::of(ErrorKind::ProviderBusy, 429, "busy");
        for e in [&resting, &busy] {
            assert_eq!(decide(e, 1, &RETRIES, 1, None, 0, true), Next::Candidate);
            assert_eq!(decide(e, 1, &RETRIES, 0, None, 0, true), Next::Stop);
        }
    }

    #[test]
    fn the_deadline_bounds_every_wait() {
        let reset = GatewayError::upstream("a", &UpstreamError::ClosedBeforeResponse);
        let soon = Some(Instant::now() + Duration::from_millis(50));
        let asked = GatewayError {
            retry_after: Some(Duration::from_secs(1)),
            ..reset.clone()
        };
        // A one-second Retry-After does not fit: the next candidate instead.
        assert_eq!(
            decide(&asked, 1, &RETRIES, 1, soon, 0, false),
            Next::Candidate
        );
        let passed = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(decide(&reset, 1, &RETRIES, 1, passed, 0, false), Next::Stop);
        assert!(matches!(
            decide(&reset, 1, &RETRIES, 1, soon, 0, false),
            Next::Retry(w) if w.is_zero()
        ));
    }
}
