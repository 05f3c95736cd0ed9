//! JWT checks of the authorization server and the resource server: client
//! assertions (RFC 7523, `private_key_jwt`), request objects (RFC 9101, JAR)
//! and DPoP proofs (RFC 9449).
//! Signatures are verified by `jsonwebtoken` (aws-lc-rs); times are checked
//! here against the server's clock, so tests can move it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use time::OffsetDateTime;

/// Algorithms accepted anywhere (FAPI 2.0 §5.4: PS256, ES256, EdDSA).
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA];

/// How far in the future a client assertion may expire.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// FAPI 2.0 Message Signing §5.3.1: a request object's `nbf` at most 60
/// minutes old, its `exp` at most 60 minutes after its `nbf`.
pub const MAX_REQUEST_OBJECT_LIFETIME_SECS: i64 = 3600;
/// How old a DPoP proof's `iat` may be.
pub const DPOP_IAT_WINDOW_SECS: i64 = 60;
/// FAPI 2.0 §5.3.2.1-13: `iat`/`nbf` up to 10 s in the future are clock skew.
pub const MAX_FUTURE_SKEW_SECS: i64 = 10;

pub fn algorithm_names() -> Vec<&'static str> {
    vec!["ES256", "PS256", "EdDSA"]
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JoseError(pub String);

fn err(text: impl Into<String>) -> JoseError {
    JoseError(text.into())
}

/// The raw JOSE header as JSON (to see members the typed header drops).
fn raw_header(token: &str) -> Result<serde_json::Value, JoseError> {
    let first = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(first)
        .map_err(|_| err("the JWT header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| err("the JWT header is not JSON"))
}

fn allowed(alg: Algorithm) -> Result<(), JoseError> {
    if ALGORITHMS.contains(&alg) {
        Ok(())
    } else {
        Err(err(format!(
            "alg {alg:?} is not accepted; use ES256, PS256 or EdDSA"
        )))
    }
}

/// Signature only: exp/nbf/aud are checked by the callers against the server clock.
fn signature_only(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

/// A verified client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    pub jti: String,
    pub expires_at: OffsetDateTime,
}

/// The `iss` claim of a JWT, unverified: which client's keys to verify it with.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

/// The `kid` a JWT's header names, unverified: which key of a set to try.
pub fn unverified_kid(token: &str) -> Option<String> {
    decode_header(token).ok()?.kid
}

/// The claims of `token`, a JWT signed (ES256, PS256 or EdDSA; never `none`)
/// by a key of the client's JWK Set: the one its `kid` names, else any.
fn signed_by_client<T: serde::de::DeserializeOwned>(
    token: &str,
    client_jwks: &str,
    what: &str,
) -> Result<T, JoseError> {
    let header = decode_header(token).map_err(|e| err(format!("malformed {what}: {e}")))?;
    allowed(header.alg)?;
    let set: JwkSet = serde_json::from_str(client_jwks)
        .map_err(|_| err("the client's registered JWKS does not parse"))?;
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => vec![
            set.find(kid)
                .ok_or_else(|| err(format!("the client's JWKS has no key with kid {kid:?}")))?,
        ],
        None => set.keys.iter().collect(),
    };
    candidates
        .iter()
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .find_map(|key| decode::<T>(token, &key, &signature_only(header.alg)).ok())
        .map(|data| data.claims)
        .ok_or_else(|| {
            err(format!(
                "the {what}'s signature matches no key of the client's JWKS"
            ))
        })
}

/// RFC 9101 with FAPI 2.0 Message Signing: a request object signed by a key
/// of the client's JWK Set, `iss` (and `client_id`, when present) the
/// client_id, `aud` the issuer, `nbf` at most an hour old and `exp` at most
/// an hour after it. Returns its claims, the request's parameters.
pub fn verify_request_object(
    request: &str,
    client_jwks: &str,
    client_id: &str,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<serde_json::Map<String, serde_json::Value>, JoseError> {
    let claims: serde_json::Map<String, serde_json::Value> =
        signed_by_client(request, client_jwks, "request object")?;
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    if text("iss") != Some(client_id) {
        return Err(err("iss of the request object must be the client_id"));
    }
    if claims.contains_key("client_id") && text("client_id") != Some(client_id) {
        return Err(err("client_id of the request object is another client's"));
    }
    let audience_ok = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => aud == issuer,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    };
    if !audience_ok {
        return Err(err(format!(
            "aud of the request object must be the issuer identifier {issuer}"
        )));
    }
    let number = |name: &str| {
        claims
            .get(name)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| err(format!("the request object has no numeric {name}")))
    };
    let (exp, nbf, now) = (number("exp")?, number("nbf")?, now.unix_timestamp());
    if exp <= now {
        return Err(err("the request object expired"));
    }
    if nbf > now.saturating_add(MAX_FUTURE_SKEW_SECS) {
        return Err(err(
            "the request object is not valid yet (nbf in the future)",
        ));
    }
    if now.saturating_sub(nbf) > MAX_REQUEST_OBJECT_LIFETIME_SECS
        || exp.saturating_sub(nbf) > MAX_REQUEST_OBJECT_LIFETIME_SECS
    {
        return Err(err(format!(
            "the request object's nbf is older than {MAX_REQUEST_OBJECT_LIFETIME_SECS} s, or its \
             exp more than {MAX_REQUEST_OBJECT_LIFETIME_SECS} s after nbf"
        )));
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(err("a request object must not hold request or request_uri"));
    }
    Ok(claims)
}

/// RFC 7523 §3 with FAPI 2.0's rules: signed by a key of the client's JWKS,
/// `iss` = `sub` = client_id, `aud` = the issuer, unexpired and short-lived, with a `jti`.
pub fn verify_client_assertion(
    assertion: &str,
    client_jwks: &str,
    client_id: &str,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<ClientAssertion, JoseError> {
    let claims: AssertionClaims = signed_by_client(assertion, client_jwks, "client assertion")?;
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return Err(err(
            "iss and sub of the client assertion must both be the client_id",
        ));
    }
    // FAPI 2.0 §5.3.2.1-8: the issuer identifier as a string, nothing else.
    let audience_ok = matches!(&claims.aud, Some(serde_json::Value::String(a)) if a == issuer);
    if !audience_ok {
        return Err(err(format!(
            "aud of the client assertion must be the issuer identifier {issuer} as a string"
        )));
    }
    let now_secs = now.unix_timestamp();
    let exp = claims
        .exp
        .ok_or_else(|| err("the client assertion has no exp"))?;
    if exp <= now_secs {
        return Err(err("the client assertion expired"));
    }
    if exp - now_secs > MAX_ASSERTION_LIFETIME_SECS
        || claims
            .iat
            .is_some_and(|iat| exp.saturating_sub(iat) > MAX_ASSERTION_LIFETIME_SECS)
    {
        return Err(err(format!(
            "the client assertion lives longer than {MAX_ASSERTION_LIFETIME_SECS} s"
        )));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now_secs + MAX_FUTURE_SKEW_SECS)
        || claims
            .iat
            .is_some_and(|iat| iat > now_secs + MAX_FUTURE_SKEW_SECS)
    {
        return Err(err(
            "the client assertion is not valid yet (iat or nbf in the future)",
        ));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| err("the client assertion has no jti"))?;
    Ok(ClientAssertion {
        jti,
        expires_at: OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now),
    })
}

#[derive(Debug, Deserialize)]
struct DpopClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    nonce: Option<String>,
    ath: Option<String>,
}

/// A verified DPoP proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key.
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
}

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// The proof carries no nonce, or a stale one: retry with `DPoP-Nonce`.
    UseNonce,
    Invalid(String),
}

/// RFC 9449 §4.3: a `dpop+jwt` signed by the public key in its header, for
/// exactly this method and URI, fresh, with a server nonce, and (at a
/// resource server) the hash of the access token.
pub fn verify_dpop(
    proof: &str,
    method: &str,
    uri: &str,
    now: OffsetDateTime,
    nonce_ok: impl Fn(&str) -> bool,
    access_token: Option<&str>,
) -> Result<DpopProof, DpopRefusal> {
    let invalid = |t: &str| DpopRefusal::Invalid(t.to_owned());
    let header = decode_header(proof).map_err(|_| invalid("the DPoP proof is not a JWT"))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    allowed(header.alg).map_err(|e| DpopRefusal::Invalid(e.0))?;
    let raw = raw_header(proof).map_err(|e| DpopRefusal::Invalid(e.0))?;
    if raw["jwk"].get("d").is_some() {
        return Err(invalid("the DPoP proof's jwk must be a public key"));
    }
    let jwk = header
        .jwk
        .ok_or_else(|| invalid("the DPoP proof has no jwk"))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|_| invalid("the DPoP proof's jwk is not a usable key"))?;
    let claims = decode::<DpopClaims>(proof, &key, &signature_only(header.alg))
        .map_err(|_| invalid("the DPoP proof's signature does not verify with its jwk"))?
        .claims;
    if claims.htm.as_deref() != Some(method) {
        return Err(invalid("the DPoP proof's htm is not this request's method"));
    }
    let htu = claims.htu.as_deref().map(strip_query);
    if htu != Some(uri) {
        return Err(invalid("the DPoP proof's htu is not this request's URI"));
    }
    let iat = claims
        .iat
        .ok_or_else(|| invalid("the DPoP proof has no iat"))?;
    // Saturating: `iat` is the client's number, anywhere in i64.
    let age = now.unix_timestamp().saturating_sub(iat);
    if !(-MAX_FUTURE_SKEW_SECS..=DPOP_IAT_WINDOW_SECS).contains(&age) {
        return Err(invalid("the DPoP proof's iat is too far from now"));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("the DPoP proof has no jti"))?;
    match (access_token, &claims.ath) {
        (Some(token), Some(ath)) => {
            let expected = fintechapi_domain::secret::pkce_s256(token);
            if !fintechapi_domain::secret::constant_time_eq(ath, &expected) {
                return Err(invalid(
                    "the DPoP proof's ath is not the hash of this access token",
                ));
            }
        }
        (Some(_), None) => return Err(invalid("the DPoP proof has no ath")),
        (None, _) => {}
    }
    match &claims.nonce {
        Some(n) if nonce_ok(n) => {}
        _ => return Err(DpopRefusal::UseNonce),
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| invalid("the DPoP proof's jwk has no thumbprint"))?;
    Ok(DpopProof {
        jkt,
        jti,
        nonce: claims.nonce,
    })
}

/// RFC 9449 §4.3: `htu` is compared without query and fragment.
fn strip_query(uri: &str) -> &str {
    uri.split(['?', '#']).next().unwrap_or(uri)
}
