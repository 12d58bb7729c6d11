//! Credentials that expire: OAuth access tokens for Vertex AI (Google service
//! account or authorized-user credentials) and Azure OpenAI (Entra ID client
//! credentials). The control thread fetches them and refreshes them before they
//! expire ([`Refresher`]); workers read the current `Authorization` line from a
//! [`TokenSlot`] without locking.

pub mod azure;
mod form;
pub mod google;
mod jwt;
mod secret;

pub use secret::Secret;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::http::url::BaseUrl;
use crate::upstream::Origin;

/// Refresh this long before expiry (or at half the lifetime, if shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Retry delays after a failed token request: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Longest error text kept from a token endpoint.
const MAX_PROBLEM_CHARS: usize = 300;

/// Where a provider's tokens come from: the endpoint and the grant sent to it.
#[derive(Debug, Clone)]
pub struct TokenSource {
    pub url: BaseUrl,
    pub grant: Grant,
}

#[derive(Debug, Clone)]
pub enum Grant {
    Google(Arc<google::GoogleCredentials>),
    Azure(azure::ClientCredentials),
}

impl TokenSource {
    fn form(&self, now: SystemTime) -> Result<String, String> {
        match &self.grant {
            Grant::Google(creds) => creds.token_request(now),
            Grant::Azure(creds) => Ok(creds.token_request()),
        }
    }
}

/// The current `Authorization: Bearer …\r\n` line of one provider, or why
/// there is none.
#[derive(Debug)]
pub struct TokenSlot {
    header: ArcSwapOption<Vec<u8>>,
    problem: ArcSwap<String>,
}

impl Default for TokenSlot {
    fn default() -> Self {
        Self {
            header: ArcSwapOption::empty(),
            problem: ArcSwap::from_pointee("no access token has been fetched yet".to_owned()),
        }
    }
}

impl TokenSlot {
    /// Appends the current header line to `out`; `false` if there is no valid token.
    pub fn push_header(&self, out: &mut Vec<u8>) -> bool {
        match &*self.header.load() {
            Some(line) => {
                out.extend_from_slice(line);
                true
            }
            None => false,
        }
    }

    /// The current header line, for finding the token where it must not be.
    pub fn current_line(&self) -> Option<Arc<Vec<u8>>> {
        self.header.load_full()
    }

    /// Why there is no token (for the client's 503 and the log). Never a secret.
    pub fn problem(&self) -> String {
        (**self.problem.load()).clone()
    }

    fn publish(&self, token: &str) {
        self.header.store(Some(Arc::new(
            format!("Authorization: Bearer {token}\r\n").into_bytes(),
        )));
    }

    fn withdraw(&self, problem: String) {
        self.header.store(None);
        self.problem.store(Arc::new(problem));
    }

    fn note_problem(&self, problem: String) {
        self.problem.store(Arc::new(problem));
    }
}

/// An access token as a token endpoint returns it.
#[derive(Debug)]
pub struct Token {
    pub access_token: String,
    pub expires_in: Duration,
}

/// Reads an OAuth 2.0 token response (RFC 6749 §5.1), or turns its error
/// response (§5.2) into a message. `expires_in` may be a number or, as some
/// Azure endpoints send it, a string.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<Token, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    if !(200..300).contains(&status) {
        let detail = match answer {
            Some(Answer {
                error: Some(error),
                error_description,
                ..
            }) => match error_description {
                Some(d) => format!("{error}: {d}"),
                None => error,
            },
            _ => "no OAuth error in the body".to_owned(),
        };
        return Err(truncate(format!(
            "token endpoint answered {status} ({detail})"
        )));
    }
    let answer = answer.ok_or("token endpoint answered 2xx with a body that is not JSON")?;
    let access_token = answer
        .access_token
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or("token endpoint answered without a usable access_token")?;
    let expires_in = match answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or("token endpoint answered without expires_in")?;
    Ok(Token {
        access_token,
        expires_in: Duration::from_secs(expires_in),
    })
}

fn truncate(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_PROBLEM_CHARS) {
        s.truncate(i);
        s.push('…');
    }
    s
}

/// Sends one token request: `(origin, path, form body)` to `(status, body)`.
pub trait TokenTransport {
    fn post_form(&self, origin: &Origin, path: &str, form: &str) -> Result<(u16, Vec<u8>), String>;
}

/// Keeps one provider's [`TokenSlot`] filled. Driven by the control thread.
pub struct Refresher {
    provider: String,
    source: TokenSource,
    slot: Arc<TokenSlot>,
    origin: Origin,
    due: Instant,
    expires: Option<Instant>,
    retry: Duration,
}

impl Refresher {
    pub fn new(provider: &str, source: TokenSource, slot: Arc<TokenSlot>, now: Instant) -> Self {
        Self {
            provider: provider.to_owned(),
            origin: Origin::new(&source.url),
            source,
            slot,
            due: now,
            expires: None,
            retry: RETRY_FIRST,
        }
    }

    /// The token endpoint's host, for the DNS cache.
    pub fn host(&self) -> &str {
        &self.origin.host
    }

    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.due
    }

    /// Fetches a token if one is due. On failure the current token is kept
    /// until it expires, and the request is retried with a doubling delay.
    pub fn refresh(&mut self, now: Instant, wall: SystemTime, transport: &dyn TokenTransport) {
        if !self.is_due(now) {
            return;
        }
        let fetched = self.source.form(wall).and_then(|form| {
            let (status, body) = transport.post_form(&self.origin, &self.source.url.path, &form)?;
            parse_token_response(status, &body)
        });
        match fetched {
            Ok(token) => {
                self.slot.publish(&token.access_token);
                let lifetime = token.expires_in;
                self.expires = Some(now + lifetime);
                self.due = now + lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2));
                self.retry = RETRY_FIRST;
                tracing::debug!(provider = %self.provider, expires_in_secs = lifetime.as_secs(), "access token refreshed");
            }
            Err(problem) => {
                let problem = format!("fetching an access token failed: {problem}");
                tracing::warn!(provider = %self.provider, retry_in_ms = self.retry.as_millis() as u64, "{problem}");
                if self.expires.is_none_or(|at| now >= at) {
                    self.slot.withdraw(problem);
                } else {
                    self.slot.note_problem(problem);
                }
                self.due = now + self.retry;
                self.retry = (self.retry * 2).min(RETRY_MAX);
            }
        }
        if let Some(at) = self.expires {
            // Be back at expiry at the latest, to withdraw a token nobody could renew.
            self.due = self.due.min(at);
        }
    }
}

#[cfg(test)]
mod tests;
