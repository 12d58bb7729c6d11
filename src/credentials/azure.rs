//! Microsoft Entra ID client credentials for Azure OpenAI (OAuth 2.0 client
//! credentials grant, v2.0 endpoint), read from the same variables as the
//! Azure SDKs' `EnvironmentCredential`.
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>

use super::form::FormEncoder;
use super::Secret;

/// The scope Azure OpenAI (Cognitive Services) accepts.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// The public cloud's authority, when `AZURE_AUTHORITY_HOST` is unset.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// `https://login.microsoftonline.com` or a sovereign cloud's authority.
    pub authority_host: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

impl ClientCredentials {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host.trim_end_matches('/'),
            self.tenant_id
        )
    }

    pub fn token_request(&self) -> String {
        let mut form = FormEncoder::default();
        form.pair("grant_type", "client_credentials")
            .pair("client_id", &self.client_id)
            .pair("client_secret", self.client_secret.expose())
            .pair("scope", COGNITIVE_SERVICES_SCOPE);
        form.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_request_names_the_tenant_and_cognitive_services_scope() {
        let creds = ClientCredentials {
            authority_host: "https://login.microsoftonline.us/".into(),
            tenant_id: "contoso".into(),
            client_id: "app-1".into(),
            client_secret: Secret::new("s3cr=t"),
        };
        assert_eq!(
            creds.token_url(),
            "https://login.microsoftonline.us/contoso/oauth2/v2.0/token"
        );
        assert_eq!(
            creds.token_request(),
            "grant_type=client_credentials&client_id=app-1&client_secret=s3cr%3Dt\
             &scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"
        );
    }
}
