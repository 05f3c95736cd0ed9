//! argon2id for secrets people choose (passwords, PINs). Server-generated
//! high-entropy secrets use a keyed hash instead; see the oauth and portal crates.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordHashError(String);

/// An argon2id hash in PHC string format. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes with argon2id and a fresh random salt. CPU-heavy: call it off the
    /// async executor (`spawn_blocking`).
    pub fn create(password: &str) -> Result<Self, PasswordHashError> {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| Self(h.to_string()))
            .map_err(|e| PasswordHashError(e.to_string()))
    }

    /// A stored PHC string, read back from the database.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Constant-time verification (inside argon2). A malformed stored hash never matches.
    pub fn verify(&self, password: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), self.0.as_str())
            .is_ok()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = PasswordHash::create("correct horse").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsf"));
        assert!(!PasswordHash::from_phc("garbage".into()).verify("correct horse"));
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }
}
