//! `tools` and `toolConfig` → the chat request's function tools and
//! `tool_choice`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::schema::to_json_schema;
use crate::inbound::chat::request as hub;
use crate::inbound::Invalid;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ToolConfig<'a> {
    #[serde(borrow, default, alias = "function_calling_config")]
    function_calling_config: Option<FunctionCallingConfig<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    #[serde(borrow, default)]
    mode: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "allowed_function_names")]
    allowed_function_names: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    description: Option<Cow<'a, str>>,
    /// Gemini's OpenAPI-subset `Schema`.
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    /// Plain JSON Schema, passed on as sent.
    #[serde(borrow, default, alias = "parameters_json_schema")]
    parameters_json_schema: Option<&'a RawValue>,
}

/// The function tools of `tools`; any other kind of Gemini tool is refused.
pub(super) fn function_tools<'a>(
    tools: Vec<BTreeMap<String, &'a RawValue>>,
) -> Result<Vec<hub::Tool<'a>>, Invalid> {
    let mut out = Vec::new();
    for (i, tool) in tools.into_iter().enumerate() {
        for (kind, raw) in tool {
            if raw.get() == "null" {
                continue;
            }
            if kind != "functionDeclarations" && kind != "function_declarations" {
                return Err(Invalid(format!(
                    "tools[{i}].{kind} is a Gemini server tool: only a Gemini provider can run \
                     it (models not served by one take functionDeclarations only)"
                )));
            }
            let declarations: Vec<FunctionDeclaration<'a>> = serde_json::from_str(raw.get())
                .map_err(|e| Invalid(format!("invalid tools[{i}].{kind}: {e}")))?;
            for (j, declaration) in declarations.into_iter().enumerate() {
                let at = DeclarationAt {
                    tool: i,
                    kind: &kind,
                    declaration: j,
                };
                out.push(function_tool(declaration, at)?);
            }
        }
    }
    Ok(out)
}

/// Where a function declaration sits, for error messages.
#[derive(Clone, Copy)]
struct DeclarationAt<'k> {
    tool: usize,
    kind: &'k str,
    declaration: usize,
}

impl fmt::Display for DeclarationAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tools[{}].{}[{}]",
            self.tool, self.kind, self.declaration
        )
    }
}

fn function_tool<'a>(
    declaration: FunctionDeclaration<'a>,
    at: DeclarationAt<'_>,
) -> Result<hub::Tool<'a>, Invalid> {
    let name = declaration
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Invalid(format!("{at} has no name")))?;
    let parameters = match (declaration.parameters, declaration.parameters_json_schema) {
        (Some(_), Some(_)) => {
            return Err(Invalid(format!(
                "{at} sets both parameters and parametersJsonSchema; give one"
            )))
        }
        (Some(raw), None) => {
            let value: Value = serde_json::from_str(raw.get())
                .map_err(|e| Invalid(format!("invalid {at}.parameters: {e}")))?;
            let parameters = Field(&at, "parameters");
            Some(hub::Schema::Converted(to_json_schema(&value, &parameters)?))
        }
        (None, raw) => raw.map(hub::Schema::AsSent),
    };
    Ok(hub::Tool::function(hub::Function {
        name,
        description: declaration.description,
        parameters,
        strict: None,
    }))
}

/// `<parent>.<name>`, written only when an error names it.
struct Field<'p, P>(&'p P, &'static str);

impl<P: fmt::Display> fmt::Display for Field<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `toolConfig.functionCallingConfig` → `tool_choice`: AUTO → `auto`,
/// ANY → `required` (one allowed function → that function), NONE → `none`,
/// VALIDATED (calls checked against their schema, text allowed) → `auto`.
/// Several `allowedFunctionNames` keep only those tools, which is what they
/// mean. Nothing without tools: the hub refuses a `tool_choice` then.
pub(super) fn tool_choice<'a>(
    config: Option<ToolConfig<'a>>,
    tools: &mut Vec<hub::Tool<'a>>,
) -> Result<Option<hub::ToolChoice<'a>>, Invalid> {
    const AT: &str = "toolConfig.functionCallingConfig";
    let Some(config) = config.and_then(|c| c.function_calling_config) else {
        return Ok(None);
    };
    let mode = config.mode.as_deref().unwrap_or("");
    let is = |name: &str| mode.eq_ignore_ascii_case(name);
    let (choice, may_restrict) = if mode.is_empty() || is("MODE_UNSPECIFIED") {
        (None, false)
    } else if is("AUTO") {
        (Some("auto"), false)
    } else if is("ANY") {
        (Some("required"), true)
    } else if is("VALIDATED") {
        (Some("auto"), true)
    } else if is("NONE") {
        (Some("none"), false)
    } else {
        return Err(Invalid(format!(
            "{AT}.mode '{mode}' is not one of AUTO, ANY, NONE and VALIDATED"
        )));
    };
    let names = config.allowed_function_names.unwrap_or_default();
    if names.is_empty() {
        return Ok(choice
            .filter(|_| !tools.is_empty())
            .map(hub::ToolChoice::Mode));
    }
    if !may_restrict {
        return Err(Invalid(format!(
            "{AT}.allowedFunctionNames needs mode ANY or VALIDATED"
        )));
    }
    if let Some(unknown) = names
        .iter()
        .find(|n| !tools.iter().any(|t| t.function.name == **n))
    {
        return Err(Invalid(format!(
            "{AT}.allowedFunctionNames names '{unknown}', which no functionDeclaration declares"
        )));
    }
    tools.retain(|t| names.contains(&t.function.name));
    match (choice, <[_; 1]>::try_from(names)) {
        (Some("required"), Ok([name])) => Ok(Some(hub::ToolChoice::function(name))),
        (choice, _) => Ok(choice.map(hub::ToolChoice::Mode)),
    }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
