//! FAPI 2.0 Security Profile items for `fapi2` clients, over HTTPS on both
//! stores, each test named by its section and item: private_key_jwt client
//! authentication (keys registered, or fetched from the TPP's `jwks_uri`), DPoP sender-constrained tokens at the token endpoint and at
//! the XS2A resource server, code binding to the DPoP key, no refresh rotation,
//! code lifetime, and the negative cases the OpenID conformance suite pokes;
//! OpenID Connect and FAPI 2.0 Message Signing (request objects, JARM).

mod authorization_requests;
mod client_auth;
mod message_signing;
mod mtls;
mod openid_connect;
mod tokens;

use std::sync::{Arc, Mutex};

use crate::support::xs2a::Answer;
use crate::support::{
    Browser, TestServer, authorize_link, config_for, fintechapi, param, redirect_params,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::Clock;
use fintechapi_domain::secret::pkce_s256;
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
        let mut args = fapi2_app_args(name);
        args.push("--json");
        args.extend_from_slice(keys_args);
        let out = fintechapi(&server.db, &args);
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            created["client_secret"].is_null(),
            "a fapi2 client is issued no secret: {created}"
        );
        Self {
            http: server.client(),
            issuer: server.base_url.clone(),
            id: created["client_id"].as_str().unwrap().to_owned(),
            // What an attacker would try: a secret was never issued.
            secret: "cs_never-issued".to_owned(),
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
        a.assert_oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce");
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

    /// PAR bound to this client's DPoP key, the PSU's approval, and the code.
    async fn code(&self, server: &TestServer, consent: &str) -> String {
        let par = self.par_with(consent, &[]).await;
        assert_eq!(par.status, StatusCode::CREATED, "{}", par.body);
        let mut psu = Browser::new(server);
        let screen = psu
            .authorise(
                &authorize_link(&self.id, par.body["request_uri"].as_str().unwrap()),
                "bob",
                "bob-demo-2026",
            )
            .await;
        let approved = psu.decide(&screen, "approve").await;
        param(
            &redirect_params(approved.location.as_deref().unwrap(), REDIRECT),
            "code",
        )
        .unwrap()
        .to_owned()
    }

    /// The code redeemed with a fresh DPoP proof: the tokens.
    async fn redeem(&self, code: &str) -> Value {
        let tokens = self
            .exchange(code, Some(self.proof("POST", "/oauth2/token", None)))
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
        tokens.body
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

/// The PSU bob opens the request `par` pushed, signs in and answers
/// `decision` on the screen it shows: the parameters the bank sends back.
async fn psu_answer(
    server: &TestServer,
    client: &Client,
    par: &Answer,
    decision: &str,
) -> Vec<(String, String)> {
    assert_eq!(par.status, StatusCode::CREATED, "{}", par.body);
    let link = authorize_link(&client.id, par.body["request_uri"].as_str().unwrap());
    let mut psu = Browser::new(server);
    let screen = psu.authorise(&link, "bob", "bob-demo-2026").await;
    let answer = psu.decide(&screen, decision).await;
    redirect_params(answer.location.as_deref().unwrap(), REDIRECT)
}

/// The claims of `jwt` once verified against the server's published keys
/// (`/oauth2/jwks`, the key its `kid` names) as the server's, for `audience`.
async fn server_signed(server: &TestServer, jwt: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid in the header");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(server.get_json("/oauth2/jwks").await).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).expect("a published key")).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&server.base_url]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap()
        .claims
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

/// `fintechapi admin app create` of Fapi TPP AG's FAPI 2.0 AIS app `name`,
/// to which the key arguments are still to be added.
fn fapi2_app_args(name: &str) -> Vec<&str> {
    vec![
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
    ]
}

/// A FAPI 2.0 server on `clock` and a registered client that holds a DPoP nonce.
async fn fapi_client(
    db: fintechapi_testkit::TestDb,
    clock: Arc<dyn Clock>,
) -> (TestServer, Client) {
    let server = fapi_server(db, clock.clone()).await;
    let client = Client::register(&server, clock);
    client.learn_nonce().await;
    (server, client)
}

async fn fapi_server(db: fintechapi_testkit::TestDb, clock: Arc<dyn Clock>) -> TestServer {
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    TestServer::start_with_clock(db, config, clock).await
}
