//! OpenAI clients through the gateway to a Bedrock-shaped upstream that replays
//! recorded Converse / ConverseStream traffic (event streams included), with
//! every request signed with SigV4.

mod common;

use common::replay::replay_upstream;
use common::*;

const CHAT: &str = "/v1/chat/completions";

fn bedrock_gateway(addr: std::net::SocketAddr, extra: &str) -> Proc {
    gateway(GatewayOpts {
        config: Some(format!(
            "env_providers = false\n[providers.bedrock]\nbase_url = \"http://{addr}\"\nregion = \"us-west-2\"\naws_access_key_id = \"AKIDEXAMPLE\"\naws_secret_access_key = \"wJalrXUtnFEMI-secret-test\"\n{extra}"
        )),
        ..Default::default()
    })
}

#[test]
fn converse_and_converse_stream_are_translated_and_signed() {
    let (addr, seen) = replay_upstream("bedrock");
    let gw = bedrock_gateway(addr, "aws_session_token = \"session-token-test\"\n");
    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"bedrock/converse-text.json","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    {
        let seen = seen.lock().unwrap();
        let up = &seen[0];
        assert_eq!(up.path, "/model/converse-text.json/converse");
        let h = |k: &str| {
            up.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let auth = h("authorization").expect("signed");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && auth.contains("/us-west-2/bedrock/aws4_request"),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(
            h("x-amz-security-token").as_deref(),
            Some("session-token-test")
        );
        assert_eq!(h("x-amz-date").map(|d| d.len()), Some(16));
        assert_eq!(up.body["system"][0]["text"], "Be brief.");
    }

    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"bedrock/converse-stream-nova-tool-use.bin","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let events = sse_data(&r.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].is_string()));
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert!(chunks
        .iter()
        .any(|c| c["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0));
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.path.ends_with("/converse-stream")));

    let r = roundtrip(
        gw.addr,
        &post(
            CHAT,
            r#"{"model":"bedrock/converse-stream-claude-thinking.bin","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
            &[],
        ),
    );
    let events = sse_data(&r.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let reasoning: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["reasoning_content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(!reasoning.is_empty());
}

#[test]
fn bedrock_config_needs_a_region_and_credentials() {
    let run = |cfg: &str| {
        let path = std::env::temp_dir().join(format!(
            "rb-bedrock-{}-{}.toml",
            std::process::id(),
            unique()
        ));
        std::fs::write(&path, cfg).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbridge"))
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(path)
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("[providers.bedrock]\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("`providers.bedrock.region`"), "{err}");
    let (code, err) = run("[providers.bedrock]\nregion = \"eu-west-1\"\n");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`providers.bedrock.aws_access_key_id`"),
        "{err}"
    );
    let (code, err) = run("[providers.groq]\nkeys = [\"k\"]\nregion = \"eu-west-1\"\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("`providers.groq.region`"), "{err}");
}
