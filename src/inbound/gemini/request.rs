//! A Gemini `GenerateContentRequest` → an OpenAI chat completions body.
//!
//! Mapped: `contents` (user and model turns; text, images, function calls
//! and responses), `systemInstruction`, the sampling fields of
//! `generationConfig`, JSON output (`responseMimeType` with
//! `responseSchema` / `responseJsonSchema`), thinking (`thinkingConfig` →
//! `reasoning_effort`), `functionDeclarations` and `toolConfig`.
//!
//! Ignored because dropping them changes no answer a chat model can give:
//! `safetySettings` (the hub has no safety thresholds), `labels` (billing
//! tags), `serviceTier`, `generationConfig.topK` (no hub counterpart; a
//! sampling detail), `thinkingConfig.includeThoughts` (reasoning text is
//! returned whenever the upstream gives it), `mediaResolution`,
//! `enableEnhancedCivicAnswers`, and parts' `thoughtSignature`,
//! `videoMetadata` and `partMetadata`.
//!
//! Refused, because the answer would not be what was asked for: Gemini's
//! server tools (`googleSearch`, `codeExecution`, `urlContext`, …) and the
//! parts they leave in a conversation (`executableCode`, …), a non-empty
//! `cachedContent`, media other than images, output other than text,
//! `candidateCount` above 1 and `responseLogprobs`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::contents::{push_conversation, system_text, Content};
use super::generation::{apply_generation_config, GenerationConfig};
use super::tools::{function_tools, tool_choice, ToolConfig};
use crate::inbound::chat::request::{self as hub, ChatRequest};
use crate::inbound::{Converted, Invalid};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest<'a> {
    #[serde(borrow, default)]
    contents: Option<Vec<Content<'a>>>,
    /// A `Content`, or (accepted by Gemini's REST API too) a bare string.
    #[serde(borrow, default, alias = "system_instruction")]
    system_instruction: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "generation_config")]
    generation_config: Option<GenerationConfig<'a>>,
    /// Each tool is an object with one kind of tool in it; read by key so
    /// that any kind but `functionDeclarations` is refused by name.
    #[serde(borrow, default)]
    tools: Option<Vec<BTreeMap<String, &'a RawValue>>>,
    #[serde(borrow, default, alias = "tool_config")]
    tool_config: Option<ToolConfig<'a>>,
    #[serde(borrow, default, alias = "cached_content")]
    cached_content: Option<Cow<'a, str>>,
}

/// Converts a Gemini `GenerateContentRequest` body for `model` (from the
/// URL, written into the hub as given) into a chat completions body
/// appended to `out`; `stream` (the URL named `streamGenerateContent`)
/// asks for a stream with usage in its last chunk.
///
/// Fails with a message naming the field when the body is not a request,
/// lacks `contents`, or asks for something the hub cannot express (see the
/// module doc). `out` is unchanged on failure.
pub fn to_chat(
    body: &[u8],
    model: &str,
    stream: bool,
    out: &mut Vec<u8>,
) -> Result<Converted, Invalid> {
    // serde also reads a struct from a JSON array; a request is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Invalid(
            "the request body must be a JSON object (a GenerateContentRequest)".to_owned(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: GenerateContentRequest<'_> = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| Invalid(format!("invalid request at {}: {}", e.path(), e.inner())))?;
    if let Some(name) = req.cached_content.as_deref().filter(|c| !c.is_empty()) {
        return Err(Invalid(format!(
            "cachedContent '{name}' is stored by Google and only a Gemini provider can read it; \
             send the cached contents in the request instead"
        )));
    }
    let mut chat = ChatRequest::new(Cow::Borrowed(model), Vec::new(), stream);
    apply_generation_config(req.generation_config.unwrap_or_default(), &mut chat)?;

    if let Some(system) = req.system_instruction {
        if let Some(text) = system_text(system)? {
            chat.messages
                .push(hub::Message::new("system", hub::Content::Text(text)));
        }
    }
    push_conversation(req.contents.unwrap_or_default(), &mut chat.messages)?;

    chat.tools = function_tools(req.tools.unwrap_or_default())?;
    chat.tool_choice = tool_choice(req.tool_config, &mut chat.tools)?;
    chat.write(out)?;
    Ok(Converted { stream })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
