//! Keeping a provider's credentials out of what goes back to clients. An
//! upstream may echo the key it was sent (a debugging header, an error body
//! quoting it); every such occurrence is overwritten with `*` of the same
//! length, so framing computed from lengths stays valid.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::ProviderSettings;
use crate::credentials::TokenSlot;

/// Secrets shorter than this are not searched for: they would mask ordinary
/// text, and no real provider key is that short.
pub const MIN_MASKED_SECRET_BYTES: usize = 8;

/// Length of `Authorization: Bearer ` at the start of a token slot's line.
const BEARER_PREFIX_BYTES: usize = "Authorization: Bearer ".len();

/// Seconds between two warnings about one provider echoing a credential: an
/// upstream that echoes on every response must not write a line per request.
const WARN_EVERY_SECS: u64 = 60;

/// One provider's configured credentials, as bytes to search for.
#[derive(Debug, Default)]
pub struct Credentials {
    secrets: Vec<Box<[u8]>>,
    /// Unix second of the last warning (shared by every core).
    last_warned: AtomicU64,
}

impl Credentials {
    pub fn of(settings: &ProviderSettings) -> Self {
        let mut secrets: Vec<Box<[u8]>> = Vec::new();
        let mut add = |s: &str| {
            if s.len() >= MIN_MASKED_SECRET_BYTES {
                secrets.push(s.as_bytes().into());
            }
        };
        settings.keys.iter().for_each(|k| add(k.expose()));
        if let Some(aws) = &settings.aws {
            add(aws.access_key_id.expose());
            add(aws.secret_access_key.expose());
            if let Some(t) = &aws.session_token {
                add(t.expose());
            }
        }
        Self {
            secrets,
            last_warned: AtomicU64::new(0),
        }
    }

    /// Whether to log that a credential was masked: at most once per
    /// [`WARN_EVERY_SECS`], whichever core finds it.
    pub fn should_warn(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_warned.load(Ordering::Relaxed);
        now >= last + WARN_EVERY_SECS
            && self
                .last_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Overwrite every credential in `bytes` (and the access token currently
    /// in `token`, for refreshed ones); returns how many were found.
    pub fn mask(&self, token: Option<&TokenSlot>, bytes: &mut [u8]) -> usize {
        let mut found = 0;
        for secret in &self.secrets {
            found += mask_all(bytes, secret);
        }
        if let Some(line) = token.and_then(TokenSlot::current_line) {
            let token = line
                .get(BEARER_PREFIX_BYTES..line.len().saturating_sub(2))
                .unwrap_or_default();
            if token.len() >= MIN_MASKED_SECRET_BYTES {
                found += mask_all(bytes, token);
            }
        }
        found
    }
}

fn mask_all(bytes: &mut [u8], secret: &[u8]) -> usize {
    let finder = memchr::memmem::Finder::new(secret);
    let mut found = 0;
    let mut at = 0;
    while let Some(i) = finder.find(&bytes[at..]) {
        let start = at + i;
        bytes[start..start + secret.len()].fill(b'*');
        at = start + secret.len();
        found += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked_in_place_and_short_secrets_are_ignored() {
        let creds = Credentials {
            secrets: vec![b"sk-secret-1234".as_slice().into()],
            ..Credentials::default()
        };
        let mut text = b"x-echo: sk-secret-1234, again sk-secret-1234!".to_vec();
        let len = text.len();
        assert_eq!(creds.mask(None, &mut text), 2);
        assert_eq!(text.len(), len);
        assert_eq!(text, b"x-echo: **************, again **************!");
        assert_eq!(creds.mask(None, &mut text), 0);
        assert!(creds.should_warn());
        assert!(!creds.should_warn(), "once a minute");
    }
}
