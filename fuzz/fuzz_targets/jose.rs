//! JWTs from clients: DPoP proofs (RFC 9449) and client assertions
//! (RFC 7523) with the registered JWK Set. The input is the token; after a
//! newline, the JWK Set to check it with (the seeds' key otherwise).
#![no_main]

use fintechapi_oauth::jose::{self, DpopRefusal};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// The seeds' `iat`; their key is `JWKS`.
const NOW: i64 = 1_795_000_000;
const JWKS: &str = include_str!("../jose-seed-jwks.json");
const CLIENT: &str = "ck_fuzz";
const ISSUER: &str = "https://localhost:8443";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (token, jwks) = text.split_once('\n').unwrap_or((text, JWKS));
    let Ok(now) = OffsetDateTime::from_unix_timestamp(NOW) else {
        return;
    };
    let _ = jose::unverified_issuer(token);
    let _ = jose::unverified_kid(token);
    match jose::verify_dpop(
        token,
        "POST",
        &format!("{ISSUER}/oauth2/token"),
        now,
        |n| n == "n-1",
        None,
    ) {
        Ok(proof) => {
            assert_eq!(
                proof.jkt.len(),
                43,
                "not a SHA-256 thumbprint: {}",
                proof.jkt
            );
            assert_eq!(proof.nonce.as_deref(), Some("n-1"));
            assert!(!proof.jti.is_empty() && proof.jti.len() <= 256);
        }
        Err(DpopRefusal::UseNonce | DpopRefusal::Invalid(_)) => {}
    }
    if let Ok(assertion) = jose::verify_client_assertion(token, jwks, CLIENT, ISSUER, now) {
        let lifetime = assertion.expires_at.unix_timestamp() - NOW;
        assert!(
            (1..=jose::MAX_ASSERTION_LIFETIME_SECS).contains(&lifetime),
            "{lifetime}"
        );
        assert!(!assertion.jti.is_empty() && assertion.jti.len() <= 256);
    }
});
