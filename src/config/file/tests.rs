//! One test per rejection rule, plus resolution and precedence.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::Scheme;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ringbridge.example.toml");

/// A fake environment.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn load_str_with(
    text: &str,
    opts: &LoadOptions,
    env: &[(&str, &str)],
) -> Result<Settings, ConfigError> {
    let file = parse_str(Path::new("test.toml"), text)?;
    resolve(file, opts, &env_of(env))
}

pub(super) fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    load_str_with(text, &LoadOptions::default(), env)
}

/// Asserts `text` is refused at `path`, and returns the error.
pub(super) fn refused_at(text: &str, env: &[(&str, &str)], path: &str) -> ConfigError {
    match load_str(text, env) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => {
            assert_eq!(err.path(), Some(path), "{err}");
            err
        }
    }
}

fn names(settings: &Settings) -> Vec<&str> {
    settings.providers.iter().map(|p| p.name.as_str()).collect()
}

pub(super) fn provider<'a>(settings: &'a Settings, name: &str) -> &'a ProviderSettings {
    settings
        .providers
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no provider {name}"))
}

// ---- rejections -------------------------------------------------------------

#[test]
fn unknown_key_in_provider_is_named_by_full_path_with_valid_keys_as_hint() {
    let err = refused_at(
        "[providers.groq]\nkeys = []\nbase_ulr = \"https://x\"",
        &[],
        "providers.groq.base_ulr",
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("base_url") && hint.contains("max_idle_connections"),
        "{hint}"
    );
}

#[test]
fn unknown_key_at_top_level_and_in_limits_is_refused() {
    refused_at("lissten = \"127.0.0.1:1\"", &[], "lissten");
    let err = refused_at("[limits]\nmax_body = 1", &[], "limits.max_body");
    assert!(err.hint().unwrap().contains("max_body_bytes"));
    refused_at("[auth]\nkey = []", &[], "auth.key");
    refused_at("[timeouts]\nconnect = 1", &[], "timeouts.connect");
}

#[test]
fn wrong_type_is_refused_at_its_path() {
    refused_at(
        "[limits]\nmax_body_bytes = \"big\"",
        &[],
        "limits.max_body_bytes",
    );
    refused_at(
        "[providers.groq]\nkeys = [\"env:A\", 3]",
        &[("A", "k")],
        "providers.groq.keys[1]",
    );
    refused_at(
        "[limits]\nmax_body_bytes = -1",
        &[],
        "limits.max_body_bytes",
    );
}

#[test]
fn syntax_error_reports_line_and_column() {
    let err = load_str("workers = 1\nlisten = ", &[]).unwrap_err();
    match &err {
        ConfigError::Syntax { line, column, .. } => assert_eq!((*line, *column), (2, 10)),
        other => panic!("{other}"),
    }
    assert!(err
        .to_string()
        .starts_with("config syntax error in `test.toml` at line 2"));
}

#[test]
fn bad_base_url_is_refused_at_its_key() {
    let err = refused_at(
        "[providers.groq]\nbase_url = \"ftp://x\"\nkeys = [\"k\"]",
        &[],
        "providers.groq.base_url",
    );
    assert_eq!(
        err.to_string(),
        "config error at `providers.groq.base_url`: invalid URL \"ftp://x\": \
         scheme must be http or https"
    );
}

#[test]
fn unset_key_variable_is_refused_at_the_key_and_named() {
    let err = refused_at(
        "[providers.groq]\nkeys = [\"env:GROQ_KEY_A\"]",
        &[],
        "providers.groq.keys[0]",
    );
    assert!(err.to_string().contains("GROQ_KEY_A"), "{err}");
    // Set but blank counts as unset.
    refused_at(
        "[providers.groq]\nkeys = [\"env:GROQ_KEY_A\"]",
        &[("GROQ_KEY_A", "  ")],
        "providers.groq.keys[0]",
    );
    refused_at("[auth]\nkeys = [\"env:NOPE\"]", &[], "auth.keys[0]");
    refused_at("[auth]\nkeys = [\"env:\"]", &[], "auth.keys[0]");
    refused_at("[auth]\nkeys = [\"\"]", &[], "auth.keys[0]");
}

#[test]
fn hosted_provider_without_any_key_is_refused_with_env_hint() {
    let err = refused_at("[providers.groq]", &[], "providers.groq.keys");
    assert_eq!(err.hint(), Some("set GROQ_API_KEY or keys = [\"env:VAR\"]"));
    refused_at(
        "[providers.groq]\nkeys = []",
        &[("GROQ_API_KEY", "k")],
        "providers.groq.keys",
    );
}

#[test]
fn non_loopback_listen_without_auth_is_refused() {
    let err = refused_at("listen = \"0.0.0.0:8080\"", &[], "listen");
    assert_eq!(
        err.hint(),
        Some("configure auth.keys / RINGBRIDGE_API_KEYS, or an admin token to make keys through /admin/keys, or pass --allow-unauthenticated")
    );
    refused_at("listen = \"[::]:8080\"", &[], "listen");
    refused_at("listen = \"192.168.1.2:80\"", &[], "listen");
}

#[test]
fn non_loopback_listen_is_allowed_with_keys_or_the_flag() {
    let text = "listen = \"0.0.0.0:8080\"";
    load_str(text, &[("RINGBRIDGE_API_KEYS", "k1")]).unwrap();
    load_str(&format!("{text}\n[auth]\nkeys = [\"k1\"]"), &[]).unwrap();
    // Keys will come from the admin API; until then requests are refused.
    load_str(
        text,
        &[("RINGBRIDGE_ADMIN_TOKEN", "admin-token-0123456789")],
    )
    .unwrap();
    let opts = LoadOptions {
        allow_unauthenticated: true,
        ..LoadOptions::default()
    };
    let s = load_str_with(text, &opts, &[]).unwrap();
    assert!(s.allow_unauthenticated);
    // Every loopback form needs nothing.
    for listen in [
        "127.0.0.2:1",
        "[::1]:1",
        "localhost:1",
        "[::ffff:127.0.0.1]:1",
    ] {
        load_str(&format!("listen = \"{listen}\""), &[]).unwrap();
    }
}

#[test]
fn invalid_listen_address_is_refused() {
    refused_at("listen = \"localhost\"", &[], "listen");
    refused_at("listen = \"example.com:80\"", &[], "listen");
    refused_at("listen = \"localhost:+80\"", &[], "listen");
    let opts = LoadOptions {
        listen: Some("nope".into()),
        ..LoadOptions::default()
    };
    let err = load_str_with("", &opts, &[]).unwrap_err();
    assert!(err.to_string().contains("--listen"), "{err}");
}

#[test]
fn bad_aliases_are_refused() {
    let env = [("GROQ_API_KEY", "k")];
    let err = refused_at("[aliases]\n\"a/b\" = \"groq/x\"", &env, r#"aliases."a/b""#);
    assert!(err.to_string().contains("`/`"), "{err}");
    refused_at("[aliases]\nfast = \"llama\"", &env, "aliases.fast");
    refused_at("[aliases]\nfast = \"groq/\"", &env, "aliases.fast");
    let err = refused_at("[aliases]\nfast = \"openai/gpt-4o\"", &env, "aliases.fast");
    assert!(err.hint().unwrap().contains("groq"), "{err}");
    refused_at(
        "[aliases]\nfast = \"groq/other\"\n[providers.groq]\nmodels = [\"llama\"]",
        &env,
        "aliases.fast",
    );
}

#[test]
fn alias_target_keeps_slashes_after_the_provider() {
    let s = load_str(
        "[aliases]\nllama = \"openrouter/meta-llama/llama-3-8b\"",
        &[("OPENROUTER_API_KEY", "k")],
    )
    .unwrap();
    assert_eq!(
        s.aliases,
        vec![("llama".into(), "openrouter/meta-llama/llama-3-8b".into())]
    );
}

#[test]
fn unknown_default_provider_is_refused() {
    let err = refused_at("default_provider = \"groq\"", &[], "default_provider");
    assert!(err.hint().unwrap().contains("mock"), "{err}");
    let s = load_str("default_provider = \"groq\"", &[("GROQ_API_KEY", "k")]).unwrap();
    assert_eq!(s.default_provider.as_deref(), Some("groq"));
}

#[test]
fn bad_provider_names_are_refused() {
    let kind = "kind = \"openai-compatible\"\nbase_url = \"http://h\"";
    refused_at(&format!("[providers.Groq]\n{kind}"), &[], "providers.Groq");
    refused_at(&format!("[providers._x]\n{kind}"), &[], "providers._x");
    refused_at(
        &format!("[providers.\"a.b\"]\n{kind}"),
        &[],
        r#"providers."a.b""#,
    );
    refused_at(&format!("[providers.\"\"]\n{kind}"), &[], r#"providers."""#);
    let long = "a".repeat(65);
    refused_at(
        &format!("[providers.{long}]\n{kind}"),
        &[],
        &format!("providers.{long}"),
    );
    load_str(&format!("[providers.0-local_2]\n{kind}"), &[]).unwrap();
}

#[test]
fn provider_kind_is_required_unless_the_name_is_a_kind() {
    let err = refused_at(
        "[providers.work]\nbase_url = \"http://h\"",
        &[],
        "providers.work.kind",
    );
    assert!(err.hint().unwrap().contains("openai-compatible"));
    refused_at(
        "[providers.work]\nkind = \"gpt\"",
        &[],
        "providers.work.kind",
    );
}

#[test]
fn mock_name_is_reserved_for_the_mock_kind() {
    refused_at(
        "[providers.mock]\nkind = \"groq\"\nkeys = [\"k\"]",
        &[],
        "providers.mock.kind",
    );
    let s = load_str("[providers.mock]\nfirst_byte_timeout_ms = 7", &[]).unwrap();
    let mocks: Vec<_> = s.providers.iter().filter(|p| p.name == "mock").collect();
    assert_eq!(mocks.len(), 1);
    assert_eq!(mocks[0].timeouts.first_byte, Duration::from_millis(7));
}

#[test]
fn openai_compatible_without_base_url_is_refused() {
    let err = refused_at(
        "[providers.vllm]\nkind = \"openai-compatible\"",
        &[],
        "providers.vllm.base_url",
    );
    assert!(err.hint().is_some());
    let s = load_str(
        "[providers.vllm]\nkind = \"openai-compatible\"\nbase_url = \"http://[::1]:8000/v1/\"",
        &[],
    )
    .unwrap();
    let vllm = provider(&s, "vllm");
    assert!(vllm.keys.is_empty());
    assert_eq!(vllm.base_url.host, "::1");
    assert_eq!(vllm.base_url.path, "/v1");
}

#[test]
fn out_of_range_values_are_refused_at_their_path() {
    let p = "[providers.vllm]\nkind = \"openai-compatible\"\nbase_url = \"http://h\"\n";
    for (text, path) in [
        ("workers = 1025".to_owned(), "workers"),
        ("models_refresh_secs = 0".to_owned(), "models_refresh_secs"),
        (
            "models_refresh_secs = 999999999".to_owned(),
            "models_refresh_secs",
        ),
        (
            "[limits]\nmax_head_bytes = 1023".to_owned(),
            "limits.max_head_bytes",
        ),
        (
            "[limits]\nmax_head_bytes = 1048577".to_owned(),
            "limits.max_head_bytes",
        ),
        (
            "[limits]\nmax_body_bytes = 0".to_owned(),
            "limits.max_body_bytes",
        ),
        (
            "[limits]\nmax_connections = 1000001".to_owned(),
            "limits.max_connections",
        ),
        (
            "[limits]\nmax_body_bytes = 2000\nmax_buffered_body_bytes = 1999".to_owned(),
            "limits.max_buffered_body_bytes",
        ),
        (
            "[limits]\nheader_read_timeout_ms = 0".to_owned(),
            "limits.header_read_timeout_ms",
        ),
        (
            "[limits]\nbody_read_timeout_ms = 0".to_owned(),
            "limits.body_read_timeout_ms",
        ),
        (
            "[limits]\nidle_timeout_ms = 0".to_owned(),
            "limits.idle_timeout_ms",
        ),
        (
            "[limits]\nshutdown_timeout_ms = 86400001".to_owned(),
            "limits.shutdown_timeout_ms",
        ),
        (
            "[timeouts]\nconnect_ms = 0".to_owned(),
            "timeouts.connect_ms",
        ),
        (
            "[timeouts]\nfirst_byte_ms = 0".to_owned(),
            "timeouts.first_byte_ms",
        ),
        (
            "[timeouts]\nstream_idle_ms = 0".to_owned(),
            "timeouts.stream_idle_ms",
        ),
        (
            format!("{p}connect_timeout_ms = 0"),
            "providers.vllm.connect_timeout_ms",
        ),
        (
            format!("{p}first_byte_timeout_ms = 0"),
            "providers.vllm.first_byte_timeout_ms",
        ),
        (
            format!("{p}stream_idle_timeout_ms = 0"),
            "providers.vllm.stream_idle_timeout_ms",
        ),
        (
            format!("{p}max_idle_connections = 100001"),
            "providers.vllm.max_idle_connections",
        ),
        (
            format!("{p}models = [\"a\", \" \"]"),
            "providers.vllm.models[1]",
        ),
    ] {
        refused_at(&text, &[], path);
    }
    let opts = LoadOptions {
        workers: Some(5000),
        ..LoadOptions::default()
    };
    let err = load_str_with("", &opts, &[]).unwrap_err();
    assert_eq!(err.path(), Some("workers"));
}

#[test]
fn bad_key_characters_are_refused() {
    refused_at("[auth]\nkeys = [\"a b\"]", &[], "auth.keys[0]");
    refused_at(
        "[auth]\nkeys = [\"env:K\"]",
        &[("K", "a\u{7f}b")],
        "auth.keys[0]",
    );
    let err = load_str("", &[("RINGBRIDGE_API_KEYS", "good, ba d")]).unwrap_err();
    assert_eq!(err.path(), Some("RINGBRIDGE_API_KEYS"));
    let err = load_str("", &[("GROQ_API_KEY", "gsk\u{1}")]).unwrap_err();
    assert_eq!(err.path(), Some("GROQ_API_KEY"));
}

#[test]
fn missing_config_file_is_a_read_error() {
    let opts = LoadOptions {
        config_path: Some("/nonexistent/ringbridge.toml".into()),
        ..LoadOptions::default()
    };
    let err = load(&opts, &env_of(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/ringbridge.toml"));
}

// ---- secrets ----------------------------------------------------------------

#[test]
fn no_error_message_contains_a_literal_key() {
    const KEY: &str = "sk-TOPSECRET123";
    let cases = [
        format!("[providers.groq]\nkeys = \"{KEY}\""),
        format!("[providers.groq]\nkeys = [\"{KEY} \"]"),
        format!("[providers.groq]\nkeys = [\"{KEY}\n"),
        format!("[providers.groq]\nkeys = [\"{KEY}\" \"x\"]"),
        format!("[auth]\nkeys = \"{KEY}\""),
        format!("[auth]\nkeys = [\"{KEY}\t\"]"),
        format!("[auth]\nkeys = {{ k = \"{KEY}\" }}"),
        format!("[providers.x]\nkind = \"openai-compatible\"\nbase_url = \"https://u:{KEY}@h\""),
        format!("listen = \"0.0.0.0:1\"\n[providers.groq]\nkeys = [\"{KEY}\"]"),
        format!("[providers.groq]\nkeys = [\"{KEY}\"]\nbogus = 1"),
        format!("[providers.groq]\nkeys = [\"{KEY}\", \"env:UNSET\"]"),
    ];
    for text in &cases {
        let err = load_str(text, &[]).expect_err(text);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(KEY), "{text}\n=> {shown}");
    }
    let env_cases: [&[(&str, &str)]; 2] = [
        &[("RINGBRIDGE_API_KEYS", "ok,sk-TOPSECRET123 x")],
        &[
            ("GROQ_API_KEY", "k"),
            ("GROQ_BASE_URL", "https://u:sk-TOPSECRET123@h"),
        ],
    ];
    for env in env_cases {
        let err = load_str("", env).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(KEY), "{err}");
    }
    // Nor does the Debug form of a loaded snapshot.
    let s = load_str(
        &format!("[providers.groq]\nkeys = [\"{KEY}\"]\n[auth]\nkeys = [\"{KEY}\"]"),
        &[],
    )
    .unwrap();
    assert!(!format!("{s:?}").contains(KEY));
    assert_eq!(provider(&s, "groq").keys[0].expose(), KEY);
}

// ---- resolution -------------------------------------------------------------

#[test]
fn zero_config_enables_mock_ollama_and_hosted_kinds_with_keys() {
    let opts = LoadOptions::default();
    let env = env_of(&[
        ("OPENAI_API_KEY", "sk-o"),
        ("GROQ_API_KEY", " gsk \n"),
        ("MISTRAL_API_KEY", ""),
        ("RINGBRIDGE_API_KEYS", " a, ,b ,"),
    ]);
    let s = load(&opts, &env).unwrap();
    assert_eq!(names(&s), ["groq", "ollama", "openai", "mock"]);
    assert_eq!(s.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert!(s.workers >= 1);
    assert_eq!(
        s.auth_keys.iter().map(Secret::expose).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let groq = provider(&s, "groq");
    assert_eq!(groq.kind, ProviderKind::Groq);
    assert_eq!(groq.keys[0].expose(), "gsk");
    assert_eq!(groq.base_url.host, "api.groq.com");
    assert_eq!(groq.base_url.path, "/openai/v1");
    assert_eq!(groq.max_idle_connections, 256);
    assert_eq!(groq.timeouts.connect, Duration::from_millis(5000));
    let ollama = provider(&s, "ollama");
    assert!(ollama.keys.is_empty());
    assert_eq!(
        (ollama.base_url.scheme, ollama.base_url.port),
        (Scheme::Http, 11434)
    );
    assert_eq!(s.limits.max_head_bytes, 65536);
    assert_eq!(s.limits.max_body_bytes, 32 * 1024 * 1024);
    assert_eq!(s.limits.max_connections, None);
    assert_eq!(s.limits.max_buffered_body_bytes, 256 * 1024 * 1024);
    assert_eq!(s.limits.idle_timeout, Duration::from_secs(75));
    assert_eq!(s.models_refresh, Duration::from_secs(600));
    assert!(s.aliases.is_empty() && s.default_provider.is_none());
}

#[test]
fn env_base_url_overrides_the_default_but_not_the_file() {
    let env = [
        ("GROQ_API_KEY", "k"),
        ("GROQ_BASE_URL", "http://127.0.0.1:9999/groq/"),
        ("OPENAI_API_KEY", "k"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9998"),
    ];
    let s = load_str(
        "[providers.openai]\nbase_url = \"https://file.example/v1\"",
        &env,
    )
    .unwrap();
    let groq = &provider(&s, "groq").base_url;
    assert_eq!(
        (
            groq.scheme,
            groq.host.as_str(),
            groq.port,
            groq.path.as_str()
        ),
        (Scheme::Http, "127.0.0.1", 9999, "/groq")
    );
    assert_eq!(provider(&s, "openai").base_url.host, "file.example");

    let err = load_str("", &[("GROQ_API_KEY", "k"), ("GROQ_BASE_URL", "ftp://x")]).unwrap_err();
    assert_eq!(err.path(), Some("GROQ_BASE_URL"));
}

#[test]
fn ollama_base_url_env_beats_ollama_host() {
    let s = load_str("", &[("OLLAMA_HOST", "gpu:1234")]).unwrap();
    let url = &provider(&s, "ollama").base_url;
    assert_eq!(
        (url.host.as_str(), url.port, url.path.as_str()),
        ("gpu", 1234, "/v1")
    );
    let s = load_str(
        "",
        &[
            ("OLLAMA_HOST", "gpu:1234"),
            ("OLLAMA_BASE_URL", "http://other:1/v1"),
        ],
    )
    .unwrap();
    assert_eq!(provider(&s, "ollama").base_url.host, "other");
}

#[test]
fn file_providers_keep_file_order_then_env_ones_by_name_then_mock() {
    let text = "
        [providers.zeta]
        kind = \"openai-compatible\"
        base_url = \"http://z\"
        [limits]
        max_body_bytes = 10
        [providers.alpha]
        kind = \"openai-compatible\"
        base_url = \"http://a\"
        [providers.groq]
    ";
    let env = [
        ("XAI_API_KEY", "k"),
        ("GROQ_API_KEY", "k"),
        ("CEREBRAS_API_KEY", "k"),
    ];
    let s = load_str(text, &env).unwrap();
    assert_eq!(
        names(&s),
        ["zeta", "alpha", "groq", "cerebras", "ollama", "xai", "mock"]
    );
}

#[test]
fn env_providers_false_enables_only_the_file_and_mock() {
    let s = load_str("env_providers = false", &[("GROQ_API_KEY", "k")]).unwrap();
    assert_eq!(names(&s), ["mock"]);
}

#[test]
fn provider_inherits_top_level_timeouts_and_may_override_them() {
    let text = "
        [timeouts]
        connect_ms = 111
        first_byte_ms = 222
        [providers.groq]
        first_byte_timeout_ms = 333
        keys = [\"env:G\"]
    ";
    let s = load_str(text, &[("G", "k"), ("OPENAI_API_KEY", "k")]).unwrap();
    let groq = provider(&s, "groq").timeouts;
    assert_eq!(groq.connect, Duration::from_millis(111));
    assert_eq!(groq.first_byte, Duration::from_millis(333));
    assert_eq!(groq.stream_idle, Duration::from_millis(60_000));
    assert_eq!(
        provider(&s, "openai").timeouts.first_byte,
        Duration::from_millis(222)
    );
}

#[test]
fn listen_and_workers_precedence_is_opts_then_env_then_file_then_default() {
    let file = "listen = \"127.0.0.1:1111\"\nworkers = 3";
    let none = LoadOptions::default();
    let opts = LoadOptions {
        listen: Some("localhost:3333".into()),
        workers: Some(5),
        ..LoadOptions::default()
    };
    let env = [("RINGBRIDGE_LISTEN", "127.0.0.1:2222")];

    let s = load_str_with(file, &opts, &env).unwrap();
    assert_eq!((s.listen.port(), s.workers), (3333, 5));
    let s = load_str_with(file, &none, &env).unwrap();
    assert_eq!((s.listen.port(), s.workers), (2222, 3));
    let s = load_str_with(file, &none, &[]).unwrap();
    assert_eq!((s.listen.port(), s.workers), (1111, 3));
    let s = load_str_with("", &none, &[]).unwrap();
    assert_eq!(s.listen.port(), 8080);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(s.workers, cores);
    let zero = LoadOptions {
        workers: Some(0),
        ..LoadOptions::default()
    };
    assert_eq!(load_str_with(file, &zero, &[]).unwrap().workers, cores);
}

#[test]
fn mock_default_base_url_matches_the_catalogue() {
    let s = load_str("", &[]).unwrap();
    let mock = provider(&s, "mock");
    assert_eq!(
        Some(mock.base_url.clone()),
        url::parse_base_url(ProviderKind::Mock.default_base_url().unwrap()).ok()
    );
    for &kind in BUILTIN_KINDS {
        if let Some(default) = kind.default_base_url() {
            url::parse_base_url(default).unwrap();
        }
    }
}

// ---- the example file -------------------------------------------------------

fn example_env() -> impl Fn(&str) -> Option<String> {
    env_of(&[
        ("RINGBRIDGE_KEY", "inbound"),
        ("OPENAI_API_KEY", "sk-o"),
        ("GROQ_API_KEY", "gsk-1"),
        ("GROQ_API_KEY_2", "gsk-2"),
    ])
}

#[test]
fn example_file_parses_and_resolves() {
    let s = check_file(Path::new(EXAMPLE), &example_env()).unwrap();
    assert_eq!(names(&s), ["openai", "groq", "vllm", "ollama", "mock"]);
    assert_eq!(provider(&s, "groq").keys.len(), 2);
    assert_eq!(s.auth_keys.len(), 1);
    assert_eq!(s.default_provider.as_deref(), Some("openai"));
    assert_eq!(s.aliases.len(), 3);
    assert_eq!(s.listen.port(), 8080);
}

#[test]
fn ringbridge_config_env_names_the_file_when_no_path_is_given() {
    let inner = example_env();
    let env = move |k: &str| match k {
        "RINGBRIDGE_CONFIG" => Some(EXAMPLE.to_owned()),
        _ => inner(k),
    };
    let s = load(&LoadOptions::default(), &env).unwrap();
    assert!(names(&s).contains(&"vllm"));
}

// ---- Vertex AI and Azure Entra ID ---------------------------------------------

/// Writes an authorized-user credentials file and returns its path.
fn adc_file(tag: &str, quota_project: Option<&str>) -> String {
    let dir = std::env::temp_dir().join(format!("rb-cfg-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adc.json");
    let mut json = serde_json::json!({
        "type": "authorized_user",
        "client_id": "cid",
        "client_secret": "csecret",
        "refresh_token": "rtoken",
        "token_uri": "http://127.0.0.1:4555/token",
    });
    if let Some(p) = quota_project {
        json["quota_project_id"] = p.into();
    }
    std::fs::write(&path, json.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn token_url(p: &ProviderSettings) -> String {
    match &p.auth {
        ProviderAuth::Refreshed(source) => {
            format!("{}:{}{}", source.url.host, source.url.port, source.url.path)
        }
        other => panic!("not refreshed: {other:?}"),
    }
}

#[test]
fn vertex_builds_the_regional_project_path_and_refreshes_file_credentials() {
    let adc = adc_file("vertex", Some("quota-proj"));
    let text =
        format!("[providers.vertex]\ncredentials_file = \"{adc}\"\nlocation = \"europe-west4\"");
    let s = load_str(&text, &[]).unwrap();
    let v = provider(&s, "vertex");
    assert_eq!(v.kind, ProviderKind::Vertex);
    assert_eq!(v.base_url.host, "europe-west4-aiplatform.googleapis.com");
    assert_eq!(
        v.base_url.path,
        "/v1/projects/quota-proj/locations/europe-west4/publishers/google"
    );
    assert_eq!(token_url(v), "127.0.0.1:4555/token");
    assert!(v.keys.is_empty());

    // The environment supplies the file, project and location; `global` has no region prefix.
    let s = load_str(
        "[providers.vertex]",
        &[
            ("GOOGLE_APPLICATION_CREDENTIALS", &adc),
            ("GOOGLE_CLOUD_PROJECT", "env-proj"),
            ("GOOGLE_CLOUD_LOCATION", "global"),
        ],
    )
    .unwrap();
    let v = provider(&s, "vertex");
    assert_eq!(v.base_url.host, "aiplatform.googleapis.com");
    assert_eq!(
        v.base_url.path,
        "/v1/projects/env-proj/locations/global/publishers/google"
    );

    // A base URL (file or VERTEX_BASE_URL) replaces the host and version part only.
    let s = load_str(
        &format!("[providers.vertex]\ncredentials_file = \"{adc}\"\nproject = \"p1\""),
        &[("VERTEX_BASE_URL", "http://127.0.0.1:7000/v1beta1")],
    )
    .unwrap();
    let v = provider(&s, "vertex");
    assert_eq!(
        (v.base_url.host.as_str(), v.base_url.port),
        ("127.0.0.1", 7000)
    );
    assert_eq!(
        v.base_url.path,
        "/v1beta1/projects/p1/locations/us-central1/publishers/google"
    );
}

#[test]
fn vertex_static_access_tokens_are_bearer_keys() {
    let s = load_str(
        "[providers.vertex]\nkeys = [\"env:TOK\"]\nproject = \"p\"",
        &[("TOK", "ya29.abc")],
    )
    .unwrap();
    let v = provider(&s, "vertex");
    assert!(matches!(v.auth, ProviderAuth::BearerTokens));
    assert_eq!(v.keys.len(), 1);
}

#[test]
fn vertex_refusals_name_the_key() {
    let adc = adc_file("refusals", None);
    let err = refused_at(
        "[providers.vertex]\nproject = \"p\"",
        &[],
        "providers.vertex.credentials_file",
    );
    assert!(err
        .hint()
        .unwrap()
        .contains("GOOGLE_APPLICATION_CREDENTIALS"));
    refused_at(
        &format!("[providers.vertex]\ncredentials_file = \"{adc}\""),
        &[],
        "providers.vertex.project",
    );
    refused_at(
        "[providers.vertex]\ncredentials_file = \"/nonexistent/adc.json\"\nproject = \"p\"",
        &[],
        "providers.vertex.credentials_file",
    );
    let err = refused_at(
        "[providers.vertex]\nproject = \"p\"",
        &[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/x.json")],
        "GOOGLE_APPLICATION_CREDENTIALS",
    );
    assert!(err.to_string().contains("cannot read"), "{err}");
    refused_at(
        &format!("[providers.vertex]\ncredentials_file = \"{adc}\"\nproject = \"p\"\nlocation = \"US Central\""),
        &[],
        "providers.vertex.location",
    );
    refused_at(
        &format!("[providers.vertex]\ncredentials_file = \"{adc}\"\nproject = \"p/../x\""),
        &[],
        "providers.vertex.project",
    );
    refused_at(
        &format!(
            "[providers.vertex]\ncredentials_file = \"{adc}\"\nproject = \"p\"\nkeys = [\"t\"]"
        ),
        &[],
        "providers.vertex.credentials_file",
    );
    refused_at(
        "[providers.groq]\nkeys = [\"k\"]\nproject = \"p\"",
        &[],
        "providers.groq.project",
    );
    refused_at(
        "[providers.groq]\nkeys = [\"k\"]\ntenant_id = \"t\"",
        &[],
        "providers.groq.tenant_id",
    );
    // A credentials file that is not one names itself, not its content.
    let dir = std::env::temp_dir().join(format!("rb-cfg-{}-bad", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"type":"service_account","client_email":"e","private_key":"SUPERSECRET"}"#,
    )
    .unwrap();
    let err = refused_at(
        &format!(
            "[providers.vertex]\ncredentials_file = \"{}\"\nproject = \"p\"",
            bad.display()
        ),
        &[],
        "providers.vertex.credentials_file",
    );
    assert!(!err.to_string().contains("SUPERSECRET"), "{err}");
}

#[test]
fn vertex_is_not_enabled_from_the_environment_alone() {
    let adc = adc_file("env-only", Some("p"));
    let s = load_str("", &[("GOOGLE_APPLICATION_CREDENTIALS", &adc)]).unwrap();
    assert!(!names(&s).contains(&"vertex"));
}

const AZURE_ENDPOINT: (&str, &str) = ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com");

#[test]
fn azure_entra_client_credentials_come_from_the_sdk_variables() {
    let env = [
        AZURE_ENDPOINT,
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_CLIENT_SECRET", "secret-1"),
        ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:4666"),
    ];
    let s = load_str("", &env).unwrap();
    let a = provider(&s, "azure");
    assert!(a.keys.is_empty());
    assert_eq!(token_url(a), "127.0.0.1:4666/tenant-1/oauth2/v2.0/token");
    // The client-credential triple alone does not enable Azure OpenAI.
    let s = load_str("", &env[1..]).unwrap();
    assert!(!names(&s).contains(&"azure"));
    // An API key wins over Entra variables in the environment.
    let mut with_key = env.to_vec();
    with_key.push(("AZURE_OPENAI_API_KEY", "k"));
    let s = load_str("", &with_key).unwrap();
    assert!(matches!(provider(&s, "azure").auth, ProviderAuth::Keys));
}

#[test]
fn azure_ad_token_is_sent_as_a_bearer_key() {
    let s = load_str("", &[AZURE_ENDPOINT, ("AZURE_OPENAI_AD_TOKEN", "eyJ0")]).unwrap();
    let a = provider(&s, "azure");
    assert!(matches!(a.auth, ProviderAuth::BearerTokens));
    assert_eq!(a.keys[0].expose(), "eyJ0");
    let s = load_str(
        "[providers.azure]\nad_token = \"env:T\"",
        &[AZURE_ENDPOINT, ("T", "tok"), ("AZURE_OPENAI_API_KEY", "k")],
    )
    .unwrap();
    assert!(matches!(
        provider(&s, "azure").auth,
        ProviderAuth::BearerTokens
    ));
}

#[test]
fn azure_entra_refusals_name_the_key() {
    let err = refused_at(
        "[providers.azure]",
        &[AZURE_ENDPOINT],
        "providers.azure.keys",
    );
    assert!(err.hint().unwrap().contains("AZURE_TENANT_ID"), "{err}");
    refused_at(
        "[providers.azure]\nkeys = [\"k\"]\ntenant_id = \"t\"",
        &[AZURE_ENDPOINT],
        "providers.azure.keys",
    );
    refused_at(
        "[providers.azure]\ntenant_id = \"t\"\nclient_id = \"c\"",
        &[AZURE_ENDPOINT],
        "providers.azure.client_secret",
    );
    refused_at(
        "[providers.azure]\ntenant_id = \"t/x\"\nclient_id = \"c\"\nclient_secret = \"s\"",
        &[AZURE_ENDPOINT],
        "providers.azure.tenant_id",
    );
    refused_at(
        "[providers.azure]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nauthority_host = \"login.example\"",
        &[AZURE_ENDPOINT],
        "providers.azure.authority_host",
    );
    refused_at(
        "[providers.azure]\nad_token = \"a\"\ntenant_id = \"t\"",
        &[AZURE_ENDPOINT],
        "providers.azure.ad_token",
    );
}

#[test]
fn pin_workers_defaults_on_and_the_environment_wins_over_the_file() {
    assert!(load_str("", &[]).unwrap().pin_workers);
    assert!(!load_str("pin_workers = false", &[]).unwrap().pin_workers);
    assert!(
        load_str("pin_workers = false", &[("RINGBRIDGE_PIN_WORKERS", "on")])
            .unwrap()
            .pin_workers
    );
    assert!(
        !load_str("", &[("RINGBRIDGE_PIN_WORKERS", "0")])
            .unwrap()
            .pin_workers
    );
    refused_at(
        "",
        &[("RINGBRIDGE_PIN_WORKERS", "maybe")],
        "RINGBRIDGE_PIN_WORKERS",
    );
    refused_at("pin_workers = \"no\"", &[], "pin_workers");
}
