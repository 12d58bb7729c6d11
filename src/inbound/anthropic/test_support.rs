//! Test support: the recorded traffic (read in place from
//! `RINGBRIDGE_FIXTURES`, default `../shared/fixtures`, never copied), a
//! strict reader of our SSE output, and a validator that replays Anthropic's
//! stream grammar the way its SDKs' accumulators do and returns the message
//! they would end with. The reader is `crate::providers::fixtures`'.

use serde_json::{json, Map, Value};

pub(super) use crate::providers::fixtures::{
    names as fixture_names, read as read_fixture, split_sse,
};

/// A recording's events: `.sse` split as SSE, `.chunks.txt` one data
/// payload a line (named by its `type`, when it has one).
pub(super) fn recording_events(provider: &str, name: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(read_fixture(provider, name)).unwrap();
    if name.ends_with(".sse") {
        return split_sse(&text);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["type"].as_str().unwrap_or_default().to_owned(),
                l.to_owned(),
            )
        })
        .collect()
}

/// Our stream output as (event, data JSON), checking the framing byte for
/// byte: every event is exactly `event: <name>\ndata: <one line>\n\n`, the
/// data's `type` is the event name, and nothing trails.
pub(super) fn strict_frames(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).expect("stream output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated event: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event, data) = frame
                .strip_prefix("event: ")
                .and_then(|f| f.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("malformed frame {frame:?}"));
            assert!(!data.contains('\n'), "data spans lines: {frame:?}");
            let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
            assert_eq!(v["type"], event, "event name and type differ: {frame:?}");
            (event.to_owned(), v)
        })
        .collect()
}

/// How a replayed stream ended.
#[derive(Debug, PartialEq)]
pub(super) enum Outcome {
    /// `message_stop`: the message an SDK's accumulator ends with.
    Message(Value),
    /// An `error` event (its `error` object), and the message so far if
    /// `message_start` came.
    Error(Value, Option<Value>),
}

impl Outcome {
    pub(super) fn message(self) -> Value {
        match self {
            Outcome::Message(m) => m,
            Outcome::Error(e, _) => panic!("stream ended in error {e}"),
        }
    }
}

/// Replays Anthropic's stream grammar over `events` (recordings may add
/// `ping`), panicking at the first violation, the way the SDKs' accumulators
/// read it: `message_start` first and once, with empty content and no stop
/// reason; blocks started in index order from 0 with empty initial content
/// (`allowed_blocks` lists the block types that may appear), one at a time;
/// deltas only to the open block and of its kind; `partial_json` fragments
/// joining into a JSON object (or nothing, leaving `{}`); `message_delta`
/// once with no block open, then `message_stop` last. Every event must be
/// complete JSON. An `error` event may come anywhere and must be last.
pub(super) fn replay(events: &[(String, Value)], allowed_blocks: &[&str]) -> Outcome {
    let mut message: Option<Value> = None;
    let mut open: Option<usize> = None;
    let mut json_buf = String::new();
    let mut delta_seen = false;
    for (n, (event, data)) in events.iter().enumerate() {
        let last = n + 1 == events.len();
        let kind = data["type"].as_str().unwrap_or(event);
        if kind == "error" {
            assert!(last, "events after an error event");
            return Outcome::Error(data["error"].clone(), message);
        }
        if kind == "ping" {
            continue;
        }
        if kind == "message_start" {
            assert!(message.is_none(), "second message_start");
            let m = data["message"].clone();
            assert_eq!(m["type"], "message");
            assert_eq!(m["role"], "assistant");
            assert!(
                m["id"].as_str().is_some_and(|id| id.starts_with("msg_")),
                "{m}"
            );
            assert!(m["model"].is_string());
            assert_eq!(m["content"], json!([]));
            assert_eq!(m["stop_reason"], Value::Null);
            assert!(m["usage"]["input_tokens"].is_u64() && m["usage"]["output_tokens"].is_u64());
            message = Some(m);
            continue;
        }
        let m = message
            .as_mut()
            .unwrap_or_else(|| panic!("{kind} before message_start"));
        let content = m["content"].as_array_mut().unwrap();
        match kind {
            "content_block_start" => {
                assert!(open.is_none(), "block started while block {open:?} is open");
                assert!(!delta_seen, "block after message_delta");
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(index, content.len(), "blocks start in index order");
                let block = data["content_block"].clone();
                let block_type = block["type"].as_str().unwrap();
                assert!(
                    allowed_blocks.contains(&block_type),
                    "block type {block_type}"
                );
                match block_type {
                    "text" => assert_eq!(block["text"], ""),
                    "thinking" => {
                        assert_eq!(block["thinking"], "");
                        assert!(block["signature"].is_string());
                    }
                    "tool_use" => {
                        assert!(block["id"].as_str().is_some_and(|s| !s.is_empty()));
                        assert!(block["name"].as_str().is_some_and(|s| !s.is_empty()));
                        assert_eq!(block["input"], json!({}));
                    }
                    _ => {}
                }
                content.push(block);
                open = Some(index);
                json_buf.clear();
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(Some(index), open, "delta for a block that is not open");
                let block = &mut content[index];
                let d = &data["delta"];
                let append = |block: &mut Value, field: &str, piece: &Value| {
                    let s = block[field].as_str().unwrap().to_owned() + piece.as_str().unwrap();
                    block[field] = Value::String(s);
                };
                match (d["type"].as_str().unwrap(), block["type"].as_str().unwrap()) {
                    ("text_delta", "text") => append(block, "text", &d["text"]),
                    ("thinking_delta", "thinking") => append(block, "thinking", &d["thinking"]),
                    ("signature_delta", "thinking") => block["signature"] = d["signature"].clone(),
                    ("input_json_delta", "tool_use" | "server_tool_use") => {
                        json_buf.push_str(d["partial_json"].as_str().unwrap())
                    }
                    ("citations_delta", "text") => {}
                    (delta, block) => panic!("{delta} for a {block} block"),
                }
            }
            "content_block_stop" => {
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(Some(index), open, "stop for a block that is not open");
                if !json_buf.is_empty() {
                    let input: Value = serde_json::from_str(&json_buf)
                        .unwrap_or_else(|e| panic!("partial_json {json_buf:?}: {e}"));
                    assert!(input.is_object(), "tool input {input}");
                    content[index]["input"] = input;
                }
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta while block {open:?} is open");
                assert!(!delta_seen, "second message_delta");
                delta_seen = true;
                let stop = data["delta"]["stop_reason"].as_str().unwrap();
                let known = [
                    "end_turn",
                    "max_tokens",
                    "stop_sequence",
                    "tool_use",
                    "pause_turn",
                    "refusal",
                ];
                assert!(known.contains(&stop), "stop_reason {stop}");
                m["stop_reason"] = data["delta"]["stop_reason"].clone();
                m["stop_sequence"] = data["delta"]["stop_sequence"].clone();
                let usage = data["usage"].as_object().unwrap();
                assert!(usage["output_tokens"].is_u64());
                for (k, v) in usage {
                    m["usage"][k] = v.clone();
                }
            }
            "message_stop" => {
                assert!(delta_seen, "message_stop without message_delta");
                assert!(last, "events after message_stop");
                return Outcome::Message(m.clone());
            }
            other => panic!("unknown event {other}"),
        }
    }
    panic!("stream ended without message_stop or error")
}

/// Checks that `ours` has the fields of `theirs` (a real Anthropic value)
/// with the same JSON types, recursively through objects, but for the keys
/// in `may_lack`, and no field `theirs` lacks. `at` names the value in
/// failure messages.
pub(super) fn assert_same_shape(ours: &Value, theirs: &Value, may_lack: &[&str], at: &str) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            for key in o.keys() {
                assert!(
                    t.contains_key(key),
                    "{at}.{key}: not in Anthropic's {theirs}"
                );
            }
            for (key, tv) in t {
                match o.get(key) {
                    Some(ov) => assert_same_shape(ov, tv, may_lack, &format!("{at}.{key}")),
                    None => assert!(
                        may_lack.contains(&key.as_str()),
                        "{at}.{key}: missing (Anthropic has {tv})"
                    ),
                }
            }
        }
        _ => assert_eq!(
            json_type(ours),
            json_type(theirs),
            "{at}: ours {ours}, Anthropic's {theirs}"
        ),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() => "unsigned",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What an OpenAI client reassembles from a hub chunk stream, written as the
/// `chat.completion` the same answer would have been: content and reasoning
/// joined (Mistral's content parts read as text and thinking), tool calls
/// by index (or id, for Mistral's index-less calls), the first finish
/// reason, the last usage. Read independently of the encoder's own reader.
pub(super) fn completion_from_chunks(chunks: &[String]) -> Value {
    let (mut id, mut content, mut reasoning) = (String::new(), String::new(), String::new());
    let mut calls: Vec<(Option<u64>, String, String, String)> = Vec::new();
    let (mut finish, mut usage) = (Value::Null, Value::Null);
    for chunk in chunks {
        let v: Value = serde_json::from_str(chunk).unwrap();
        if id.is_empty() && v["choices"].as_array().is_some_and(|c| !c.is_empty()) {
            id = v["id"].as_str().unwrap_or_default().to_owned();
        }
        if !v["usage"].is_null() && v.get("usage").is_some() {
            usage = v["usage"].clone();
        }
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        if finish.is_null() {
            finish = choice["finish_reason"].clone();
        }
        let d = &choice["delta"];
        for key in ["reasoning_content", "reasoning"] {
            if let Some(s) = d[key].as_str() {
                reasoning.push_str(s);
                break;
            }
        }
        match &d["content"] {
            Value::String(s) => content.push_str(s),
            Value::Array(parts) => {
                for p in parts {
                    match p["type"].as_str() {
                        Some("text") => content.push_str(p["text"].as_str().unwrap()),
                        Some("thinking") => {
                            for t in p["thinking"].as_array().unwrap() {
                                reasoning.push_str(t["text"].as_str().unwrap());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64();
            let call_id = call["id"].as_str().unwrap_or_default();
            let f = &call["function"];
            let existing = calls.iter().position(|c| match index {
                Some(_) => c.0 == index,
                None => call_id.is_empty() || c.1 == call_id,
            });
            let i = existing.unwrap_or_else(|| {
                calls.push((
                    index,
                    call_id.to_owned(),
                    f["name"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
                calls.len() - 1
            });
            calls[i]
                .3
                .push_str(f["arguments"].as_str().unwrap_or_default());
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if content.is_empty() {
            Value::Null
        } else {
            json!(content)
        },
    );
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    if !calls.is_empty() {
        let calls: Vec<Value> = calls
            .into_iter()
            .map(|(_, id, name, args)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
            })
            .collect();
        message.insert("tool_calls".into(), json!(calls));
    }
    json!({"id": id, "object": "chat.completion", "choices": [{"index": 0, "message": message,
        "finish_reason": finish}], "usage": usage})
}
