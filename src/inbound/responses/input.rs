//! `input` items -> chat messages: messages, function calls and their
//! outputs; what a chat provider cannot be given is refused by name.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::request::{decode, text_field};
use crate::inbound::chat::request as hub;
use crate::inbound::Invalid;

/// What kind of input item one is, read first so that an item refused by
/// type is refused by name, whatever its other fields hold.
#[derive(Deserialize)]
struct ItemKind<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<&'a RawValue>,
    /// What an `item_reference` points at.
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// A message (with `type: "message"` or just a `role`), a function call or
/// its output.
#[derive(Deserialize)]
struct InputItem<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ContentPart<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    file_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<Cow<'a, str>>,
}

/// The chat messages being built from the input items.
///
/// Function calls become assistant `tool_calls`: consecutive calls share one
/// assistant message, which is also the assistant text message right before
/// them, as a chat model would have written that turn. Reasoning items are
/// dropped (another model's thinking, often encrypted, is nothing a chat
/// provider can read).
#[derive(Default)]
pub(super) struct Conversation<'a> {
    pub(super) messages: Vec<hub::Message<'a>>,
}

impl<'a> Conversation<'a> {
    pub(super) fn instructions(&mut self, text: Cow<'a, str>) {
        self.push("system", hub::Content::Text(text));
    }

    /// How many messages there are so far.
    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    pub(super) fn user_text(&mut self, text: Cow<'a, str>) {
        self.push("user", hub::Content::Text(text));
    }

    fn push(&mut self, role: &'static str, content: hub::Content<'a>) {
        self.messages.push(hub::Message::new(role, content));
    }

    pub(super) fn item(&mut self, raw: &'a RawValue) -> Result<(), Invalid> {
        let ItemKind { kind, role, id } = decode(raw, "item")?;
        match (kind.as_deref(), role) {
            (Some("message") | None, Some(_)) => self.message(decode(raw, "item")?),
            (Some("message") | None, None) => {
                Err(Invalid("a message item needs a `role`".to_owned()))
            }
            (Some("function_call"), _) => self.function_call(decode(raw, "item")?),
            (Some("function_call_output"), _) => self.function_call_output(decode(raw, "item")?),
            (Some("reasoning"), _) => Ok(()),
            // A reference to a reasoning item (`rs_…`, ours or OpenAI's) stands
            // for what would be dropped anyway. Clients that keep `store` on
            // (the Vercel AI SDK's default) send these between tool steps.
            (Some("item_reference"), _) if id.is_some_and(|id| id.get().starts_with("\"rs_")) => {
                Ok(())
            }
            (Some("item_reference"), _) => Err(Invalid(
                "`item_reference` needs a provider that stores responses (openai or azure); \
                 send the referenced item itself (a client that sends references while \
                 `store` is on needs `store: false`)"
                    .to_owned(),
            )),
            (Some(other), _) => Err(Invalid(format!(
                "input items of type `{other}` need an openai or azure provider"
            ))),
        }
    }

    fn message(&mut self, item: InputItem<'a>) -> Result<(), Invalid> {
        let role = match item.role.as_deref() {
            Some("user") => "user",
            Some("assistant") => "assistant",
            Some("system" | "developer") => "system",
            Some(other) => {
                return Err(Invalid(format!(
                    "unknown role `{other}` (expected user, assistant, system or developer)"
                )))
            }
            None => return Err(Invalid("a message item needs a `role`".to_owned())),
        };
        let content = match item.content {
            None => return Err(Invalid("a message item needs `content`".to_owned())),
            Some(raw) if raw.get().starts_with('"') => {
                hub::Content::Text(text_field(raw, "content")?)
            }
            Some(raw) if raw.get().starts_with('[') => {
                let parts: Vec<ContentPart<'a>> = decode(raw, "content")?;
                match role {
                    "user" => hub::Content::Parts(
                        parts.into_iter().map(user_part).collect::<Result<_, _>>()?,
                    ),
                    // Chat system and assistant messages are read as text by
                    // every provider; `output_text` parts are pieces of one
                    // answer, instructions are lines.
                    _ => hub::Content::Text(join_text(
                        parts.into_iter().map(|p| text_part(p, role)),
                        if role == "assistant" { "" } else { "\n" },
                    )?),
                }
            }
            Some(_) => {
                return Err(Invalid(
                    "message `content` must be a string or an array of content parts".to_owned(),
                ))
            }
        };
        self.push(role, content);
        Ok(())
    }

    fn function_call(&mut self, item: InputItem<'a>) -> Result<(), Invalid> {
        let call = hub::ToolCall::function(
            item.call_id
                .ok_or_else(|| Invalid("a function_call item needs a `call_id`".to_owned()))?,
            item.name
                .ok_or_else(|| Invalid("a function_call item needs a `name`".to_owned()))?,
            item.arguments.ok_or_else(|| {
                Invalid("a function_call item needs `arguments` (a JSON string)".to_owned())
            })?,
        );
        match self.messages.last_mut() {
            Some(last) if last.role == "assistant" => last.tool_calls.push(call),
            _ => self
                .messages
                .push(hub::Message::assistant(None, vec![call])),
        }
        Ok(())
    }

    fn function_call_output(&mut self, item: InputItem<'a>) -> Result<(), Invalid> {
        let call_id = item
            .call_id
            .ok_or_else(|| Invalid("a function_call_output item needs a `call_id`".to_owned()))?;
        let output = match item.output {
            Some(raw) if raw.get().starts_with('"') => text_field(raw, "output")?,
            Some(raw) if raw.get().starts_with('[') => {
                let parts: Vec<ContentPart<'a>> = decode(raw, "output")?;
                join_text(parts.into_iter().map(output_part), "\n")?
            }
            _ => {
                return Err(Invalid(
                    "a function_call_output item needs `output`: a string or input_text parts"
                        .to_owned(),
                ))
            }
        };
        self.messages.push(hub::Message::tool(call_id, output));
        Ok(())
    }
}

/// Joins text pieces, borrowing when there is only one.
fn join_text<'a>(
    pieces: impl Iterator<Item = Result<Cow<'a, str>, Invalid>>,
    separator: &str,
) -> Result<Cow<'a, str>, Invalid> {
    let mut joined: Option<Cow<'a, str>> = None;
    for piece in pieces {
        let piece = piece?;
        joined = Some(match joined {
            None => piece,
            Some(so_far) => {
                let mut s = so_far.into_owned();
                s.push_str(separator);
                s.push_str(&piece);
                Cow::Owned(s)
            }
        });
    }
    Ok(joined.unwrap_or(Cow::Borrowed("")))
}

/// The text of a text part (`input_text`, `output_text`, or an assistant's
/// `refusal`).
fn text_part<'a>(part: ContentPart<'a>, role: &str) -> Result<Cow<'a, str>, Invalid> {
    match part.kind.as_ref() {
        "input_text" | "output_text" => part
            .text
            .ok_or_else(|| Invalid(format!("`{}` part without `text`", part.kind))),
        "refusal" if role == "assistant" => part
            .refusal
            .ok_or_else(|| Invalid("`refusal` part without `refusal`".to_owned())),
        "input_image" => Err(Invalid(format!(
            "images are only accepted in user messages, not in {role} messages"
        ))),
        other => Err(unsupported_part(other)),
    }
}

/// A user message part: text or an image.
fn user_part(part: ContentPart<'_>) -> Result<hub::Part<'_>, Invalid> {
    if part.kind != "input_image" {
        return text_part(part, "user").map(|text| hub::Part::Text { text });
    }
    let detail = match part.detail.as_deref() {
        None | Some("auto") => None,
        Some("low") => Some("low"),
        Some("high") => Some("high"),
        // Full resolution; chat APIs know no such level, and `auto` is theirs.
        Some("original") => None,
        Some(other) => {
            return Err(Invalid(format!(
                "unknown image `detail` `{other}` (expected auto, low, high or original)"
            )))
        }
    };
    match (part.image_url, part.file_id) {
        (Some(url), _) => Ok(hub::Part::ImageUrl {
            image_url: hub::ImageUrl { url, detail },
        }),
        (None, Some(_)) => Err(Invalid(
            "`input_image` with a `file_id` needs OpenAI's file storage (an openai or azure \
             provider); send the image as `image_url` (a URL or a data: URL)"
                .to_owned(),
        )),
        (None, None) => Err(Invalid("`input_image` part without `image_url`".to_owned())),
    }
}

/// A part of a function call's output: text only.
fn output_part(part: ContentPart<'_>) -> Result<Cow<'_, str>, Invalid> {
    match part.kind.as_ref() {
        "input_text" | "output_text" => text_part(part, "tool"),
        "input_image" => Err(Invalid(
            "images in a function_call_output need an openai or azure provider; \
             send the output as text"
                .to_owned(),
        )),
        other => Err(unsupported_part(other)),
    }
}

fn unsupported_part(kind: &str) -> Invalid {
    match kind {
        "input_file" => Invalid(
            "`input_file` content parts need an openai or azure provider; \
             send the file's text as `input_text`"
                .to_owned(),
        ),
        other => Invalid(format!(
            "content parts of type `{other}` are not supported here"
        )),
    }
}
