//! The governance phase of an API request with a virtual key: refused when
//! the key is disabled or expired or any of its levels (key, team,
//! customer) is over a request or token limit; its candidates narrowed to the
//! models the key may use; its tokens charged when it ends. Answers carry
//! OpenAI's `x-ratelimit-*` headers for the tightest level.

use std::time::Duration;

use super::error::{ErrorKind, GatewayError};
use super::exchange::{Exchange, Record};
use crate::config::calendar::rfc3339;
use crate::governance::limit::{now_ns, Nanos, Standing};
use crate::governance::{Admitted, Level, Refusal, Unit};
use crate::http::response::push_header;

/// Admit the request under its virtual key, if it has one.
pub(super) fn admit(x: &Exchange<'_>, rec: &mut Record<'_>) -> Result<(), GatewayError> {
    let Some(k) = x.caller.virtual_key else {
        return Ok(());
    };
    let governance = &x.req.config.governance;
    let name = &governance.keys[k].holder.name;
    match governance.admit(k, now_ns(), unix_now()) {
        Ok(admitted) => {
            rec.rate = admitted;
            Ok(())
        }
        Err(Refusal::Disabled) => Err(GatewayError::of(
            ErrorKind::KeyRevoked,
            401,
            format!("gateway key `{name}` is disabled"),
        )),
        Err(Refusal::Expired) => Err(GatewayError::of(
            ErrorKind::KeyRevoked,
            401,
            format!("gateway key `{name}` has expired"),
        )),
        Err(Refusal::OverBudget { level, exhausted }) => {
            let resets = match exhausted.resets_at {
                Some(at) => format!("it resets at {}", rfc3339(at)),
                None => "it does not reset".to_owned(),
            };
            let period = governance
                .holders(&governance.keys[k])
                .into_iter()
                .flatten()
                .find(|(l, _)| *l == level)
                .and_then(|(_, h)| h.budget.as_ref())
                .map_or("", |b| b.settings.period.name());
            Err(GatewayError::of(
                ErrorKind::BudgetExceeded,
                402,
                format!(
                    "{} has spent its {period} budget of ${} (spent ${}); {resets}",
                    holder_text(x, k, level),
                    usd_text(exhausted.limit_nanos),
                    usd_text(exhausted.spent_nanos),
                ),
            ))
        }
        Err(Refusal::Limited {
            level,
            what,
            standing,
            wait,
        }) => Err(rate_limited(holder_text(x, k, level), what, standing, wait)),
    }
}

/// Admit the attempt under its model's `[model_limits]`, if any; a refusal
/// moves on to the next candidate at once.
pub(super) fn admit_model(
    x: &Exchange<'_>,
    provider: &str,
    model: &str,
    rec: &mut Record<'_>,
) -> Result<(), GatewayError> {
    let governance = &x.req.config.governance;
    match governance.admit_model(provider, model, now_ns()) {
        Ok(admitted) => {
            rec.rate.requests = rec.rate.requests.or(admitted.requests);
            rec.rate.tokens = rec.rate.tokens.or(admitted.tokens);
            Ok(())
        }
        Err(Refusal::Limited {
            what,
            standing,
            wait,
            ..
        }) => Err(rate_limited(
            format!("model `{provider}/{model}`"),
            what,
            standing,
            wait,
        )),
        Err(other) => unreachable!("a model limit refuses only by rate: {other:?}"),
    }
}

/// The 429 of a refused rate limit, with its `x-ratelimit-*` headers.
fn rate_limited(holder: String, what: Unit, standing: Standing, wait: Nanos) -> GatewayError {
    let unit = match what {
        Unit::Requests => "requests",
        Unit::Tokens => "tokens",
    };
    let mut e = GatewayError::of(
        ErrorKind::RateLimited,
        429,
        format!(
            "{holder} is over its limit of {} {unit} per minute; retry in {}",
            standing.limit,
            duration_text(wait)
        ),
    )
    .retry_in(Duration::from_nanos(wait).max(Duration::from_millis(1)));
    let refused = match what {
        Unit::Requests => Admitted {
            requests: Some(standing),
            tokens: None,
        },
        Unit::Tokens => Admitted {
            requests: None,
            tokens: Some(standing),
        },
    };
    let mut lines = Vec::with_capacity(160);
    push_rate_headers(&mut lines, &refused);
    e.header_lines = Some(Box::new(lines));
    e
}

/// "gateway key `ci`", "team `eng`", "customer `acme`".
fn holder_text(x: &Exchange<'_>, k: usize, level: Level) -> String {
    let governance = &x.req.config.governance;
    let key = &governance.keys[k];
    match level {
        Level::Key => format!("gateway key `{}`", key.holder.name),
        Level::Team => {
            let t = key.team.unwrap_or_default();
            format!("team `{}`", governance.teams[t].name)
        }
        Level::Customer => {
            let c = key.customer.unwrap_or_default();
            format!("customer `{}`", governance.customers[c].name)
        }
        Level::Model => "the model".to_owned(),
    }
}

/// Nano-dollars as USD with cents, or more digits for small amounts.
pub(super) fn usd_text(nanos: u64) -> String {
    let usd = nanos as f64 / 1e9;
    if nanos == 0 || usd >= 0.01 {
        format!("{usd:.2}")
    } else {
        format!("{usd:.6}")
    }
}

/// Whether the request's key may send `model` to `provider`.
pub(super) fn allows(x: &Exchange<'_>, provider: &str, model: &str) -> bool {
    x.caller
        .virtual_key
        .is_none_or(|k| x.req.config.governance.keys[k].allows(provider, model))
}

/// Every candidate was a model the key may not use.
pub(super) fn not_allowed(x: &Exchange<'_>, asked: &str) -> GatewayError {
    let governance = &x.req.config.governance;
    let key = x.caller.virtual_key.map(|k| &governance.keys[k]);
    let (name, patterns) = key.map_or((String::new(), String::new()), |k| {
        (k.holder.name.clone(), k.patterns())
    });
    GatewayError::of(
        ErrorKind::ModelNotAllowed,
        403,
        format!("gateway key `{name}` may not use model `{asked}`; it may use: {patterns}"),
    )
}

/// The request was refused before it went anywhere: its request unit back.
pub(super) fn refund(x: &Exchange<'_>) {
    if let Some(k) = x.caller.virtual_key {
        x.req.config.governance.refund_request(k);
    }
}

/// Charge the request's tokens and cost (nano-dollars) to its key, team
/// and customer.
pub(super) fn charge(x: &Exchange<'_>, rec: &Record<'_>, cost_nanos: u64) {
    if let Some(k) = x.caller.virtual_key {
        let governance = &x.req.config.governance;
        let tokens = rec.usage.prompt_tokens + rec.usage.completion_tokens;
        governance.charge_tokens(k, tokens, now_ns());
        governance.charge_cost(k, cost_nanos, unix_now());
    }
    let tokens = rec.usage.prompt_tokens + rec.usage.completion_tokens;
    x.req
        .config
        .governance
        .charge_model_tokens(rec.provider, rec.model, tokens, now_ns());
}

/// Whether the request's usage decides something: a budget or token limit
/// of its key, team or customer.
pub(super) fn needs_usage(x: &Exchange<'_>) -> bool {
    let Some(k) = x.caller.virtual_key else {
        return false;
    };
    let governance = &x.req.config.governance;
    governance
        .holders(&governance.keys[k])
        .into_iter()
        .flatten()
        .any(|(_, h)| h.budget.is_some() || h.limits.tokens.is_some())
}

/// Whether the client asked for the cost in a header.
pub(super) fn wants_cost(x: &Exchange<'_>) -> bool {
    x.req
        .head
        .header(x.rbuf, b"x-ringbridge-include-cost")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"true") || v == b"1")
}

/// `x-ratelimit-limit-*`, `-remaining-*` and `-reset-*` lines, as OpenAI
/// sends them (`reset` as a duration: `20s`, `1m0s`, `150ms`).
pub(super) fn push_rate_headers(out: &mut Vec<u8>, admitted: &Admitted) {
    let mut push = |unit: &str, s: &Standing| {
        let line = |name: &str, value: String, out: &mut Vec<u8>| {
            push_header(
                out,
                format!("x-ratelimit-{name}-{unit}").as_bytes(),
                value.as_bytes(),
            )
        };
        line("limit", s.limit.to_string(), out);
        line("remaining", s.remaining.to_string(), out);
        line("reset", duration_text(s.reset), out);
    };
    if let Some(s) = &admitted.requests {
        push("requests", s);
    }
    if let Some(s) = &admitted.tokens {
        push("tokens", s);
    }
}

/// A wait as OpenAI writes it: `150ms`, `20s`, `1m0s`.
fn duration_text(ns: Nanos) -> String {
    let ms = ns.div_ceil(1_000_000);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{}s", ms.div_ceil(1000)),
        _ => {
            let s = ms.div_ceil(1000);
            format!("{}m{}s", s / 60, s % 60)
        }
    }
}

/// Unix seconds, as budgets and expiry take them.
fn unix_now() -> u64 {
    crate::config::calendar::unix_now().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_like_openais() {
        assert_eq!(duration_text(150_000_000), "150ms");
        assert_eq!(duration_text(19_000_000_000), "19s");
        assert_eq!(duration_text(19_000_000_001), "20s");
        assert_eq!(duration_text(60_000_000_000), "1m0s");
        assert_eq!(duration_text(125_000_000_000), "2m5s");
        assert_eq!(duration_text(0), "0ms");
    }

    #[test]
    fn headers_name_requests_and_tokens() {
        let mut out = Vec::new();
        let s = Standing {
            limit: 3,
            remaining: 0,
            reset: 20_000_000_000,
        };
        push_rate_headers(
            &mut out,
            &Admitted {
                requests: Some(s),
                tokens: None,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-ratelimit-limit-requests: 3\r\nx-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 20s\r\n"
        );
    }
}
