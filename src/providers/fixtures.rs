//! Test support shared by the providers' golden tests: where the recorded
//! traffic lives (`RINGBRIDGE_FIXTURES`, default `../shared/fixtures`, read in
//! place and never copied), a plain SSE splitter for `.sse` recordings,
//! what an OpenAI client reassembles from a translated stream, and the checks
//! every provider's golden tests make the same way.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::common::{TranslateError, Usage};

/// Checks that the stream recordings on disk for `provider` (the file names
/// `is_stream` accepts) are exactly those `listed`, so none goes untested.
pub(crate) fn assert_all_listed<'a>(
    provider: &str,
    is_stream: impl Fn(&str) -> bool,
    listed: impl IntoIterator<Item = &'a str>,
) {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir(provider))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| is_stream(n))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = listed.into_iter().collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

/// `.sse` recordings and `.chunks.txt` (one JSON event a line).
pub(crate) fn is_sse_recording(name: &str) -> bool {
    name.ends_with(".sse") || name.ends_with(".chunks.txt")
}

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

/// The names of `provider`'s recordings that `keep` accepts, sorted
/// (provenance sidecars left out).
pub(crate) fn names(provider: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(provider))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".src.txt") && keep(n))
        .collect();
    names.sort();
    names
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

/// What a client should end up with from a stream, from the recording or our
/// output, to be compared whole; `U` is how the provider's test reads usage.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Assembled<U = Value> {
    pub(crate) content: String,
    pub(crate) reasoning: String,
    /// (id, name, arguments as JSON)
    pub(crate) tools: Vec<(String, String, Value)>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) usage: Option<U>,
}

impl Reassembled {
    /// What the client ended up with, but for the chunk id (each provider
    /// names its completions its own way).
    pub(crate) fn assembled(self) -> Assembled {
        Assembled {
            content: self.content,
            reasoning: self.reasoning,
            tools: self.tools,
            finish_reason: self.finish_reason,
            usage: self.usage,
        }
    }
}

impl Assembled {
    /// The same with usage read by `read`.
    pub(crate) fn map_usage<U>(self, read: impl FnOnce(Value) -> U) -> Assembled<U> {
        Assembled {
            content: self.content,
            reasoning: self.reasoning,
            tools: self.tools,
            finish_reason: self.finish_reason,
            usage: self.usage.map(read),
        }
    }
}

/// The token counts in an OpenAI `usage` object.
pub(crate) fn usage_of(u: &Value) -> Usage {
    Usage::new(
        u["prompt_tokens"].as_u64().unwrap(),
        u["completion_tokens"].as_u64().unwrap(),
    )
    .with_details(
        u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        u["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap_or(0),
    )
}

/// Feeds the (event, data) `events` of recording `name` through `t`, each
/// of which must translate, and finishes the stream; returns the output.
pub(crate) fn replay_events<T>(
    name: &str,
    events: &[(String, String)],
    t: &mut T,
    on_event: impl Fn(&mut T, &str, &[u8], &mut Vec<u8>) -> Result<(), TranslateError>,
    finish: impl Fn(&mut T, &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::new();
    for (event, data) in events {
        on_event(t, event, data.as_bytes(), &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    finish(t, &mut out);
    out
}

/// Replays every prefix of recording `name` whose last event is cut short
/// (every 7th byte), on a fresh translator from `new` each time. The
/// finished output must be UTF-8 whatever upstream sent; `check` sees the
/// cut event's result and that output, with a label for messages.
pub(crate) fn replay_truncated<T>(
    name: &str,
    events: &[(String, String)],
    new: impl Fn() -> T,
    on_event: impl Fn(&mut T, &str, &[u8], &mut Vec<u8>) -> Result<(), TranslateError>,
    finish: impl Fn(&mut T, &mut Vec<u8>),
    check: impl Fn(Result<(), TranslateError>, &str, &str),
) {
    for cut_event in 0..events.len() {
        let data = events[cut_event].1.as_bytes();
        for cut in (0..data.len()).step_by(7) {
            let mut t = new();
            let mut out = Vec::new();
            for (event, data) in &events[..cut_event] {
                on_event(&mut t, event, data.as_bytes(), &mut out).unwrap();
            }
            let result = on_event(&mut t, &events[cut_event].0, &data[..cut], &mut out);
            finish(&mut t, &mut out);
            let text = std::str::from_utf8(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
            check(
                result,
                text,
                &format!("{name}: event {cut_event} cut at {cut}"),
            );
        }
    }
}

/// Checks the envelope of a whole translated completion and returns its
/// first choice.
pub(crate) fn completion_choice<'v>(v: &'v Value, id: &str, model: &str) -> &'v Value {
    assert_eq!(v["id"], id);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], model);
    assert!(v["created"].as_u64().unwrap() > 1_700_000_000);
    &v["choices"][0]
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
