//! `generationConfig` → the chat request's sampling fields,
//! `response_format` and `reasoning_effort`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::schema::to_json_schema;
use crate::inbound::chat::request::{self as hub, ChatRequest, Number};
use crate::inbound::Invalid;

/// `reasoning_effort` for a `thinkingBudget`: up to this many tokens is `low`…
const LOW_EFFORT_MAX_BUDGET_TOKENS: i64 = 4096;
/// …up to this many `medium`, above it `high`. The gateway asks Gemini for
/// 1024, 8192 and 24576 tokens for low, medium and high, so each of those
/// budgets comes back as the effort that produced it.
const MEDIUM_EFFORT_MAX_BUDGET_TOKENS: i64 = 16384;

/// The `response_format` schema name: Gemini's JSON output has none.
const RESPONSE_SCHEMA_NAME: &str = "response";

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig<'a> {
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default, alias = "top_p")]
    top_p: Option<f64>,
    #[serde(default, alias = "candidate_count")]
    candidate_count: Option<i64>,
    #[serde(default, alias = "max_output_tokens")]
    max_output_tokens: Option<u32>,
    #[serde(borrow, default, alias = "stop_sequences")]
    stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default, alias = "presence_penalty")]
    presence_penalty: Option<f64>,
    #[serde(default, alias = "frequency_penalty")]
    frequency_penalty: Option<f64>,
    #[serde(borrow, default, alias = "response_mime_type")]
    response_mime_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "response_schema")]
    response_schema: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "response_json_schema")]
    response_json_schema: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "thinking_config")]
    thinking_config: Option<ThinkingConfig<'a>>,
    #[serde(borrow, default, alias = "response_modalities")]
    response_modalities: Option<Vec<Cow<'a, str>>>,
    #[serde(default, alias = "response_logprobs")]
    response_logprobs: Option<bool>,
    #[serde(borrow, default, alias = "speech_config")]
    speech_config: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig<'a> {
    /// Tokens; 0 turns thinking off, -1 lets the model choose.
    #[serde(default, alias = "thinking_budget")]
    thinking_budget: Option<i64>,
    #[serde(borrow, default, alias = "thinking_level")]
    thinking_level: Option<Cow<'a, str>>,
}

/// Sets the chat request's sampling and output fields from `config`; fails
/// for what only Gemini can do (several candidates, non-text output,
/// logprobs), leaving `chat` as it was.
pub(super) fn apply_generation_config<'a>(
    config: GenerationConfig<'a>,
    chat: &mut ChatRequest<'a>,
) -> Result<(), Invalid> {
    if let Some(n) = config.candidate_count.filter(|n| !matches!(n, 0 | 1)) {
        return Err(Invalid(format!(
            "generationConfig.candidateCount {n} is not supported: models not served by a \
                 Gemini provider answer with one candidate"
        )));
    }
    if let Some(other) = config
        .response_modalities
        .iter()
        .flatten()
        .find(|m| !m.eq_ignore_ascii_case("TEXT"))
    {
        return Err(Invalid(format!(
            "generationConfig.responseModalities asks for {other}; models not served by a \
                 Gemini provider answer with TEXT only"
        )));
    }
    if config.response_logprobs == Some(true) {
        return Err(Invalid(
            "generationConfig.responseLogprobs is not supported for models not served by a \
                 Gemini provider"
                .to_owned(),
        ));
    }
    if config.speech_config.is_some() {
        return Err(Invalid(
            "generationConfig.speechConfig asks for audio; models not served by a Gemini \
                 provider answer with text only"
                .to_owned(),
        ));
    }
    let response_format = response_format(
        config.response_mime_type.as_deref(),
        config.response_schema,
        config.response_json_schema,
    )?;
    let reasoning_effort = reasoning_effort(config.thinking_config)?;
    chat.max_tokens = config.max_output_tokens.map(u64::from);
    chat.temperature = config.temperature.map(Number::Parsed);
    chat.top_p = config.top_p.map(Number::Parsed);
    chat.stop = config.stop_sequences.unwrap_or_default();
    chat.seed = config.seed;
    chat.presence_penalty = config.presence_penalty.map(Number::Parsed);
    chat.frequency_penalty = config.frequency_penalty.map(Number::Parsed);
    chat.response_format = response_format;
    chat.reasoning_effort = reasoning_effort;
    Ok(())
}

/// `responseMimeType` and its schema → `response_format`.
fn response_format<'a>(
    mime: Option<&str>,
    gemini_schema: Option<&'a RawValue>,
    json_schema: Option<&'a RawValue>,
) -> Result<Option<hub::ResponseFormat<'a>>, Invalid> {
    let schema = match (gemini_schema, json_schema) {
        (Some(_), Some(_)) => {
            return Err(Invalid(
                "generationConfig sets both responseSchema and responseJsonSchema; give one"
                    .to_owned(),
            ))
        }
        (Some(raw), None) => {
            let value: Value = serde_json::from_str(raw.get())
                .map_err(|e| Invalid(format!("invalid generationConfig.responseSchema: {e}")))?;
            Some(hub::Schema::Converted(to_json_schema(
                &value,
                &"generationConfig.responseSchema",
            )?))
        }
        (None, raw) => raw.map(hub::Schema::AsSent),
    };
    match (mime.unwrap_or(""), schema) {
        ("application/json", Some(schema)) => Ok(Some(hub::ResponseFormat::JsonSchema {
            json_schema: hub::JsonSchema {
                name: Cow::Borrowed(RESPONSE_SCHEMA_NAME),
                description: None,
                schema,
                strict: None,
            },
        })),
        ("application/json", None) => Ok(Some(hub::ResponseFormat::JsonObject)),
        ("" | "text/plain", None) => Ok(None),
        ("" | "text/plain", Some(_)) => Err(Invalid(
            "a response schema needs generationConfig.responseMimeType 'application/json'"
                .to_owned(),
        )),
        (other, _) => Err(Invalid(format!(
            "generationConfig.responseMimeType '{other}' is not supported for models not served \
             by a Gemini provider (only text/plain and application/json)"
        ))),
    }
}

/// `thinkingConfig` → `reasoning_effort`: `thinkingLevel` as it is (Gemini 3),
/// else a positive `thinkingBudget` by the thresholds above. A budget of 0
/// (thinking off) or -1 (the model decides) leaves the upstream's default.
fn reasoning_effort(config: Option<ThinkingConfig<'_>>) -> Result<Option<&'static str>, Invalid> {
    let Some(config) = config else {
        return Ok(None);
    };
    if let Some(level) = config.thinking_level.as_deref() {
        const LEVELS: [&str; 4] = ["minimal", "low", "medium", "high"];
        if level.eq_ignore_ascii_case("THINKING_LEVEL_UNSPECIFIED") {
            return Ok(None);
        }
        return match LEVELS.iter().find(|l| level.eq_ignore_ascii_case(l)) {
            Some(effort) => Ok(Some(effort)),
            None => Err(Invalid(format!(
                "generationConfig.thinkingConfig.thinkingLevel '{level}' is not one of MINIMAL, \
                 LOW, MEDIUM and HIGH"
            ))),
        };
    }
    Ok(match config.thinking_budget {
        Some(budget) if budget <= 0 => None,
        Some(budget) if budget <= LOW_EFFORT_MAX_BUDGET_TOKENS => Some("low"),
        Some(budget) if budget <= MEDIUM_EFFORT_MAX_BUDGET_TOKENS => Some("medium"),
        Some(_) => Some("high"),
        None => None,
    })
}

#[cfg(test)]
#[path = "generation_tests.rs"]
mod tests;
