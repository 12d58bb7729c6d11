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
        budget: None,
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
    let g = Governance::new(
        &settings(vec![key("a", rpm(1), None), key("b", rpm(1), None)], vec![]),
        &Default::default(),
    );
    assert_eq!(g.key_of(b"rb-b-secret", exact), Some(1));
    assert_eq!(g.key_of(b"rb-b-secre", exact), None);
    assert_eq!(g.key_of(b"", exact), None);
}

#[test]
fn the_n_plus_first_request_of_a_minute_is_refused_with_its_wait() {
    let g = Governance::new(
        &settings(vec![key("a", rpm(3), None)], vec![]),
        &Default::default(),
    );
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
        budget: None,
    };
    let g = Governance::new(
        &settings(
            vec![key("a", rpm(10), Some(0)), key("b", rpm(10), Some(0))],
            vec![team],
        ),
        &Default::default(),
    );
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
    let g = Governance::new(
        &settings(vec![key("a", rate, None)], vec![]),
        &Default::default(),
    );
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
    let g = Governance::new(&settings(vec![off, old], vec![]), &Default::default());
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
    let g = Governance::new(&settings(vec![k], vec![]), &Default::default());
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
    let old = Governance::new(
        &settings(vec![key("a", rpm(1), None), key("b", rpm(1), None)], vec![]),
        &Default::default(),
    );
    old.admit(0, T0, 0).unwrap();
    old.admit(1, T0, 0).unwrap();
    let mut new = Governance::new(
        &settings(vec![key("a", rpm(1), None), key("b", rpm(2), None)], vec![]),
        &Default::default(),
    );
    new.adopt_state(&old);
    assert!(new.admit(0, T0, 0).is_err(), "a's minute carried over");
    assert!(
        new.admit(1, T0, 0).is_ok(),
        "b's limit changed: a new counter"
    );
}

#[test]
fn a_team_budget_stops_a_key_with_money_left_and_charges_reach_every_level() {
    use crate::config::{BudgetPeriod, BudgetSettings};
    let dollars = |usd: u64| {
        Some(BudgetSettings {
            limit_nanos: usd * 1_000_000_000,
            period: BudgetPeriod::Monthly,
        })
    };
    let team = GroupSettings {
        id: "t".into(),
        name: "t".into(),
        rate_limit: RateLimit::default(),
        budget: dollars(1),
    };
    let mut rich = key("rich", RateLimit::default(), Some(0));
    rich.budget = dollars(100);
    let g = Governance::new(&settings(vec![rich], vec![team]), &Default::default());
    let now = 1_796_491_800; // 2026-12-05T17:30:00Z
    assert!(g.admit(0, T0, now).is_ok());
    g.charge_cost(0, 1_000_000_000, now);
    match g.admit(0, T0, now) {
        Err(Refusal::OverBudget { level, exhausted }) => {
            assert_eq!(level, Level::Team);
            assert_eq!(exhausted.resets_at, Some(1_798_761_600)); // 2027-01-01
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        g.keys[0].holder.budget.as_ref().unwrap().spent(now as i64),
        1_000_000_000
    );
    // January: both budgets start over.
    assert!(g.admit(0, T0, 1_798_761_600 + 1).is_ok());
}

#[test]
fn api_made_keys_are_found_by_the_hash_of_what_is_presented() {
    use crate::config::KeyDoc;
    let api = ApiEntities {
        keys: vec![ApiKey {
            id: "key_1".into(),
            secret_hash: secret_hash(b"rb-made-by-the-api"),
            hint: String::new(),
            doc: KeyDoc {
                name: "made".into(),
                team_id: Some("gone".into()),
                customer_id: None,
                models: vec![],
                rate_limit: RateLimit::default(),
                budget: None,
                expires_at: None,
                disabled: false,
            },
            stamps: (0, 0),
        }],
        ..Default::default()
    };
    let g = Governance::new(&settings(vec![key("file", rpm(5), None)], vec![]), &api);
    let same = |a: &[u8], b: &[u8]| a == b;
    assert_eq!(g.key_of(b"rb-file-secret", same), Some(0));
    assert_eq!(g.key_of(b"rb-made-by-the-api", same), Some(1));
    assert_eq!(g.key_of(b"rb-made-by-the-apj", same), None);
    // Its team is gone: the key is kept, disabled.
    assert_eq!(g.admit(1, T0, 0), Err(Refusal::Disabled));
}
