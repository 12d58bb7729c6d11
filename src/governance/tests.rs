use super::*;
use crate::config::{LoadOptions, Secret};

const SECOND: Nanos = 1_000_000_000;
const T0: Nanos = 60 * SECOND;

fn key(id: &str, rate: RateLimit, team: Option<usize>) -> VirtualKeySettings {
    VirtualKeySettings {
        id: id.into(),
        name: id.into(),
        secret: Secret::new(format!("rb-{id}-secret")),
        team,
        customer: None,
        models: vec![],
        disabled: false,
        expires_at: None,
        rate_limit: rate,
    }
}

fn settings(keys: Vec<VirtualKeySettings>, teams: Vec<GroupSettings>) -> Settings {
    let mut s = crate::config::load(&LoadOptions::default(), &|_| None).unwrap();
    s.virtual_keys = keys;
    s.teams = teams;
    s
}

fn rpm(n: u64) -> RateLimit {
    RateLimit {
        rpm: Some(n),
        tpm: None,
    }
}

fn exact(a: &[u8], b: &[u8]) -> bool {
    a == b
}

#[test]
fn keys_are_found_by_their_secret_only() {
    let g = Governance::new(&settings(
        vec![key("a", rpm(1), None), key("b", rpm(1), None)],
        vec![],
    ));
    assert_eq!(g.key_of(b"rb-b-secret", exact), Some(1));
    assert_eq!(g.key_of(b"rb-b-secre", exact), None);
    assert_eq!(g.key_of(b"", exact), None);
}

#[test]
fn the_n_plus_first_request_of_a_minute_is_refused_with_its_wait() {
    let g = Governance::new(&settings(vec![key("a", rpm(3), None)], vec![]));
    for left in [2, 1, 0] {
        let admitted = g.admit(0, T0, 0).unwrap();
        assert_eq!(admitted.requests.unwrap().remaining, left);
    }
    match g.admit(0, T0 + SECOND, 0) {
        Err(Refusal::Limited {
            level: Level::Key,
            what: Unit::Requests,
            wait,
            ..
        }) => {
            assert_eq!(wait, 19 * SECOND)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_team_limit_stops_a_key_that_has_room_and_the_key_keeps_its_unit() {
    let team = GroupSettings {
        id: "t".into(),
        name: "t".into(),
        rate_limit: rpm(1),
    };
    let g = Governance::new(&settings(
        vec![key("a", rpm(10), Some(0)), key("b", rpm(10), Some(0))],
        vec![team],
    ));
    g.admit(0, T0, 0).unwrap();
    assert!(matches!(
        g.admit(1, T0, 0),
        Err(Refusal::Limited {
            level: Level::Team,
            ..
        })
    ));
    // Key b's own limit was not charged for the refused request.
    let b = g.keys[1].holder.limits.requests.as_ref().unwrap();
    assert_eq!(b.take(1, T0).unwrap().remaining, 9);
}

#[test]
fn tokens_are_charged_after_and_refuse_the_next_request() {
    let rate = RateLimit {
        rpm: None,
        tpm: Some(100),
    };
    let g = Governance::new(&settings(vec![key("a", rate, None)], vec![]));
    g.admit(0, T0, 0).unwrap();
    g.charge_tokens(0, 150, T0);
    assert!(matches!(
        g.admit(0, T0, 0),
        Err(Refusal::Limited {
            what: Unit::Tokens,
            ..
        })
    ));
}

#[test]
fn disabled_and_expired_keys_are_refused() {
    let mut off = key("off", RateLimit::default(), None);
    off.disabled = true;
    let mut old = key("old", RateLimit::default(), None);
    old.expires_at = Some(1_000);
    let g = Governance::new(&settings(vec![off, old], vec![]));
    assert_eq!(g.admit(0, T0, 0), Err(Refusal::Disabled));
    assert!(g.admit(1, T0, 999).is_ok());
    assert_eq!(g.admit(1, T0, 1_000), Err(Refusal::Expired));
}

#[test]
fn model_patterns_allow_providers_prefixes_and_exact_models() {
    let mut k = key("a", RateLimit::default(), None);
    k.models = vec![
        "openai/*".into(),
        "mock/echo".into(),
        "groq/llama-3*".into(),
    ];
    let g = Governance::new(&settings(vec![k], vec![]));
    let k = &g.keys[0];
    assert!(k.allows("openai", "gpt-4o"));
    assert!(k.allows("mock", "echo"));
    assert!(!k.allows("mock", "fast"));
    assert!(k.allows("groq", "llama-3.1-8b"));
    assert!(!k.allows("groq", "mixtral"));
    assert_eq!(k.patterns(), "openai/*, mock/echo, groq/llama-3*");
}

#[test]
fn a_reload_keeps_the_counters_of_unchanged_limits() {
    let old = Governance::new(&settings(
        vec![key("a", rpm(1), None), key("b", rpm(1), None)],
        vec![],
    ));
    old.admit(0, T0, 0).unwrap();
    old.admit(1, T0, 0).unwrap();
    let mut new = Governance::new(&settings(
        vec![key("a", rpm(1), None), key("b", rpm(2), None)],
        vec![],
    ));
    new.adopt_state(&old);
    assert!(new.admit(0, T0, 0).is_err(), "a's minute carried over");
    assert!(
        new.admit(1, T0, 0).is_ok(),
        "b's limit changed: a new counter"
    );
}
