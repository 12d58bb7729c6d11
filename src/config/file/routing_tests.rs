//! Tests of the routing surface: `[routes]`, `[retries]` and its overrides,
//! weighted provider keys, `max_in_flight` and `[admin]`. One refusal test per
//! rule, each asserting the exact key path.

use std::time::Duration;

use super::tests::{load_str, provider, refused_at};
use super::*;
use crate::config::{ConcurrencySettings, RouteSettings, RouteTarget};

const OPENAI: (&str, &str) = ("OPENAI_API_KEY", "sk-o");
const GROQ: (&str, &str) = ("GROQ_API_KEY", "gsk");

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn retry(attempts: u32, base: u64, max: u64) -> RetrySettings {
    RetrySettings {
        attempts,
        backoff_base: ms(base),
        backoff_max: ms(max),
    }
}

fn target(model: &str, weight: u32) -> RouteTarget {
    RouteTarget {
        model: model.to_owned(),
        weight,
    }
}

/// `[routes.smart]` followed by `body`.
fn route(body: &str) -> String {
    format!("[routes.smart]\n{body}")
}

// ---- the whole surface --------------------------------------------------------

const FULL: &str = r#"
[admin]
token = "env:ADMIN"

[retries]
attempts = 3
backoff_base_ms = 50
backoff_max_ms = 2000

[aliases]
fast = "groq/llama"

[routes.smart]
targets = [{ model = "openai/gpt-4o", weight = 3 }, "groq/llama"]
fallbacks = ["groq/mixtral", "openai/gpt-4o-mini"]
retries = { attempts = 5 }

[routes.cheap]
targets = ["groq/llama"]

[providers.openai]
keys = [{ key = "env:OPENAI_A", weight = 2, models = ["gpt-4o"] }, "env:OPENAI_B"]
models = ["gpt-4o", "gpt-4o-mini"]
retries = { backoff_max_ms = 900 }
max_in_flight = 64
min_in_flight = 8
queue = 10
queue_timeout_ms = 250

[providers.groq]
keys = ["env:GROQ_A"]
"#;

#[test]
fn full_example_resolves_into_the_expected_settings() {
    let env = [
        ("ADMIN", "0123456789abcdef-admin"),
        ("OPENAI_A", "sk-a"),
        ("OPENAI_B", "sk-b"),
        ("GROQ_A", "gsk-a"),
    ];
    let s = load_str(FULL, &env).unwrap();
    assert_eq!(
        s.admin_token.as_ref().map(Secret::expose),
        Some("0123456789abcdef-admin")
    );
    assert_eq!(s.retries, retry(3, 50, 2000));
    assert_eq!(
        s.routes,
        vec![
            RouteSettings {
                name: "smart".into(),
                targets: vec![target("openai/gpt-4o", 3), target("groq/llama", 1)],
                fallbacks: vec!["groq/mixtral".into(), "openai/gpt-4o-mini".into()],
                retries: Some(retry(5, 50, 2000)),
            },
            RouteSettings {
                name: "cheap".into(),
                targets: vec![target("groq/llama", 1)],
                fallbacks: vec![],
                retries: None,
            },
        ]
    );
    let openai = provider(&s, "openai");
    let keys: Vec<&str> = openai.keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["sk-a", "sk-b"]);
    assert_eq!(
        openai.key_options,
        vec![
            KeyOptions {
                weight: 2,
                models: vec!["gpt-4o".into()],
            },
            KeyOptions::default(),
        ]
    );
    assert_eq!(openai.retries, Some(retry(3, 50, 900)));
    assert_eq!(
        openai.concurrency,
        Some(ConcurrencySettings {
            max_in_flight: 64,
            min_in_flight: 8,
            queue: 10,
            queue_timeout: ms(250),
        })
    );
    let groq = provider(&s, "groq");
    assert_eq!(groq.key_options, vec![KeyOptions::default()]);
    assert_eq!((groq.retries, groq.concurrency), (None, None));
}

#[test]
fn defaults_when_nothing_is_configured() {
    let s = load_str("", &[OPENAI]).unwrap();
    assert_eq!(s.retries, retry(2, 100, 5000));
    assert_eq!(RetrySettings::default(), retry(2, 100, 5000));
    assert!(s.routes.is_empty());
    assert!(s.admin_token.is_none());
    let default = KeyOptions::default();
    assert_eq!((default.weight, default.models.len()), (1, 0));
    for p in &s.providers {
        assert_eq!(p.retries, None, "{}", p.name);
        assert_eq!(p.concurrency, None, "{}", p.name);
        assert!(p.key_options.iter().all(|o| *o == default), "{}", p.name);
    }
    assert_eq!(provider(&s, "openai").key_options.len(), 1);
}

#[test]
fn breaker_and_balancing_defaults_and_overrides() {
    let s = load_str("", &[]).unwrap();
    assert_eq!(s.breaker, crate::config::BreakerSettings::default());
    assert_eq!(
        (
            s.breaker.failures,
            s.breaker.failure_permille,
            s.breaker.open
        ),
        (10, 500, ms(15_000))
    );
    assert_eq!(s.sticky_header, None);
    let text = r#"
[breaker]
failures = 0
failure_rate = 0.25
min_requests = 4
window_ms = 2000
open_ms = 50
half_open_probes = 1
[balancing]
sticky_header = "X-Session-Id"
"#;
    let s = load_str(text, &[]).unwrap();
    assert_eq!(
        s.breaker,
        crate::config::BreakerSettings {
            failures: 0,
            failure_permille: 250,
            min_requests: 4,
            window: ms(2000),
            open: ms(50),
            half_open_probes: 1,
        }
    );
    assert_eq!(s.sticky_header.as_deref(), Some("x-session-id"));
}

#[test]
fn a_provider_breaker_overrides_fields_of_the_global_one() {
    let text = r#"
[breaker]
failures = 7
open_ms = 2000
[providers.openai]
keys = ["k"]
breaker = { open_ms = 100, failure_rate = 0.0 }
[providers.groq]
keys = ["k"]
"#;
    let s = load_str(text, &[]).unwrap();
    let openai = provider(&s, "openai").breaker.unwrap();
    assert_eq!(
        (openai.failures, openai.open, openai.failure_permille),
        (7, ms(100), 0),
        "unset fields come from [breaker]"
    );
    assert_eq!(provider(&s, "groq").breaker, None);
    refused_at(
        "[providers.openai]\nkeys = [\"k\"]\nbreaker = { half_open_probes = 0 }",
        &[],
        "providers.openai.breaker.half_open_probes",
    );
}

#[test]
fn bad_breaker_and_balancing_keys_are_refused_at_their_path() {
    for (text, path) in [
        ("[breaker]\nfailure_rate = 1.5", "breaker.failure_rate"),
        ("[breaker]\nfailure_rate = -0.1", "breaker.failure_rate"),
        ("[breaker]\nopen_ms = 0", "breaker.open_ms"),
        ("[breaker]\nwindow_ms = 10", "breaker.window_ms"),
        (
            "[breaker]\nhalf_open_probes = 0",
            "breaker.half_open_probes",
        ),
        ("[breaker]\nfailures = 1001", "breaker.failures"),
        (
            "[balancing]\nsticky_header = \"a b\"",
            "balancing.sticky_header",
        ),
        (
            "[balancing]\nsticky_header = \"\"",
            "balancing.sticky_header",
        ),
    ] {
        refused_at(text, &[], path);
    }
}

// ---- [retries] ----------------------------------------------------------------

#[test]
fn partial_retry_overrides_inherit_the_global_table() {
    let text = r#"
[retries]
attempts = 4
backoff_base_ms = 200
[providers.openai]
retries = { attempts = 1 }
[providers.groq]
retries = { backoff_base_ms = 7000 }
[routes.smart]
targets = ["openai/gpt-4o"]
retries = { backoff_max_ms = 900 }
[routes.plain]
targets = ["openai/gpt-4o"]
retries = {}
"#;
    let s = load_str(text, &[OPENAI, GROQ]).unwrap();
    assert_eq!(s.retries, retry(4, 200, 5000));
    assert_eq!(provider(&s, "openai").retries, Some(retry(1, 200, 5000)));
    // An unset maximum follows a base raised above the inherited one.
    assert_eq!(provider(&s, "groq").retries, Some(retry(4, 7000, 7000)));
    // A route inherits the global table, not a provider's.
    assert_eq!(s.routes[0].retries, Some(retry(4, 200, 900)));
    // An empty table is an override equal to the global one, unlike no table.
    assert_eq!(s.routes[1].retries, Some(retry(4, 200, 5000)));
}

#[test]
fn an_unset_global_maximum_follows_a_larger_base() {
    let s = load_str("[retries]\nbackoff_base_ms = 8000", &[]).unwrap();
    assert_eq!(s.retries, retry(2, 8000, 8000));
    let s = load_str("[retries]\nbackoff_base_ms = 0\nbackoff_max_ms = 0", &[]).unwrap();
    assert_eq!(s.retries, retry(2, 0, 0));
}

#[test]
fn bad_retry_values_are_refused_at_their_path() {
    refused_at("[retries]\nattempts = 0", &[], "retries.attempts");
    refused_at("[retries]\nattempts = 11", &[], "retries.attempts");
    load_str("[retries]\nattempts = 10", &[]).unwrap();
    refused_at("[retries]\nattempts = -1", &[], "retries.attempts");
    refused_at(
        "[retries]\nbackoff_base_ms = 60001",
        &[],
        "retries.backoff_base_ms",
    );
    let err = refused_at(
        "[retries]\nbackoff_base_ms = 300\nbackoff_max_ms = 299",
        &[],
        "retries.backoff_max_ms",
    );
    assert!(err.hint().unwrap().contains("backoff_base_ms"), "{err}");
    refused_at(
        "[retries]\nbackoff_max_ms = 60001",
        &[],
        "retries.backoff_max_ms",
    );
    load_str("[retries]\nbackoff_max_ms = 60000", &[]).unwrap();
    refused_at("[retries]\nattempt = 3", &[], "retries.attempt");
}

#[test]
fn bad_retry_overrides_are_refused_at_their_path() {
    refused_at(
        "[providers.openai]\nretries = { attempts = 0 }",
        &[OPENAI],
        "providers.openai.retries.attempts",
    );
    refused_at(
        "[providers.openai]\nretries = { tries = 2 }",
        &[OPENAI],
        "providers.openai.retries.tries",
    );
    // Below the inherited base: the key written in the override is named.
    refused_at(
        &route("targets = [\"openai/x\"]\nretries = { backoff_max_ms = 50 }"),
        &[OPENAI],
        "routes.smart.retries.backoff_max_ms",
    );
    refused_at(
        &route("targets = [\"openai/x\"]\nretries = { attempts = 11 }"),
        &[OPENAI],
        "routes.smart.retries.attempts",
    );
}

// ---- [routes] -----------------------------------------------------------------

#[test]
fn route_targets_must_be_present_and_at_most_sixteen() {
    refused_at(&route("targets = []"), &[OPENAI], "routes.smart.targets");
    let err = refused_at(
        &route("fallbacks = [\"openai/x\"]"),
        &[OPENAI],
        "routes.smart.targets",
    );
    assert!(err.to_string().contains("at least one target"), "{err}");
    let list = |n: usize| vec!["\"openai/x\""; n].join(", ");
    load_str(&route(&format!("targets = [{}]", list(16))), &[OPENAI]).unwrap();
    refused_at(
        &route(&format!("targets = [{}]", list(17))),
        &[OPENAI],
        "routes.smart.targets",
    );
    let with_fallbacks = |n| format!("targets = [\"openai/x\"]\nfallbacks = [{}]", list(n));
    load_str(&route(&with_fallbacks(16)), &[OPENAI]).unwrap();
    refused_at(
        &route(&with_fallbacks(17)),
        &[OPENAI],
        "routes.smart.fallbacks",
    );
}

#[test]
fn route_target_weights_are_between_1_and_10000() {
    let t = |w: &str| {
        route(&format!(
            "targets = [{{ model = \"openai/x\", weight = {w} }}]"
        ))
    };
    refused_at(&t("0"), &[OPENAI], "routes.smart.targets[0].weight");
    refused_at(&t("10001"), &[OPENAI], "routes.smart.targets[0].weight");
    refused_at(&t("-1"), &[OPENAI], "routes.smart.targets[0].weight");
    refused_at(&t("1.5"), &[OPENAI], "routes.smart.targets[0].weight");
    let s = load_str(&t("10000"), &[OPENAI]).unwrap();
    assert_eq!(s.routes[0].targets, [target("openai/x", 10000)]);
    // A table without a weight weighs 1, like a bare string.
    let s = load_str(&route("targets = [{ model = \"openai/x\" }]"), &[OPENAI]).unwrap();
    assert_eq!(s.routes[0].targets, [target("openai/x", 1)]);
}

#[test]
fn route_targets_and_fallbacks_must_name_enabled_providers_and_allowed_models() {
    let env = [OPENAI];
    // Table target: the path ends at `.model`; bare target: at the entry.
    refused_at(
        &route("targets = [\"openai/x\", { model = \"groq/llama\" }]"),
        &env,
        "routes.smart.targets[1].model",
    );
    let err = refused_at(
        &route("targets = [\"openai/x\", \"groq/llama\"]"),
        &env,
        "routes.smart.targets[1]",
    );
    assert!(err.hint().unwrap().contains("openai"), "{err}");
    refused_at(
        &route("targets = [\"gpt-4o\"]"),
        &env,
        "routes.smart.targets[0]",
    );
    refused_at(
        &route("targets = [\"openai/\"]"),
        &env,
        "routes.smart.targets[0]",
    );
    refused_at(
        &route("targets = [\"openai/x\"]\nfallbacks = [\"groq/llama\"]"),
        &env,
        "routes.smart.fallbacks[0]",
    );
    // The allow-list applies to targets and fallbacks alike.
    let allow = "[providers.openai]\nmodels = [\"gpt-4o\"]\n";
    refused_at(
        &format!(
            "{allow}{}",
            route("targets = [\"openai/gpt-4o\", \"openai/o3\"]")
        ),
        &env,
        "routes.smart.targets[1]",
    );
    refused_at(
        &format!(
            "{allow}{}",
            route("targets = [\"openai/gpt-4o\"]\nfallbacks = [\"openai/gpt-4o\", \"openai/o3\"]")
        ),
        &env,
        "routes.smart.fallbacks[1]",
    );
}

#[test]
fn aliases_and_routes_refuse_a_bad_target_with_the_same_message() {
    let alias = refused_at(
        "[aliases]\nfast = \"groq/llama\"",
        &[OPENAI],
        "aliases.fast",
    );
    let route = refused_at(
        &route("targets = [\"groq/llama\"]"),
        &[OPENAI],
        "routes.smart.targets[0]",
    );
    let message = |e: &ConfigError| e.to_string().split_once("`: ").unwrap().1.to_owned();
    assert_eq!(message(&alias), message(&route));
    assert!(message(&alias).contains("not enabled"), "{alias}");
}

#[test]
fn route_names_are_bare_short_and_not_aliases() {
    let body = "targets = [\"openai/x\"]";
    refused_at(
        &format!("[routes.\"a/b\"]\n{body}"),
        &[OPENAI],
        r#"routes."a/b""#,
    );
    refused_at(&format!("[routes.\"\"]\n{body}"), &[OPENAI], r#"routes."""#);
    let long = "r".repeat(257);
    refused_at(
        &format!("[routes.{long}]\n{body}"),
        &[OPENAI],
        &format!("routes.{long}"),
    );
    load_str(&format!("[routes.{}]\n{body}", "r".repeat(256)), &[OPENAI]).unwrap();
    let err = refused_at(
        &format!("[aliases]\nsmart = \"openai/y\"\n{}", route(body)),
        &[OPENAI],
        "routes.smart",
    );
    assert!(err.to_string().contains("alias"), "{err}");
}

#[test]
fn routes_keep_file_order_and_refuse_unknown_keys() {
    let text = "[routes.zeta]\ntargets = [\"openai/x\"]\n[routes.alpha]\ntargets = [\"openai/y\"]";
    let s = load_str(text, &[OPENAI]).unwrap();
    let names: Vec<&str> = s.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha"]);
    refused_at(
        &route("targets = [\"openai/x\"]\nfallback = []"),
        &[OPENAI],
        "routes.smart.fallback",
    );
    refused_at(
        &route("targets = [{ model = \"openai/x\", wieght = 2 }]"),
        &[OPENAI],
        "routes.smart.targets[0].wieght",
    );
    refused_at(
        &route("targets = [3]"),
        &[OPENAI],
        "routes.smart.targets[0]",
    );
}

// ---- weighted keys ------------------------------------------------------------

#[test]
fn bare_and_table_keys_keep_their_order_and_pair_with_options() {
    let text = r#"
[providers.openai]
keys = ["env:K1", { key = "env:K2", weight = 5 }, "literal-k3", { key = "k4", models = ["a", "b"] }]
"#;
    let env = [("K1", "one"), ("K2", "two")];
    let s = load_str(text, &env).unwrap();
    let openai = provider(&s, "openai");
    let keys: Vec<&str> = openai.keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["one", "two", "literal-k3", "k4"]);
    let options: Vec<(u32, Vec<&str>)> = openai
        .key_options
        .iter()
        .map(|o| (o.weight, o.models.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        options,
        [(1, vec![]), (5, vec![]), (1, vec![]), (1, vec!["a", "b"])]
    );
}

#[test]
fn bad_key_options_are_refused_at_their_path() {
    let p =
        |keys: &str| format!("[providers.openai]\nmodels = [\"gpt-4o\", \"o3\"]\nkeys = {keys}");
    refused_at(
        &p("[{ key = \"k\", weight = 0 }]"),
        &[],
        "providers.openai.keys[0].weight",
    );
    refused_at(
        &p("[\"k\", { key = \"k\", weight = 10001 }]"),
        &[],
        "providers.openai.keys[1].weight",
    );
    let err = refused_at(
        &p("[\"k\", { key = \"k\", models = [\"o3\", \"gpt-5\"] }]"),
        &[],
        "providers.openai.keys[1].models[1]",
    );
    assert!(err.to_string().contains("providers.openai.models"), "{err}");
    refused_at(
        &p("[{ key = \"k\", models = [\" \"] }]"),
        &[],
        "providers.openai.keys[0].models[0]",
    );
    refused_at(
        &p("[{ key = \"env:UNSET\" }]"),
        &[],
        "providers.openai.keys[0].key",
    );
    refused_at(
        &p("[{ key = \"k\", wieght = 2 }]"),
        &[],
        "providers.openai.keys[0].wieght",
    );
    refused_at(&p("[{ weight = 2 }]"), &[], "providers.openai.keys[0]");
    // Without an allow-list a key may name any model.
    let s = load_str(
        "[providers.openai]\nkeys = [{ key = \"k\", models = [\"gpt-5\"] }]",
        &[],
    )
    .unwrap();
    assert_eq!(provider(&s, "openai").key_options[0].models, ["gpt-5"]);
}

#[test]
fn every_provider_has_as_many_key_options_as_keys() {
    let cases: [(&str, &[(&str, &str)]); 5] = [
        // Zero config: env-enabled built-ins, ollama and mock.
        ("", &[OPENAI, GROQ, ("MISTRAL_API_KEY", "m")]),
        // Azure: an empty file list replaced by the environment's token.
        (
            "[providers.azure]\nbase_url = \"https://r.openai.azure.com\"\nkeys = []",
            &[("AZURE_OPENAI_AD_TOKEN", "tok")],
        ),
        // Azure: file keys kept.
        (
            "[providers.azure]\nbase_url = \"https://r.openai.azure.com\"\nkeys = [{ key = \"k\", weight = 3 }, \"k2\"]",
            &[],
        ),
        // Azure from the environment with a token.
        (
            "",
            &[
                ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com"),
                ("AZURE_OPENAI_AD_TOKEN", "tok"),
            ],
        ),
        // Vertex with static tokens; Bedrock with no keys at all.
        (
            "[providers.vertex]\nproject = \"p\"\nkeys = [\"t1\", \"t2\"]\n[providers.bedrock]\nregion = \"us-east-1\"",
            &[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "s")],
        ),
    ];
    let mut seen = 0;
    for (text, env) in cases {
        let s = load_str(text, env).unwrap_or_else(|e| panic!("{text}: {e}"));
        for p in &s.providers {
            assert_eq!(p.key_options.len(), p.keys.len(), "{text} / {}", p.name);
            seen += p.keys.len();
        }
    }
    assert!(seen >= 8, "the cases must exercise keys, saw {seen}");
    let s = load_str(cases[2].0, cases[2].1).unwrap();
    assert_eq!(provider(&s, "azure").key_options[0].weight, 3);
}

// ---- max_in_flight ------------------------------------------------------------

#[test]
fn concurrency_defaults_follow_max_in_flight() {
    let p = |body: &str| format!("[providers.openai]\n{body}");
    let s = load_str(&p("max_in_flight = 32"), &[OPENAI]).unwrap();
    assert_eq!(
        provider(&s, "openai").concurrency,
        Some(ConcurrencySettings {
            max_in_flight: 32,
            min_in_flight: 32,
            queue: 32,
            queue_timeout: ms(5000),
        })
    );
    // The default queue is capped like an explicit one.
    let s = load_str(&p("max_in_flight = 200000"), &[OPENAI]).unwrap();
    assert_eq!(provider(&s, "openai").concurrency.unwrap().queue, 100_000);
    let s = load_str(&p("max_in_flight = 4\nqueue = 0"), &[OPENAI]).unwrap();
    assert_eq!(provider(&s, "openai").concurrency.unwrap().queue, 0);
}

#[test]
fn bad_concurrency_values_are_refused_at_their_path() {
    let p = |body: &str| format!("[providers.openai]\n{body}");
    let at = |key: &str| format!("providers.openai.{key}");
    let env = [OPENAI];
    refused_at(&p("max_in_flight = 0"), &env, &at("max_in_flight"));
    refused_at(&p("max_in_flight = 1000001"), &env, &at("max_in_flight"));
    refused_at(
        &p("max_in_flight = 4\nmin_in_flight = 5"),
        &env,
        &at("min_in_flight"),
    );
    refused_at(
        &p("max_in_flight = 4\nmin_in_flight = 0"),
        &env,
        &at("min_in_flight"),
    );
    load_str(&p("max_in_flight = 4\nmin_in_flight = 1"), &env).unwrap();
    refused_at(&p("max_in_flight = 4\nqueue = 100001"), &env, &at("queue"));
    load_str(&p("max_in_flight = 4\nqueue = 100000"), &env).unwrap();
    refused_at(
        &p("max_in_flight = 4\nqueue_timeout_ms = 0"),
        &env,
        &at("queue_timeout_ms"),
    );
    refused_at(
        &p("max_in_flight = 4\nqueue_timeout_ms = 600001"),
        &env,
        &at("queue_timeout_ms"),
    );
    for orphan in ["min_in_flight = 1", "queue = 3", "queue_timeout_ms = 10"] {
        let key = orphan.split(' ').next().unwrap();
        let err = refused_at(&p(orphan), &env, &at(key));
        assert!(
            err.to_string().contains("max_in_flight is required"),
            "{err}"
        );
    }
}

// ---- [admin] ------------------------------------------------------------------

const TOKEN: &str = "adm-0123456789abcdef";

#[test]
fn admin_token_comes_from_the_file_else_the_environment() {
    let token = |s: &Settings| s.admin_token.as_ref().map(|t| t.expose().to_owned());
    let s = load_str(&format!("[admin]\ntoken = \"{TOKEN}\""), &[]).unwrap();
    assert_eq!(token(&s).as_deref(), Some(TOKEN));
    let s = load_str("[admin]\ntoken = \"env:ADM\"", &[("ADM", TOKEN)]).unwrap();
    assert_eq!(token(&s).as_deref(), Some(TOKEN));
    let s = load_str("", &[("RINGBRIDGE_ADMIN_TOKEN", TOKEN)]).unwrap();
    assert_eq!(token(&s).as_deref(), Some(TOKEN));
    // The file wins, even over a variable that would be refused.
    let s = load_str(
        &format!("[admin]\ntoken = \"{TOKEN}\""),
        &[("RINGBRIDGE_ADMIN_TOKEN", "short")],
    )
    .unwrap();
    assert_eq!(token(&s).as_deref(), Some(TOKEN));
    // A blank variable counts as unset, like every other variable.
    let s = load_str("[admin]", &[("RINGBRIDGE_ADMIN_TOKEN", "  ")]).unwrap();
    assert!(s.admin_token.is_none());
}

#[test]
fn empty_short_or_unset_admin_tokens_are_refused() {
    refused_at("[admin]\ntoken = \"\"", &[], "admin.token");
    let err = refused_at("[admin]\ntoken = \"0123456789abcde\"", &[], "admin.token");
    assert!(err.to_string().contains("16 bytes"), "{err}");
    load_str("[admin]\ntoken = \"0123456789abcdef\"", &[]).unwrap();
    refused_at(
        "[admin]\ntoken = \"env:ADM\"",
        &[("ADM", "short")],
        "admin.token",
    );
    refused_at("[admin]\ntoken = \"env:UNSET\"", &[], "admin.token");
    refused_at(
        "",
        &[("RINGBRIDGE_ADMIN_TOKEN", "short")],
        "RINGBRIDGE_ADMIN_TOKEN",
    );
    refused_at(
        "",
        &[("RINGBRIDGE_ADMIN_TOKEN", "0123456789 abcdef")],
        "RINGBRIDGE_ADMIN_TOKEN",
    );
    refused_at("[admin]\ntokn = \"x\"", &[], "admin.tokn");
}

#[test]
fn no_routing_error_or_debug_output_shows_a_token_or_key() {
    const SECRET: &str = "sk-TOPSECRET-0123";
    const SHORT: &str = "TOPSECRET";
    let cases: [(String, Vec<(&str, &str)>); 6] = [
        (format!("[admin]\ntoken = \"{SHORT}\""), vec![]),
        (String::new(), vec![("RINGBRIDGE_ADMIN_TOKEN", SHORT)]),
        (
            String::new(),
            vec![("RINGBRIDGE_ADMIN_TOKEN", "TOPSECRET with space")],
        ),
        (
            format!("[providers.openai]\nkeys = [{{ key = \"{SECRET}\", weight = 0 }}]"),
            vec![],
        ),
        (
            format!("[providers.openai]\nkeys = [{{ key = \"{SECRET}\", weight = \"{SECRET}\" }}]"),
            vec![],
        ),
        (
            format!("[providers.openai]\nkeys = [{{ key = \"{SECRET}\", bogus = 1 }}]"),
            vec![],
        ),
    ];
    for (text, env) in &cases {
        let err = load_str(text, env).expect_err(text);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(SHORT), "{text}\n=> {shown}");
    }
    let s = load_str(
        &format!("[admin]\ntoken = \"{SECRET}\"\n[providers.openai]\nkeys = [{{ key = \"{SECRET}\", weight = 2 }}]"),
        &[],
    )
    .unwrap();
    assert!(!format!("{s:?}").contains(SHORT));
    assert_eq!(s.admin_token.unwrap().expose(), SECRET);
}
