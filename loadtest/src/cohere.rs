//! Cohere v2 API shapes (`POST …/v2/chat`, streamed or not, and
//! `POST …/v2/embed`): request fields the mock looks at, and response
//! rendering. Pure functions over bytes.

use std::borrow::Cow;

use serde::Deserialize;

use crate::render::{
    message_error_body, push_embedding, push_filler, push_json_str, push_u64, EmbInput, HELLO,
    PROMPT_TOKENS, TOOL_INPUT, TOOL_INPUT_PARTS,
};

/// `id` of every mock chat answer.
pub const CHAT_ID: &str = "mock-cohere";
/// Id of the mock tool call.
pub const CALL_ID: &str = "mock_call_1";
/// `tool_plan` of a tool-call answer.
pub const TOOL_PLAN: &str = "I will call the tool.";

/// `{"message":M}`; `message` parts are concatenated and escaped.
pub fn error_body(out: &mut Vec<u8>, message: &[&[u8]]) {
    message_error_body(out, message);
}

/// Cohere-shaped `mock error NNN`.
pub fn mock_error_body(out: &mut Vec<u8>, status: u16) {
    let mut num = Vec::with_capacity(3);
    push_u64(&mut num, status as u64);
    error_body(out, &[b"mock error ", &num]);
}

/// The fields of a `/v2/chat` request the mock looks at.
#[derive(Deserialize)]
pub struct ChatRequest<'a> {
    #[serde(borrow)]
    pub model: Option<Cow<'a, str>>,
    pub messages: Option<serde_json::Value>,
    pub stream: Option<bool>,
    #[serde(borrow)]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(borrow)]
    pub tool_choice: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct Tool<'a> {
    #[serde(borrow)]
    pub function: Option<Function<'a>>,
}

#[derive(Deserialize)]
pub struct Function<'a> {
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
}

impl<'a> ChatRequest<'a> {
    /// With `tool_choice: "REQUIRED"`, the first tool's name.
    pub fn forced_tool(&self) -> Option<Cow<'a, str>> {
        if !self
            .tool_choice
            .as_deref()?
            .eq_ignore_ascii_case("REQUIRED")
        {
            return None;
        }
        self.tools
            .as_ref()?
            .first()?
            .function
            .as_ref()?
            .name
            .clone()
    }
}

/// The fields of a `/v2/embed` request the mock looks at.
#[derive(Deserialize)]
pub struct EmbedRequest<'a> {
    #[serde(borrow)]
    pub model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub texts: Option<Vec<Cow<'a, str>>>,
}

fn usage(out: &mut Vec<u8>, output: u64) {
    out.extend_from_slice(br#""usage":{"billed_units":{"input_tokens":"#);
    push_u64(out, PROMPT_TOKENS);
    out.extend_from_slice(br#","output_tokens":"#);
    push_u64(out, output);
    out.extend_from_slice(br#"},"tokens":{"input_tokens":"#);
    push_u64(out, PROMPT_TOKENS);
    out.extend_from_slice(br#","output_tokens":"#);
    push_u64(out, output);
    out.extend_from_slice(b"}}");
}

fn tool_call_head(out: &mut Vec<u8>, tool: &[u8]) {
    out.extend_from_slice(br#"{"id":""#);
    out.extend_from_slice(CALL_ID.as_bytes());
    out.extend_from_slice(br#"","type":"function","function":{"name":"#);
    out.extend_from_slice(tool);
    out.extend_from_slice(br#","arguments":"#);
}

/// Non-stream chat answer. `tool` (an already-quoted name) makes it a tool
/// call; `filler` replaces the text with that many bytes.
pub fn chat(out: &mut Vec<u8>, tool: Option<&[u8]>, filler: Option<usize>) {
    out.extend_from_slice(br#"{"id":""#);
    out.extend_from_slice(CHAT_ID.as_bytes());
    out.extend_from_slice(br#"","finish_reason":"#);
    match tool {
        Some(name) => {
            out.extend_from_slice(br#""TOOL_CALL","message":{"role":"assistant","tool_plan":""#);
            out.extend_from_slice(TOOL_PLAN.as_bytes());
            out.extend_from_slice(br#"","tool_calls":["#);
            tool_call_head(out, name);
            push_json_str(out, TOOL_INPUT.as_bytes());
            out.extend_from_slice(b"}}]},");
        }
        None => {
            out.extend_from_slice(
                br#""COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":""#,
            );
            match filler {
                Some(n) => push_filler(out, n),
                None => out.extend_from_slice(HELLO.as_bytes()),
            }
            out.extend_from_slice(br#""}]},"#);
        }
    }
    usage(out, 5);
    out.push(b'}');
}

/// One event of a Cohere v2 chat stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    MessageStart,
    ContentStart,
    /// Text token `i`: "tok{i} ".
    ContentDelta(u32),
    ContentEnd,
    ToolPlanDelta,
    ToolCallStart,
    /// Argument fragment `i` of [`TOOL_INPUT_PARTS`].
    ToolCallDelta(usize),
    ToolCallEnd,
    /// `message-end` with `output_tokens` n (finish reason from the tool).
    MessageEnd(u32),
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::MessageStart => "message-start",
            Event::ContentStart => "content-start",
            Event::ContentDelta(_) => "content-delta",
            Event::ContentEnd => "content-end",
            Event::ToolPlanDelta => "tool-plan-delta",
            Event::ToolCallStart => "tool-call-start",
            Event::ToolCallDelta(_) => "tool-call-delta",
            Event::ToolCallEnd => "tool-call-end",
            Event::MessageEnd(_) => "message-end",
        }
    }
}

/// Renders one event (`event: X\ndata: {json}\n\n`). `tool` is the forced
/// tool's quoted name, if any.
pub fn event(out: &mut Vec<u8>, tool: Option<&[u8]>, ev: Event) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(ev.name().as_bytes());
    out.extend_from_slice(b"\ndata: {");
    if ev == Event::MessageStart {
        out.extend_from_slice(br#""id":""#);
        out.extend_from_slice(CHAT_ID.as_bytes());
        out.extend_from_slice(br#"","#);
    }
    out.extend_from_slice(br#""type":""#);
    out.extend_from_slice(ev.name().as_bytes());
    out.push(b'"');
    match ev {
        Event::MessageStart => out.extend_from_slice(
            br#","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}"#,
        ),
        Event::ContentStart => out.extend_from_slice(
            br#","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}"#,
        ),
        Event::ContentDelta(i) => {
            out.extend_from_slice(br#","index":0,"delta":{"message":{"content":{"text":"tok"#);
            push_u64(out, i as u64);
            out.extend_from_slice(br#" "}}}"#);
        }
        Event::ContentEnd | Event::ToolCallEnd => out.extend_from_slice(br#","index":0"#),
        Event::ToolPlanDelta => {
            out.extend_from_slice(br#","delta":{"message":{"tool_plan":""#);
            out.extend_from_slice(TOOL_PLAN.as_bytes());
            out.extend_from_slice(br#""}}"#);
        }
        Event::ToolCallStart => {
            out.extend_from_slice(br#","index":0,"delta":{"message":{"tool_calls":"#);
            tool_call_head(out, tool.unwrap_or(b"\"\""));
            out.extend_from_slice(b"\"\"}}}}");
        }
        Event::ToolCallDelta(i) => {
            out.extend_from_slice(
                br#","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"#,
            );
            push_json_str(out, TOOL_INPUT_PARTS[i].as_bytes());
            out.extend_from_slice(b"}}}}");
        }
        Event::MessageEnd(n) => {
            out.extend_from_slice(br#","delta":{"finish_reason":"#);
            out.extend_from_slice(if tool.is_some() {
                br#""TOOL_CALL","#
            } else {
                br#""COMPLETE","#
            });
            usage(out, n as u64);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"}\n\n");
}

/// `/v2/embed` answer: float embeddings (the same values the OpenAI
/// embeddings route gives the same text), the texts, and billed input tokens
/// (ceil(bytes/4), at least 1, per text).
pub fn embed(out: &mut Vec<u8>, texts: &[Cow<'_, str>]) {
    out.extend_from_slice(br#"{"id":"mock-embed","embeddings":{"float":["#);
    let mut tokens = 0;
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let input = EmbInput::Text(t);
        push_embedding(out, &input);
        tokens += input.tokens();
    }
    out.extend_from_slice(br#"]},"texts":["#);
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, t.as_bytes());
    }
    out.extend_from_slice(
        br#"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":"#,
    );
    push_u64(out, tokens);
    out.extend_from_slice(br#"}},"response_type":"embeddings_by_type"}"#);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
    }

    #[test]
    fn chat_shapes() {
        let mut out = Vec::new();
        chat(&mut out, None, None);
        assert_eq!(
            parse(&out),
            json!({"id":"mock-cohere","finish_reason":"COMPLETE",
                "message":{"role":"assistant","content":[{"type":"text","text":HELLO}]},
                "usage":{"billed_units":{"input_tokens":12,"output_tokens":5},
                         "tokens":{"input_tokens":12,"output_tokens":5}}})
        );
        out.clear();
        chat(&mut out, Some(b"\"get_w\""), None);
        let v = parse(&out);
        assert_eq!(v["finish_reason"], "TOOL_CALL");
        assert_eq!(v["message"]["tool_plan"], TOOL_PLAN);
        assert_eq!(
            v["message"]["tool_calls"],
            json!([{"id":CALL_ID,"type":"function",
                    "function":{"name":"get_w","arguments":"{\"arg\":\"value\"}"}}])
        );
    }

    #[test]
    fn events_are_json() {
        for tool in [None, Some(&b"\"t\""[..])] {
            for ev in [
                Event::MessageStart,
                Event::ContentStart,
                Event::ContentDelta(2),
                Event::ContentEnd,
                Event::ToolPlanDelta,
                Event::ToolCallStart,
                Event::ToolCallDelta(0),
                Event::ToolCallDelta(1),
                Event::ToolCallEnd,
                Event::MessageEnd(7),
            ] {
                let mut out = Vec::new();
                event(&mut out, tool, ev);
                let text = std::str::from_utf8(&out).unwrap();
                let (line, data) = text.split_once('\n').unwrap();
                assert_eq!(line, format!("event: {}", ev.name()));
                let data = data.strip_prefix("data: ").unwrap();
                let v = parse(data.strip_suffix("\n\n").unwrap().as_bytes());
                assert_eq!(v["type"], ev.name());
                if let Event::MessageEnd(_) = ev {
                    assert_eq!(v["delta"]["usage"]["tokens"]["output_tokens"], 7);
                    let want = if tool.is_some() {
                        "TOOL_CALL"
                    } else {
                        "COMPLETE"
                    };
                    assert_eq!(v["delta"]["finish_reason"], want);
                }
            }
        }
    }

    #[test]
    fn embed_and_errors() {
        let mut out = Vec::new();
        embed(&mut out, &["hello".into(), "x\"y".into()]);
        let v = parse(&out);
        assert_eq!(v["embeddings"]["float"].as_array().unwrap().len(), 2);
        assert_eq!(v["embeddings"]["float"][0].as_array().unwrap().len(), 8);
        assert_eq!(v["texts"], json!(["hello", "x\"y"]));
        assert_eq!(v["meta"]["billed_units"]["input_tokens"], 2 + 1);
        out.clear();
        mock_error_body(&mut out, 429);
        assert_eq!(parse(&out), json!({"message":"mock error 429"}));
    }
}
