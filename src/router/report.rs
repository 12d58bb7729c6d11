//! What the router knows about its providers' health, for operators:
//! `GET /admin/health` as JSON, the same numbers as Prometheus gauges, and
//! the routes `/ready` counts as unusable. Keys are named by their index in
//! the provider's `keys`, never by any part of the key.

use serde_json::{json, Value};

use super::health::{KeyHealth, Millis};
use super::limit::Limiter;
use super::{Provider, Routes};
use crate::telemetry::{push_gauge_header, push_gauge_sample};

impl Routes {
    /// `GET /admin/health`: per provider and key, breaker state, EWMA
    /// latency, in-flight count, cool-down and recent error rate; per
    /// provider, the concurrency limit and its queue.
    pub fn health_json(&self, now: Millis) -> Value {
        let providers: Vec<Value> = self
            .providers
            .iter()
            .map(|p| provider_json(p, now))
            .collect();
        json!({ "providers": providers, "routes": self.routes_json(now) })
    }

    fn routes_json(&self, now: Millis) -> Value {
        let mut routes: Vec<(&str, bool)> = self
            .tables
            .iter()
            .map(|(name, t)| {
                let entries = t.targets.iter().chain(&t.fallbacks);
                let usable = entries
                    .clone()
                    .any(|e| self.provider(e.provider).usable(now));
                (name.as_str(), usable)
            })
            .collect();
        routes.sort_unstable();
        routes
            .into_iter()
            .map(|(name, usable)| json!({ "name": name, "usable": usable }))
            .collect()
    }

    /// `[routes]` names none of whose targets and fallbacks can take a
    /// request now, sorted.
    pub fn unusable_routes(&self, now: Millis) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .tables
            .iter()
            .filter(|(_, t)| {
                !t.targets
                    .iter()
                    .chain(&t.fallbacks)
                    .any(|e| self.provider(e.provider).usable(now))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The health gauges in Prometheus text format.
    pub fn push_health_gauges(&self, now: Millis, out: &mut Vec<u8>) {
        type KeyValue = fn(&Provider, &KeyHealth, Millis) -> f64;
        let per_key: [(&str, &str, KeyValue); 5] = [
            (
                "ringbridge_key_breaker_state",
                "Circuit breaker per provider key: 0 closed, 1 half-open, 2 open.",
                |_, k, _| f64::from(k.breaker.state().gauge()),
            ),
            (
                "ringbridge_key_in_flight",
                "Requests in flight per provider key.",
                |_, k, _| f64::from(k.in_flight()),
            ),
            (
                "ringbridge_key_latency_ewma_seconds",
                "EWMA of the time to a response head per provider key.",
                |_, k, _| k.ewma_micros() as f64 / 1e6,
            ),
            (
                "ringbridge_key_error_rate",
                "Failed share of the breaker window's requests per provider key.",
                |p, k, now| k.breaker.error_rate(&p.breaker, now),
            ),
            (
                "ringbridge_key_cooldown_seconds",
                "Time left before a rate-limited key is used again.",
                |_, k, now| k.cooling_for(now) as f64 / 1e3,
            ),
        ];
        for (name, help, value) in per_key {
            push_gauge_header(out, name, help);
            for p in &self.providers {
                for (i, key) in p.health.keys.iter().enumerate() {
                    let index = i.to_string();
                    let labels = [("provider", p.name()), ("key", index.as_str())];
                    push_gauge_sample(out, name, &labels, value(p, key, now));
                }
            }
        }
        type LimitValue = fn(&Limiter) -> u32;
        let per_limit: [(&str, &str, LimitValue); 3] = [
            (
                "ringbridge_provider_concurrency_limit",
                "Current (adaptive) in-flight limit per provider.",
                Limiter::limit,
            ),
            (
                "ringbridge_provider_in_flight",
                "Requests holding a slot of the provider's limit.",
                Limiter::in_flight,
            ),
            (
                "ringbridge_provider_queued",
                "Requests waiting in the provider's queue.",
                Limiter::waiting,
            ),
        ];
        for (name, help, value) in per_limit {
            push_gauge_header(out, name, help);
            for p in &self.providers {
                if let Some(limiter) = &p.health.limiter {
                    push_gauge_sample(out, name, &[("provider", p.name())], value(limiter));
                }
            }
        }
    }
}

impl Provider {
    /// Whether any key could take a request now.
    pub fn usable(&self, now: Millis) -> bool {
        self.health
            .keys
            .iter()
            .any(|k| k.usable(&self.breaker, now).is_ok())
    }
}

fn provider_json(p: &Provider, now: Millis) -> Value {
    let breaker = &p.breaker;
    let keys: Vec<Value> = p
        .health
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({
                "key": i,
                "weight": p.settings.key_options.get(i).map_or(1, |o| o.weight),
                "breaker": k.breaker.state().name(),
                "in_flight": k.in_flight(),
                "latency_ewma_ms": k.ewma_micros() as f64 / 1e3,
                "error_rate": k.breaker.error_rate(breaker, now),
                "cooldown_ms": k.cooling_for(now),
                "usable": k.usable(breaker, now).is_ok(),
            })
        })
        .collect();
    let limit = p.health.limiter.as_ref().map(|l| {
        let (min, max) = l.bounds();
        json!({
            "current": l.limit(),
            "min": min,
            "max": max,
            "in_flight": l.in_flight(),
            "queued": l.waiting(),
        })
    });
    json!({
        "name": p.name(),
        "kind": p.kind().name(),
        "usable": p.usable(now),
        "keys": keys,
        "concurrency": limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::router::health::Outcome;

    #[test]
    fn health_lists_every_key_and_an_open_breaker_makes_a_route_unusable() {
        let s = Settings::from_test_toml(
            "env_providers = false\n\
             [providers.p]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             keys = [\"secret-one\", { key = \"secret-two\", weight = 3 }]\nmax_in_flight = 8\nmin_in_flight = 2\n\
             [routes.smart]\ntargets = [\"p/m\"]\n",
        );
        let routes = Routes::new(&s);
        let b = s.breaker;
        let v = routes.health_json(10);
        let p = &v["providers"][0];
        assert_eq!(p["name"], "p");
        assert_eq!(p["keys"][1]["weight"], 3);
        assert_eq!(p["keys"][0]["breaker"], "closed");
        assert_eq!(p["concurrency"]["current"], 8);
        assert_eq!(p["concurrency"]["min"], 2);
        assert_eq!(v["routes"][0], json!({"name": "smart", "usable": true}));
        assert!(!v.to_string().contains("secret"), "no key material");
        assert!(routes.unusable_routes(10).is_empty());
        let p = &routes.providers[0];
        for key in p.health.keys.iter() {
            for t in 0..b.failures {
                key.breaker
                    .record(&b, 10 + u64::from(t), Outcome::Failure, false);
            }
        }
        assert_eq!(routes.unusable_routes(20), ["smart"]);
        let mut text = Vec::new();
        routes.push_health_gauges(20, &mut text);
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("ringbridge_key_breaker_state{provider=\"p\",key=\"1\"} 2"),
            "{text}"
        );
        assert!(text.contains("ringbridge_provider_concurrency_limit{provider=\"p\"} 8"));
    }
}
