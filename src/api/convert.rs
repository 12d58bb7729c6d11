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
    /// The provider has no such operation.
    Unsupported,
}

pub(super) fn converter(dialect: Dialect, provider: &Provider) -> Converter {
    use Dialect::{
        OpenAiChat as Chat, OpenAiCompletions as Completions, OpenAiEmbeddings as Embed,
    };
    let gemini = if provider.kind() == ProviderKind::Vertex {
        Family::Vertex
    } else {
        Family::Gemini
    };
    match (dialect, provider.kind().wire_format()) {
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
                "GROQ_API_KEY" | "ANTHROPIC_API_KEY" | "GEMINI_API_KEY" | "COHERE_API_KEY"
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
