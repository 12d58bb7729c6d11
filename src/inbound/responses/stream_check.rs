//! Test support for the stream encoder: a checker that replays its output
//! through the Responses event grammar as strict clients read it (the openai
//! SDK's `ResponseStream` accumulator, the Vercel AI SDK's chunk schemas), an
//! independent reading of a chat stream into the completion it stands for,
//! and chunk builders.

use serde_json::{json, Map, Value};

use super::test_support::{events, fixture, without_ids};
use super::{from_chat, StreamEncoder};

/// What a client ends up with: every event, the terminal event's name and
/// its `response`.
pub(super) struct Replayed {
    pub(super) events: Vec<Value>,
    pub(super) terminal: String,
    pub(super) response: Value,
}

/// Replays `out` through the grammar, panicking (with `name`) at the first
/// event a client would reject or misread:
/// - frames are `event: <type>\ndata: <json>\n\n`, the JSON's `type` the
///   same, `sequence_number` counting from 0;
/// - `response.created` then `response.in_progress` open it, with one id;
/// - items are added at the next `output_index`, one open at a time, and
///   every part, delta and done names the open item by id and index;
/// - done events carry the whole text or arguments so far, and
///   `output_item.done` the whole item;
/// - the stream ends with `response.completed`/`response.incomplete` whose
///   output is exactly the items accumulated, with usage, or with `error`
///   then `response.failed`; nothing follows.
pub(super) fn replay(name: &str, out: &[u8]) -> Replayed {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(text.ends_with("\n\n"), "{name}: unterminated frame");
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    let mut terminal: Option<(String, Value)> = None;
    for (seq, frame) in text.split_terminator("\n\n").enumerate() {
        let (event_line, data_line) = frame
            .split_once('\n')
            .unwrap_or_else(|| panic!("{name}: frame {frame:?}"));
        let kind = event_line.strip_prefix("event: ").expect("event line");
        let data = data_line.strip_prefix("data: ").expect("data line");
        let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{name}: {e}"));
        let at = format!("{name}: event {seq} ({kind})");
        assert!(terminal.is_none(), "{at}: after the terminal event");
        assert_eq!(v["type"], kind, "{at}");
        assert_eq!(v["sequence_number"], seq, "{at}");
        if let Some(response) = acc.event(&at, seq, kind, &v) {
            terminal = Some((kind.to_owned(), response));
        }
        events.push(v);
    }
    let (terminal, response) = terminal.unwrap_or_else(|| panic!("{name}: no terminal event"));
    Replayed {
        events,
        terminal,
        response,
    }
}

#[derive(Default)]
pub(super) struct Accumulator {
    response_id: String,
    model: String,
    items: Vec<Value>,
    open: Option<usize>,
    /// The open item's part was added, its text done, its part done.
    part: (bool, bool, bool),
    after_error: bool,
}

impl Accumulator {
    /// Checks one event; returns the response of a terminal one.
    fn event(&mut self, at: &str, seq: usize, kind: &str, v: &Value) -> Option<Value> {
        assert!(
            !self.after_error || kind == "response.failed",
            "{at}: `error` must be followed by response.failed"
        );
        match kind {
            "response.created" | "response.in_progress" => {
                assert_eq!(seq, usize::from(kind == "response.in_progress"), "{at}");
                let r = &v["response"];
                if kind == "response.created" {
                    self.response_id = r["id"].as_str().unwrap().to_owned();
                    self.model = r["model"].as_str().unwrap().to_owned();
                    assert!(self.response_id.starts_with("resp_"), "{at}");
                }
                self.check_envelope(at, r, "in_progress");
                assert_eq!(r["output"], json!([]), "{at}");
                assert!(r["usage"].is_null(), "{at}");
            }
            "response.output_item.added" => {
                assert!(self.open.is_none(), "{at}: another item is still open");
                assert_eq!(v["output_index"], self.items.len(), "{at}");
                let item = v["item"].clone();
                let prefix = match item["type"].as_str() {
                    Some("message") => {
                        assert_eq!(item["status"], "in_progress", "{at}");
                        assert_eq!(item["content"], json!([]), "{at}");
                        assert_eq!(item["role"], "assistant", "{at}");
                        "msg_"
                    }
                    Some("reasoning") => {
                        assert_eq!(item["summary"], json!([]), "{at}");
                        "rs_"
                    }
                    Some("function_call") => {
                        assert_eq!(item["status"], "in_progress", "{at}");
                        assert_eq!(item["arguments"], "", "{at}");
                        assert!(
                            item["call_id"].as_str().is_some_and(|c| !c.is_empty()),
                            "{at}"
                        );
                        assert!(item["name"].is_string(), "{at}");
                        "fc_"
                    }
                    other => panic!("{at}: item type {other:?}"),
                };
                assert!(item["id"].as_str().unwrap().starts_with(prefix), "{at}");
                self.open = Some(self.items.len());
                self.part = (false, false, false);
                self.items.push(item);
            }
            "response.content_part.added" | "response.reasoning_summary_part.added" => {
                let (item, list) = self.open_text_item(at, v, kind);
                let part = if list == "content" {
                    json!({"type":"output_text","annotations":[],"logprobs":[],"text":""})
                } else {
                    json!({"type":"summary_text","text":""})
                };
                assert!(!self.part.0, "{at}: one part per item");
                assert_eq!(v[index_key(list)], 0, "{at}");
                assert_eq!(v["part"], part, "{at}");
                self.items[item][list].as_array_mut().unwrap().push(part);
                self.part.0 = true;
            }
            "response.output_text.delta" | "response.reasoning_summary_text.delta" => {
                let (item, list) = self.open_text_item(at, v, kind);
                assert!(self.part.0 && !self.part.1, "{at}: delta outside its part");
                assert_eq!(v[index_key(list)], 0, "{at}");
                if list == "content" {
                    assert_eq!(v["logprobs"], json!([]), "{at}");
                }
                let delta = v["delta"].as_str().unwrap();
                assert!(!delta.is_empty(), "{at}: empty delta");
                let text = &mut self.items[item][list][0]["text"];
                *text = Value::String(format!("{}{delta}", text.as_str().unwrap()));
            }
            "response.output_text.done" | "response.reasoning_summary_text.done" => {
                let (item, list) = self.open_text_item(at, v, kind);
                assert!(self.part.0 && !self.part.1, "{at}");
                assert_eq!(v[index_key(list)], 0, "{at}");
                assert_eq!(v["text"], self.items[item][list][0]["text"], "{at}");
                self.part.1 = true;
            }
            "response.content_part.done" | "response.reasoning_summary_part.done" => {
                let (item, list) = self.open_text_item(at, v, kind);
                assert!(
                    self.part.1 && !self.part.2,
                    "{at}: part done before its text"
                );
                assert_eq!(v["part"], self.items[item][list][0], "{at}");
                self.part.2 = true;
            }
            "response.function_call_arguments.delta" => {
                let item = self.open_item(at, v, "function_call");
                let delta = v["delta"].as_str().unwrap();
                assert!(!delta.is_empty(), "{at}: empty delta");
                let arguments = &mut self.items[item]["arguments"];
                *arguments = Value::String(format!("{}{delta}", arguments.as_str().unwrap()));
            }
            "response.function_call_arguments.done" => {
                let item = self.open_item(at, v, "function_call");
                assert_eq!(v["arguments"], self.items[item]["arguments"], "{at}");
                assert_eq!(v["name"], self.items[item]["name"], "{at}");
                self.part.1 = true;
            }
            "response.output_item.done" => {
                let index = self.open.unwrap_or_else(|| panic!("{at}: no open item"));
                assert_eq!(v["output_index"], index, "{at}");
                let item = &mut self.items[index];
                match item["type"].as_str() {
                    Some("message") | Some("reasoning") => {
                        assert!(self.part == (true, true, true), "{at}: part not done")
                    }
                    _ => assert!(self.part.1, "{at}: arguments not done"),
                }
                if item.get("status").is_some() {
                    let status = v["item"]["status"].as_str().unwrap();
                    assert!(matches!(status, "completed" | "incomplete"), "{at}");
                    item["status"] = json!(status);
                }
                assert_eq!(
                    &v["item"], item,
                    "{at}: done item differs from what was streamed"
                );
                self.open = None;
            }
            "response.completed" | "response.incomplete" => {
                assert!(self.open.is_none(), "{at}: an item is still open");
                let r = &v["response"];
                let status = kind.strip_prefix("response.").unwrap();
                self.check_envelope(at, r, status);
                assert_eq!(r["output"], json!(self.items), "{at}");
                assert!(r["completed_at"].is_u64(), "{at}");
                assert_eq!(
                    r["incomplete_details"].is_object(),
                    status == "incomplete",
                    "{at}"
                );
                assert!(r["error"].is_null(), "{at}");
                let u = &r["usage"];
                for key in ["input_tokens", "output_tokens", "total_tokens"] {
                    assert!(u[key].is_u64(), "{at}: usage.{key}");
                }
                assert!(u["input_tokens_details"]["cached_tokens"].is_u64(), "{at}");
                assert!(
                    u["output_tokens_details"]["reasoning_tokens"].is_u64(),
                    "{at}"
                );
                return Some(r.clone());
            }
            "error" => {
                let e = &v["error"];
                for key in ["type", "code", "message"] {
                    assert!(e[key].is_string(), "{at}: error.{key}");
                }
                assert!(e["param"].is_null(), "{at}");
                self.after_error = true;
            }
            "response.failed" => {
                assert!(self.after_error, "{at}: no `error` event before it");
                self.after_error = false;
                let r = &v["response"];
                self.check_envelope(at, r, "failed");
                assert!(
                    r["error"]["code"].is_string() && r["error"]["message"].is_string(),
                    "{at}"
                );
                assert_eq!(r["output"], json!(self.items), "{at}");
                return Some(r.clone());
            }
            other => panic!("{at}: unknown event {other}"),
        }
        None
    }

    fn check_envelope(&self, at: &str, r: &Value, status: &str) {
        assert_eq!(r["object"], "response", "{at}");
        assert_eq!(r["id"], self.response_id.as_str(), "{at}");
        assert_eq!(r["model"], self.model.as_str(), "{at}");
        assert_eq!(r["status"], status, "{at}");
        assert!(r["created_at"].is_u64(), "{at}");
    }

    /// The open item of a part or text event `kind` and the list that holds
    /// its text: a message's `content`, or a reasoning item's `summary`.
    fn open_text_item(&self, at: &str, v: &Value, kind: &str) -> (usize, &'static str) {
        if kind.starts_with("response.reasoning_summary_") {
            (self.open_item(at, v, "reasoning"), "summary")
        } else {
            (self.open_item(at, v, "message"), "content")
        }
    }

    /// The open item, which `v` must name by id and index and be a `kind`.
    fn open_item(&self, at: &str, v: &Value, kind: &str) -> usize {
        let index = self.open.unwrap_or_else(|| panic!("{at}: no open item"));
        assert_eq!(v["output_index"], index, "{at}");
        assert_eq!(v["item_id"], self.items[index]["id"], "{at}");
        assert_eq!(self.items[index]["type"], kind, "{at}");
        index
    }
}

pub(super) fn index_key(list: &str) -> &'static str {
    if list == "content" {
        "content_index"
    } else {
        "summary_index"
    }
}

/// Feeds chunk payloads through a fresh encoder. A chunk it refuses ends the
/// stream as the driver would, with `fail(502, …)`; else `finish`.
pub(super) fn encode(datas: &[String]) -> (Vec<u8>, Option<String>) {
    let mut encoder = StreamEncoder::new("client/model");
    assert_eq!(encoder.content_type(), b"text/event-stream");
    let mut out = Vec::new();
    for data in datas {
        if let Err(e) = encoder.on_chunk(data.as_bytes(), &mut out) {
            encoder.fail(502, &e.0, &mut out);
            return (out, Some(e.0));
        }
    }
    encoder.finish(&mut out);
    (out, None)
}

/// An independent reading of a chat chunk stream into the whole
/// `chat.completion` it stands for.
pub(super) fn assemble_completion(datas: &[String]) -> Value {
    let (mut text, mut reasoning) = (String::new(), String::new());
    let mut calls: Vec<(Option<u64>, Map<String, Value>, String)> = Vec::new();
    let (mut finish, mut usage) = (Value::Null, Value::Null);
    for data in datas {
        let v: Value = serde_json::from_str(data).unwrap();
        if !v["usage"].is_null() {
            usage = v["usage"].clone();
        }
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
        let d = &choice["delta"];
        match &d["content"] {
            Value::String(s) => text.push_str(s),
            Value::Array(parts) => {
                for p in parts {
                    if p["type"] == "text" {
                        text.push_str(p["text"].as_str().unwrap());
                    }
                    for t in p["thinking"].as_array().into_iter().flatten() {
                        reasoning.push_str(t["text"].as_str().unwrap());
                    }
                }
            }
            _ => {}
        }
        match (&d["reasoning_content"], &d["reasoning"]) {
            (Value::String(r), _) if !r.is_empty() => reasoning.push_str(r),
            (_, Value::String(r)) => reasoning.push_str(r),
            _ => {}
        }
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64();
            let found = match (index, call["id"].is_string()) {
                (Some(_), _) => calls.iter().position(|(i, _, _)| *i == index),
                (None, true) => calls
                    .iter()
                    .position(|(_, c, _)| c.get("id") == Some(&call["id"])),
                (None, false) => calls.len().checked_sub(1),
            };
            let slot = match found {
                Some(slot) => slot,
                None => {
                    let mut c = Map::new();
                    c.insert("id".into(), call["id"].clone());
                    c.insert("type".into(), json!("function"));
                    c.insert("name".into(), call["function"]["name"].clone());
                    calls.push((index, c, String::new()));
                    calls.len() - 1
                }
            };
            if let Some(a) = call["function"]["arguments"].as_str() {
                calls[slot].2.push_str(a);
            }
        }
    }
    let tool_calls: Vec<Value> = calls
        .into_iter()
        .map(|(_, c, args)| {
            json!({"id":c["id"],"type":"function","function":{"name":c["name"],"arguments":args}})
        })
        .collect();
    let mut message = json!({"role":"assistant","content":text,"reasoning_content":reasoning});
    if !tool_calls.is_empty() {
        message["tool_calls"] = json!(tool_calls);
    }
    json!({"object":"chat.completion","choices":[{"index":0,"message":message,"finish_reason":finish}],
        "usage":usage})
}

/// Encodes `datas`, replays the output, and checks the final response
/// against `from_chat` of the same answer read independently.
pub(super) fn check_stream(name: &str, datas: &[String]) -> Replayed {
    let (out, refused) = encode(datas);
    let replayed = replay(name, &out);
    if let Some(reason) = refused {
        assert_eq!(replayed.terminal, "response.failed", "{name}: {reason}");
        return replayed;
    }
    let completion = assemble_completion(datas);
    let mut whole = Vec::new();
    from_chat(
        &serde_json::to_vec(&completion).unwrap(),
        "client/model",
        &mut whole,
    )
    .unwrap();
    let whole: Value = serde_json::from_slice(&whole).unwrap();
    assert_eq!(
        without_ids(replayed.response.clone()),
        without_ids(whole),
        "{name}: the streamed response differs from from_chat's"
    );
    replayed
}

pub(super) fn payloads(provider: &str, name: &str) -> Vec<String> {
    events(name, &fixture(provider, name))
        .into_iter()
        .map(|(_, data)| data)
        .collect()
}

pub(super) fn is_chat_stream(name: &str) -> bool {
    name.starts_with("chat-stream-")
}

pub(super) fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
    json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up",
        "choices":[{"index":0,"delta":delta,"finish_reason":finish_reason}]})
    .to_string()
}

pub(super) fn usage_chunk(prompt: u64, completion: u64) -> String {
    json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],
        "usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion}})
    .to_string()
}

pub(super) fn kinds(r: &Replayed) -> Vec<&str> {
    r.events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}
