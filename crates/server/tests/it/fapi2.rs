//! FAPI 2.0 Security Profile items for `fapi2` clients, over HTTPS on both
//! stores, each test named by its section and item: private_key_jwt client
//! authentication (keys registered, or fetched from the TPP's `jwks_uri`), DPoP sender-constrained tokens at the token endpoint and at
//! the XS2A resource server, code binding to the DPoP key, no refresh rotation,
//! code lifetime, and the negative cases the OpenID conformance suite pokes.

use std::sync::{Arc, Mutex};

use crate::support::tpp_host::{Document, TppHost};
use crate::support::xs2a::Answer;
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, authorize_link, config_for, fintechapi, log_in, open, param,
    redirect_params, second_factor,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::secret::pkce_s256;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "https://fapi.example/cb";
const VERIFIER: &str = "a-fapi2-pkce-code-verifier-of-fifty-characters-012";

/// An ES256 key pair: the private half signs, the public half is a JWK.
struct Key {
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn generate(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        });
        Self {
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    fn sign(&self, header: Header, claims: &Value) -> String {
        encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A `fapi2` client registered with `fintechapi admin app create --profile fapi2 --jwks …`.
struct Client {
    http: reqwest::Client,
    issuer: String,
    id: String,
    secret: String,
    signing: Key,
    dpop: Key,
    clock: Arc<dyn Clock>,
    nonce: Mutex<String>,
}

impl Client {
    fn register(server: &TestServer, clock: Arc<dyn Clock>) -> Self {
        let signing = Key::generate("client-key-1");
        let jwks = server.db.data_dir().join("client-jwks.json");
        std::fs::write(&jwks, json!({"keys": [signing.jwk]}).to_string()).unwrap();
        Self::register_with(
            server,
            clock,
            "Fapi App",
            &["--jwks", jwks.to_str().unwrap()],
            signing,
        )
    }

    /// A client named `name` whose keys are given by `keys_args`
    /// (`--jwks FILE` or `--jwks-uri URI`) and who signs with `signing`.
    fn register_with(
        server: &TestServer,
        clock: Arc<dyn Clock>,
        name: &str,
        keys_args: &[&str],
        signing: Key,
    ) -> Self {
        let mut args = vec![
            "admin",
            "app",
            "create",
            "--org",
            "Fapi TPP AG",
            "--name",
            name,
            "--redirect-uri",
            REDIRECT,
            "--profile",
            "fapi2",
            "--products",
            "ais",
            "--json",
        ];
        args.extend_from_slice(keys_args);
        let out = fintechapi(&server.db, &args);
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        Self {
            http: server.client(),
            issuer: server.base_url.clone(),
            id: created["client_id"].as_str().unwrap().to_owned(),
            secret: created["client_secret"].as_str().unwrap().to_owned(),
            signing,
            dpop: Key::generate("dpop-key"),
            clock,
            nonce: Mutex::new(String::new()),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// A client assertion; `changes` replace (or, with null, remove) claims.
    fn assertion(&self, changes: Value) -> String {
        self.assertion_by(&self.signing, changes)
    }

    /// A client assertion signed by `key`, naming its kid.
    fn assertion_by(&self, key: &Key, changes: Value) -> String {
        let mut claims = json!({"iss": self.id, "sub": self.id, "aud": self.issuer, "iat": self.now(), "exp": self.now() + 60, "jti": uuid::Uuid::new_v4().to_string()});
        merge(&mut claims, changes);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = key.jwk["kid"].as_str().map(str::to_owned);
        key.sign(header, &claims)
    }

    /// A DPoP proof by `key` for `method` on `path`, with the last nonce seen.
    fn proof_by(
        &self,
        key: &Key,
        method: &str,
        path: &str,
        token: Option<&str>,
        changes: Value,
    ) -> String {
        let mut claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": format!("{}{path}", self.issuer), "iat": self.now(), "nonce": *self.nonce.lock().unwrap()});
        if let Some(token) = token {
            claims["ath"] = json!(pkce_s256(token));
        }
        merge(&mut claims, changes);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
        key.sign(header, &claims)
    }

    fn proof(&self, method: &str, path: &str, token: Option<&str>) -> String {
        self.proof_by(&self.dpop, method, path, token, json!({}))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], dpop: Option<String>) -> Answer {
        let mut req = self.http.post(format!("{}{path}", self.issuer)).form(form);
        if let Some(proof) = dpop {
            req = req.header("dpop", proof);
        }
        let answer = Answer::of(req.send().await.unwrap()).await;
        if let Some(nonce) = answer.headers.get("dpop-nonce") {
            *self.nonce.lock().unwrap() = nonce.to_str().unwrap().to_owned();
        }
        answer
    }

    /// A form post authenticated with a fresh client assertion.
    async fn authenticated(
        &self,
        path: &str,
        form: &[(&str, &str)],
        dpop: Option<String>,
    ) -> Answer {
        let assertion = self.assertion(json!({}));
        let mut full = vec![
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        full.extend_from_slice(form);
        self.post(path, &full, dpop).await
    }

    /// A client-credentials request authenticated with `assertion`.
    async fn with_assertion(&self, assertion: &str) -> Answer {
        let form = [
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ];
        self.post(
            "/oauth2/token",
            &form,
            Some(self.proof("POST", "/oauth2/token", None)),
        )
        .await
    }

    /// Learns the server's DPoP nonce (a proof without one is refused with it).
    async fn learn_nonce(&self) {
        let proof = self.proof_by(
            &self.dpop,
            "POST",
            "/oauth2/token",
            None,
            json!({"nonce": null}),
        );
        let a = self
            .authenticated(
                "/oauth2/token",
                &[("grant_type", "client_credentials")],
                Some(proof),
            )
            .await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("use_dpop_nonce")),
            "{}",
            a.body
        );
        assert!(a.headers.contains_key("dpop-nonce"));
    }

    async fn client_token(&self) -> String {
        let a = self
            .authenticated(
                "/oauth2/token",
                &[("grant_type", "client_credentials")],
                Some(self.proof("POST", "/oauth2/token", None)),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["token_type"], "DPoP");
        a.body["access_token"].as_str().unwrap().to_owned()
    }

    async fn xs2a(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        proof: Option<String>,
        extra: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.issuer))
            .header("authorization", format!("DPoP {token}"))
            .header("x-request-id", uuid::Uuid::new_v4().to_string());
        if let Some(proof) = proof {
            req = req.header("dpop", proof);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Answer::of(req.send().await.unwrap()).await
    }

    async fn consent(&self, token: &str) -> String {
        let proof = self.proof("POST", "/v1/consents", Some(token));
        let body = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
        let a = self
            .xs2a(
                reqwest::Method::POST,
                "/v1/consents",
                token,
                Some(proof),
                &[],
                Some(body),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["consentId"].as_str().unwrap().to_owned()
    }

    /// PAR bound to this client's DPoP key, the PSU's approval, and the code.
    async fn code(&self, server: &TestServer, consent: &str) -> String {
        let scope = format!("AIS:{consent}");
        let challenge = pkce_s256(VERIFIER);
        let par = self
            .authenticated(
                "/oauth2/par",
                &[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", &scope),
                    ("state", "fapi-state"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
                Some(self.proof("POST", "/oauth2/par", None)),
            )
            .await;
        assert_eq!(par.status, StatusCode::CREATED, "{}", par.body);
        let mut psu = Browser::new(server);
        let screen = psu
            .authorise(
                &authorize_link(&self.id, par.body["request_uri"].as_str().unwrap()),
                "bob",
                "bob-demo-2026",
            )
            .await;
        let approved = psu
            .post(
                "/bank/consent",
                &[("decision", "approve"), ("csrf", &screen.csrf())],
            )
            .await;
        param(
            &redirect_params(approved.location.as_deref().unwrap(), REDIRECT),
            "code",
        )
        .unwrap()
        .to_owned()
    }

    async fn exchange(&self, code: &str, proof: Option<String>) -> Answer {
        self.authenticated(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            proof,
        )
        .await
    }
}

fn merge(target: &mut Value, changes: Value) {
    if let Value::Object(changes) = changes {
        for (k, v) in changes {
            if v.is_null() {
                target.as_object_mut().unwrap().remove(&k);
            } else {
                target[k] = v;
            }
        }
    }
}

async fn fapi_server(db: fintechapi_testkit::TestDb, clock: Arc<dyn Clock>) -> TestServer {
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    TestServer::start_with_clock(db, config, clock).await
}

async fn fapi2_5_3_2_1_6_only_private_key_jwt_and_5_3_2_1_4_only_sender_constrained_tokens(
    db: TestDb,
) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    let meta: Value = server
        .client()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "EdDSA"])
    );
    assert!(
        meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );

    // The consumer secret exists but a fapi2 client may not use it.
    let resp = server
        .client()
        .post(server.url("/oauth2/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_secret_basic"),
        "{body}"
    );

    // Without a DPoP proof: no token at all (no bearer tokens for fapi2).
    let bearer = client
        .authenticated(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            None,
        )
        .await;
    assert_eq!(
        (bearer.status, bearer.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(
        bearer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("DPoP")
    );

    // 5.3.2.1-10: server nonces. A proof without one is refused with use_dpop_nonce.
    client.learn_nonce().await;
    let token = client.client_token().await;
    let introspected = client
        .authenticated("/oauth2/introspect", &[("token", &token)], None)
        .await;
    assert_eq!(introspected.body["active"], true, "{}", introspected.body);
    assert_eq!(introspected.body["token_type"], "DPoP");
    assert!(introspected.body["cnf"]["jkt"].as_str().unwrap().len() == 43);
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_6_only_private_key_jwt_and_5_3_2_1_4_only_sender_constrained_tokens);

async fn fapi2_5_3_2_1_8_client_assertion_aud_is_the_issuer_string_only(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
    let issuer = server.base_url.clone();
    for aud in [
        json!(format!("{issuer}/oauth2/token")),
        json!(format!("{issuer}/oauth2/par")),
        json!([issuer.clone()]),
    ] {
        let a = client
            .with_assertion(&client.assertion(json!({"aud": aud})))
            .await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "aud {aud}: {}",
            a.body
        );
    }
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_8_client_assertion_aud_is_the_issuer_string_only);

async fn fapi2_client_assertions_expired_replayed_long_lived_future_unsigned_or_without_sub_are_refused(
    db: TestDb,
) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
    let now = client.now();
    let refused = [
        ("expired 5 minutes ago", client.assertion(json!({"iat": now - 360, "exp": now - 300}))),
        ("lives an hour", client.assertion(json!({"exp": now + 3600}))),
        ("iat 60 s ahead", client.assertion(json!({"iat": now + 60}))),
        ("no sub", client.assertion(json!({"sub": null}))),
        ("no jti", client.assertion(json!({"jti": null}))),
        ("signed by another key", {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("client-key-1".into());
            Key::generate("x").sign(header, &json!({"iss": client.id, "sub": client.id, "aud": client.issuer, "exp": now + 60, "jti": "j"}))
        }),
        ("HS256 with the consumer secret", encode(&Header::new(Algorithm::HS256), &json!({"iss": client.id, "sub": client.id, "aud": client.issuer, "exp": now + 60, "jti": "h"}), &EncodingKey::from_secret(client.secret.as_bytes())).unwrap()),
    ];
    for (what, assertion) in refused {
        let a = client.with_assertion(&assertion).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{what}: {}",
            a.body
        );
    }
    // 5.3.2.1-13: 8 s of clock skew are accepted; a jti works once.
    let skewed = client.assertion(json!({"iat": now + 8}));
    assert_eq!(client.with_assertion(&skewed).await.status, StatusCode::OK);
    let replay = client.with_assertion(&skewed).await;
    assert_eq!(replay.body["error"], "invalid_client");
    assert!(
        replay.body["error_description"]
            .as_str()
            .unwrap()
            .contains("jti")
    );
    server.stop().await;
}
both_stores!(
    fapi2_client_assertions_expired_replayed_long_lived_future_unsigned_or_without_sub_are_refused
);

async fn dpop_proofs_with_wrong_htm_htu_stale_iat_replayed_jti_or_no_nonce_are_refused(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
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
    assert!(
        replay.body["error_description"]
            .as_str()
            .unwrap()
            .contains("jti")
    );
    server.stop().await;
}
both_stores!(dpop_proofs_with_wrong_htm_htu_stale_iat_replayed_jti_or_no_nonce_are_refused);

async fn fapi2_5_3_2_1_12_code_bound_to_the_dpop_key_5_3_2_1_9_no_refresh_rotation_and_5_3_4_binding_checked_on_every_call(
    db: TestDb,
) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
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
    assert_eq!(
        (stolen.status, stolen.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        stolen.body
    );

    let consent = client.consent(&cc).await;
    let code = client.code(&server, &consent).await;
    let tokens = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "DPoP");
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let headers = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
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
    let server = fapi_server(db, Arc::new(clock.clone())).await;
    let client = Client::register(&server, Arc::new(clock.clone()));
    client.learn_nonce().await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;
    let code = client.code(&server, &consent).await;
    clock.advance(time::Duration::seconds(61));
    let late = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    assert_eq!(
        (late.status, late.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        late.body
    );
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_11_code_lifetime_at_most_60s);

impl Client {
    /// A PAR for `consent` with `changes` applied to the standard parameters
    /// (a None value drops the parameter).
    async fn par_with(&self, consent: &str, changes: &[(&str, Option<&str>)]) -> Answer {
        let scope = format!("AIS:{consent}");
        let challenge = pkce_s256(VERIFIER);
        let mut form: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", &scope),
            ("state", "fapi-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in changes {
            form.retain(|(n, _)| n != name);
            if let Some(v) = value {
                form.push((name, v));
            }
        }
        self.authenticated(
            "/oauth2/par",
            &form,
            Some(self.proof("POST", "/oauth2/par", None)),
        )
        .await
    }
}

async fn fapi2_5_3_2_2_authorization_requests_par_only_code_only_pkce_s256_registered_https_redirects(
    db: TestDb,
) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;
    let refused = |a: &Answer, error: &str, what: &str| {
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{what}: {}",
            a.body
        );
    };

    // 5.3.2.2-1: response_type code only ("code id_token", "token" refused).
    for rt in ["code id_token", "token"] {
        refused(
            &client
                .par_with(&consent, &[("response_type", Some(rt))])
                .await,
            "invalid_request",
            rt,
        );
    }
    // 5.3.2.2-4: no PAR without client authentication.
    let anonymous = client
        .post(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT),
                ("scope", "ais"),
            ],
            None,
        )
        .await;
    assert_eq!(
        (anonymous.status, anonymous.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // 5.3.2.2-5: PKCE with S256 only; the verifier is required and must match.
    refused(
        &client.par_with(&consent, &[("code_challenge", None)]).await,
        "invalid_request",
        "no PKCE",
    );
    refused(
        &client
            .par_with(&consent, &[("code_challenge_method", Some("plain"))])
            .await,
        "invalid_request",
        "plain PKCE",
    );
    // 5.3.2.2-6 and -8: redirect_uri required, registered, and never plain http.
    refused(
        &client.par_with(&consent, &[("redirect_uri", None)]).await,
        "invalid_request",
        "no redirect_uri",
    );
    refused(
        &client
            .par_with(
                &consent,
                &[("redirect_uri", Some("http://fapi.example/cb"))],
            )
            .await,
        "invalid_request",
        "http redirect_uri",
    );
    // request_uri is not accepted inside PAR.
    refused(
        &client
            .par_with(
                &consent,
                &[("request_uri", Some("urn:ietf:params:oauth:request_uri:x"))],
            )
            .await,
        "invalid_request",
        "request_uri in PAR",
    );
    // 5.3.2.2-12: request_uri lives less than 600 s.
    let par = client.par_with(&consent, &[]).await;
    assert_eq!(par.status, StatusCode::CREATED);
    assert!(par.body["expires_in"].as_i64().unwrap() < 600);

    // 5.3.2.2-3: an authorization request not sent via PAR is refused (a page, no redirect).
    let mut browser = Browser::new(&server);
    let direct = browser
        .get(&format!(
            "/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}\
             &scope=AIS:{consent}&code_challenge=x&code_challenge_method=S256",
            client.id,
            crate::support::urlencode(REDIRECT)
        ))
        .await;
    assert_eq!(direct.status, StatusCode::BAD_REQUEST);
    assert!(direct.location.is_none());

    // 5.3.2.2-7, -10, -11, -13: the PSU sees who asks; the answer is a 303 carrying iss.
    let request_uri = par.body["request_uri"].as_str().unwrap().to_owned();
    open(&mut browser, &client.id, &request_uri).await;
    let login = browser.get("/bank/login").await;
    assert!(login.body.contains("Fapi App") && login.body.contains("Fapi TPP AG"));
    log_in(&mut browser, "bob", "bob-demo-2026").await;
    second_factor(&mut browser, SANDBOX_CODE).await;
    let screen = browser.get("/bank/consent").await;
    assert!(
        screen.body.contains("Fapi TPP AG") && screen.body.contains("AISP"),
        "client identity and scope shown"
    );
    let answer = browser
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "303, never 307");
    let params = redirect_params(answer.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "iss"), Some(server.base_url.as_str()));
    let code = param(&params, "code").unwrap().to_owned();

    // 5.3.2.2-5: a wrong verifier is refused without spending the code (only a
    // valid redemption uses it); 5.3.2.2-9: a code once used is refused.
    let wrong = client
        .authenticated(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-wrong-verifier-that-is-long-enough-to-be-well-formed-000",
                ),
            ],
            Some(client.proof("POST", "/oauth2/token", None)),
        )
        .await;
    refused(&wrong, "invalid_grant", "wrong verifier");
    let redeemed = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    let reused = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    refused(&reused, "invalid_grant", "reused code");
    server.stop().await;
}
both_stores!(
    fapi2_5_3_2_2_authorization_requests_par_only_code_only_pkce_s256_registered_https_redirects
);

async fn fapi2_5_3_2_1_2_resource_owner_password_grant_is_refused(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    client.learn_nonce().await;
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
    assert_eq!(
        (ropc.status, ropc.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_2_resource_owner_password_grant_is_refused);

/// An HTTPS client presenting a client certificate issued by the development CA.
fn mtls_client(server: &TestServer, common_name: &str) -> (reqwest::Client, Vec<u8>) {
    let pki = fintechapi_server::tls::DevPki::in_data_dir(server.db.data_dir());
    let (cert, key) = pki
        .issue_client_certificate(common_name, SystemClock.now())
        .unwrap();
    let der = rustls_pem_der(&cert);
    let identity = reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap();
    (
        fintechapi_testkit::https_client(&server.ca)
            .identity(identity)
            .build()
            .unwrap(),
        der,
    )
}

fn rustls_pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

async fn fapi2_5_3_2_1_6_tls_client_auth_and_5_3_2_1_4_certificate_bound_tokens(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let out = fintechapi(
        &server.db,
        &[
            "admin",
            "app",
            "create",
            "--org",
            "Mtls TPP AG",
            "--name",
            "Mtls App",
            "--redirect-uri",
            REDIRECT,
            "--profile",
            "fapi2",
            "--tls-subject-dn",
            "CN=mtls.tpp.example, O=FinTechAPI development",
            "--products",
            "ais",
            "--json",
        ],
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let (mtls, der) = mtls_client(&server, "mtls.tpp.example");
    let token_url = server.url("/oauth2/token");

    // tls_client_auth: the client_id and the certificate with the registered subject DN.
    let Answer {
        status,
        body: issued,
        ..
    } = Answer::of(
        mtls.post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let Answer {
        body: introspected, ..
    } = Answer::of(
        mtls.post(server.url("/oauth2/introspect"))
            .form(&[("client_id", client_id.as_str()), ("token", token.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let thumbprint = URL_SAFE_NO_PAD.encode(fintechapi_domain::secret::sha256(&der));
    assert_eq!(
        introspected["cnf"]["x5t#S256"], thumbprint,
        "{introspected}"
    );

    // Without the certificate, or with another subject: no client.
    let plain = server.client();
    let Answer { status, body, .. } = Answer::of(
        plain
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (other, _) = mtls_client(&server, "intruder.example");
    let Answer { status, body, .. } = Answer::of(
        other
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // The resource server accepts the token only over a connection with that certificate.
    let consent = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
    let with_cert = mtls
        .post(server.url("/v1/consents"))
        .bearer_auth(&token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .json(&consent)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cert.status(), StatusCode::CREATED);
    for (what, client) in [("no certificate", plain), ("another certificate", other)] {
        let Answer { status, body, .. } = Answer::of(
            client
                .post(server.url("/v1/consents"))
                .bearer_auth(&token)
                .header("x-request-id", uuid::Uuid::new_v4().to_string())
                .json(&consent)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["tppMessages"][0]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("TOKEN_INVALID")),
            "{what}"
        );
    }
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_6_tls_client_auth_and_5_3_2_1_4_certificate_bound_tokens);

async fn signing_keys_are_published_before_use_and_sign_introspection_answers(db: TestDb) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let meta: Value = server
        .client()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["jwks_uri"], format!("{}/oauth2/jwks", server.base_url));
    let jwks: Value = server
        .client()
        .get(server.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

fn jwks_of(keys: &[&Key]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// A server that trusts the TPP host's CA for `jwks_uri` fetches and, the
/// host being on this machine, fetches from loopback addresses.
async fn jwks_uri_server(
    db: fintechapi_testkit::TestDb,
    clock: Arc<dyn Clock>,
    host: &TppHost,
) -> TestServer {
    let ca = db.data_dir().join("tpp-ca.pem");
    std::fs::write(&ca, &host.ca_pem).unwrap();
    let mut config = config_for(&db);
    config.oauth.client_jwks_ca_file = Some(ca);
    config.oauth.client_jwks_allow_private_networks = true;
    TestServer::start_with_clock(db, config, clock).await
}

async fn fapi2_5_4_private_key_jwt_with_keys_from_the_jwks_uri_follows_the_tpps_key_rotation(
    db: TestDb,
) {
    let host = TppHost::start().await;
    let old_key = Key::generate("client-key-1");
    host.serve("/jwks.json", Document::json(jwks_of(&[&old_key])));
    let clock = ManualClock::new(SystemClock.now());
    let server = jwks_uri_server(db, Arc::new(clock.clone()), &host).await;
    let uri = format!("{}/jwks.json", host.https);
    let client = Client::register_with(
        &server,
        Arc::new(clock.clone()),
        "Jwks Uri App",
        &["--jwks-uri", &uri],
        old_key,
    );

    // The first assertion fetches the set; the next ones are verified from the cache.
    client.learn_nonce().await;
    client.client_token().await;
    assert_eq!(host.hits("/jwks.json"), 1);

    // The TPP rotates: its set now holds only a new key, cacheable for a minute.
    let new_key = Key::generate("client-key-2");
    host.serve(
        "/jwks.json",
        Document::json(jwks_of(&[&new_key])).with(header::CACHE_CONTROL, "max-age=60"),
    );
    // Within 30 s of the last fetch an unknown kid does not fetch again.
    let early = client
        .with_assertion(&client.assertion_by(&new_key, json!({})))
        .await;
    assert_eq!(
        (early.status, early.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{}",
        early.body
    );
    assert_eq!(
        early.body["error_description"],
        "the client's JWKS has no key with kid \"client-key-2\""
    );
    assert_eq!(host.hits("/jwks.json"), 1);
    clock.advance(time::Duration::seconds(31));
    let rotated = client
        .with_assertion(&client.assertion_by(&new_key, json!({})))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.body["token_type"], "DPoP");
    assert_eq!(host.hits("/jwks.json"), 2);
    // The withdrawn key authenticates no more.
    let withdrawn = client.with_assertion(&client.assertion(json!({}))).await;
    assert_eq!(
        (withdrawn.status, withdrawn.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{}",
        withdrawn.body
    );

    // max-age=60: a minute later the set is fetched again; while the TPP's
    // server fails, the set fetched last keeps serving.
    host.serve(
        "/jwks.json",
        Document::status(StatusCode::SERVICE_UNAVAILABLE),
    );
    clock.advance(time::Duration::seconds(61));
    let outage = client
        .with_assertion(&client.assertion_by(&new_key, json!({})))
        .await;
    assert_eq!(outage.status, StatusCode::OK, "{}", outage.body);
    assert_eq!(host.hits("/jwks.json"), 3);
    server.stop().await;
}
both_stores!(fapi2_5_4_private_key_jwt_with_keys_from_the_jwks_uri_follows_the_tpps_key_rotation);

async fn fapi2_5_4_a_jwks_uri_over_plain_http_too_large_with_duplicate_kids_or_otherwise_unfit_is_refused(
    db: TestDb,
) {
    let host = TppHost::start().await;
    let server = jwks_uri_server(db, Arc::new(SystemClock), &host).await;

    // Registration takes https only.
    let plain = format!("{}/plain.json", host.http);
    let out = crate::support::fintechapi_command()
        .args([
            "admin",
            "app",
            "create",
            "--org",
            "Fapi TPP AG",
            "--name",
            "Plain App",
            "--redirect-uri",
            REDIRECT,
            "--profile",
            "fapi2",
            "--products",
            "ais",
            "--jwks-uri",
            &plain,
        ])
        .args(crate::support::store_args(&server.db))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("jwks_uri: must use https"),
        "{stderr}"
    );

    // Each client's set is refused when its token request fetches it.
    let key = Key::generate("client-key-1");
    let big = json!({"keys": [key.jwk], "padding": "x".repeat(70 * 1024)});
    let twice = json!({"keys": [key.jwk, Key::generate("client-key-1").jwk]});
    let private = {
        let mut jwk = key.jwk.clone();
        jwk["d"] = json!("c2VjcmV0");
        json!({"keys": [jwk]})
    };
    let https = |path: &str| format!("{}{path}", host.https);
    let cases = [
        (
            "/big.json",
            Document::json(big),
            format!(
                "the client's JWKS at {} is larger than 65536 bytes",
                https("/big.json")
            ),
        ),
        (
            "/twice.json",
            Document::json(twice),
            format!(
                "the client's JWKS at {} holds the kid \"client-key-1\" more than once; every key needs its own kid",
                https("/twice.json")
            ),
        ),
        (
            "/private.json",
            Document::json(private),
            format!(
                "the client's JWKS at {} must hold public keys only; never register a private key",
                https("/private.json")
            ),
        ),
        (
            "/page.json",
            Document {
                headers: vec![(header::CONTENT_TYPE, "text/html".into())],
                ..Document::json(jwks_of(&[&key]))
            },
            format!(
                "the client's JWKS at {} has Content-Type \"text/html\"; expected application/json or application/jwk-set+json",
                https("/page.json")
            ),
        ),
        (
            "/moved.json",
            Document::status(StatusCode::FOUND).with(header::LOCATION, "/jwks.json"),
            format!(
                "the client's jwks_uri {} answered with a redirect (HTTP 302), which is not followed",
                https("/moved.json")
            ),
        ),
    ];
    for (n, (path, document, description)) in cases.into_iter().enumerate() {
        host.serve(path, document);
        let client = Client::register_with(
            &server,
            Arc::new(SystemClock),
            &format!("Unfit App {n}"),
            &["--jwks-uri", &https(path)],
            Key::generate("client-key-1"),
        );
        let a = client.with_assertion(&client.assertion(json!({}))).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{path}: {}",
            a.body
        );
        assert_eq!(a.body["error_description"], description.as_str(), "{path}");
        assert_eq!(host.hits(path), 1, "{path}");
    }

    // A certificate from a CA the server does not trust: no keys.
    let signing = Key::generate("client-key-1");
    host.serve("/jwks.json", Document::json(jwks_of(&[&signing])));
    let untrusted = format!("{}/jwks.json", host.untrusted_https);
    let client = Client::register_with(
        &server,
        Arc::new(SystemClock),
        "Untrusted App",
        &["--jwks-uri", &untrusted],
        signing,
    );
    let a = client.with_assertion(&client.assertion(json!({}))).await;
    assert_eq!(a.body["error"], "invalid_client", "{}", a.body);
    let description = a.body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("cannot fetch the client's JWKS from {untrusted}"))
            && description.contains("certificate"),
        "{description}"
    );
    assert_eq!(host.hits("/jwks.json"), 0);

    // A plain-http URI stored before this check is refused without a request,
    // though the host serves a good set there.
    let signing = Key::generate("client-key-1");
    host.serve("/plain.json", Document::json(jwks_of(&[&signing])));
    let client = Client::register_with(
        &server,
        Arc::new(SystemClock),
        "Plain Later App",
        &["--jwks-uri", &https("/plain.json")],
        signing,
    );
    let changed = server
        .db
        .raw_strings(&format!(
            "UPDATE applications SET jwks_uri = '{plain}' \
             WHERE name = 'Plain Later App' RETURNING jwks_uri"
        ))
        .await;
    assert_eq!(changed, vec![plain.clone()]);
    let a = client.with_assertion(&client.assertion(json!({}))).await;
    assert_eq!(
        (
            a.body["error"].as_str(),
            a.body["error_description"].as_str()
        ),
        (
            Some("invalid_client"),
            Some("the client's jwks_uri must use https")
        ),
        "{}",
        a.body
    );
    assert_eq!(host.hits("/plain.json"), 0);
    server.stop().await;
}
both_stores!(fapi2_5_4_a_jwks_uri_over_plain_http_too_large_with_duplicate_kids_or_otherwise_unfit_is_refused);
