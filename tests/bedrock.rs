//! OpenAI clients through the gateway to a Bedrock-shaped upstream that replays
//! recorded Converse / ConverseStream traffic (event streams included), with
//! every request signed with SigV4; and embeddings through InvokeModel against
//! mock-provider's Bedrock shape (no recorded InvokeModel traffic exists).

mod common;

use common::replay::replay_upstream;
use common::*;

const CHAT: &str = "/v1/chat/completions";

fn bedrock_gateway(addr: std::net::SocketAddr, extra: &str) -> Proc {
    gateway_with(&format!(
            "env_providers = false\n[providers.bedrock]\nbase_url = \"http://{addr}\"\nregion = \"us-west-2\"\naws_access_key_id = \"AKIDEXAMPLE\"\naws_secret_access_key = \"wJalrXUtnFEMI-secret-test\"\n{extra}"
        ))
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

const EMBEDDINGS: &str = "/v1/embeddings";

/// Little-endian f32s from a base64 embedding (a decoder written here, apart
/// from the gateway's encoder).
fn f32s_from_base64(s: &str) -> Vec<f32> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {s}"),
    };
    let mut bytes = Vec::new();
    for quad in s.as_bytes().chunks(4) {
        let pad = quad.iter().filter(|&&c| c == b'=').count();
        let n = quad
            .iter()
            .map(|&c| if c == b'=' { 0 } else { u32::from(value(c)) })
            .fold(0u32, |acc, v| acc << 6 | v);
        bytes.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn embeddings_go_through_invoke_model_one_titan_call_per_text() {
    let mock = mock_provider(&[]);
    let gw = bedrock_gateway(mock.addr, "");
    let r = roundtrip(
        gw.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"bedrock/amazon.titan-embed-text-v2:0","input":["hello","abcdefgh","x"],"dimensions":256,"encoding_format":"float"}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "bedrock/amazon.titan-embed-text-v2:0");
    let data = v["data"].as_array().unwrap();
    assert_eq!(
        data.iter()
            .map(|d| d["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    // The mock derives each vector from its text: the same as its OpenAI route.
    let direct = roundtrip(
        mock.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"e","input":["hello","abcdefgh","x"]}"#,
            &[],
        ),
    )
    .json();
    for i in 0..3 {
        assert_eq!(data[i]["embedding"], direct["data"][i]["embedding"], "{i}");
    }
    // Tokens: ceil(bytes / 4) per text, summed over the three calls.
    assert_eq!(
        v["usage"],
        serde_json::json!({"prompt_tokens":5,"total_tokens":5})
    );
    // Three InvokeModel calls (plus the direct one above).
    assert_eq!(mock_stats(&mock)["requests"], 4);

    // base64, as the OpenAI SDKs ask by default.
    let r = roundtrip(
        gw.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"bedrock/amazon.titan-embed-text-v1","input":"hello","encoding_format":"base64"}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = f32s_from_base64(r.json()["data"][0]["embedding"].as_str().unwrap());
    let want: Vec<f32> = direct["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn cohere_embeddings_are_one_call_with_usage_from_the_header() {
    let mock = mock_provider(&[]);
    let gw = bedrock_gateway(mock.addr, "");
    let r = roundtrip(
        gw.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"bedrock/cohere.embed-english-v3","input":["hello","abcdefgh"]}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(mock_stats(&mock)["requests"], 1);
}

#[test]
fn embedding_errors_are_openai_shaped() {
    let mock = mock_provider(&[]);
    let gw = bedrock_gateway(mock.addr, "");
    // Refused by the gateway: no upstream call.
    for (body, needle) in [
        (
            r#"{"model":"bedrock/anthropic.claude-3-haiku-20240307-v1:0","input":"a"}"#,
            "amazon.titan-embed",
        ),
        (
            r#"{"model":"bedrock/amazon.titan-embed-text-v1","input":"a","dimensions":256}"#,
            "dimensions",
        ),
        (
            r#"{"model":"bedrock/amazon.titan-embed-text-v2:0","input":[[1,2]]}"#,
            "token arrays",
        ),
    ] {
        let r = roundtrip(gw.addr, &post(EMBEDDINGS, body, &[]));
        assert_eq!(r.status, 400, "{body}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{msg}");
    }
    assert_eq!(mock_stats(&mock)["requests"], 0);
    // Refused upstream (Titan V2 takes 256, 512 or 1024): Bedrock's 400, translated.
    let r = roundtrip(
        gw.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"bedrock/amazon.titan-embed-text-v2:0","input":["a","b"],"dimensions":100}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("dimensions"));
    // The first call failed, so the second was never made.
    assert_eq!(mock_stats(&mock)["requests"], 1);

    let throttled = mock_provider(&["--status", "429"]);
    let gw = bedrock_gateway(throttled.addr, "");
    let r = roundtrip(
        gw.addr,
        &post(
            EMBEDDINGS,
            r#"{"model":"bedrock/cohere.embed-v4:0","input":"a"}"#,
            &[],
        ),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(r.json()["error"]["message"], "mock error 429");
}
