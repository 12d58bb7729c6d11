//! `tools`, `tool_choice`, `text.format` and `reasoning` -> their chat
//! equivalents; OpenAI's built-in tools are refused.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::request::{decode, text_field};
use crate::inbound::chat::request as hub;
use crate::inbound::Invalid;

/// A typed, named JSON Schema: a tool (a function's schema is its
/// `parameters`) or a `text.format` (`schema`).
#[derive(Deserialize)]
struct SchemaDef<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(default)]
    strict: Option<bool>,
}

/// Function tools become chat tools (`strict` only when sent: chat's default
/// is not strict, as some providers cannot be); every other type is refused.
pub(super) fn tools(raw: &RawValue) -> Result<Vec<hub::Tool<'_>>, Invalid> {
    let defs: Vec<SchemaDef<'_>> = decode(raw, "tools")?;
    defs.into_iter()
        .enumerate()
        .map(|(i, def)| {
            if def.kind != "function" {
                return Err(Invalid(format!(
                    "tools[{i}]: `{}` tools {}; they need an openai or azure provider, \
                     only `function` tools work here",
                    def.kind,
                    if runs_at_openai(&def.kind) {
                        "run on OpenAI's side"
                    } else {
                        "have no chat completions equivalent"
                    }
                )));
            }
            Ok(hub::Tool::function(hub::Function {
                name: def.name.ok_or_else(|| {
                    Invalid(format!("tools[{i}]: a function tool needs a `name`"))
                })?,
                description: def.description,
                parameters: def.parameters.map(hub::Schema::AsSent),
                strict: def.strict,
            }))
        })
        .collect()
}

/// The tools OpenAI runs itself; the other non-function types (`custom`,
/// `namespace`, `local_shell`, `shell`, `apply_patch`, `computer_use_preview`)
/// run on the client but in shapes chat tools cannot carry.
fn runs_at_openai(kind: &str) -> bool {
    kind.starts_with("web_search")
        || matches!(
            kind,
            "file_search" | "code_interpreter" | "mcp" | "image_generation" | "tool_search"
        )
}

pub(super) fn tool_choice(raw: &RawValue) -> Result<hub::ToolChoice<'_>, Invalid> {
    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(borrow, rename = "type")]
        kind: Cow<'a, str>,
        #[serde(borrow, default)]
        name: Option<Cow<'a, str>>,
    }
    if raw.get().starts_with('"') {
        return match text_field(raw, "tool_choice")?.as_ref() {
            "auto" => Ok(hub::ToolChoice::Mode("auto")),
            "none" => Ok(hub::ToolChoice::Mode("none")),
            "required" => Ok(hub::ToolChoice::Mode("required")),
            other => Err(Invalid(format!(
                "unknown `tool_choice` `{other}` (expected auto, none, required or a function)"
            ))),
        };
    }
    let choice: Choice<'_> = decode(raw, "tool_choice")?;
    match (choice.kind.as_ref(), choice.name) {
        ("function", Some(name)) => Ok(hub::ToolChoice::function(name)),
        ("function", None) => Err(Invalid(
            "`tool_choice` of type function needs a `name`".to_owned(),
        )),
        (other, _) => Err(Invalid(format!(
            "`tool_choice` of type `{other}` needs an openai or azure provider; \
             use auto, none, required or a function"
        ))),
    }
}

/// `text.format` -> `response_format`; plain `text` is the default and
/// needs none.
pub(super) fn response_format(raw: &RawValue) -> Result<Option<hub::ResponseFormat<'_>>, Invalid> {
    #[derive(Deserialize)]
    struct Text<'a> {
        #[serde(borrow, default)]
        format: Option<SchemaDef<'a>>,
    }
    let text: Text<'_> = decode(raw, "text")?;
    let Some(format) = text.format else {
        return Ok(None);
    };
    match format.kind.as_ref() {
        "text" => Ok(None),
        "json_object" => Ok(Some(hub::ResponseFormat::JsonObject)),
        "json_schema" => Ok(Some(hub::ResponseFormat::JsonSchema {
            json_schema: hub::JsonSchema {
                name: format.name.ok_or_else(|| {
                    Invalid("`text.format` json_schema needs a `name`".to_owned())
                })?,
                description: format.description,
                schema: hub::Schema::AsSent(format.schema.ok_or_else(|| {
                    Invalid("`text.format` json_schema needs a `schema`".to_owned())
                })?),
                strict: format.strict,
            },
        })),
        other => Err(Invalid(format!(
            "unknown `text.format` type `{other}` (expected text, json_object or json_schema)"
        ))),
    }
}

/// `reasoning.effort` -> `reasoning_effort`, on the chat scale of low,
/// medium and high: `minimal` is `low`, `xhigh` and `max` are `high`, and
/// `none` asks for no reasoning, which is what sending none does.
pub(super) fn reasoning_effort(raw: &RawValue) -> Result<Option<&'static str>, Invalid> {
    #[derive(Deserialize)]
    struct Reasoning<'a> {
        #[serde(borrow, default)]
        effort: Option<Cow<'a, str>>,
    }
    let reasoning: Reasoning<'_> = decode(raw, "reasoning")?;
    match reasoning.effort.as_deref() {
        None | Some("none") => Ok(None),
        Some("minimal" | "low") => Ok(Some("low")),
        Some("medium") => Ok(Some("medium")),
        Some("high" | "xhigh" | "max") => Ok(Some("high")),
        Some(other) => Err(Invalid(format!(
            "unknown `reasoning.effort` `{other}` (expected none, minimal, low, medium, high or xhigh)"
        ))),
    }
}
