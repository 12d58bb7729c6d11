//! Tool-call ids for Gemini function calls, which have none, and the thought
//! signature they carry across turns.
//!
//! Scheme: `call_<index>_<hash>[__ts_<signature>]`.
//!
//! - `<index>` is the call's position among the function calls of one
//!   response (0, 1, ...), as OpenAI numbers `tool_calls`.
//! - `<hash>` is 8 hex digits of FNV-1a over the response id, index, name and
//!   arguments, so ids differ between turns of one conversation (the client
//!   matches `tool` messages to calls by id).
//! - `__ts_<signature>` is present when the `functionCall` part had a
//!   `thoughtSignature`. Gemini 3 rejects the next turn with 400 unless that
//!   signature comes back on the same `functionCall` part
//!   (<https://ai.google.dev/gemini-api/docs/thought-signatures>), and an
//!   OpenAI client echoes nothing of a tool call but `id`, `name` and
//!   `arguments`. The signature is protobuf `bytes`, sent as base64; we write
//!   the same bytes as base64url without padding (`+`→`-`, `/`→`_`, `=`
//!   dropped) so the id holds only `[A-Za-z0-9_-]`, and undo that when the id
//!   returns in an assistant message. Signatures are ~100 bytes to a few KiB,
//!   so these ids are long; clients treat ids as opaque strings.
//!
//! The `__ts_` marker cannot occur before the signature: index and hash are
//! digits and hex.

use std::fmt::Write as _;

/// Separates the id proper from the encoded thought signature.
const SIGNATURE_MARKER: &str = "__ts_";

/// The id for function call number `index` of response `response_id`.
///
/// A signature that is not base64 (standard or url-safe) cannot be carried
/// and is dropped with a warning; the call itself is still usable.
pub(super) fn synthesize(
    response_id: &str,
    index: u32,
    name: &str,
    args: &str,
    signature: Option<&str>,
) -> String {
    let mut hash = Fnv1a::new();
    for field in [response_id.as_bytes(), name.as_bytes(), args.as_bytes()] {
        hash.write(field);
        hash.write(&[0xff]); // field separator; 0xff never occurs in UTF-8
    }
    hash.write(&index.to_le_bytes());
    let short = (hash.0 ^ (hash.0 >> 32)) as u32;

    let mut id = String::with_capacity(24 + signature.map_or(0, str::len));
    // Writing into a String cannot fail.
    let _ = write!(id, "call_{index}_{short:08x}");
    if let Some(sig) = signature {
        if is_base64(sig) {
            id.push_str(SIGNATURE_MARKER);
            id.extend(sig.chars().filter(|&c| c != '=').map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            }));
        } else {
            tracing::warn!(
                len = sig.len(),
                "gemini thoughtSignature is not base64; not carried in the tool call id"
            );
        }
    }
    id
}

/// The thought signature (standard, padded base64) encoded in a tool-call id
/// made by [`synthesize`], or `None` for any other id.
pub(super) fn thought_signature(id: &str) -> Option<String> {
    let (_, encoded) = id.split_once(SIGNATURE_MARKER)?;
    if encoded.is_empty()
        || !encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let mut sig = String::with_capacity(encoded.len() + 3);
    sig.extend(encoded.chars().map(|c| match c {
        '-' => '+',
        '_' => '/',
        c => c,
    }));
    while sig.len() % 4 != 0 {
        sig.push('=');
    }
    Some(sig)
}

fn is_base64(s: &str) -> bool {
    !s.is_empty()
        && s.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// 64-bit FNV-1a: tiny, deterministic across builds (unlike `DefaultHasher`),
/// and enough to tell a conversation's calls apart; not collision resistant.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_without_signature_is_index_and_hash() {
        let id = synthesize("resp", 2, "get", "{}", None);
        assert!(id.starts_with("call_2_"), "{id}");
        assert_eq!(id.len(), "call_2_".len() + 8);
        assert_eq!(thought_signature(&id), None);
        assert_eq!(
            id,
            synthesize("resp", 2, "get", "{}", None),
            "deterministic"
        );
    }

    #[test]
    fn ids_differ_between_responses_and_calls() {
        let a = synthesize("resp-a", 0, "get", "{}", None);
        assert_ne!(a, synthesize("resp-b", 0, "get", "{}", None));
        assert_ne!(a, synthesize("resp-a", 0, "get", r#"{"x":1}"#, None));
        assert_ne!(a, synthesize("resp-a", 0, "put", "{}", None));
    }

    #[test]
    fn signature_round_trips_through_the_id() {
        for sig in ["EskgCsYgAb4+9vtF7/499Y==", "Ab+/", "Ab-_x", "QQ="] {
            let id = synthesize("r", 0, "f", "{}", Some(sig));
            let tail = id.split_once(SIGNATURE_MARKER).unwrap().1;
            assert!(
                tail.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
            let back = thought_signature(&id).unwrap();
            // Same bytes: url-safe input comes back in the standard alphabet.
            let normalise = |s: &str| s.replace('-', "+").replace('_', "/");
            assert_eq!(
                back.trim_end_matches('='),
                normalise(sig).trim_end_matches('=')
            );
            assert_eq!(back.len() % 4, 0);
        }
    }

    #[test]
    fn non_base64_signature_is_dropped_and_foreign_ids_have_none() {
        let id = synthesize("r", 0, "f", "{}", Some("not base64!"));
        assert!(!id.contains(SIGNATURE_MARKER));
        assert_eq!(thought_signature("call_abc123"), None);
        assert_eq!(thought_signature("toolu_01__ts_"), None);
        assert_eq!(thought_signature("x__ts_a+b"), None);
    }
}
