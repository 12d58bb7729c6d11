//! The admit phase of an attempt: a slot under the provider's concurrency
//! limit (waiting in its bounded queue if need be), the session value that
//! pins a key, the errors for a provider that cannot be tried now, and what
//! an attempt's result teaches its key's health.

use std::pin::pin;
use std::time::{Duration, Instant};

use super::error::{ErrorKind, GatewayError};
use super::exchange::{client_hung_up, Exchange};
use super::respond::Client;
use crate::router::health::Outcome;
use crate::router::limit::{Load, Slot, QUEUE_POLL};
use crate::router::{NoKey, Provider, Report};
use crate::upstream::UpstreamError;

/// A slot under `provider`'s `max_in_flight` (none when it has no limit).
/// Beyond the limit the request waits in the provider's queue, polling for
/// a free slot until `queue_timeout_ms` or the request's deadline; a full
/// queue or a wait that runs out is a 429 at once, and the upstream never
/// sees the request. Other providers' requests never wait here.
pub(super) async fn queue<'a>(
    x: &Exchange<'_>,
    client: &Client,
    provider: &'a Provider,
) -> Result<Option<Slot<'a>>, GatewayError> {
    let Some(limiter) = &provider.health.limiter else {
        return Ok(None);
    };
    if let Some(slot) = limiter.try_acquire_arriving() {
        return Ok(Some(slot));
    }
    let busy = |why: String| {
        GatewayError::of(
            ErrorKind::ProviderBusy,
            429,
            format!(
                "provider `{}` is at its concurrency limit ({} in flight) and {why}",
                provider.name(),
                limiter.limit()
            ),
        )
        .with_provider(provider.name())
    };
    let Some(_place) = limiter.enqueue() else {
        return Err(busy("its queue is full".into()).retry_in(Duration::from_secs(1)));
    };
    let waited_from = Instant::now();
    let mut give_up = waited_from + limiter.queue_timeout();
    if let Some(deadline) = x.deadline {
        give_up = give_up.min(deadline);
    }
    let mut hung_up = pin!(client_hung_up(&client.stream));
    let mut cut = pin!(x.worker.drain.cut_requested());
    loop {
        monoio::select! {
            _ = monoio::time::sleep(QUEUE_POLL) => {}
            _ = &mut hung_up => return Err(GatewayError::client_closed()),
            _ = &mut cut => return Err(GatewayError::upstream(provider.name(), &UpstreamError::Shutdown)),
        }
        if let Some(slot) = limiter.try_acquire() {
            return Ok(Some(slot));
        }
        if Instant::now() >= give_up {
            let waited = waited_from.elapsed().as_millis();
            let why = format!("no slot freed in the {waited} ms it waited in the queue");
            return Err(busy(why).retry_in(Duration::from_secs(1)));
        }
    }
}

/// The `[balancing] sticky_header` value of the request, if configured and sent.
pub(super) fn sticky_value<'r>(x: &Exchange<'r>) -> Option<&'r [u8]> {
    let name = x.req.config.settings.sticky_header.as_deref()?;
    x.req
        .head
        .headers
        .iter()
        .find(|h| h.name(x.rbuf).eq_ignore_ascii_case(name.as_bytes()))
        .map(|h| h.value(x.rbuf))
        .filter(|v| !v.is_empty())
}

/// The error for a provider none of whose keys can take the request now.
pub(super) fn no_key(provider: &Provider, model: &str, why: NoKey) -> GatewayError {
    let name = provider.name();
    let err = match why {
        NoKey::NoneServes => GatewayError::of(
            ErrorKind::ProviderUnavailable,
            404,
            format!("no key of provider `{name}` is allowed model `{model}`"),
        ),
        NoKey::Resting { wait, rate_limited } => {
            let (status, reason) = match rate_limited {
                true => (
                    429,
                    "rate limited (cooling down after 429s) or their circuit breakers are open",
                ),
                false => (
                    503,
                    "their circuit breakers are open after repeated failures",
                ),
            };
            GatewayError::of(
                ErrorKind::ProviderUnavailable,
                status,
                format!("every key of provider `{name}` is resting: {reason}; retry in {wait} ms"),
            )
            .retry_in(Duration::from_millis(wait))
        }
    };
    err.with_provider(name)
}

/// What an attempt's result says about its key and the provider's load.
pub(super) fn report(result: &Result<bool, GatewayError>, ttfb: Option<Duration>) -> Report {
    let answered = ttfb.map_or(Load::Unknown, Load::Answered);
    let (outcome, load, retry_after) = match result {
        Ok(_) => (Outcome::Success, answered, None),
        Err(e) => match e.kind {
            ErrorKind::UpstreamStatus => match e.status {
                429 => (Outcome::RateLimited, Load::Overloaded, e.retry_after),
                503 | 529 => (Outcome::Failure, Load::Overloaded, None),
                500 | 502 | 504 => (Outcome::Failure, answered, None),
                _ => (Outcome::Success, answered, None),
            },
            ErrorKind::UpstreamTimeout => (Outcome::Failure, Load::Overloaded, None),
            ErrorKind::UpstreamFailed => (Outcome::Failure, Load::Unknown, None),
            _ => (Outcome::Neutral, Load::Unknown, None),
        },
    };
    Report {
        outcome,
        load,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::UpstreamAnswer;

    #[test]
    fn results_teach_the_breaker_and_the_limiter() {
        let ttfb = Some(Duration::from_millis(30));
        let ok = report(&Ok(true), ttfb);
        assert_eq!(
            (ok.outcome, ok.load),
            (Outcome::Success, Load::Answered(Duration::from_millis(30)))
        );
        let status = |s, after| {
            let e = GatewayError::upstream_status("p", s, UpstreamAnswer::default(), after);
            report(&Err(e), ttfb)
        };
        let limited = status(429, Some(Duration::from_secs(3)));
        assert_eq!(
            (limited.outcome, limited.load, limited.retry_after),
            (
                Outcome::RateLimited,
                Load::Overloaded,
                Some(Duration::from_secs(3))
            )
        );
        assert_eq!(status(529, None).outcome, Outcome::Failure);
        assert_eq!(status(500, None).outcome, Outcome::Failure);
        assert_eq!(
            status(400, None).outcome,
            Outcome::Success,
            "the upstream is up"
        );
        let reset = GatewayError::upstream("p", &UpstreamError::ClosedBeforeResponse);
        assert_eq!(report(&Err(reset), None).outcome, Outcome::Failure);
        let timeout = GatewayError::upstream("p", &UpstreamError::FirstByteTimeout);
        assert_eq!(report(&Err(timeout), None).load, Load::Overloaded);
        let gone = report(&Err(GatewayError::client_closed()), ttfb);
        assert_eq!(gone.outcome, Outcome::Neutral);
    }
}
