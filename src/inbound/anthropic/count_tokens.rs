//! `POST /v1/messages/count_tokens` for models not served by Anthropic: an
//! estimate from the request's size, since the gateway has no tokenizer for
//! whatever model the request is routed to.

use std::io::Write as _;

use super::read::{object_at, required, Block, Content, Request};
use crate::inbound::Invalid;

/// UTF-8 bytes per token: the usual rule of thumb for English text and
/// code with BPE tokenizers (OpenAI's and Anthropic's guidance alike).
const BYTES_PER_TOKEN: u64 = 4;
/// Tokens each message (and the system prompt) adds for its role markers,
/// as OpenAI's counting guide has it.
const MESSAGE_OVERHEAD_TOKENS: u64 = 4;
/// Tokens per image: Anthropic's cost of an image at its largest size
/// before resizing (about 1.15 megapixels, width x height / 750). Images are
/// not decoded, so every one is priced as large.
const IMAGE_TOKENS: u64 = 1600;

/// What a request holds, in the units the estimate prices.
#[derive(Debug, Default)]
struct Tally {
    bytes: u64,
    images: u64,
    messages: u64,
}

impl Tally {
    fn add_bytes(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }

    fn tokens(&self) -> u64 {
        self.bytes
            .div_ceil(BYTES_PER_TOKEN)
            .saturating_add(self.messages.saturating_mul(MESSAGE_OVERHEAD_TOKENS))
            .saturating_add(self.images.saturating_mul(IMAGE_TOKENS))
    }
}

/// An estimate of the input tokens of a Messages request (`max_tokens` not
/// needed): one token per 4 bytes (`BYTES_PER_TOKEN`) of the system prompt,
/// messages' text, `tool_use` inputs (as JSON text) and names, tool results'
/// text, tool definitions (their JSON text) and blocks of any other type
/// (their JSON text); 4 (`MESSAGE_OVERHEAD_TOKENS`) per message and for the
/// system prompt; 1600 (`IMAGE_TOKENS`) per image. Thinking blocks count nothing:
/// [`to_chat`](super::to_chat) drops them.
///
/// Deterministic. Fails only for a body that is not a Messages request:
/// not JSON, no `model` or `messages`, or fields of the wrong type.
pub fn count_tokens_estimate(body: &[u8]) -> Result<u64, Invalid> {
    let req: Request<'_> = object_at(body, "")?;
    req.model.as_ref().ok_or_else(|| required("model"))?;
    let messages = req.messages.ok_or_else(|| required("messages"))?;
    let mut tally = Tally::default();
    if let Some(raw) = req.system {
        tally.messages += 1;
        count(Content::read(Some(raw), "system")?, &mut tally, true);
    }
    for (i, message) in messages.into_iter().enumerate() {
        tally.messages += 1;
        let content = Content::read(message.content, &format!("messages.{i}.content"))?;
        count(content, &mut tally, true);
    }
    for tool in req.tools.unwrap_or_default() {
        tally.add_bytes(tool.get().len());
    }
    Ok(tally.tokens())
}

/// Adds `content` to `tally`; `outer` is false inside a tool result, whose
/// blocks are never tool results themselves.
fn count(content: Content<'_>, tally: &mut Tally, outer: bool) {
    let blocks = match content {
        Content::Text(text) => return tally.add_bytes(text.len()),
        Content::Blocks(blocks) => blocks,
    };
    for (raw, at) in blocks {
        let Ok(block) = object_at::<Block<'_>>(raw.get().as_bytes(), &at) else {
            tally.add_bytes(raw.get().len());
            continue;
        };
        match block.kind() {
            "text" => tally.add_bytes(block.text.as_deref().map_or(0, str::len)),
            "image" => tally.images += 1,
            "thinking" | "redacted_thinking" => {}
            "tool_use" => {
                tally.add_bytes(block.name.as_deref().map_or(0, str::len));
                tally.add_bytes(block.input.map_or(0, |i| i.get().len()));
            }
            "tool_result" if outer => match Content::read(block.content, &at) {
                Ok(inner) => count(inner, tally, false),
                Err(_) => tally.add_bytes(block.content.map_or(0, |c| c.get().len())),
            },
            _ => tally.add_bytes(raw.get().len()),
        }
    }
}

/// Appends the count-tokens answer, `{"input_tokens":N}`.
pub fn write_count_tokens(input_tokens: u64, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{{\"input_tokens\":{input_tokens}}}");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn estimate(body: serde_json::Value) -> u64 {
        count_tokens_estimate(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn text_is_a_token_per_four_bytes_plus_message_overhead() {
        // 8 bytes -> 2 tokens, one message -> 4.
        assert_eq!(
            estimate(json!({"model":"m","messages":[{"role":"user","content":"abcdefgh"}]})),
            2 + 4
        );
        // 9 bytes round up to 3; the system prompt is one more message.
        assert_eq!(
            estimate(json!({"model":"m","system":"abcd",
                "messages":[{"role":"user","content":[{"type":"text","text":"abcde"}]}]})),
            3 + 2 * 4
        );
    }

    #[test]
    fn tools_images_and_tool_traffic_count() {
        let tool = json!({"name":"f","input_schema":{"type":"object"}});
        let tool_bytes = tool.to_string().len() as u64;
        let body = json!({"model":"m","tools":[tool],"messages":[
            {"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]},
            {"role":"assistant","content":[
                {"type":"thinking","thinking":"ignored, dropped by to_chat","signature":"s"},
                {"type":"tool_use","id":"t","name":"f","input":{"a":1}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t",
                "content":[{"type":"text","text":"abcd"},{"type":"image","source":{"type":"url","url":"u"}}]}]}
        ]});
        let bytes = tool_bytes + 1 + r#"{"a":1}"#.len() as u64 + 4;
        assert_eq!(
            estimate(body),
            bytes.div_ceil(4) + 3 * MESSAGE_OVERHEAD_TOKENS + 2 * IMAGE_TOKENS
        );
    }

    #[test]
    fn unknown_blocks_count_their_json_and_max_tokens_is_not_needed() {
        let doc = json!({"type":"document","source":{"type":"text","media_type":"text/plain","data":"abc"}});
        let n = doc.to_string().len() as u64;
        assert_eq!(
            estimate(json!({"model":"m","messages":[{"role":"user","content":[doc]}]})),
            n.div_ceil(4) + 4
        );
    }

    #[test]
    fn malformed_requests_are_invalid() {
        for (body, want) in [
            ("not json", "not a valid Messages request"),
            (r#"{"messages":[]}"#, "model: Field required"),
            (r#"{"model":"m"}"#, "messages: Field required"),
            (r#"{"model":"m","messages":{}}"#, "messages: invalid type"),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                "messages.0.content:",
            ),
        ] {
            let err = count_tokens_estimate(body.as_bytes()).unwrap_err().0;
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn huge_counts_saturate_and_answer_is_json() {
        let t = Tally {
            bytes: u64::MAX,
            images: u64::MAX,
            messages: 1,
        };
        assert_eq!(t.tokens(), u64::MAX);
        let mut out = Vec::new();
        write_count_tokens(42, &mut out);
        assert_eq!(out, br#"{"input_tokens":42}"#);
    }
}
