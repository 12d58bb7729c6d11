//! RS256-signed JWTs (RFC 7519 / RFC 7515 compact form), as Google's
//! service-account token grant needs them.

use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;

/// An RSA private key able to sign RS256 JWTs.
pub struct RsaSigner {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigner(***)")
    }
}

impl RsaSigner {
    /// Reads a PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM block, the form
    /// service-account JSON files carry. The error never quotes the key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| "private_key is not a PEM \"PRIVATE KEY\" (PKCS#8) block".to_owned())?;
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| format!("private_key is not a usable RSA key ({e})"))?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// `base64url(header).base64url(claims).base64url(signature)`; `header`
    /// and `claims` are JSON texts.
    pub fn sign(&self, header: &str, claims: &str) -> Result<String, String> {
        let mut token = String::with_capacity(64 + (header.len() + claims.len()) * 4 / 3 + 400);
        base64url(header.as_bytes(), &mut token);
        token.push('.');
        base64url(claims.as_bytes(), &mut token);
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_owned())?;
        token.push('.');
        base64url(&signature, &mut token);
        Ok(token)
    }
}

/// Unpadded URL-safe base64 (RFC 4648 §5), as JWTs use.
pub fn base64url(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_vectors_without_padding() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            base64url(input, &mut out);
            assert_eq!(out, want);
        }
        let mut out = String::new();
        base64url(&[0xfb, 0xff, 0xbf], &mut out);
        assert_eq!(out, "-_-_", "URL-safe alphabet");
    }

    #[test]
    fn garbage_keys_are_refused_without_quoting_them() {
        let err = RsaSigner::from_pem("not a key SECRETSECRET").unwrap_err();
        assert!(!err.contains("SECRETSECRET"), "{err}");
        let pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = RsaSigner::from_pem(pem).unwrap_err();
        assert!(err.contains("RSA"), "{err}");
    }
}
