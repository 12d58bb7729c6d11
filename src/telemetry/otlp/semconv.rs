//! Span attribute names: OpenTelemetry semantic conventions for GenAI and HTTP, and
//! ringbridge's own under `ringbridge.*`.
//!
//! The GenAI names are "Development" stability. Semantic conventions v1.37 renamed
//! `gen_ai.system` to `gen_ai.provider.name` (and xAI's value from `xai` to `x_ai`); the
//! GenAI conventions have since moved to their own repository
//! (<https://github.com/open-telemetry/semantic-conventions-genai>). Backends built on
//! earlier versions still read `gen_ai.system`, so both names and both value sets are here.

/// Resource: the logical service name (`ringbridge` unless configured).
pub const SERVICE_NAME: &str = "service.name";
/// Resource: the service's version.
pub const SERVICE_VERSION: &str = "service.version";

/// The GenAI provider, as [`gen_ai_provider_name`] names it.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The pre-v1.37 name of [`GEN_AI_PROVIDER_NAME`], values as [`gen_ai_system`] names them.
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// `chat`, `embeddings`, `text_completion` (see the `OPERATION_*` constants).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The model the client asked for.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// The model the provider says answered.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Prompt tokens (int).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Completion tokens (int).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";

/// `gen_ai.operation.name` for chat completions (and Anthropic messages, Gemini
/// generateContent called as chat, Bedrock Converse).
pub const OPERATION_CHAT: &str = "chat";
/// `gen_ai.operation.name` for embeddings.
pub const OPERATION_EMBEDDINGS: &str = "embeddings";
/// `gen_ai.operation.name` for legacy text completions.
pub const OPERATION_TEXT_COMPLETION: &str = "text_completion";

/// The HTTP status sent (server span) or received (client span), int.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// The upstream host name on a client span.
pub const SERVER_ADDRESS: &str = "server.address";

/// The configured provider name (not its kind), e.g. `openai-eu`.
pub const RINGBRIDGE_PROVIDER: &str = "ringbridge.provider";
/// The inbound virtual key's id (never the key itself).
pub const RINGBRIDGE_KEY_ID: &str = "ringbridge.key_id";
/// The team the virtual key belongs to.
pub const RINGBRIDGE_TEAM_ID: &str = "ringbridge.team_id";
/// What the request cost, in US dollars (double).
pub const RINGBRIDGE_COST_USD: &str = "ringbridge.cost_usd";
/// Upstream attempts made, retries and fallbacks included (int).
pub const RINGBRIDGE_ATTEMPTS: &str = "ringbridge.attempts";
/// The inbound dialect the client spoke (`openai`, `anthropic`, ...).
pub const RINGBRIDGE_DIALECT: &str = "ringbridge.dialect";

/// The `gen_ai.provider.name` value for a provider kind's config name
/// (`ProviderKind::name`): the convention's well-known value where one applies, else the
/// kind name itself, as the convention allows for providers it does not list.
pub fn gen_ai_provider_name(kind: &str) -> &str {
    match kind {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "azure" => "azure.ai.openai",
        "bedrock" => "aws.bedrock",
        "cohere" => "cohere",
        "deepseek" => "deepseek",
        // `gemini` is the AI Studio endpoint (generativelanguage.googleapis.com).
        "gemini" => "gcp.gemini",
        "vertex" => "gcp.vertex_ai",
        "groq" => "groq",
        "mistral" => "mistral_ai",
        "perplexity" => "perplexity",
        "xai" => "x_ai",
        other => other,
    }
}

/// The deprecated `gen_ai.system` value for a provider kind: the same as
/// [`gen_ai_provider_name`] except xAI, which was `xai` before the rename.
pub fn gen_ai_system(kind: &str) -> &str {
    match kind {
        "xai" => "xai",
        other => gen_ai_provider_name(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProviderKind, BUILTIN_KINDS};

    #[test]
    fn well_known_providers_get_the_conventions_values() {
        assert_eq!(gen_ai_provider_name("bedrock"), "aws.bedrock");
        assert_eq!(gen_ai_provider_name("vertex"), "gcp.vertex_ai");
        assert_eq!(gen_ai_provider_name("gemini"), "gcp.gemini");
        assert_eq!(gen_ai_provider_name("azure"), "azure.ai.openai");
        assert_eq!(gen_ai_provider_name("mistral"), "mistral_ai");
        assert_eq!(gen_ai_provider_name("xai"), "x_ai");
        assert_eq!(gen_ai_system("xai"), "xai");
        assert_eq!(gen_ai_system("bedrock"), "aws.bedrock");
    }

    #[test]
    fn every_kind_the_mapping_names_is_a_builtin_kind() {
        let mapped: Vec<&str> = BUILTIN_KINDS
            .iter()
            .map(|k| k.name())
            .filter(|&name| gen_ai_provider_name(name) != name)
            .collect();
        // A kind renamed in the catalogue would silently fall through to its own name.
        assert_eq!(
            mapped,
            ["mistral", "xai", "azure", "gemini", "vertex", "bedrock"],
            "kinds whose convention value differs from their name"
        );
        for same in [
            "openai",
            "anthropic",
            "cohere",
            "deepseek",
            "groq",
            "perplexity",
        ] {
            assert!(ProviderKind::from_name(same).is_some(), "{same}");
        }
        assert_eq!(gen_ai_provider_name("ollama"), "ollama");
        assert_eq!(
            gen_ai_provider_name("openai-compatible"),
            "openai-compatible"
        );
    }
}
