//! argon2id for secrets people choose (passwords, PINs). Server-generated
//! high-entropy secrets use a keyed hash instead; see the oauth and portal crates.
//!
//! argon2's working memory (19 MiB at the default parameters) is taken from
//! a small pool of buffers kept between hashes, at most one per core: a fresh
//! buffer per hash would be zeroed every time (CPU on every login) and, once
//! the allocator stops returning blocks that large to the system, would stay
//! resident once per thread that ever hashed.

use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::generate_salt;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordHashError(String);

/// An argon2id hash in PHC string format. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes with argon2id (the crate's default parameters: m = 19 MiB,
    /// t = 2, p = 1) and a fresh random salt. CPU-heavy: call it off the
    /// async executor (`spawn_blocking`).
    pub fn create(password: &str) -> Result<Self, PasswordHashError> {
        let failed = |e: &dyn fmt::Display| PasswordHashError(e.to_string());
        let params = Params::default();
        let salt = generate_salt();
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        with_memory(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, blocks)
        })
        .map_err(|e| failed(&e))?;
        let phc = Phc {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
            hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
        };
        Ok(Self(phc.to_string()))
    }

    /// A stored PHC string, read back from the database.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Verification with the stored hash's own algorithm, version and
    /// parameters; the outputs are compared in constant time (`Output`'s
    /// equality). A malformed stored hash never matches.
    pub fn verify(&self, password: &str) -> bool {
        let Ok(phc) = Phc::new(&self.0) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
            return false;
        };
        let version = match phc.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&phc) else {
            return false;
        };
        let mut output = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let hashed = with_memory(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut output, blocks)
        });
        hashed.is_ok() && Output::new(&output).is_ok_and(|computed| computed == *expected)
    }
}

/// Runs `hash` on `blocks` argon2 blocks from the pool, or fresh ones when
/// every kept buffer is in use; the buffer goes back unless enough are kept.
/// argon2 writes every block before it reads it, so a reused buffer needs no
/// clearing.
fn with_memory<T>(blocks: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
    static SPARE: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
    static KEPT: OnceLock<usize> = OnceLock::new();
    let kept = *KEPT.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let spare = || SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = spare().pop();
    let mut memory = match taken {
        Some(memory) if memory.len() == blocks => memory,
        _ => vec![Block::new(); blocks],
    };
    let result = hash(&mut memory);
    let mut spare = spare();
    if spare.len() < kept {
        spare.push(memory);
    }
    result
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = PasswordHash::create("correct horse").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsf"));
        assert!(!PasswordHash::from_phc("garbage".into()).verify("correct horse"));
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn hashes_are_interchangeable_with_the_argon2_crates_own() {
        let ours = PasswordHash::create("correct horse").unwrap();
        let parsed = Phc::new(ours.as_phc()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default().hash_password(b"battery staple").unwrap();
        let theirs = PasswordHash::from_phc(theirs.to_string());
        assert!(theirs.verify("battery staple"));
        assert!(!theirs.verify("battery stapler"));
        // Other parameters (a hash stored before a change of defaults) verify too.
        let small = Params::new(8 * 1024, 1, 1, None).unwrap();
        let older = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"old one")
            .unwrap();
        let older = PasswordHash::from_phc(older.to_string());
        assert!(older.verify("old one"));
        assert!(!older.verify("old two"));
        // The pooled buffer of the larger hash served the smaller one and back.
        assert!(ours.verify("correct horse"));
    }
}
