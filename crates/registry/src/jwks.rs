//! Checks of the JSON Web Key Sets clients register.

/// Why a JWKS document is not accepted as a client's keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksProblem {
    #[error("must be a JSON Web Key Set document")]
    NotJwks,
    #[error("must hold a non-empty \"keys\" array")]
    NoKeys,
    #[error("every key needs a kty")]
    NoKty,
    #[error("must hold public keys only; never register a private key")]
    PrivateKey,
    #[error("RSA keys must have at least 2048 bits")]
    WeakRsa,
    #[error("EC keys must use P-256, P-384 or P-521")]
    Curve,
    /// FAPI 2.0 §5.4: a `kid` names one key.
    #[error("holds the kid {0:?} more than once; every key needs its own kid")]
    DuplicateKid(String),
    #[error("holds more than {MAX_JWKS_KEYS} keys")]
    TooManyKeys,
}

/// A client rotates a key or two at a time; a JWK Set needs no more than this.
pub const MAX_JWKS_KEYS: usize = 20;

/// A JWKS document of public keys only: `{"keys": [{…}, …]}`, no private
/// members, no `kid` twice. Used for registered documents and for documents
/// fetched from a client's `jwks_uri`.
pub fn check_public_jwks(text: &str) -> Result<(), JwksProblem> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| JwksProblem::NotJwks)?;
    let keys = doc["keys"]
        .as_array()
        .filter(|k| !k.is_empty())
        .ok_or(JwksProblem::NoKeys)?;
    if keys.len() > MAX_JWKS_KEYS {
        return Err(JwksProblem::TooManyKeys);
    }
    let mut kids = std::collections::HashSet::new();
    for key in keys {
        if !key["kty"].is_string() {
            return Err(JwksProblem::NoKty);
        }
        // Private members of EC, OKP and RSA keys.
        if ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .any(|m| key.get(m).is_some())
        {
            return Err(JwksProblem::PrivateKey);
        }
        // FAPI 2.0 §5.4: RSA keys of 2048 bits or more (342 base64url characters).
        if key["kty"] == "RSA" && key["n"].as_str().is_none_or(|n| n.len() < 342) {
            return Err(JwksProblem::WeakRsa);
        }
        if key["kty"] == "EC" && !matches!(key["crv"].as_str(), Some("P-256" | "P-384" | "P-521")) {
            return Err(JwksProblem::Curve);
        }
        if let Some(kid) = key["kid"].as_str()
            && !kids.insert(kid)
        {
            return Err(JwksProblem::DuplicateKid(kid.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{JwksProblem, MAX_JWKS_KEYS, check_public_jwks};

    #[test]
    fn only_public_strong_keys_are_registered() {
        let ec = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#;
        assert!(check_public_jwks(ec).is_ok());
        let private = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#;
        assert!(check_public_jwks(private).is_err());
        let curve = r#"{"keys":[{"kty":"EC","crv":"secp256k1","x":"a","y":"b"}]}"#;
        assert!(check_public_jwks(curve).is_err());
        assert!(check_public_jwks(r#"{"keys":[{"kty":"RSA","n":"short","e":"AQAB"}]}"#).is_err());
        let n = "A".repeat(342);
        let rsa = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#);
        assert!(check_public_jwks(&rsa).is_ok());
        assert!(check_public_jwks(r#"{"keys":[]}"#).is_err());
        assert!(check_public_jwks("not json").is_err());
        let twice = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k1"},{"kty":"EC","crv":"P-256","x":"c","y":"d","kid":"k1"}]}"#;
        assert_eq!(
            check_public_jwks(twice),
            Err(JwksProblem::DuplicateKid("k1".into()))
        );
    }

    #[test]
    fn a_jwk_set_holds_a_bounded_number_of_keys() {
        let set = |n: usize| {
            let keys: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k{i}"}}"#))
                .collect();
            format!(r#"{{"keys":[{}]}}"#, keys.join(","))
        };
        assert!(check_public_jwks(&set(MAX_JWKS_KEYS)).is_ok());
        assert_eq!(
            check_public_jwks(&set(MAX_JWKS_KEYS + 1)),
            Err(JwksProblem::TooManyKeys)
        );
    }
}
