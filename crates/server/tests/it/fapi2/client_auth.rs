//! Client authentication: private_key_jwt only, assertions checked precisely,
//! and keys fetched from the TPP's `jwks_uri`.

use std::sync::Arc;

use super::{Client, Key, fapi_client, fapi_server, fapi2_app_args};
use crate::support::tpp_host::{Document, TppHost};
use crate::support::{TestServer, config_for};
use axum::http::header;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn fapi2_5_3_2_1_6_only_private_key_jwt_and_5_3_2_1_4_only_sender_constrained_tokens(
    db: TestDb,
) {
    let server = fapi_server(db, Arc::new(SystemClock)).await;
    let client = Client::register(&server, Arc::new(SystemClock));
    let meta: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
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

    // No secret was issued to a fapi2 client, and none authenticates it.
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
    assert_eq!(body["error"], "invalid_client", "{body}");

    // Without a DPoP proof: no token at all (no bearer tokens for fapi2).
    let bearer = client
        .authenticated(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            None,
        )
        .await;
    bearer.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    bearer.assert_error_describes("DPoP");

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
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
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
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
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
    replay.assert_error_describes("jti");
    server.stop().await;
}
both_stores!(
    fapi2_client_assertions_expired_replayed_long_lived_future_unsigned_or_without_sub_are_refused
);

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
    early.assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
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
    withdrawn.assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");

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
        .args(fapi2_app_args("Plain App"))
        .args(["--jwks-uri", &plain])
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
