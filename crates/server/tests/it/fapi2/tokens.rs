//! DPoP proofs, codes bound to the DPoP key, code lifetime, no password grant,
//! and the signing keys behind introspection.

use std::sync::Arc;

use super::{Client, Key, fapi_client, fapi_server};
use crate::support::xs2a::psu_headers;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn dpop_proofs_with_wrong_htm_htu_stale_iat_replayed_jti_or_no_nonce_are_refused(db: TestDb) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let now = client.now();
    let cc = [("grant_type", "client_credentials")];
    let cases = [
        (
            "htm GET",
            client.proof_by(&client.dpop, "GET", "/oauth2/token", None, json!({})),
            "invalid_dpop_proof",
        ),
        (
            "htu of PAR",
            client.proof_by(&client.dpop, "POST", "/oauth2/par", None, json!({})),
            "invalid_dpop_proof",
        ),
        (
            "iat 5 minutes old",
            client.proof_by(
                &client.dpop,
                "POST",
                "/oauth2/token",
                None,
                json!({"iat": now - 300}),
            ),
            "invalid_dpop_proof",
        ),
        (
            "no nonce",
            client.proof_by(
                &client.dpop,
                "POST",
                "/oauth2/token",
                None,
                json!({"nonce": null}),
            ),
            "use_dpop_nonce",
        ),
        (
            "a made-up nonce",
            client.proof_by(
                &client.dpop,
                "POST",
                "/oauth2/token",
                None,
                json!({"nonce": "made-up"}),
            ),
            "use_dpop_nonce",
        ),
    ];
    for (what, proof, error) in cases {
        let a = client
            .authenticated("/oauth2/token", &cc, Some(proof))
            .await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{what}: {}",
            a.body
        );
    }
    let proof = client.proof("POST", "/oauth2/token", None);
    assert_eq!(
        client
            .authenticated("/oauth2/token", &cc, Some(proof.clone()))
            .await
            .status,
        StatusCode::OK
    );
    let replay = client
        .authenticated("/oauth2/token", &cc, Some(proof))
        .await;
    assert_eq!(replay.body["error"], "invalid_dpop_proof");
    replay.assert_error_describes("jti");
    server.stop().await;
}
both_stores!(dpop_proofs_with_wrong_htm_htu_stale_iat_replayed_jti_or_no_nonce_are_refused);

async fn fapi2_5_3_2_1_12_code_bound_to_the_dpop_key_5_3_2_1_9_no_refresh_rotation_and_5_3_4_binding_checked_on_every_call(
    db: TestDb,
) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;

    // A code pushed with one DPoP key is not redeemed with another.
    let code = client.code(&server, &consent).await;
    let other = Key::generate("other");
    let stolen = client
        .exchange(
            &code,
            Some(client.proof_by(&other, "POST", "/oauth2/token", None, json!({}))),
        )
        .await;
    stolen.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");

    let consent = client.consent(&cc).await;
    let code = client.code(&server, &consent).await;
    let tokens = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "DPoP");
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let headers = psu_headers(&consent);
    let get = reqwest::Method::GET;

    // The resource server checks the binding on every call.
    let ok = client
        .xs2a(
            get.clone(),
            "/v1/accounts",
            &access,
            Some(client.proof("GET", "/v1/accounts", Some(&access))),
            &headers,
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let as_bearer = client
        .http
        .get(format!("{}/v1/accounts", client.issuer))
        .bearer_auth(&access)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("consent-id", &consent)
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_bearer.status(),
        StatusCode::UNAUTHORIZED,
        "a DPoP-bound token used as a bearer token"
    );
    assert!(
        as_bearer.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    );
    let cases = [
        ("no proof", None),
        (
            "proof without ath",
            Some(client.proof("GET", "/v1/accounts", None)),
        ),
        (
            "ath of another token",
            Some(client.proof("GET", "/v1/accounts", Some("ftat_other"))),
        ),
        (
            "proof by another key",
            Some(client.proof_by(&other, "GET", "/v1/accounts", Some(&access), json!({}))),
        ),
        (
            "htu of another resource",
            Some(client.proof("GET", "/v1/consents", Some(&access))),
        ),
    ];
    for (what, proof) in cases {
        let a = client
            .xs2a(get.clone(), "/v1/accounts", &access, proof, &headers, None)
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {}", a.body);
        assert!(
            a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error="),
            "{what}"
        );
    }
    let stale = client
        .xs2a(
            get.clone(),
            "/v1/accounts",
            &access,
            Some(client.proof_by(
                &client.dpop,
                "GET",
                "/v1/accounts",
                Some(&access),
                json!({"nonce": "old"}),
            )),
            &headers,
            None,
        )
        .await;
    assert!(
        stale.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    assert!(stale.headers.contains_key("dpop-nonce"));

    // No rotation: the refresh token keeps working, always with the same key.
    for _ in 0..2 {
        let again = client
            .authenticated(
                "/oauth2/token",
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
                Some(client.proof("POST", "/oauth2/token", None)),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        assert!(
            again.body.get("refresh_token").is_none(),
            "no new refresh token"
        );
    }
    let unbound = client
        .authenticated(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some(client.proof_by(&other, "POST", "/oauth2/token", None, json!({}))),
        )
        .await;
    assert_eq!(unbound.body["error"], "invalid_grant");
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_12_code_bound_to_the_dpop_key_5_3_2_1_9_no_refresh_rotation_and_5_3_4_binding_checked_on_every_call);

async fn fapi2_5_3_2_1_11_code_lifetime_at_most_60s(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let (server, client) = fapi_client(db, Arc::new(clock.clone())).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;
    let code = client.code(&server, &consent).await;
    clock.advance(time::Duration::seconds(61));
    let late = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    late.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_11_code_lifetime_at_most_60s);

async fn fapi2_5_3_2_1_2_resource_owner_password_grant_is_refused(db: TestDb) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let ropc = client
        .authenticated(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-demo-2026"),
            ],
            Some(client.proof("POST", "/oauth2/token", None)),
        )
        .await;
    ropc.assert_oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_2_resource_owner_password_grant_is_refused);

async fn signing_keys_are_published_before_use_and_sign_introspection_answers(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let meta: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["jwks_uri"], format!("{}/oauth2/jwks", server.base_url));
    let jwks: Value = server.get_json("/oauth2/jwks").await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        2,
        "the signing key and the next one, published before it signs: {jwks}"
    );
    assert!(
        keys.iter()
            .all(|k| k["alg"] == "ES256" && k.get("d").is_none())
    );

    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
    let token = client.client_token().await;
    let assertion = client.assertion(json!({}));
    let signed = server
        .client()
        .post(server.url("/oauth2/introspect"))
        .header("accept", "application/token-introspection+jwt")
        .form(&[
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(
        signed.headers()["content-type"],
        "application/token-introspection+jwt"
    );
    let jwt = signed.text().await.unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
    let kid = header.kid.unwrap();
    // The signing key is the one that activated first; verify with the published JWK.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
        keys.iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("signed by a published key")
            .clone(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.set_audience(&[client.id.as_str()]);
    validation.set_issuer(&[server.base_url.as_str()]);
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        &jwt,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["token_introspection"]["active"], true);
    assert_eq!(
        claims["token_introspection"]["client_id"],
        client.id.as_str()
    );
    server.stop().await;
}
both_stores!(signing_keys_are_published_before_use_and_sign_introspection_answers);
