//! The authorization server's signing keys (ES256), kept in the database so
//! every node signs with the same ones. Each key is published in the JWKS
//! before it signs (the next key exists from the moment the current one
//! starts) and stays published for a day after it retires, longer than any
//! signed response is meant to be trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::{SigningKey, SigningKeyRepository};
use fintechapi_domain::secret::{Pepper, generate_p256, random_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// What the server signs with (ID tokens, JARM responses, introspection).
pub const SIGNING_ALGORITHMS: [&str; 1] = ["ES256"];

/// How long a key signs.
pub const ROTATION: Duration = Duration::days(30);
/// How long a retired key stays published.
const AFTERLIFE: Duration = Duration::days(1);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no key material: {0}")]
    Material(&'static str),
}

/// Makes sure a key signs now and the next one is already published.
pub async fn ensure<R: SigningKeyRepository>(
    repo: &R,
    pepper: &Pepper,
    now: OffsetDateTime,
) -> Result<(), KeyError> {
    let keys = repo.signing_keys(now).await?;
    let active = keys
        .iter()
        .filter(|k| k.activates_at <= now)
        .max_by_key(|k| k.activates_at);
    let current_end = match active {
        Some(key) => key.retires_at,
        None => {
            let key = new_key(pepper, now, now)?;
            let end = key.retires_at;
            repo.insert_signing_key(key).await?;
            end
        }
    };
    if !keys.iter().any(|k| k.activates_at >= current_end) {
        repo.insert_signing_key(new_key(pepper, now, current_end)?)
            .await?;
    }
    Ok(())
}

fn new_key(
    pepper: &Pepper,
    now: OffsetDateTime,
    activates_at: OffsetDateTime,
) -> Result<SigningKey, KeyError> {
    let (pkcs8, point) = generate_p256().map_err(|_| KeyError::Material("no randomness"))?;
    let kid = random_token(12).map_err(|_| KeyError::Material("no randomness"))?;
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.get(1..33).ok_or(KeyError::Material("short point"))?),
        "y": URL_SAFE_NO_PAD.encode(point.get(33..65).ok_or(KeyError::Material("short point"))?),
    });
    Ok(SigningKey {
        kid,
        alg: "ES256".into(),
        sealed_key: pepper
            .sealer()
            .seal(&pkcs8)
            .map_err(|_| KeyError::Material("cannot seal"))?,
        public_jwk: jwk.to_string(),
        created_at: now,
        activates_at,
        retires_at: activates_at + ROTATION,
    })
}

/// The JWKS document: every key that signs now, will sign next, or signed recently.
pub async fn jwks<R: SigningKeyRepository>(
    repo: &R,
    now: OffsetDateTime,
) -> Result<serde_json::Value, StoreError> {
    let keys: Vec<serde_json::Value> = repo
        .signing_keys(now - AFTERLIFE)
        .await?
        .iter()
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok(serde_json::json!({ "keys": keys }))
}

/// Signs `claims` with the key active at `now`, as a JWT of type `typ`.
pub async fn sign<R: SigningKeyRepository, C: Serialize>(
    repo: &R,
    pepper: &Pepper,
    now: OffsetDateTime,
    typ: &str,
    claims: &C,
) -> Result<String, KeyError> {
    let key = repo
        .signing_keys(now)
        .await?
        .into_iter()
        .filter(|k| k.activates_at <= now)
        .max_by_key(|k| k.activates_at)
        .ok_or(KeyError::Material("no active signing key"))?;
    let pkcs8 = pepper
        .sealer()
        .open(&key.sealed_key)
        .ok_or(KeyError::Material(
            "a signing key does not open with this pepper",
        ))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid);
    header.typ = Some(typ.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&pkcs8))
        .map_err(|_| KeyError::Material("signing failed"))
}
