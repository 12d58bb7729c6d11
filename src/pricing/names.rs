//! Which shipped price list a provider kind uses, and the name a model has
//! in it: the upstream name without the path or region prefixes some
//! providers put around the model.

use crate::config::ProviderKind;

/// One `[section]` of `prices.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PriceList {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Mistral,
    Groq,
    DeepSeek,
    Cohere,
    XAi,
    Together,
    Fireworks,
    Cerebras,
    Perplexity,
}

impl PriceList {
    pub(super) const ALL: [PriceList; 13] = [
        PriceList::OpenAi,
        PriceList::Anthropic,
        PriceList::Gemini,
        PriceList::Bedrock,
        PriceList::Mistral,
        PriceList::Groq,
        PriceList::DeepSeek,
        PriceList::Cohere,
        PriceList::XAi,
        PriceList::Together,
        PriceList::Fireworks,
        PriceList::Cerebras,
        PriceList::Perplexity,
    ];

    /// Its section name in `prices.toml`.
    pub(super) fn section(self) -> &'static str {
        match self {
            PriceList::OpenAi => "openai",
            PriceList::Anthropic => "anthropic",
            PriceList::Gemini => "gemini",
            PriceList::Bedrock => "bedrock",
            PriceList::Mistral => "mistral",
            PriceList::Groq => "groq",
            PriceList::DeepSeek => "deepseek",
            PriceList::Cohere => "cohere",
            PriceList::XAi => "xai",
            PriceList::Together => "together",
            PriceList::Fireworks => "fireworks",
            PriceList::Cerebras => "cerebras",
            PriceList::Perplexity => "perplexity",
        }
    }

    /// The list `kind`'s models are priced from; `None` for kinds with no
    /// shipped prices (OpenRouter reports its own cost, an OpenAI-compatible
    /// server could be anything; Ollama and the mock are free).
    pub(super) fn of(kind: ProviderKind) -> Option<PriceList> {
        Some(match kind {
            ProviderKind::OpenAi | ProviderKind::Azure => PriceList::OpenAi,
            ProviderKind::Anthropic => PriceList::Anthropic,
            ProviderKind::Gemini | ProviderKind::Vertex => PriceList::Gemini,
            ProviderKind::Bedrock => PriceList::Bedrock,
            ProviderKind::Mistral => PriceList::Mistral,
            ProviderKind::Groq => PriceList::Groq,
            ProviderKind::DeepSeek => PriceList::DeepSeek,
            ProviderKind::Cohere => PriceList::Cohere,
            ProviderKind::XAi => PriceList::XAi,
            ProviderKind::Together => PriceList::Together,
            ProviderKind::Fireworks => PriceList::Fireworks,
            ProviderKind::Cerebras => PriceList::Cerebras,
            ProviderKind::Perplexity => PriceList::Perplexity,
            ProviderKind::OpenRouter
            | ProviderKind::Ollama
            | ProviderKind::OpenAiCompatible
            | ProviderKind::Mock => return None,
        })
    }

    /// `model` as this list names it (a slice of it: nothing is allocated).
    pub(super) fn model_name(self, model: &str) -> &str {
        match self {
            // `models/gemini-2.5-flash`, and on Vertex
            // `publishers/google/models/gemini-2.5-flash`.
            PriceList::Gemini => after_last_slash(model),
            // Foundation-model and inference-profile ARNs end in the id.
            PriceList::Bedrock => without_region(after_last_slash(model)),
            PriceList::Fireworks => model
                .strip_prefix("accounts/fireworks/models/")
                .unwrap_or(model),
            _ => model,
        }
    }
}

fn after_last_slash(model: &str) -> &str {
    model.rsplit_once('/').map_or(model, |(_, name)| name)
}

/// `us.anthropic.claude-…` (a cross-region inference profile: a region
/// group, a dot, a model id) → `anthropic.claude-…`. A model id has its
/// vendor's dot before any `-` or `:`, so a first dot followed by another
/// such dot marks a region prefix.
fn without_region(id: &str) -> &str {
    match id.split_once('.') {
        Some((_, rest))
            if rest
                .split(['-', ':'])
                .next()
                .is_some_and(|h| h.contains('.')) =>
        {
            rest
        }
        _ => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrock_ids_lose_region_prefixes_and_arn_paths() {
        let name = |m| PriceList::Bedrock.model_name(m);
        let id = "anthropic.claude-3-5-sonnet-20241022-v2:0";
        assert_eq!(name(id), id);
        assert_eq!(name("us.anthropic.claude-3-5-sonnet-20241022-v2:0"), id);
        assert_eq!(name("us-gov.anthropic.claude-3-5-sonnet-20241022-v2:0"), id);
        assert_eq!(name("global.anthropic.claude-3-5-sonnet-20241022-v2:0"), id);
        assert_eq!(
            name("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0"),
            id
        );
        assert_eq!(
            name("meta.llama3-1-70b-instruct-v1:0"),
            "meta.llama3-1-70b-instruct-v1:0"
        );
        assert_eq!(name("eu.amazon.nova-pro-v1:0"), "amazon.nova-pro-v1:0");
    }

    #[test]
    fn gemini_and_fireworks_names_lose_their_paths() {
        assert_eq!(
            PriceList::Gemini.model_name("models/gemini-2.5-pro"),
            "gemini-2.5-pro"
        );
        assert_eq!(
            PriceList::Gemini.model_name("publishers/google/models/gemini-2.0-flash-001"),
            "gemini-2.0-flash-001"
        );
        assert_eq!(
            PriceList::Fireworks.model_name("accounts/fireworks/models/deepseek-v3"),
            "deepseek-v3"
        );
        assert_eq!(
            PriceList::Groq.model_name("openai/gpt-oss-120b"),
            "openai/gpt-oss-120b"
        );
    }
}
