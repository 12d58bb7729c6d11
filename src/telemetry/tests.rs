use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::prometheus::escape_label_value;
use super::series;
use super::*;

fn rec<'a>(provider: &'a str, model: &'a str, status: u16, total_us: u64) -> RequestRecord<'a> {
    RequestRecord {
        provider,
        model,
        endpoint: "chat_completions",
        status,
        total: Duration::from_micros(total_us),
        upstream_wait: Duration::ZERO,
        upstream_ttfb: None,
        prompt_tokens: 0,
        completion_tokens: 0,
    }
}

fn render(reg: &Registry) -> String {
    let mut out = Vec::new();
    reg.render_prometheus(&mut out);
    String::from_utf8(out).expect("exposition is UTF-8")
}

/// `metric{labels}` → value, for every sample line.
fn samples(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample has a value");
            (series.to_owned(), value.to_owned())
        })
        .collect()
}

fn value(text: &str, series: &str) -> String {
    samples(text)
        .remove(series)
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[test]
fn recording_on_two_cores_merges_in_render() {
    let reg = Registry::new(2);
    let a = reg.core(0);
    let b = reg.core(1);
    let mut r = rec("openai", "gpt-4o", 200, 1_500);
    r.prompt_tokens = 10;
    r.completion_tokens = 3;
    r.upstream_ttfb = Some(Duration::from_micros(700));
    a.record(&r);
    a.record(&r);
    b.record(&r);
    b.record(&rec("openai", "gpt-4o", 429, 300));
    a.publish();
    b.publish();

    let text = render(&reg);
    let ok = r#"ringbridge_requests_total{provider="openai",model="gpt-4o",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, ok), "3");
    let limited = r#"ringbridge_requests_total{provider="openai",model="gpt-4o",endpoint="chat_completions",status="429"}"#;
    assert_eq!(value(&text, limited), "1");
    let tokens = r#"ringbridge_prompt_tokens_total{provider="openai",model="gpt-4o"}"#;
    assert_eq!(value(&text, tokens), "30");
    let tokens = r#"ringbridge_completion_tokens_total{provider="openai",model="gpt-4o"}"#;
    assert_eq!(value(&text, tokens), "9");
    let count = r#"ringbridge_request_duration_seconds_count{provider="openai"}"#;
    assert_eq!(value(&text, count), "4");
    let sum = r#"ringbridge_request_duration_seconds_sum{provider="openai"}"#;
    assert_eq!(value(&text, sum), "0.0048");
    let ttfb = r#"ringbridge_upstream_ttfb_seconds_count{provider="openai"}"#;
    assert_eq!(value(&text, ttfb), "3");
    assert_eq!(
        value(&text, "ringbridge_gateway_overhead_seconds_count"),
        "4"
    );
    assert_eq!(value(&text, "ringbridge_workers"), "2");
}

#[test]
fn unpublished_records_are_not_rendered_until_publish() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    core.record(&rec("openai", "m", 200, 10));
    let series = r#"ringbridge_requests_total{provider="openai",model="m",endpoint="chat_completions",status="200"}"#;
    assert!(!samples(&render(&reg)).contains_key(series));
    core.publish();
    assert_eq!(value(&render(&reg), series), "1");
    core.record(&rec("openai", "m", 200, 10));
    core.publish();
    assert_eq!(value(&render(&reg), series), "2");
}

#[test]
fn empty_provider_is_labelled_none() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    let mut r = rec("", "", 400, 50);
    r.endpoint = "other";
    core.record(&r);
    core.publish();
    let text = render(&reg);
    let series =
        r#"ringbridge_requests_total{provider="none",model="",endpoint="other",status="400"}"#;
    assert_eq!(value(&text, series), "1");
    let count = r#"ringbridge_request_duration_seconds_count{provider="none"}"#;
    assert_eq!(value(&text, count), "1");
    // Nothing reached an upstream and no tokens were reported: no such series.
    assert!(!text.contains("ringbridge_upstream_ttfb_seconds_count{"));
    assert!(!text.contains("ringbridge_prompt_tokens_total{"));
}

#[test]
fn label_values_are_escaped() {
    let mut out = Vec::new();
    escape_label_value(&mut out, "a\"b\\c\nd");
    assert_eq!(out, br#"a\"b\\c\nd"#);

    let reg = Registry::new(1);
    let core = reg.core(0);
    core.record(&rec("p", "we\"ird\\mo\ndel", 200, 1));
    core.publish();
    reg.set_build_info("1.2.3\"x", "io_uring");
    let text = render(&reg);
    let series = r#"ringbridge_requests_total{provider="p",model="we\"ird\\mo\ndel",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, series), "1");
    let build = r#"ringbridge_build_info{version="1.2.3\"x",driver="io_uring"}"#;
    assert_eq!(value(&text, build), "1");
}

#[test]
fn label_sets_beyond_the_cap_fold_model_into_other() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    let extra = 5;
    let names: Vec<String> = (0..MAX_LABEL_SETS + extra)
        .map(|i| format!("m{i}"))
        .collect();
    for name in &names {
        core.record(&rec("p", name, 200, 1));
    }
    // A set seen before the cap keeps its model, even with more requests after it.
    core.record(&rec("p", "m0", 200, 1));
    // A known model with a new status is a new set too: folded.
    core.record(&rec("p", "m1", 500, 1));
    core.publish();

    let text = render(&reg);
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ringbridge_requests_total{"))
        .collect();
    assert_eq!(requests.len(), MAX_LABEL_SETS + 2);
    let other = r#"ringbridge_requests_total{provider="p",model="other",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, other), extra.to_string());
    let other_500 = r#"ringbridge_requests_total{provider="p",model="other",endpoint="chat_completions",status="500"}"#;
    assert_eq!(value(&text, other_500), "1");
    let m0 = r#"ringbridge_requests_total{provider="p",model="m0",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, m0), "2");
    let last = format!(
        r#"ringbridge_requests_total{{provider="p",model="m{}",endpoint="chat_completions",status="200"}}"#,
        MAX_LABEL_SETS + extra - 1
    );
    assert!(!samples(&text).contains_key(&last));
}

#[test]
fn long_and_bulky_model_names_fold_into_other() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    // One name over the per-label bound is folded at once.
    let huge = "x".repeat(MAX_MODEL_LABEL_LEN + 1);
    core.record(&rec("p", &huge, 200, 1));
    // Names within it are kept until their bytes reach the total bound.
    let name = |i: usize| format!("{i:0>width$}", width = MAX_MODEL_LABEL_LEN);
    let fit = MAX_MODEL_LABEL_BYTES / MAX_MODEL_LABEL_LEN;
    for i in 0..fit + 3 {
        core.record(&rec("p", &name(i), 200, 1));
    }
    core.publish();
    let text = render(&reg);
    assert!(
        text.len() < MAX_MODEL_LABEL_BYTES + 64 * 1024,
        "{}",
        text.len()
    );
    let other = r#"ringbridge_requests_total{provider="p",model="other",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, other), "4");
    assert!(text.contains(&name(fit - 1)));
    assert!(!text.contains(&name(fit)));
}

#[test]
fn providers_beyond_the_cap_fold_into_other() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    for i in 0..MAX_PROVIDERS + 3 {
        core.record(&rec(&format!("p{i}"), "m", 200, 1));
    }
    core.publish();
    let text = render(&reg);
    let other = r#"ringbridge_requests_total{provider="other",model="m",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, other), "3");
    let count = r#"ringbridge_request_duration_seconds_count{provider="other"}"#;
    assert_eq!(value(&text, count), "3");
}

#[test]
fn duration_buckets_are_cumulative() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    for us in [400, 500, 1_000, 3_000, 1_000_000, 70_000_000] {
        core.record(&rec("p", "m", 200, us));
    }
    core.publish();
    let text = render(&reg);
    let bucket = |le: &str| {
        value(
            &text,
            &format!(r#"ringbridge_request_duration_seconds_bucket{{provider="p",le="{le}"}}"#),
        )
        .parse::<u64>()
        .expect("count")
    };
    assert_eq!(bucket("0.0005"), 2);
    assert_eq!(bucket("0.001"), 3);
    assert_eq!(bucket("0.0025"), 3);
    assert_eq!(bucket("0.005"), 4);
    assert_eq!(bucket("1"), 5);
    assert_eq!(bucket("60"), 5);
    assert_eq!(bucket("+Inf"), 6);

    let les: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("ringbridge_request_duration_seconds_bucket{"))
        .map(|l| l.rsplit_once(' ').expect("value").1.parse().expect("count"))
        .collect();
    assert_eq!(les.len(), 17);
    assert!(les.windows(2).all(|w| w[0] <= w[1]), "{les:?}");
    let sum = r#"ringbridge_request_duration_seconds_sum{provider="p"}"#;
    assert_eq!(value(&text, sum), "71.0049");
}

#[test]
fn durations_beyond_an_hour_saturate() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    let mut r = rec("p", "m", 200, 0);
    r.total = Duration::from_secs(10 * 3600);
    core.record(&r);
    r.total = Duration::MAX;
    core.record(&r);
    core.publish();
    let text = render(&reg);
    let inf = r#"ringbridge_request_duration_seconds_bucket{provider="p",le="+Inf"}"#;
    assert_eq!(value(&text, inf), "2");
    let le60 = r#"ringbridge_request_duration_seconds_bucket{provider="p",le="60"}"#;
    assert_eq!(value(&text, le60), "0");
}

#[test]
fn overhead_is_total_minus_upstream_wait_with_quantiles() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    for i in 1..=1000u64 {
        let mut r = rec("p", "m", 200, 0);
        r.total = Duration::from_micros(50_000 + i);
        r.upstream_wait = Duration::from_micros(50_000);
        core.record(&r);
    }
    core.publish();
    let text = render(&reg);
    let q = |q: &str| {
        value(
            &text,
            &format!(r#"ringbridge_gateway_overhead_quantile_seconds{{quantile="{q}"}}"#),
        )
    };
    assert_eq!(q("0.5"), "0.0005");
    assert_eq!(q("0.9"), "0.0009");
    assert_eq!(q("0.99"), "0.00099");
    assert_eq!(q("0.999"), "0.000999");
    let bucket = |le: &str| {
        value(
            &text,
            &format!(r#"ringbridge_gateway_overhead_seconds_bucket{{le="{le}"}}"#),
        )
    };
    assert_eq!(bucket("0.00001"), "10");
    assert_eq!(bucket("0.0001"), "100");
    assert_eq!(bucket("0.001"), "1000");
    assert_eq!(bucket("+Inf"), "1000");
}

#[test]
fn overhead_saturates_at_zero_when_wait_exceeds_total() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    let mut r = rec("p", "m", 200, 100);
    r.upstream_wait = Duration::from_micros(200);
    core.record(&r);
    core.publish();
    let text = render(&reg);
    assert_eq!(
        value(
            &text,
            r#"ringbridge_gateway_overhead_seconds_bucket{le="0.00001"}"#
        ),
        "1"
    );
    assert_eq!(value(&text, "ringbridge_gateway_overhead_seconds_sum"), "0");
}

#[test]
fn overhead_quantiles_are_nan_before_any_request() {
    let reg = Registry::new(1);
    let text = render(&reg);
    assert_eq!(
        value(
            &text,
            r#"ringbridge_gateway_overhead_quantile_seconds{quantile="0.99"}"#
        ),
        "NaN"
    );
}

#[test]
fn inflight_guard_counts_until_dropped() {
    let reg = Registry::new(2);
    let a = reg.core(0);
    let b = reg.core(1);
    let g1 = a.inflight();
    let g2 = a.inflight();
    let g3 = b.inflight();
    assert_eq!(value(&render(&reg), "ringbridge_inflight_requests"), "3");
    drop(g2);
    assert_eq!(value(&render(&reg), "ringbridge_inflight_requests"), "2");
    drop(g1);
    drop(g3);
    assert_eq!(value(&render(&reg), "ringbridge_inflight_requests"), "0");
}

#[test]
fn upstream_connection_gauges_sum_over_cores() {
    let reg = Registry::new(2);
    let a = reg.core(0);
    let b = reg.core(1);
    a.upstream_connection_opened();
    a.upstream_connection_opened();
    b.upstream_connection_opened();
    a.upstream_connection_closed();
    a.upstream_connection_reused();
    b.upstream_connection_reused();
    b.upstream_connection_reused();
    a.set_upstream_idle(1);
    b.set_upstream_idle(4);
    let text = render(&reg);
    assert_eq!(value(&text, "ringbridge_upstream_connections_open"), "2");
    assert_eq!(
        value(&text, "ringbridge_upstream_connections_opened_total"),
        "3"
    );
    assert_eq!(
        value(&text, "ringbridge_upstream_connections_closed_total"),
        "1"
    );
    assert_eq!(
        value(&text, "ringbridge_upstream_connections_reused_total"),
        "3"
    );
    assert_eq!(value(&text, "ringbridge_upstream_connections_idle"), "5");
}

#[test]
fn build_info_defaults_and_can_be_set() {
    let reg = Registry::new(1);
    let text = render(&reg);
    let default = format!(
        r#"ringbridge_build_info{{version="{}",driver="unknown"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &default), "1");
    reg.set_build_info("9.9.9", "epoll");
    let text = render(&reg);
    assert_eq!(
        value(
            &text,
            r#"ringbridge_build_info{version="9.9.9",driver="epoll"}"#
        ),
        "1"
    );
}

#[test]
#[should_panic(expected = "taken twice")]
fn taking_a_core_twice_panics() {
    let reg = Registry::new(1);
    let _a = reg.core(0);
    let _b = reg.core(0);
}

#[test]
fn a_core_taken_again_after_drop_resumes_its_counters() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    core.record(&rec("p", "m", 200, 5));
    drop(core); // publishes on drop
    let core = reg.core(0);
    core.record(&rec("p", "m", 200, 5));
    core.record(&rec("p", "m2", 200, 5));
    core.publish();
    let text = render(&reg);
    let m = r#"ringbridge_requests_total{provider="p",model="m",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, m), "2");
    let count = r#"ringbridge_request_duration_seconds_count{provider="p"}"#;
    assert_eq!(value(&text, count), "3");
}

#[test]
fn every_family_has_help_and_type_before_its_samples() {
    let reg = Registry::new(1);
    let core = reg.core(0);
    let mut r = rec("p", "m", 200, 5);
    r.upstream_ttfb = Some(Duration::from_micros(3));
    core.record(&r);
    core.publish();
    let text = render(&reg);
    assert!(text.ends_with('\n'));
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut helped = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().expect("name").to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert_eq!(helped.last().map(String::as_str), Some(name), "{line}");
            typed.push((name.to_owned(), kind.to_owned()));
        } else {
            let (name, kind) = typed.last().expect("sample after a TYPE line");
            let metric = line.split(['{', ' ']).next().expect("name");
            if kind == "histogram" {
                let suffix = metric.strip_prefix(name.as_str()).expect("family name");
                assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{line}");
            } else {
                assert_eq!(metric, name, "{line}");
            }
            let v = line.rsplit_once(' ').expect("value").1;
            assert!(
                v == "NaN" || v == "+Inf" || v.parse::<f64>().is_ok(),
                "{line}"
            );
        }
    }
    let names: Vec<&str> = typed.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "ringbridge_requests_total",
        "ringbridge_request_duration_seconds",
        "ringbridge_gateway_overhead_seconds",
        "ringbridge_gateway_overhead_quantile_seconds",
        "ringbridge_upstream_ttfb_seconds",
        "ringbridge_prompt_tokens_total",
        "ringbridge_completion_tokens_total",
        "ringbridge_inflight_requests",
        "ringbridge_upstream_connections_open",
        "ringbridge_upstream_connections_idle",
        "ringbridge_upstream_connections_opened_total",
        "ringbridge_upstream_connections_reused_total",
        "ringbridge_build_info",
        "ringbridge_workers",
    ] {
        assert_eq!(
            names.iter().filter(|n| **n == expected).count(),
            1,
            "{expected}"
        );
    }
}

#[test]
fn registry_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Registry>();
    let reg = Registry::new(2);
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let reg = Arc::clone(&reg);
            std::thread::spawn(move || {
                let core = reg.core(w);
                for _ in 0..100 {
                    core.record(&rec("p", "m", 200, 5));
                }
                core.publish();
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker");
    }
    let text = render(&reg);
    let series = r#"ringbridge_requests_total{provider="p",model="m",endpoint="chat_completions",status="200"}"#;
    assert_eq!(value(&text, series), "200");
}

#[test]
fn label_hasher_separates_strings_differing_in_any_byte_or_length() {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    let mut inputs: HashSet<Vec<u8>> = HashSet::new();
    for len in 0..=17usize {
        let base = vec![b'a'; len];
        for at in 0..len {
            for b in [b'b', 0u8, 0xff] {
                let mut s = base.clone();
                s[at] = b;
                inputs.insert(s);
            }
        }
        inputs.insert(base);
        // Trailing zero bytes must not vanish into padding.
        inputs.insert(vec![0u8; len]);
    }
    let build = series::LabelHashBuilder::default();
    let hashes: HashSet<u64> = inputs.iter().map(|s| build.hash_one(&s[..])).collect();
    assert_eq!(hashes.len(), inputs.len());
}
