//! Token values and their fingerprints. A token value exists only in the response that creates
//! it; everything stored or shown is derived from its SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The stored form of a token value: base64url (no padding) of its SHA-256, 43 characters.
pub fn hash_token(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// A new random token value: 256 bits, base64url without padding.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i).
const READABLE: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// `groups` groups of `len` random readable characters joined by `-`: a secret meant to be
/// read off a screen and typed (almost 5 bits per character).
pub fn random_words(groups: usize, len: usize) -> String {
    let mut rng = rand::rng();
    (0..groups)
        .map(|_| {
            (0..len)
                .map(|_| READABLE[rand::Rng::random_range(&mut rng, 0..READABLE.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Whether `s` has the shape of a stored hash (43 base64url characters).
pub fn looks_like_hash(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The first characters of a hash, shown to people instead of any token value.
pub fn fingerprint(hash: &str) -> &str {
    hash.get(..10).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_base64url_sha256_without_padding() {
        // SHA-256("abc") = ba7816bf…15ad, a published test vector.
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert!(looks_like_hash(&hash_token("anything")));
    }

    #[test]
    fn readable_secrets_avoid_look_alikes() {
        let w = random_words(4, 5);
        assert_eq!(w.len(), 23);
        assert_eq!(w.matches('-').count(), 3);
        assert!(!w.contains(['0', '1', 'o', 'l', 'i']));
        assert_ne!(w, random_words(4, 5));
    }

    #[test]
    fn generated_tokens_differ() {
        let a = generate_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate_token());
    }
}
