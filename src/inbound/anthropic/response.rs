//! A whole hub `chat.completion` -> an Anthropic `message`.

use std::borrow::Cow;

use serde::Serialize;

use super::answer::{stop_reason, MessageUsage, TokenUsage};
use super::{made_up_id, message_id, write_json};
use crate::inbound::chat::answer::{ArgumentsObject, ChatAnswer, Piece};
use crate::inbound::BadAnswer;

/// An Anthropic `message` with its fields in Anthropic's order (the
/// non-stream answer, and `message_start`'s message with no content yet).
#[derive(Serialize)]
pub(super) struct Message<'s, 'a> {
    pub(super) id: &'s str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) role: &'static str,
    pub(super) model: &'s str,
    pub(super) content: &'s [ContentBlock<'a>],
    pub(super) stop_reason: Option<&'static str>,
    /// OpenAI never says which stop sequence matched.
    pub(super) stop_sequence: Option<()>,
    pub(super) usage: MessageUsage,
}

/// A content block of an answer.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlock<'a> {
    /// The hub carries no signature, so it is empty; clients send the block
    /// back, and `to_chat` drops it again.
    Thinking {
        thinking: Cow<'a, str>,
        signature: &'static str,
    },
    Text {
        text: Cow<'a, str>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: ArgumentsObject,
    },
}

/// A whole hub `chat.completion` -> an Anthropic `message`, appended to `out`.
///
/// Content is `[thinking?, text?, tool_use…]`: a `thinking` block (empty
/// signature) when the message has reasoning text (`reasoning_content` or
/// `reasoning`), a `text` block when it has content (or a refusal), then one
/// `tool_use` block per tool call, whose `input` is the parsed `arguments`
/// object (`{}` when they are not an object). The id is derived from the
/// completion's (see `message_id`), a tool call without an id gets a
/// made-up `toolu_…`. Usage: `input_tokens` = prompt minus cached tokens,
/// `cache_read_input_tokens` = cached, zeros when the hub gave none.
///
/// Fails when the body is not a chat completion: not JSON, no choice, no
/// message, or a tool call without a function name.
pub fn from_chat(chat: &[u8], model: &str, out: &mut Vec<u8>) -> Result<(), BadAnswer> {
    let answer = ChatAnswer::parse_completion(chat)?;
    let (message, finish_reason) = answer.completion_message()?;

    let (mut thinking, mut text) = (Cow::Borrowed(""), Cow::Borrowed(""));
    message.pieces(|piece| {
        match piece {
            Piece::Reasoning(piece) => append(&mut thinking, piece.text()?),
            Piece::Text(piece) => append(&mut text, piece.text()?),
        }
        Ok(())
    })?;
    let mut content = Vec::new();
    if !thinking.is_empty() {
        content.push(ContentBlock::Thinking {
            thinking,
            signature: "",
        });
    }
    if !text.is_empty() {
        content.push(ContentBlock::Text { text });
    }
    let mut called_tools = false;
    for call in message.tool_calls() {
        let name = call
            .name()
            .ok_or_else(|| BadAnswer("hub tool call has no function name".to_owned()))?;
        let id = match call.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(made_up_id("toolu_")),
        };
        content.push(ContentBlock::ToolUse {
            id,
            name: Cow::Borrowed(name),
            input: ArgumentsObject::parse(&call.arguments()?),
        });
        called_tools = true;
    }

    let id = message_id(answer.id.as_deref());
    let usage = answer
        .usage()
        .map(TokenUsage::from_chat)
        .unwrap_or_default();
    write_json(
        &Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model,
            content: &content,
            stop_reason: Some(stop_reason(finish_reason, called_tools)),
            stop_sequence: None,
            usage: usage.message_usage(),
        },
        out,
    );
    Ok(())
}

/// Appends `piece` to `acc`, copying only when there is more than one piece.
pub(super) fn append<'a>(acc: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if acc.is_empty() {
        *acc = piece;
    } else {
        acc.to_mut().push_str(&piece);
    }
}
