//! The converter table: which converter serves a request, keyed by what the
//! client speaks ([`Dialect`]) and what the provider speaks ([`WireFormat`]).
//! Every pair is listed, so a new dialect or wire format does not compile
//! until each of its pairs is decided.

use super::translate::Family;
use crate::config::{ProviderKind, WireFormat};
use crate::router::Provider;
use crate::schema::dialect::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Converter {
    /// Same format on both sides: the body goes through as bytes.
    PassThrough,
    /// The built-in mock answers in-process.
    Mock,
    /// Parse, rewrite, and convert the answer back.
    Translate(Family),
    /// Through the OpenAI chat hub (`crate::inbound`): the client's body
    /// becomes a chat body, which goes on as a chat request would, and the
    /// answer comes back into the client's dialect.
    Hub(HubLeg),
    /// Count tokens without a provider that counts them: an estimate.
    Estimate,
    /// The provider has no such operation.
    Unsupported,
}

/// How a hub (chat) request reaches its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HubLeg {
    Mock,
    /// Sent in the provider's format; `Family::OpenAi` for chat upstreams.
    Translate(Family),
}

pub(super) fn converter(dialect: Dialect, provider: &Provider) -> Converter {
    use Dialect::{
        AnthropicCountTokens as CountTokens, AnthropicMessages as Messages,
        GeminiGenerate as Generate, GeminiStream as Stream, OpenAiChat as Chat,
        OpenAiCompletions as Completions, OpenAiEmbeddings as Embed, Responses,
    };
    let gemini = if provider.kind() == ProviderKind::Vertex {
        Family::Vertex
    } else {
        Family::Gemini
    };
    let wire = provider.kind().wire_format();
    // The chat converter of this provider, for a request through the hub.
    let hub = match wire {
        WireFormat::OpenAi => HubLeg::Translate(Family::OpenAi),
        WireFormat::Mock => HubLeg::Mock,
        WireFormat::Anthropic => HubLeg::Translate(Family::Anthropic),
        WireFormat::Gemini => HubLeg::Translate(gemini),
        WireFormat::Cohere => HubLeg::Translate(Family::Cohere),
        WireFormat::Bedrock => HubLeg::Translate(Family::Bedrock),
    };
    // OpenAI and Azure serve the Responses API themselves (and store responses).
    let has_responses = matches!(provider.kind(), ProviderKind::OpenAi | ProviderKind::Azure);
    match (dialect, wire) {
        (Chat | Completions | Embed, WireFormat::OpenAi) => Converter::PassThrough,
        (Chat | Completions | Embed, WireFormat::Mock) => Converter::Mock,
        (Chat, WireFormat::Anthropic) => Converter::Translate(Family::Anthropic),
        (Completions | Embed, WireFormat::Anthropic) => Converter::Unsupported,
        (Chat | Embed, WireFormat::Gemini) => Converter::Translate(gemini),
        (Chat | Embed, WireFormat::Cohere) => Converter::Translate(Family::Cohere),
        (Chat | Embed, WireFormat::Bedrock) => Converter::Translate(Family::Bedrock),
        (Completions, WireFormat::Gemini | WireFormat::Cohere | WireFormat::Bedrock) => {
            Converter::Unsupported
        }
        (Responses, WireFormat::OpenAi) if has_responses => Converter::PassThrough,
        (Messages | CountTokens, WireFormat::Anthropic) => Converter::PassThrough,
        (Generate | Stream { .. }, WireFormat::Gemini) if gemini == Family::Gemini => {
            Converter::PassThrough
        }
        (CountTokens, _) => Converter::Estimate,
        (Responses | Messages | Generate | Stream { .. }, _) => Converter::Hub(hub),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, ProviderKind};
    use crate::router::Routes;

    #[test]
    fn the_table_picks_by_dialect_and_wire_format() {
        let env = |k: &str| {
            matches!(
                k,
                "GROQ_API_KEY"
                    | "ANTHROPIC_API_KEY"
                    | "GEMINI_API_KEY"
                    | "COHERE_API_KEY"
                    | "OPENAI_API_KEY"
            )
            .then(|| "k".to_string())
        };
        let settings = crate::config::load(&LoadOptions::default(), &env).unwrap();
        let routes = Routes::new(&settings);
        let by_kind = |kind| {
            routes
                .providers
                .iter()
                .find(|p| p.kind() == kind)
                .expect("enabled from the environment")
        };
        use Dialect::*;
        let cases = [
            (OpenAiChat, ProviderKind::Groq, Converter::PassThrough),
            (
                OpenAiCompletions,
                ProviderKind::Groq,
                Converter::PassThrough,
            ),
            (OpenAiEmbeddings, ProviderKind::Groq, Converter::PassThrough),
            (OpenAiChat, ProviderKind::Mock, Converter::Mock),
            (Responses, ProviderKind::OpenAi, Converter::PassThrough),
            (
                OpenAiChat,
                ProviderKind::Anthropic,
                Converter::Translate(Family::Anthropic),
            ),
            (
                OpenAiEmbeddings,
                ProviderKind::Anthropic,
                Converter::Unsupported,
            ),
            (
                OpenAiChat,
                ProviderKind::Gemini,
                Converter::Translate(Family::Gemini),
            ),
            (
                OpenAiEmbeddings,
                ProviderKind::Gemini,
                Converter::Translate(Family::Gemini),
            ),
            (
                OpenAiCompletions,
                ProviderKind::Gemini,
                Converter::Unsupported,
            ),
            (
                OpenAiChat,
                ProviderKind::Cohere,
                Converter::Translate(Family::Cohere),
            ),
            (
                OpenAiCompletions,
                ProviderKind::Cohere,
                Converter::Unsupported,
            ),
            (
                AnthropicMessages,
                ProviderKind::Anthropic,
                Converter::PassThrough,
            ),
            (
                AnthropicCountTokens,
                ProviderKind::Anthropic,
                Converter::PassThrough,
            ),
            (
                AnthropicCountTokens,
                ProviderKind::Groq,
                Converter::Estimate,
            ),
            (
                AnthropicMessages,
                ProviderKind::Groq,
                Converter::Hub(HubLeg::Translate(Family::OpenAi)),
            ),
            (
                AnthropicMessages,
                ProviderKind::Mock,
                Converter::Hub(HubLeg::Mock),
            ),
            (
                Responses,
                ProviderKind::Gemini,
                Converter::Hub(HubLeg::Translate(Family::Gemini)),
            ),
            (
                Responses,
                ProviderKind::Groq,
                Converter::Hub(HubLeg::Translate(Family::OpenAi)),
            ),
            (GeminiGenerate, ProviderKind::Gemini, Converter::PassThrough),
            (
                GeminiStream { sse: true },
                ProviderKind::Cohere,
                Converter::Hub(HubLeg::Translate(Family::Cohere)),
            ),
        ];
        for (dialect, kind, expected) in cases {
            assert_eq!(
                converter(dialect, by_kind(kind)),
                expected,
                "{dialect:?} -> {kind:?}"
            );
        }
    }
}
