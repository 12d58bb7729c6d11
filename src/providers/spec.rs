//! A provider's wire facts, one [`Spec`] per kind: how its requests are
//! authenticated, where its paths go, how its streams are framed, and where
//! its model list is. The router, the converters and the control plane read
//! these instead of matching on the kind themselves.

use crate::config::{ProviderAuth, ProviderKind, WireFormat};

/// How a request proves who sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>` (OpenAI and compatibles, Cohere, OAuth tokens).
    Bearer,
    /// Azure OpenAI's `api-key: <key>`.
    AzureApiKey,
    /// Anthropic's `x-api-key: <key>` plus `anthropic-version`.
    AnthropicApiKey,
    /// Gemini's `x-goog-api-key: <key>`.
    GoogleApiKey,
    /// AWS SigV4, computed per request over the body; no static header.
    SigV4,
}

/// How a stream's events are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFraming {
    /// `text/event-stream`.
    Sse,
    /// `application/vnd.amazon.eventstream` (Bedrock).
    AwsEventStream,
}

impl StreamFraming {
    /// The `Accept` value that asks for it.
    pub fn accept(self) -> &'static [u8] {
        match self {
            StreamFraming::Sse => b"text/event-stream",
            StreamFraming::AwsEventStream => b"application/vnd.amazon.eventstream",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub auth: Auth,
    pub stream_framing: StreamFraming,
    /// The model picks a deployment in the path (Azure), not a body field.
    pub deployment_in_path: bool,
    /// The model list below the base URL, when the provider lists its models
    /// with the same key (Azure deployments, Bedrock and Vertex publisher
    /// models are not: configure `models` to have them listed).
    pub models_path: Option<&'static str>,
}

impl Spec {
    pub fn of(kind: ProviderKind, auth: &ProviderAuth) -> Self {
        let wire = kind.wire_format();
        let key_auth = match (kind, wire) {
            (ProviderKind::Vertex, _) => Auth::Bearer,
            (ProviderKind::Azure, _) => Auth::AzureApiKey,
            (_, WireFormat::Anthropic) => Auth::AnthropicApiKey,
            (_, WireFormat::Gemini) => Auth::GoogleApiKey,
            (_, WireFormat::Bedrock) => Auth::SigV4,
            (_, WireFormat::OpenAi | WireFormat::Cohere | WireFormat::Mock) => Auth::Bearer,
        };
        let auth = match auth {
            ProviderAuth::Keys => key_auth,
            // OAuth tokens are bearer tokens whatever the kind.
            ProviderAuth::BearerTokens | ProviderAuth::Refreshed(_) => Auth::Bearer,
        };
        let models_path = match (kind, wire) {
            (ProviderKind::Azure | ProviderKind::Vertex | ProviderKind::Bedrock, _) => None,
            // Anthropic's and Cohere's lists are under /v1 of a v1-less base URL.
            (_, WireFormat::Anthropic | WireFormat::Cohere) => Some("/v1/models"),
            (
                _,
                WireFormat::OpenAi | WireFormat::Gemini | WireFormat::Bedrock | WireFormat::Mock,
            ) => Some("/models"),
        };
        Spec {
            auth,
            stream_framing: match wire {
                WireFormat::Bedrock => StreamFraming::AwsEventStream,
                _ => StreamFraming::Sse,
            },
            deployment_in_path: kind == ProviderKind::Azure,
            models_path,
        }
    }

    /// The header lines that authenticate a request with `key` (empty for
    /// SigV4, which signs each request).
    pub fn auth_lines(&self, key: &str) -> Vec<u8> {
        match self.auth {
            Auth::Bearer => format!("Authorization: Bearer {key}\r\n"),
            Auth::AzureApiKey => format!("api-key: {key}\r\n"),
            Auth::AnthropicApiKey => format!(
                "x-api-key: {key}\r\nanthropic-version: {}\r\n",
                super::anthropic::ANTHROPIC_VERSION
            ),
            Auth::GoogleApiKey => format!("x-goog-api-key: {key}\r\n"),
            Auth::SigV4 => String::new(),
        }
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_authenticates_and_lists_its_own_way() {
        let keys = ProviderAuth::Keys;
        let spec = |kind| Spec::of(kind, &keys);
        assert_eq!(
            spec(ProviderKind::Groq).auth_lines("k"),
            b"Authorization: Bearer k\r\n"
        );
        assert_eq!(spec(ProviderKind::Azure).auth_lines("k"), b"api-key: k\r\n");
        assert!(
            String::from_utf8(spec(ProviderKind::Anthropic).auth_lines("k"))
                .unwrap()
                .starts_with("x-api-key: k\r\nanthropic-version: ")
        );
        assert_eq!(
            spec(ProviderKind::Gemini).auth_lines("k"),
            b"x-goog-api-key: k\r\n"
        );
        assert!(spec(ProviderKind::Bedrock).auth_lines("k").is_empty());
        assert_eq!(spec(ProviderKind::Vertex).auth, Auth::Bearer);
        // An Entra ID token on Azure is a bearer token, not an api-key.
        let azure_tokens = Spec::of(ProviderKind::Azure, &ProviderAuth::BearerTokens);
        assert_eq!(azure_tokens.auth, Auth::Bearer);
        assert!(azure_tokens.deployment_in_path);

        assert_eq!(spec(ProviderKind::OpenAi).models_path, Some("/models"));
        assert_eq!(
            spec(ProviderKind::Anthropic).models_path,
            Some("/v1/models")
        );
        assert_eq!(spec(ProviderKind::Cohere).models_path, Some("/v1/models"));
        for unlisted in [
            ProviderKind::Azure,
            ProviderKind::Bedrock,
            ProviderKind::Vertex,
        ] {
            assert_eq!(spec(unlisted).models_path, None);
        }
        assert_eq!(
            spec(ProviderKind::Bedrock).stream_framing,
            StreamFraming::AwsEventStream
        );
        assert_eq!(
            spec(ProviderKind::Cohere).stream_framing,
            StreamFraming::Sse
        );
    }
}
