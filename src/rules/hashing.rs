//! Password hashes (argon2id, deliberately slow: call them off the async threads), digests for
//! comparing codes in constant time, and fresh random tokens for sessions and tickets.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;
use subtle::ConstantTimeEq;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// An argon2id hash of `password`, in PHC string form, with a fresh salt.
pub fn hash_password(password: &SecretString) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` is the one `hash` was made from. A hash that cannot be read matches nothing.
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The SHA-256 digest of `text`: what is kept of a live code.
pub fn digest(text: &str) -> [u8; 32] {
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// Whether two digests are equal, in constant time.
pub fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

/// A fresh random token (32 bytes, base64url): session tokens and recovery tickets.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What is kept of a recovery code: the digest of the code as typed in any case, with or without
/// dashes and spaces.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_check_the_password() {
        let hash = hash_password(&SecretString::from("Quiet-Falcon-83".to_owned())).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("Quiet-Falcon-83", &hash));
        assert!(!password_matches("Quiet-Falcon-84", &hash));
        assert!(!password_matches("Quiet-Falcon-83", "not a hash"));
    }

    #[test]
    fn recovery_codes_match_however_they_are_typed() {
        assert_eq!(
            recovery_code_hash("ABCD-efgh"),
            recovery_code_hash("abcd efgh")
        );
        assert_ne!(
            recovery_code_hash("abcd-efgh"),
            recovery_code_hash("abcd-efgi")
        );
        assert!(same_digest(&digest("12345678"), &digest("12345678")));
        assert!(!same_digest(&digest("12345678"), &digest("12345679")));
    }
}
