//! The resolve phase: how a client's `model` becomes candidates.

use super::*;

fn routes(file: &str) -> Routes {
    Routes::new(&crate::config::Settings::from_test_toml(file))
}

const FILE: &str = r#"
env_providers = false
providers.groq = { kind = "groq", keys = ["k"] }
providers.strict = { kind = "openai-compatible", base_url = "http://127.0.0.1:1/v1", models = ["small", "large"], retries = { attempts = 1 } }
aliases = { fast = "groq/llama-3.1-8b-instant" }
"#;

fn first<'a>(routes: &'a Routes, model: &'a str) -> Result<(&'a str, &'a str), RouteError> {
    let candidates = routes.candidates(model, &[], &CoreRouting::new(0))?;
    assert_eq!(candidates.len(), 1, "no fallbacks: one candidate");
    let route = candidates.iter().next().unwrap();
    Ok((routes.provider(route.provider).name(), route.model))
}

#[test]
fn prefixes_aliases_and_allow_lists_resolve() {
    let r = routes(FILE);
    assert_eq!(
        first(&r, "groq/llama-3.1-8b-instant"),
        Ok(("groq", "llama-3.1-8b-instant"))
    );
    // Only the first `/` splits: the rest is the upstream's model name.
    assert_eq!(first(&r, "groq/meta/llama-3"), Ok(("groq", "meta/llama-3")));
    assert_eq!(first(&r, "fast"), Ok(("groq", "llama-3.1-8b-instant")));
    assert_eq!(first(&r, "strict/small"), Ok(("strict", "small")));
    assert_eq!(first(&r, "mock/anything"), Ok(("mock", "anything")));
}

#[test]
fn what_does_not_exist_is_404_and_malformed_is_400() {
    let r = routes(FILE);
    let unknown_provider = first(&r, "nosuch/x").unwrap_err();
    assert_eq!(unknown_provider.status(), 404);
    assert!(unknown_provider.to_string().contains("groq, strict, mock"));
    let not_allowed = first(&r, "strict/huge").unwrap_err();
    assert_eq!(not_allowed.status(), 404);
    assert!(not_allowed
        .to_string()
        .contains("strict/small, strict/large"));
    let bare = first(&r, "gpt-4o").unwrap_err();
    assert_eq!(bare.status(), 404);
    assert!(bare.to_string().contains("aliases: fast"), "{bare}");
    assert_eq!(first(&r, "").unwrap_err(), RouteError::MissingModel);
    assert_eq!(first(&r, "groq/").unwrap_err(), RouteError::MissingModel);
    let long = format!("groq/{}", "m".repeat(MAX_MODEL_NAME_BYTES));
    assert_eq!(first(&r, &long).unwrap_err().status(), 400);
}

#[test]
fn a_default_provider_takes_bare_and_unknown_prefixed_names() {
    let r = routes(&format!("default_provider = \"groq\"\n{FILE}"));
    assert_eq!(first(&r, "gpt-4o"), Ok(("groq", "gpt-4o")));
    assert_eq!(
        first(&r, "meta-llama/llama-3"),
        Ok(("groq", "meta-llama/llama-3"))
    );
    // An alias still wins over the default.
    assert_eq!(first(&r, "fast"), Ok(("groq", "llama-3.1-8b-instant")));
}

/// `(provider, upstream model, name as asked)` of each candidate.
fn chain<'a>(
    routes: &'a Routes,
    model: &'a str,
    fallbacks: &'a [String],
) -> Result<Vec<(&'a str, &'a str, &'a str)>, RouteError> {
    let candidates = routes.candidates(model, fallbacks, &CoreRouting::new(0))?;
    Ok(candidates
        .iter()
        .map(|c| (routes.provider(c.provider).name(), c.model, c.asked))
        .collect())
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn fallbacks_follow_the_model_in_order_without_repeats() {
    let r = routes(FILE);
    let fallbacks = owned(&[
        "strict/small",
        "fast",
        "groq/llama-3.1-8b-instant",
        "mock/echo",
    ]);
    assert_eq!(
        chain(&r, "groq/llama-3.1-8b-instant", &fallbacks),
        Ok(vec![
            ("groq", "llama-3.1-8b-instant", "groq/llama-3.1-8b-instant"),
            ("strict", "small", "strict/small"),
            // `fast` and the repeated name are the first candidate again.
            ("mock", "echo", "mock/echo"),
        ])
    );
}

#[test]
fn a_bad_fallback_fails_the_request_with_its_index() {
    let r = routes(FILE);
    let err = chain(&r, "fast", &owned(&["mock/echo", "strict/huge"])).unwrap_err();
    assert_eq!(err.status(), 404);
    assert!(
        err.to_string().starts_with("fallbacks[1]: model `huge`"),
        "{err}"
    );
    let err = chain(&r, "fast", &owned(&["groq/"])).unwrap_err();
    assert_eq!(err.status(), 400);
    let many = owned(&["mock/a"; MAX_FALLBACKS + 1]);
    let err = chain(&r, "fast", &many).unwrap_err();
    assert_eq!(
        err,
        RouteError::TooManyFallbacks {
            count: MAX_FALLBACKS + 1
        }
    );
    assert_eq!(err.status(), 400);
    assert!(chain(&r, "fast", &many[..MAX_FALLBACKS]).is_ok());
}

const ROUTES: &str = r#"
[retries]
attempts = 3
[routes.smart]
targets = [{ model = "groq/big", weight = 3 }, "strict/small"]
fallbacks = ["mock/echo"]
[routes.patient]
targets = ["strict/large"]
retries = { attempts = 5 }
"#;

#[test]
fn a_route_lists_its_drawn_target_then_the_others_then_its_fallbacks() {
    let r = routes(&format!("{FILE}{ROUTES}"));
    let core = CoreRouting::new(0);
    let mut drawn_big = 0;
    for _ in 0..1000 {
        let c = r.candidates("smart", &[], &core).unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.asked).collect();
        match names[0] {
            "groq/big" => {
                drawn_big += 1;
                assert_eq!(names, ["groq/big", "strict/small", "mock/echo"]);
            }
            _ => assert_eq!(names, ["strict/small", "groq/big", "mock/echo"]),
        }
    }
    // 3:1; five standard deviations of 1000 draws is about 68.
    assert!((682..=818).contains(&drawn_big), "{drawn_big}");
    // A request's fallbacks come after the route's own, without repeats.
    let extra = owned(&["mock/echo", "groq/other"]);
    let c = r.candidates("smart", &extra, &core).unwrap();
    assert_eq!(c.iter().last().map(|c| c.asked), Some("groq/other"));
    assert_eq!(c.len(), 4);
    // Outside a request, the heaviest target stands for the route.
    assert_eq!(r.resolve("smart").unwrap().asked, "groq/big");
}

#[test]
fn the_weighted_draw_skips_targets_whose_provider_is_resting() {
    let r = routes(&format!("{FILE}{ROUTES}"));
    let core = CoreRouting::new(0);
    // Every key of `groq` open: the draw is among the usable targets only,
    // and the resting one is still listed, after them.
    let groq = &r.providers[r.provider_by_name("groq").unwrap()];
    let now = super::health::now_ms();
    for key in groq.health.keys.iter() {
        for t in 0..groq.breaker.failures {
            let failed = super::health::Outcome::Failure;
            key.breaker
                .record(&groq.breaker, now + u64::from(t), failed, false);
        }
    }
    for _ in 0..200 {
        let c = r.candidates("smart", &[], &core).unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.asked).collect();
        assert_eq!(names, ["strict/small", "groq/big", "mock/echo"]);
    }
}

#[test]
fn retries_come_from_the_route_then_the_provider_then_the_default() {
    let r = routes(&format!("{FILE}{ROUTES}"));
    let core = CoreRouting::new(0);
    let attempts = |model: &str| {
        r.candidates(model, &[], &core)
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .retries
            .attempts
    };
    assert_eq!(attempts("patient"), 5);
    assert_eq!(attempts("strict/small"), 1);
    assert_eq!(attempts("groq/x"), 3);
}
