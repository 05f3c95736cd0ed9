//! FAPI 2.0 Message Signing: request objects at PAR (RFC 9101) signed by the
//! client's registered key and refused otherwise, and the authorization
//! response as a JWT signed by the server (JARM, `response_mode=jwt`).

use std::sync::Arc;

use super::{Client, Key, REDIRECT, VERIFIER, fapi_client, merge, psu_answer, server_signed};
use crate::support::xs2a::Answer;
use crate::support::{TestServer, param};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::SystemClock;
use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::{TestDb, both_stores};
use jsonwebtoken::{Algorithm, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

impl Client {
    /// The claims of a request object for `consent`; `changes` as in `assertion`.
    fn request_claims(&self, consent: &str, changes: Value) -> Value {
        let now = self.now();
        let mut claims = json!({
            "iss": self.id, "aud": self.issuer, "client_id": self.id,
            "nbf": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
            "response_type": "code", "redirect_uri": REDIRECT, "scope": format!("AIS:{consent}"),
            "state": "signed-state", "code_challenge": pkce_s256(VERIFIER),
            "code_challenge_method": "S256",
        });
        merge(&mut claims, changes);
        claims
    }

    /// `claims` signed by `key` as a request object.
    fn request_object(key: &Key, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("oauth-authz-req+jwt".into());
        header.kid = key.jwk["kid"].as_str().map(str::to_owned);
        key.sign(header, claims)
    }

    /// PAR carrying only `request` (and the client's identification).
    async fn par_signed(&self, request: &str, beside: &[(&str, &str)]) -> Answer {
        let mut form = vec![("client_id", self.id.as_str()), ("request", request)];
        form.extend_from_slice(beside);
        self.authenticated(
            "/oauth2/par",
            &form,
            Some(self.proof("POST", "/oauth2/par", None)),
        )
        .await
    }
}

async fn request_objects_signed_by_the_clients_key_carry_the_request_and_others_are_refused(
    db: TestDb,
) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;
    let now = client.now();
    let signed = |changes: Value| {
        Client::request_object(&client.signing, &client.request_claims(&consent, changes))
    };

    // Refused with invalid_request_object: unsigned (alg none), another key
    // under the registered kid, expired, another audience, nbf over an hour
    // old, a lifetime over an hour, another issuer.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"oauth-authz-req+jwt"}"#),
        URL_SAFE_NO_PAD.encode(client.request_claims(&consent, json!({})).to_string())
    );
    let impostor = Key::generate("client-key-1");
    let cases = [
        ("alg none", unsigned),
        (
            "wrong key",
            Client::request_object(&impostor, &client.request_claims(&consent, json!({}))),
        ),
        ("expired", signed(json!({"exp": now - 5, "nbf": now - 60}))),
        ("wrong aud", signed(json!({"aud": "https://other.example"}))),
        ("old nbf", signed(json!({"nbf": now - 3700}))),
        ("too long", signed(json!({"exp": now + 3700}))),
        ("no nbf", signed(json!({"nbf": null}))),
        ("wrong iss", signed(json!({"iss": "ck_someone-else"}))),
    ];
    for (what, request) in cases {
        let refused = client.par_signed(&request, &[]).await;
        assert_eq!(
            (refused.status, refused.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request_object")),
            "{what}: {}",
            refused.body
        );
    }
    // Request parameters beside the object are refused, not merged.
    let beside = client
        .par_signed(&signed(json!({})), &[("state", "from-the-form")])
        .await;
    beside.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request");

    // Signed by the registered key: its parameters are the request, its state returns.
    let par = client.par_signed(&signed(json!({})), &[]).await;
    let params = psu_answer(&server, &client, &par, "approve").await;
    assert_eq!(param(&params, "state"), Some("signed-state"));
    let tokens = client.redeem(param(&params, "code").unwrap()).await;
    assert_eq!(tokens["scope"], format!("AIS:{consent}"));
    server.stop().await;
}
both_stores!(request_objects_signed_by_the_clients_key_carry_the_request_and_others_are_refused);

/// Bob's `decision` on the request `par` pushed: the one `response` parameter
/// that comes back, verified as the server's for `client`.
async fn signed_response(
    server: &TestServer,
    client: &Client,
    par: &Answer,
    decision: &str,
) -> Value {
    let params = psu_answer(server, client, par, decision).await;
    assert_eq!(params.len(), 1, "only the response: {params:?}");
    server_signed(server, param(&params, "response").unwrap(), &client.id).await
}

async fn jarm_answers_with_one_jwt_signed_by_the_server(db: TestDb) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;

    // With a request object: response_mode, and authorization_details as JSON.
    let details = json!([{"type": "account_information", "consentId": consent}]);
    let claims = client.request_claims(
        &consent,
        json!({"response_mode": "jwt", "scope": "openid", "authorization_details": details, "nonce": "jarm-nonce"}),
    );
    let par = client
        .par_signed(&Client::request_object(&client.signing, &claims), &[])
        .await;
    let response = signed_response(&server, &client, &par, "approve").await;
    assert_eq!(response["state"], "signed-state");
    let exp = response["exp"].as_i64().unwrap();
    assert!(
        exp > client.now() && exp <= client.now() + 600,
        "{response}"
    );
    let tokens = client.redeem(response["code"].as_str().unwrap()).await;
    assert_eq!(tokens["authorization_details"], details);
    let id_token = tokens["id_token"].as_str().unwrap();
    let id_token = server_signed(&server, id_token, &client.id).await;
    assert_eq!(id_token["nonce"], "jarm-nonce");

    // A refusal comes back signed too; from the form, response_mode works alike.
    let consent = client.consent(&cc).await;
    let par = client
        .par_with(&consent, &[("response_mode", Some("jwt"))])
        .await;
    let response = signed_response(&server, &client, &par, "deny").await;
    assert_eq!(response["error"], "access_denied");
    assert_eq!(response["state"], "fapi-state");
    assert!(response.get("code").is_none());
    let unknown = client
        .par_with(&consent, &[("response_mode", Some("fragment.jwt"))])
        .await;
    unknown.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}
both_stores!(jarm_answers_with_one_jwt_signed_by_the_server);

async fn a_client_registered_for_signed_requests_pushes_nothing_else(db: TestDb) {
    let (server, _) = fapi_client(db, Arc::new(SystemClock)).await;
    let signing = Key::generate("strict-key-1");
    let jwks = server.db.data_dir().join("strict-jwks.json");
    std::fs::write(&jwks, json!({"keys": [signing.jwk]}).to_string()).unwrap();
    let strict = Client::register_with(
        &server,
        Arc::new(SystemClock),
        "Strict App",
        &[
            "--jwks",
            jwks.to_str().unwrap(),
            "--require-signed-request-object",
        ],
        signing,
    );
    strict.learn_nonce().await;
    let cc = strict.client_token().await;
    let consent = strict.consent(&cc).await;

    // The same request as plain parameters is refused, naming why.
    let plain = strict.par_with(&consent, &[]).await;
    plain.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(
        plain.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("require_signed_request_object")),
        "{}",
        plain.body
    );
    // Signed with its key, it is taken.
    let object =
        Client::request_object(&strict.signing, &strict.request_claims(&consent, json!({})));
    let par = strict.par_signed(&object, &[]).await;
    assert_eq!(par.status, StatusCode::CREATED, "{}", par.body);
    server.stop().await;
}
both_stores!(a_client_registered_for_signed_requests_pushes_nothing_else);
