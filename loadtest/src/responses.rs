//! OpenAI's Responses API (`POST …/responses`), as OpenAI and Azure serve
//! it: a `response` object, or its event stream. The gateway passes these
//! requests to OpenAI-kind providers as bytes; the mock lets tests see them
//! arrive and come back unchanged. It answers "Hello from mock-provider."
//! (usage 12/5) and echoes `previous_response_id`, which only a storing
//! provider accepts.

use serde::Deserialize;
use serde_json::{json, Value};

pub const TEXT: &str = "Hello from mock-provider.";

#[derive(Deserialize)]
pub struct Request {
    pub model: Option<String>,
    #[serde(default)]
    pub stream: bool,
    pub previous_response_id: Option<String>,
}

fn response(req: &Request, status: &str, output: Value) -> Value {
    json!({
        "id": "resp_mock",
        "object": "response",
        "created_at": 1_700_000_000u64,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": req.model,
        "previous_response_id": req.previous_response_id,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": if status == "completed" {
            json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": 17})
        } else {
            Value::Null
        },
    })
}

fn message(text: &str, status: &str) -> Value {
    json!({"type": "message", "id": "msg_mock", "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// The whole answer, written directly: the load harness measures the
/// gateway with this route, so the mock must not be the slow side.
pub fn body(req: &Request, out: &mut Vec<u8>) {
    let quoted = |s: &Option<String>| match s {
        Some(s) => Value::String(s.clone()).to_string(),
        None => "null".to_owned(),
    };
    out.extend_from_slice(
        format!(
            concat!(
                r#"{{"id":"resp_mock","object":"response","created_at":1700000000,"status":"completed","#,
                r#""error":null,"incomplete_details":null,"model":{},"previous_response_id":{},"#,
                r#""output":[{{"type":"message","id":"msg_mock","status":"completed","role":"assistant","#,
                r#""content":[{{"type":"output_text","text":"{}","annotations":[]}}]}}],"#,
                r#""parallel_tool_calls":true,"tool_choice":"auto","tools":[],"#,
                r#""usage":{{"input_tokens":12,"input_tokens_details":{{"cached_tokens":0}},"#,
                r#""output_tokens":5,"output_tokens_details":{{"reasoning_tokens":0}},"total_tokens":17}}}}"#
            ),
            quoted(&req.model),
            quoted(&req.previous_response_id),
            TEXT
        )
        .as_bytes(),
    );
}

/// The event stream, whole: created, the message item and its text in
/// word deltas, completed.
pub fn events(req: &Request, out: &mut Vec<u8>) {
    let part = json!({"type": "output_text", "text": "", "annotations": []});
    let done_part = json!({"type": "output_text", "text": TEXT, "annotations": []});
    let mut events = vec![
        json!({"type": "response.created", "response": response(req, "in_progress", json!([]))}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": message("", "in_progress")}),
        json!({"type": "response.content_part.added", "item_id": "msg_mock",
               "output_index": 0, "content_index": 0, "part": part}),
    ];
    for (i, word) in TEXT.split(' ').enumerate() {
        let delta = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "msg_mock",
                           "output_index": 0, "content_index": 0, "delta": delta}),
        );
    }
    events.extend([
        json!({"type": "response.output_text.done", "item_id": "msg_mock", "output_index": 0,
               "content_index": 0, "text": TEXT}),
        json!({"type": "response.content_part.done", "item_id": "msg_mock", "output_index": 0,
               "content_index": 0, "part": done_part}),
        json!({"type": "response.output_item.done", "output_index": 0,
               "item": message(TEXT, "completed")}),
        json!({"type": "response.completed",
               "response": response(req, "completed", json!([message(TEXT, "completed")]))}),
    ]);
    for (n, mut event) in events.into_iter().enumerate() {
        event["sequence_number"] = json!(n);
        let name = event["type"].as_str().unwrap_or_default().to_owned();
        out.extend_from_slice(format!("event: {name}\ndata: {event}\n\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_body_is_the_response_the_stream_completes_with() {
        let req = Request {
            model: Some("gpt-\"5".into()),
            stream: false,
            previous_response_id: None,
        };
        let mut whole = Vec::new();
        body(&req, &mut whole);
        let whole: Value = serde_json::from_slice(&whole).unwrap();
        let expected = response(&req, "completed", json!([message(TEXT, "completed")]));
        assert_eq!(whole, expected);
    }
}
