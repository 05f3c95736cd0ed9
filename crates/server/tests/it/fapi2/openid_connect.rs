//! OpenID Connect on the code flow: `openid` with a consent or alone, the ID
//! token verified against the published keys, the pairwise subject, userinfo
//! with the DPoP-bound token, and the discovery document.

use std::sync::Arc;

use super::{Client, Key, fapi_client, psu_answer, server_signed};
use crate::support::param;
use crate::support::xs2a::Answer;
use fintechapi_domain::SystemClock;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Userinfo with `token` (DPoP-bound) and a proof by `client`'s key.
async fn userinfo(client: &Client, token: &str) -> Answer {
    let proof = client.proof("GET", "/oauth2/userinfo", Some(token));
    let request = client
        .http
        .get(format!("{}/oauth2/userinfo", client.issuer))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof);
    Answer::of(request.send().await.unwrap()).await
}

/// `client` pushes `openid` alone, bob approves: the verified ID token's claims.
async fn signed_in(server: &crate::support::TestServer, client: &Client) -> Value {
    let par = client.par_with("", &[("scope", Some("openid"))]).await;
    let params = psu_answer(server, client, &par, "approve").await;
    let tokens = client.redeem(param(&params, "code").unwrap()).await;
    server_signed(server, tokens["id_token"].as_str().unwrap(), &client.id).await
}

async fn openid_code_flow_gives_a_signed_id_token_with_a_pairwise_subject_and_userinfo(db: TestDb) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;

    // openid with the consent: an ID token beside the consent's tokens.
    let scope = format!("openid AIS:{consent}");
    let nonce = ("nonce", Some("n-0S6_WzA2Mj"));
    let par = client
        .par_with(&consent, &[("scope", Some(&scope)), nonce])
        .await;
    let params = psu_answer(&server, &client, &par, "approve").await;
    let tokens = client.redeem(param(&params, "code").unwrap()).await;
    assert_eq!(tokens["scope"], format!("AIS:{consent}"));
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let claims = server_signed(&server, id_token, &client.id).await;
    let now = client.now();
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    let (iat, exp, auth_time) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
        claims["auth_time"].as_i64().unwrap(),
    );
    assert!((now - 60..=now + 5).contains(&iat) && exp > now && exp - iat <= 600);
    assert!(auth_time <= iat && iat - auth_time < 60, "{claims}");
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert!(sub.len() >= 32 && !sub.contains("bob"), "opaque: {sub}");

    // Userinfo answers the same subject to the token's DPoP key, and nothing more.
    let access = tokens["access_token"].as_str().unwrap();
    let info = userinfo(&client, access).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.body, json!({"sub": sub}));
    let no_proof = client
        .http
        .get(format!("{}/oauth2/userinfo", client.issuer))
        .header("authorization", format!("DPoP {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_proof.status(), StatusCode::UNAUTHORIZED);
    let challenge = no_proof.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    let as_bearer = client
        .http
        .post(format!("{}/oauth2/userinfo", client.issuer))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED);
    // A token granted without openid learns nothing there.
    let cc_info = userinfo(&client, &cc).await;
    assert_eq!(cc_info.status, StatusCode::FORBIDDEN, "{}", cc_info.body);
    assert_eq!(cc_info.body["error"], "insufficient_scope");

    // openid alone: the PSU signs in and is asked only to share who they are.
    let par = client.par_with("", &[("scope", Some("openid"))]).await;
    let mut psu = crate::support::Browser::new(&server);
    let link =
        crate::support::authorize_link(&client.id, par.body["request_uri"].as_str().unwrap());
    let screen = psu.authorise(&link, "bob", "bob-demo-2026").await;
    screen.assert_shows(&["Sign in to Fapi App", "Fapi TPP AG", "not your name"]);
    let answer = psu.decide(&screen, "approve").await;
    let params = crate::support::redirect_params(&answer.location.unwrap(), super::REDIRECT);
    let tokens = client.redeem(param(&params, "code").unwrap()).await;
    assert_eq!(tokens["scope"], "openid");
    assert!(tokens["refresh_token"].is_null(), "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = server_signed(&server, id_token, &client.id).await;
    assert_eq!(claims["sub"], sub.as_str(), "stable for one application");
    assert!(claims.get("nonce").is_none());
    // The identity-only token reads no account.
    let access = tokens["access_token"].as_str().unwrap();
    let proof = client.proof("GET", "/v1/accounts", Some(access));
    let read = client
        .xs2a(
            reqwest::Method::GET,
            "/v1/accounts",
            access,
            Some(proof),
            &[("consent-id", &consent)],
            None,
        )
        .await;
    assert!(read.status.is_client_error(), "{}", read.body);

    // Denied, the client learns access_denied and gets no code.
    let par = client.par_with("", &[("scope", Some("openid"))]).await;
    let params = psu_answer(&server, &client, &par, "deny").await;
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert!(param(&params, "code").is_none());

    // Another application gets another subject for the same PSU (pairwise).
    let jwks = server.db.data_dir().join("other-jwks.json");
    let signing = Key::generate("other-key-1");
    std::fs::write(&jwks, json!({"keys": [signing.jwk]}).to_string()).unwrap();
    let keys = ["--jwks", jwks.to_str().unwrap()];
    let other = Client::register_with(&server, Arc::new(SystemClock), "Other App", &keys, signing);
    other.learn_nonce().await;
    let claims = signed_in(&server, &other).await;
    assert_ne!(claims["sub"], sub.as_str(), "pairwise per application");
    server.stop().await;
}
both_stores!(openid_code_flow_gives_a_signed_id_token_with_a_pairwise_subject_and_userinfo);

async fn discovery_is_the_authorization_server_metadata_with_openid_connect(db: TestDb) {
    let (server, _client) = fapi_client(db, Arc::new(SystemClock)).await;
    let oidc: Value = server.get_json("/.well-known/openid-configuration").await;
    let oauth: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(oidc, oauth, "one document");
    let base = &server.base_url;
    assert_eq!(oidc["issuer"], base.as_str());
    assert_eq!(oidc["userinfo_endpoint"], format!("{base}/oauth2/userinfo"));
    assert_eq!(oidc["jwks_uri"], format!("{base}/oauth2/jwks"));
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(oidc["subject_types_supported"], json!(["pairwise"]));
    assert_eq!(oidc["response_types_supported"], json!(["code"]));
    let listed =
        |field: &str, value: &str| oidc[field].as_array().unwrap().iter().any(|v| v == value);
    assert!(listed("scopes_supported", "openid"));
    for claim in ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"] {
        assert!(listed("claims_supported", claim), "{claim}");
    }
    assert!(listed("response_modes_supported", "jwt"));
    assert!(listed(
        "request_object_signing_alg_values_supported",
        "ES256"
    ));
    assert_eq!(
        oidc["authorization_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(oidc["request_parameter_supported"], true);
    assert_eq!(oidc["require_pushed_authorization_requests"], true);
    server.stop().await;
}
both_stores!(discovery_is_the_authorization_server_metadata_with_openid_connect);

async fn a_basic_client_gets_an_id_token_and_userinfo_with_its_bearer_token(db: TestDb) {
    let (server, tpp, _) = crate::support::xs2a::demo_tpp(db, "ais").await;
    let request_uri = tpp.par_scope("openid").await;
    let code = tpp
        .code(&server, &request_uri, "alice", "alice-demo-2026")
        .await;
    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "Bearer");
    let id_token = tokens.body["id_token"].as_str().unwrap();
    let claims = server_signed(&server, id_token, &tpp.key).await;
    let access = tokens.body["access_token"].as_str().unwrap();
    let info = Answer::of(
        tpp.http
            .get(format!("{}/oauth2/userinfo", tpp.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.body, json!({"sub": claims["sub"]}));
    // Revoked, the token is refused with RFC 6750's invalid_token.
    let revoked = tpp.form("/oauth2/revoke", &[("token", access)]).await;
    assert_eq!(revoked.status, StatusCode::OK);
    let after = tpp
        .http
        .get(format!("{}/oauth2/userinfo", tpp.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let challenge = after.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    server.stop().await;
}
both_stores!(a_basic_client_gets_an_id_token_and_userinfo_with_its_bearer_token);
