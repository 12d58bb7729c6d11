//! Test support shared by the providers' golden tests: where the recorded
//! traffic lives (`RINGBRIDGE_FIXTURES`, default `../shared/fixtures`, read in
//! place and never copied), a plain SSE splitter for `.sse` recordings, and
//! what an OpenAI client reassembles from a translated stream.

use std::path::PathBuf;

use serde_json::{json, Value};

/// `<fixtures>/<provider>`; a missing directory fails the test with a clear message.
pub(crate) fn dir(provider: &str) -> PathBuf {
    let dir = std::env::var_os("RINGBRIDGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join(provider);
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing; set RINGBRIDGE_FIXTURES to the shared fixtures",
        dir.display()
    );
    dir
}

/// The bytes of `<fixtures>/<provider>/<name>`.
pub(crate) fn read(provider: &str, name: &str) -> Vec<u8> {
    let path = dir(provider).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Test-only SSE splitter: `event:`/`data:` lines, events separated by a blank
/// line, LF or CRLF. Independent of `http::sse`, so it checks that parser too.
pub(crate) fn split_sse(body: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let (mut event, mut data) = (String::new(), Vec::<&str>::new());
    for line in body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push((std::mem::take(&mut event), data.join("\n")));
                data.clear();
            }
            event.clear();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim_start().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if !data.is_empty() {
        events.push((event, data.join("\n")));
    }
    events
}

/// What an OpenAI client reassembles from a translated chunk stream.
#[derive(Debug, Default)]
pub(crate) struct Reassembled {
    /// The `id` every chunk carries.
    pub(crate) id: String,
    pub(crate) content: String,
    pub(crate) reasoning: String,
    /// (id, name, arguments parsed as JSON), by tool index.
    pub(crate) tools: Vec<(String, String, Value)>,
    pub(crate) finish_reason: Option<String>,
    /// The usage chunk's `usage`.
    pub(crate) usage: Option<Value>,
}

/// Reassembles the `data:` frames in `out`, checking what every translated
/// stream owes the client: `[DONE]` last; one id; `object`, `model` and
/// `created` on every chunk; one choice with index 0 and null logprobs; the
/// role only and always in the first chunk; at most one finish reason and
/// one usage chunk (with no choices); tool indexes counting from 0; tool
/// arguments that join into JSON.
pub(crate) fn reassemble(out: &[u8], model: &str) -> Reassembled {
    let text = std::str::from_utf8(out).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "no [DONE]: {text}");
    let mut a = Reassembled::default();
    let mut args: Vec<String> = Vec::new();
    let frames: Vec<&str> = text.split_terminator("\n\n").collect();
    for (i, frame) in frames[..frames.len() - 1].iter().enumerate() {
        let json = frame
            .strip_prefix("data: ")
            .expect("frame starts with data: ");
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], model);
        assert!(v["created"].is_u64());
        let chunk_id = v["id"].as_str().unwrap();
        if i == 0 {
            a.id = chunk_id.to_owned();
        }
        assert_eq!(a.id, chunk_id);
        if let Some(u) = v.get("usage") {
            assert_eq!(v["choices"], json!([]));
            assert!(a.usage.replace(u.clone()).is_none(), "two usage chunks");
            continue;
        }
        let choice = &v["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["logprobs"], Value::Null);
        if let Some(r) = choice["finish_reason"].as_str() {
            assert!(a.finish_reason.replace(r.to_owned()).is_none());
        }
        let d = &choice["delta"];
        assert_eq!(
            i == 0,
            d.get("role").is_some(),
            "role only and always in the first chunk"
        );
        if let Some(s) = d["content"].as_str() {
            a.content.push_str(s);
        }
        if let Some(s) = d["reasoning_content"].as_str() {
            a.reasoning.push_str(s);
        }
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap() as usize;
            if let Some(call_id) = call["id"].as_str() {
                assert_eq!(i, a.tools.len(), "tool indexes count from 0");
                assert_eq!(call["type"], "function");
                let name = call["function"]["name"].as_str().unwrap();
                a.tools.push((call_id.into(), name.into(), Value::Null));
                args.push(String::new());
            }
            args[i].push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    for (tool, args) in a.tools.iter_mut().zip(args) {
        tool.2 = serde_json::from_str(&args)
            .unwrap_or_else(|e| panic!("arguments {args:?} are not JSON: {e}"));
    }
    a
}
