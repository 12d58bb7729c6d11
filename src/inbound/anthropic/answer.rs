//! What an Anthropic message and its stream both make of a hub answer:
//! the stop reason, usage in Anthropic's terms, in-band errors.

use std::borrow::Cow;

use serde::Serialize;

use crate::inbound::chat::answer::{UpstreamError, Usage};

/// Anthropic's `stop_reason` for a hub `finish_reason`. Anthropic ends every
/// turn that calls tools with `tool_use`, so a plain stop (or none) after
/// tool calls is `tool_use` too; OpenAI cannot say which stop sequence
/// matched, so `stop_sequence` is never produced.
pub(super) fn stop_reason(finish_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls" | "function_call") => "tool_use",
        _ if called_tools => "tool_use",
        _ => "end_turn",
    }
}

/// Token counts in Anthropic's terms: `input` excludes cache reads, which
/// OpenAI counts inside `prompt_tokens`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct TokenUsage {
    pub(super) input: u64,
    pub(super) cache_read: u64,
    pub(super) output: u64,
}

impl TokenUsage {
    /// Anthropic's counts for the hub's: `input` without the cache reads
    /// that OpenAI counts inside `prompt_tokens`.
    pub(super) fn from_chat(usage: Usage) -> Self {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        TokenUsage {
            input: usage.prompt_tokens - cached,
            cache_read: cached,
            output: usage.completion_tokens,
        }
    }

    /// A message's `usage`, with Anthropic's fields in its order. Nothing
    /// is ever written to Anthropic's prompt cache through the hub, so the
    /// cache-creation counts are 0.
    pub(super) fn message_usage(self) -> MessageUsage {
        MessageUsage {
            input_tokens: self.input,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: self.cache_read,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: 0,
                ephemeral_1h_input_tokens: 0,
            },
            output_tokens: self.output,
        }
    }

    /// A `message_delta`'s `usage`: final counts, input included, since the
    /// hub reports usage only at the end of a stream.
    pub(super) fn delta_usage(self) -> DeltaUsage {
        DeltaUsage {
            input_tokens: self.input,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: self.cache_read,
            output_tokens: self.output,
        }
    }
}

#[derive(Serialize)]
pub(super) struct MessageUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
    output_tokens: u64,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct DeltaUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

/// An in-band hub error (`{"error": …}` in a chunk), as Anthropic's error
/// `type` and message.
pub(super) struct InBandError<'a> {
    pub(super) kind: &'static str,
    pub(super) message: Cow<'a, str>,
}

/// The error types Anthropic's API and SDKs know.
const ANTHROPIC_ERROR_TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
];

impl<'a> InBandError<'a> {
    /// The error's `type` when it is one of Anthropic's, else the Anthropic
    /// type of its numeric status (Groq, OpenRouter), else `api_error`.
    pub(super) fn from_chat(error: UpstreamError<'a>) -> Self {
        let named = error
            .kind
            .as_deref()
            .and_then(|k| ANTHROPIC_ERROR_TYPES.iter().find(|t| **t == k).copied());
        let kind = named
            .or_else(|| {
                error
                    .status
                    .filter(|s| (400..=599).contains(s))
                    .map(super::error_type)
            })
            .unwrap_or("api_error");
        InBandError {
            kind,
            message: error.message.unwrap_or(Cow::Borrowed("upstream error")),
        }
    }
}
