//! Server-generated secrets (consumer secrets, session ids, one-time tokens):
//! high-entropy random values, stored only as an HMAC-SHA-256 keyed with the
//! server pepper and compared in constant time. A slow hash would only cap
//! throughput here; human-chosen secrets use [`crate::password`].

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Minimum pepper length in bytes.
pub const MIN_PEPPER_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the pepper must hold at least {MIN_PEPPER_BYTES} bytes")]
    PepperTooShort,
    #[error("the system random generator failed")]
    Random,
    #[error("sealing a secret failed")]
    Seal,
}

/// The server-wide key of the keyed hash. Shared by every node of one installation.
#[derive(Clone)]
pub struct Pepper(hmac::Key);

impl Pepper {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() < MIN_PEPPER_BYTES {
            return Err(SecretError::PepperTooShort);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A fresh random pepper, for a new installation.
    pub fn generate_bytes() -> Result<Vec<u8>, SecretError> {
        random_bytes(MIN_PEPPER_BYTES)
    }

    /// The keyed hash of `secret`, as stored.
    pub fn hash(&self, secret: &str) -> KeyedHash {
        let tag = hmac::sign(&self.0, secret.as_bytes());
        KeyedHash(URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The keyed hash of `secret` behind a public `stamp` that orders it, as
    /// stored: keys stamped with their time of issue are appended at the end
    /// of an index instead of landing on a random page of it.
    pub fn stamped_hash(&self, stamp: &str, secret: &str) -> KeyedHash {
        let tag = hmac::sign(&self.0, secret.as_bytes());
        let mut key = String::with_capacity(stamp.len() + 43);
        key.push_str(stamp);
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut key);
        KeyedHash(key)
    }

    /// The key that seals secrets the server must read back (TOTP seeds), derived
    /// from the pepper so one file protects both.
    pub fn sealer(&self) -> Sealer {
        let derived = hmac::sign(&self.0, b"fintechapi sealing key v1");
        let key = UnboundKey::new(&AES_256_GCM, derived.as_ref())
            .map(LessSafeKey::new)
            .ok();
        Sealer(key)
    }

    /// Constant-time check of `secret` against a stored hash.
    pub fn verify(&self, secret: &str, stored: &KeyedHash) -> bool {
        match URL_SAFE_NO_PAD.decode(stored.0.as_bytes()) {
            Ok(tag) => hmac::verify(&self.0, secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// AES-256-GCM for secrets stored to be read back; output is base64url(nonce ‖ ciphertext).
pub struct Sealer(Option<LessSafeKey>);

impl Sealer {
    pub fn seal(&self, plain: &[u8]) -> Result<String, SecretError> {
        let key = self.0.as_ref().ok_or(SecretError::Seal)?;
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let mut nonce = [0_u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut buf = plain.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| SecretError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// None for anything that was not sealed with this key.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let key = self.0.as_ref()?;
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        key.open_in_place(nonce, Aad::empty(), &mut buf)
            .ok()
            .map(|plain| plain.to_vec())
    }
}

/// A stored keyed hash (base64url). Safe to log, useless without the pepper.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyedHash(String);

impl KeyedHash {
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>, SecretError> {
    let mut bytes = vec![0_u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    Ok(bytes)
}

/// Compares two secrets in constant time (for equal lengths).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A random token of `bytes` bytes of entropy, base64url without padding.
/// A new P-256 key pair: its PKCS#8 document and its uncompressed public point.
pub fn generate_p256() -> Result<(Vec<u8>, Vec<u8>), SecretError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| SecretError::Random)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| SecretError::Random)?;
    Ok((pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec()))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// RFC 7636 S256: `BASE64URL(SHA-256(code_verifier))`; also DPoP's `ath`.
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

pub fn random_token(bytes: usize) -> Result<String, SecretError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(bytes)?))
}

/// A secret value that never shows itself in `Debug` or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The only way to the value; grep for it to find every exposure.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn keyed_hashes_verify_only_their_secret_and_pepper() {
        let pepper = Pepper::from_bytes(&[7; 32]).unwrap();
        let other = Pepper::from_bytes(&[8; 32]).unwrap();
        let hash = pepper.hash("cs_secret");
        assert!(pepper.verify("cs_secret", &hash));
        assert!(!pepper.verify("cs_secreT", &hash));
        assert!(!other.verify("cs_secret", &hash));
        assert!(!pepper.verify("cs_secret", &KeyedHash::from_stored("%%%".into())));
        assert_eq!(pepper.hash("x"), pepper.hash("x"));
    }

    #[test]
    fn sealed_secrets_open_only_with_their_pepper() {
        let pepper = Pepper::from_bytes(&[7; 32]).unwrap();
        let sealed = pepper.sealer().seal(b"totp seed").unwrap();
        assert_eq!(pepper.sealer().open(&sealed).unwrap(), b"totp seed");
        assert!(
            Pepper::from_bytes(&[8; 32])
                .unwrap()
                .sealer()
                .open(&sealed)
                .is_none()
        );
        assert!(pepper.sealer().open("garbage").is_none());
        assert_ne!(
            sealed,
            pepper.sealer().seal(b"totp seed").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn short_peppers_are_refused_and_secrets_stay_hidden() {
        assert!(Pepper::from_bytes(&[1; 31]).is_err());
        assert_eq!(
            format!("{:?}", Secret::new("hunter2".into())),
            "Secret(<redacted>)"
        );
        let a = random_token(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32).unwrap());
    }
}
