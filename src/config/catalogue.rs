//! The built-in provider kinds: each one's config name, default base URL and the
//! environment variables that carry its API key and base-URL override.

/// A provider's wire family and defaults. The config names a kind with
/// [`ProviderKind::name`]; several providers may share one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Groq,
    Mistral,
    DeepSeek,
    Together,
    Fireworks,
    OpenRouter,
    XAi,
    Cerebras,
    Perplexity,
    /// Anthropic's Messages API (translated from and to the OpenAI dialect).
    Anthropic,
    /// Azure OpenAI: OpenAI's wire format behind per-deployment URLs and an
    /// `api-key` header.
    Azure,
    /// Google Gemini API (AI Studio), translated.
    Gemini,
    /// Gemini on Google Cloud Vertex AI: Gemini's wire format under a
    /// project/location path, with OAuth access tokens. Enabled only from the
    /// config file.
    Vertex,
    /// Cohere v2 chat and embed, translated.
    Cohere,
    /// AWS Bedrock Converse API, translated and signed with SigV4. Enabled only
    /// from the config file (it needs a region).
    Bedrock,
    /// A local Ollama server (keyless by default).
    Ollama,
    /// Any server speaking the OpenAI API; needs an explicit `base_url`.
    OpenAiCompatible,
    /// Answered in-process by the gateway; never connected to.
    Mock,
}

/// Every kind, in declaration order.
pub const BUILTIN_KINDS: &[ProviderKind] = &[
    ProviderKind::OpenAi,
    ProviderKind::Groq,
    ProviderKind::Mistral,
    ProviderKind::DeepSeek,
    ProviderKind::Together,
    ProviderKind::Fireworks,
    ProviderKind::OpenRouter,
    ProviderKind::XAi,
    ProviderKind::Cerebras,
    ProviderKind::Perplexity,
    ProviderKind::Anthropic,
    ProviderKind::Azure,
    ProviderKind::Gemini,
    ProviderKind::Vertex,
    ProviderKind::Cohere,
    ProviderKind::Bedrock,
    ProviderKind::Ollama,
    ProviderKind::OpenAiCompatible,
    ProviderKind::Mock,
];

/// Per-kind facts, one row per kind, so the tables below cannot disagree.
struct Entry {
    name: &'static str,
    default_base_url: Option<&'static str>,
    key_env: Option<&'static str>,
    base_url_env: Option<&'static str>,
}

impl ProviderKind {
    fn entry(self) -> Entry {
        let (name, default_base_url, key_env, base_url_env) = match self {
            Self::OpenAi => (
                "openai",
                Some("https://api.openai.com/v1"),
                Some("OPENAI_API_KEY"),
                Some("OPENAI_BASE_URL"),
            ),
            Self::Groq => (
                "groq",
                Some("https://api.groq.com/openai/v1"),
                Some("GROQ_API_KEY"),
                Some("GROQ_BASE_URL"),
            ),
            Self::Mistral => (
                "mistral",
                Some("https://api.mistral.ai/v1"),
                Some("MISTRAL_API_KEY"),
                Some("MISTRAL_BASE_URL"),
            ),
            Self::DeepSeek => (
                "deepseek",
                Some("https://api.deepseek.com/v1"),
                Some("DEEPSEEK_API_KEY"),
                Some("DEEPSEEK_BASE_URL"),
            ),
            Self::Together => (
                "together",
                Some("https://api.together.xyz/v1"),
                Some("TOGETHER_API_KEY"),
                Some("TOGETHER_BASE_URL"),
            ),
            Self::Fireworks => (
                "fireworks",
                Some("https://api.fireworks.ai/inference/v1"),
                Some("FIREWORKS_API_KEY"),
                Some("FIREWORKS_BASE_URL"),
            ),
            Self::OpenRouter => (
                "openrouter",
                Some("https://openrouter.ai/api/v1"),
                Some("OPENROUTER_API_KEY"),
                Some("OPENROUTER_BASE_URL"),
            ),
            Self::XAi => (
                "xai",
                Some("https://api.x.ai/v1"),
                Some("XAI_API_KEY"),
                Some("XAI_BASE_URL"),
            ),
            Self::Cerebras => (
                "cerebras",
                Some("https://api.cerebras.ai/v1"),
                Some("CEREBRAS_API_KEY"),
                Some("CEREBRAS_BASE_URL"),
            ),
            Self::Perplexity => (
                "perplexity",
                Some("https://api.perplexity.ai"),
                Some("PERPLEXITY_API_KEY"),
                Some("PERPLEXITY_BASE_URL"),
            ),
            // The Anthropic SDKs' base URL has no `/v1`; request paths add it.
            Self::Anthropic => (
                "anthropic",
                Some("https://api.anthropic.com"),
                Some("ANTHROPIC_API_KEY"),
                Some("ANTHROPIC_BASE_URL"),
            ),
            // Each Azure resource has its own endpoint; there is no default.
            Self::Azure => (
                "azure",
                None,
                Some("AZURE_OPENAI_API_KEY"),
                Some("AZURE_OPENAI_ENDPOINT"),
            ),
            Self::Gemini => (
                "gemini",
                Some("https://generativelanguage.googleapis.com/v1beta"),
                Some("GEMINI_API_KEY"),
                Some("GEMINI_BASE_URL"),
            ),
            // The endpoint follows the location and the path the project; both
            // are resolved with the config (`https://{location}-aiplatform.googleapis.com/v1`).
            Self::Vertex => ("vertex", None, None, Some("VERTEX_BASE_URL")),
            Self::Cohere => (
                "cohere",
                Some("https://api.cohere.com"),
                Some("COHERE_API_KEY"),
                Some("COHERE_BASE_URL"),
            ),
            // The endpoint follows the region: bedrock-runtime.<region>.amazonaws.com.
            Self::Bedrock => (
                "bedrock",
                None,
                None,
                Some("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
            ),
            Self::Ollama => (
                "ollama",
                Some("http://localhost:11434/v1"),
                None,
                Some("OLLAMA_BASE_URL"),
            ),
            Self::OpenAiCompatible => ("openai-compatible", None, None, None),
            // `.invalid` is reserved (RFC 2606), so a mock URL can never resolve by accident.
            Self::Mock => ("mock", Some("http://mock.invalid"), None, None),
        };
        Entry {
            name,
            default_base_url,
            key_env,
            base_url_env,
        }
    }

    /// The kind named `s` in config (`"openai"`, `"openai-compatible"`, ...); `None`
    /// for anything else. Case-sensitive.
    pub fn from_name(s: &str) -> Option<Self> {
        BUILTIN_KINDS.iter().copied().find(|k| k.name() == s)
    }

    /// The config name of this kind, also the default provider name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Base URL used when neither the file nor the environment gives one; `None` for
    /// `openai-compatible`, which has no sensible default.
    pub fn default_base_url(self) -> Option<&'static str> {
        self.entry().default_base_url
    }

    /// Environment variable holding this kind's API key (`GROQ_API_KEY`); `None` for
    /// keyless kinds.
    pub fn key_env(self) -> Option<&'static str> {
        self.entry().key_env
    }

    /// Environment variable overriding this kind's default base URL
    /// (`GROQ_BASE_URL`); `None` for `openai-compatible` and `mock`. Ollama also
    /// honours `OLLAMA_HOST` when this one is unset.
    pub fn base_url_env(self) -> Option<&'static str> {
        self.entry().base_url_env
    }

    /// True for the hosted services, which refuse requests without a key.
    pub fn requires_key(self) -> bool {
        self.key_env().is_some()
    }

    /// The wire format this kind's upstream speaks.
    pub fn wire_format(self) -> WireFormat {
        match self {
            Self::Anthropic => WireFormat::Anthropic,
            Self::Gemini | Self::Vertex => WireFormat::Gemini,
            Self::Cohere => WireFormat::Cohere,
            Self::Bedrock => WireFormat::Bedrock,
            Self::Mock => WireFormat::Mock,
            _ => WireFormat::OpenAi,
        }
    }
}

/// What a provider's upstream speaks, which decides the request path taken:
/// OpenAI-compatible upstreams get the pass-through splice, others a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    OpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Bedrock,
    /// Answered in-process.
    Mock,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for &kind in BUILTIN_KINDS {
            assert_eq!(ProviderKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ProviderKind::from_name("OpenAI"), None);
        assert_eq!(ProviderKind::from_name("openai_compatible"), None);
    }

    #[test]
    fn hosted_kinds_require_a_key_and_have_env_vars() {
        let hosted: Vec<_> = BUILTIN_KINDS
            .iter()
            .filter(|k| k.requires_key() && **k != ProviderKind::Azure)
            .collect();
        assert_eq!(hosted.len(), 13);
        for kind in hosted {
            let upper = kind.name().to_ascii_uppercase();
            assert_eq!(kind.key_env(), Some(format!("{upper}_API_KEY").as_str()));
            assert_eq!(
                kind.base_url_env(),
                Some(format!("{upper}_BASE_URL").as_str())
            );
            assert!(kind.default_base_url().is_some());
        }
    }

    #[test]
    fn azure_uses_the_azure_sdk_variables_and_has_no_default_endpoint() {
        let azure = ProviderKind::Azure;
        assert!(azure.requires_key());
        assert_eq!(azure.key_env(), Some("AZURE_OPENAI_API_KEY"));
        assert_eq!(azure.base_url_env(), Some("AZURE_OPENAI_ENDPOINT"));
        assert_eq!(azure.default_base_url(), None);
    }

    #[test]
    fn keyless_kinds_have_no_key_env() {
        for kind in [
            ProviderKind::Ollama,
            ProviderKind::OpenAiCompatible,
            ProviderKind::Mock,
        ] {
            assert!(!kind.requires_key());
            assert_eq!(kind.key_env(), None);
        }
        assert_eq!(ProviderKind::OpenAiCompatible.default_base_url(), None);
        assert_eq!(ProviderKind::OpenAiCompatible.base_url_env(), None);
        assert_eq!(ProviderKind::Mock.base_url_env(), None);
        assert_eq!(ProviderKind::Ollama.base_url_env(), Some("OLLAMA_BASE_URL"));
    }
}
