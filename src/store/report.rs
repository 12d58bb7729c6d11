//! The admin API's view of the request log: query strings to filters, and
//! pages and usage totals to JSON.

use serde_json::{json, Value};

use super::{GroupBy, LogFilter, LogPage, UsageQuery, UsageRow};
use crate::config::calendar::{rfc3339, rfc3339_seconds};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// `GET /admin/logs?since=&until=&key_id=&team_id=&customer_id=&provider=&model=&status=&limit=&before=`.
pub fn log_filter(query: &[u8]) -> Result<LogFilter, String> {
    let mut f = LogFilter {
        limit: DEFAULT_PAGE,
        ..LogFilter::default()
    };
    for (name, value) in pairs(query)? {
        match name.as_str() {
            "since" => f.since_ms = Some(time_ms(&name, &value)?),
            "until" => f.until_ms = Some(time_ms(&name, &value)?),
            "key_id" | "key" => f.key_id = Some(value),
            "team_id" | "team" => f.team_id = Some(value),
            "customer_id" | "customer" => f.customer_id = Some(value),
            "provider" => f.provider = Some(value),
            "model" => f.model = Some(value),
            "status" => f.status = Some(number(&name, &value, 100, 599)? as u16),
            "limit" => f.limit = number(&name, &value, 1, u64::from(MAX_PAGE))? as u32,
            "before" => f.before_id = Some(number(&name, &value, 1, i64::MAX as u64)? as i64),
            _ => return Err(format!("unknown parameter `{name}`; filters: since, until, key_id, team_id, customer_id, provider, model, status, limit, before")),
        }
    }
    Ok(f)
}

/// `GET /admin/usage?group_by=key|team|customer|provider|model&since=&until=`.
pub fn usage_query(query: &[u8]) -> Result<UsageQuery, String> {
    let mut q = UsageQuery {
        since_ms: None,
        until_ms: None,
        group_by: GroupBy::Key,
    };
    for (name, value) in pairs(query)? {
        match name.as_str() {
            "since" => q.since_ms = Some(time_ms(&name, &value)?),
            "until" => q.until_ms = Some(time_ms(&name, &value)?),
            "group_by" => {
                q.group_by = match value.as_str() {
                    "key" => GroupBy::Key,
                    "team" => GroupBy::Team,
                    "customer" => GroupBy::Customer,
                    "provider" => GroupBy::Provider,
                    "model" => GroupBy::Model,
                    other => {
                        return Err(format!(
                            "`group_by` {other:?}: use key, team, customer, provider or model"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{name}`; use group_by, since, until"
                ))
            }
        }
    }
    Ok(q)
}

pub fn page_json(page: &LogPage) -> Value {
    let data: Vec<Value> = page
        .rows
        .iter()
        .map(|stored| {
            let r = &stored.row;
            json!({
                "id": stored.id,
                "time": rfc3339(r.ts_ms.div_euclid(1000)),
                "ts_ms": r.ts_ms,
                "request_id": r.request_id,
                "key_id": r.key_id,
                "team_id": r.team_id,
                "customer_id": r.customer_id,
                "provider": r.provider,
                "model": r.model,
                "dialect": r.dialect,
                "status": r.status,
                "attempts": r.attempts,
                "latency_ms": r.latency_us as f64 / 1000.0,
                "ttfb_ms": r.ttfb_us.map(|t| t as f64 / 1000.0),
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cached_tokens": r.cached_tokens,
                "cost_usd": r.cost_nanos as f64 / 1e9,
                "priced": r.priced,
                "error": r.error,
                "request_body": r.request_body,
                "response_body": r.response_body,
                "trace_id": r.trace_id,
                "span_id": r.span_id,
            })
        })
        .collect();
    json!({"object": "list", "data": data, "next_before": page.next_before})
}

pub fn usage_json(query: &UsageQuery, rows: &[UsageRow]) -> Value {
    let group_by = match query.group_by {
        GroupBy::Key => "key",
        GroupBy::Team => "team",
        GroupBy::Customer => "customer",
        GroupBy::Provider => "provider",
        GroupBy::Model => "model",
    };
    let data: Vec<Value> = rows
        .iter()
        .map(|u| {
            json!({
                group_by: u.group,
                "requests": u.requests,
                "errors": u.errors,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cached_tokens": u.cached_tokens,
                "cost_usd": u.cost_nanos as f64 / 1e9,
                "unpriced_requests": u.unpriced,
            })
        })
        .collect();
    let total_cost: u64 = rows.iter().map(|u| u.cost_nanos).sum();
    let total_requests: u64 = rows.iter().map(|u| u.requests).sum();
    json!({
        "object": "usage",
        "group_by": group_by,
        "since": query.since_ms.map(|t| rfc3339(t.div_euclid(1000))),
        "until": query.until_ms.map(|t| rfc3339(t.div_euclid(1000))),
        "total": {"requests": total_requests, "cost_usd": total_cost as f64 / 1e9},
        "data": data,
    })
}

/// `name=value` pairs, percent-decoded.
fn pairs(query: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, &b""[..]),
        };
        let decode = |raw: &[u8]| {
            let spaced: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            crate::http::percent::decode(&spaced)
                .ok_or_else(|| "the query is not valid percent-encoded UTF-8".to_owned())
        };
        out.push((decode(name)?, decode(value)?));
    }
    Ok(out)
}

/// RFC 3339, or Unix seconds (up to 10 digits) or milliseconds.
fn time_ms(name: &str, value: &str) -> Result<i64, String> {
    if let Some(secs) = rfc3339_seconds(value) {
        return Ok(secs as i64 * 1000);
    }
    match value.parse::<i64>() {
        Ok(n) if (0..10_000_000_000).contains(&n) => Ok(n * 1000),
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "`{name}`: {value:?} is not an RFC 3339 time or Unix seconds"
        )),
    }
}

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{name}` must be a number from {min} to {max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_from_the_query_and_bad_ones_are_named() {
        let f = log_filter(
            b"since=2026-12-05T00:00:00Z&key_id=vk-ci&model=gpt%2F4o&status=429&limit=5&before=99",
        )
        .unwrap();
        assert_eq!(f.since_ms, Some(1_796_428_800_000));
        assert_eq!(f.key_id.as_deref(), Some("vk-ci"));
        assert_eq!(f.model.as_deref(), Some("gpt/4o"));
        assert_eq!((f.status, f.limit, f.before_id), (Some(429), 5, Some(99)));
        assert_eq!(log_filter(b"").unwrap().limit, DEFAULT_PAGE);
        assert_eq!(
            log_filter(b"until=1796428800").unwrap().until_ms,
            Some(1_796_428_800_000)
        );
        for bad in [
            &b"limit=0"[..],
            b"limit=5000",
            b"status=abc",
            b"since=yesterday",
            b"colour=red",
        ] {
            assert!(log_filter(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            usage_query(b"group_by=model").unwrap().group_by,
            GroupBy::Model
        );
        assert!(usage_query(b"group_by=planet")
            .unwrap_err()
            .contains("planet"));
    }
}
