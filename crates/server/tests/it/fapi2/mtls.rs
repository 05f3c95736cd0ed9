//! Mutual TLS client authentication and certificate-bound tokens.

use std::sync::Arc;

use super::{REDIRECT, fapi_server};
use crate::support::xs2a::Answer;
use crate::support::{TestServer, fintechapi};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// A client-credentials grant for `client_id` (tls_client_auth) over `http`'s connection.
async fn client_credentials(http: &reqwest::Client, token_url: &str, client_id: &str) -> Answer {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
    ];
    Answer::of(http.post(token_url).form(&form).send().await.unwrap()).await
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
    } = client_credentials(&mtls, &token_url, &client_id).await;
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
    client_credentials(&plain, &token_url, &client_id)
        .await
        .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let (other, _) = mtls_client(&server, "intruder.example");
    client_credentials(&other, &token_url, &client_id)
        .await
        .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");

    // The resource server accepts the token only over a connection with that certificate.
    let consent = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
    // A consent asked for with the token over `http`'s connection.
    let ask = |http: &reqwest::Client| {
        http.post(server.url("/v1/consents"))
            .bearer_auth(&token)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .json(&consent)
            .send()
    };
    let with_cert = ask(&mtls).await.unwrap();
    assert_eq!(with_cert.status(), StatusCode::CREATED);
    for (what, client) in [("no certificate", plain), ("another certificate", other)] {
        let Answer { status, body, .. } = Answer::of(ask(&client).await.unwrap()).await;
        assert_eq!(
            (status, body["tppMessages"][0]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("TOKEN_INVALID")),
            "{what}"
        );
    }
    server.stop().await;
}
both_stores!(fapi2_5_3_2_1_6_tls_client_auth_and_5_3_2_1_4_certificate_bound_tokens);
