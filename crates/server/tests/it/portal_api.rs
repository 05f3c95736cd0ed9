//! The portal's JSON API over HTTPS, on both stores, and its OpenAPI document.

use std::sync::Arc;

use crate::support::{
    Api, Browser, PASSWORD, TestServer, assert_alices_accounts, code_blocks, config_for, escaped,
    param, redirect_params, run_block, run_program, run_shell, token_from_mail,
};
use fintechapi_domain::SystemClock;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Asserts that a 400's `errors` name each of `fields`.
#[track_caller]
fn assert_fields_refused(body: &Value, fields: &[&str]) {
    let named: Vec<&str> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors: {body}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in fields {
        assert!(named.contains(field), "{field} is not named: {body}");
    }
}

async fn the_json_api_covers_sign_up_to_credentials_with_field_level_errors(db: TestDb) {
    let config = config_for(&db);
    let server = TestServer::start_with(db, config.clone()).await;
    let mut api = Api::new(&server);
    use reqwest::Method as M;

    let (status, weak) = api
        .call(
            M::POST,
            "/signup",
            Some(json!({"email": "bad", "password": "short", "display_name": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_fields_refused(&weak, &["email", "password", "display_name"]);
    let signup =
        json!({"email": "api@tpp.example", "password": PASSWORD, "display_name": "Api Dev"});
    let (status, _) = api.call(M::POST, "/signup", Some(signup)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = token_from_mail(&server, "api@tpp.example").await;
    assert_eq!(
        api.call(M::POST, "/verify", Some(json!({"token": token})))
            .await
            .0,
        StatusCode::OK
    );

    let (status, unauth) = api.call(M::GET, "/organisations", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(unauth["error"].is_string());
    let (status, session) = api.log_in("api@tpp.example", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED);
    api.token = Some(session["token"].as_str().unwrap().to_owned());

    let (status, malformed) = api
        .call(M::POST, "/organisations", Some(json!({"legal_name": 5})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed["errors"][0]["field"], "body");
    let org = json!({"legal_name": "Api TPP GmbH", "country": "DE", "roles": ["AISP"], "competent_authority": "BaFin", "authorisation_number": "123"});
    let (status, org) = api.call(M::POST, "/organisations", Some(org)).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();

    let bad_app = json!({"name": "", "redirect_uris": ["http://app.example/cb"], "security_profile": "basic", "environment": "production", "products": ["pis"]});
    let applications = format!("/organisations/{org_id}/applications");
    let (status, errors) = api.call(M::POST, &applications, Some(bad_app)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_fields_refused(&errors, &["name", "redirect_uris", "products"]);
    let (_, list) = api.call(M::GET, &applications, None).await;
    assert_eq!(list["applications"], json!([]), "nothing half-created");

    // A fapi2 application's JWK Set goes in as JSON (a string holding it works too).
    let key_set = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "use": "sig", "kid": "1"}]});
    for (name, jwks) in [
        ("Fapi Object", key_set.clone()),
        ("Fapi String", json!(key_set.to_string())),
    ] {
        let fapi = json!({"name": name, "redirect_uris": ["https://app.example/cb"], "security_profile": "fapi2", "environment": "sandbox", "products": ["ais"], "jwks": jwks});
        let (status, created) = api.call(M::POST, &applications, Some(fapi)).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
    }
    let not_a_set = json!({"name": "Fapi Number", "redirect_uris": ["https://app.example/cb"], "security_profile": "fapi2", "environment": "sandbox", "products": ["ais"], "jwks": 7});
    let (status, refused) = api.call(M::POST, &applications, Some(not_a_set)).await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("jwks")),
        "{refused}"
    );

    let good = json!({"name": "Api App", "redirect_uris": ["https://app.example/cb"], "security_profile": "basic", "environment": "sandbox", "products": ["ais"]});
    let (status, app) = api.call(M::POST, &applications, Some(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let (key, secret) = (
        app["credentials"]["client_id"].as_str().unwrap(),
        app["credentials"]["client_secret"].as_str().unwrap(),
    );
    let registry =
        fintechapi_server::app::registry(&config, server.db.store().await, Arc::new(SystemClock))
            .unwrap();
    assert!(registry.authenticate(key, secret).await.unwrap().is_some());

    let app_id = app["id"].as_str().unwrap().to_owned();
    let (_, detail) = api
        .call(M::GET, &format!("/applications/{app_id}"), None)
        .await;
    assert_eq!(detail["subscriptions"][0]["status"], "approved");
    assert!(
        !detail.to_string().contains(secret),
        "the secret is never shown again"
    );
    let (status, _) = api
        .call(
            M::POST,
            &format!("/applications/{app_id}/subscriptions"),
            Some(json!({"product": "pis"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the organisation lacks PISP"
    );

    let (status, rotated) = api
        .call(
            M::POST,
            &format!("/applications/{app_id}/credentials"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);
    let (_, detail) = api
        .call(M::GET, &format!("/applications/{app_id}"), None)
        .await;
    let first = detail["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == key)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api.call(
            M::DELETE,
            &format!("/applications/{app_id}/credentials/{first}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert!(
        registry.authenticate(key, secret).await.unwrap().is_none(),
        "revoked at once"
    );

    // Another developer sees none of it.
    let mut other = Api::new(&server);
    let signup =
        json!({"email": "other@tpp.example", "password": PASSWORD, "display_name": "Other"});
    other.call(M::POST, "/signup", Some(signup)).await;
    let token = token_from_mail(&server, "other@tpp.example").await;
    other
        .call(M::POST, "/verify", Some(json!({"token": token})))
        .await;
    let (_, s) = other.log_in("other@tpp.example", PASSWORD).await;
    other.token = Some(s["token"].as_str().unwrap().to_owned());
    assert_eq!(
        other
            .call(M::GET, &format!("/applications/{app_id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .call(
                M::POST,
                &format!("/applications/{app_id}/credentials"),
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Logging out ends the token.
    assert_eq!(
        api.call(M::DELETE, "/sessions/current", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(M::GET, "/organisations", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}
both_stores!(the_json_api_covers_sign_up_to_credentials_with_field_level_errors);

async fn every_documented_operation_is_served_and_answers_json(db: TestDb) {
    let server = TestServer::start(db).await;
    let doc: Value = server.get_json("/portal/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 14);
    let api = Api::new(&server);
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{org}", "00000000-0000-4000-8000-000000000000")
                .replace("{app}", "00000000-0000-4000-8000-000000000000")
                .replace("{credential}", "00000000-0000-4000-8000-000000000000");
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let (status, body) = api.call(method.clone(), &concrete, Some(json!({}))).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(status.is_client_error(), "{method} {path}: {status}");
            assert!(
                body.is_object(),
                "{method} {path} answered without a JSON body"
            );
            let documented = item[method.as_str().to_lowercase()]["responses"]
                .as_object()
                .unwrap();
            assert!(
                documented.contains_key(status.as_str()),
                "{method} {path} answered {status}, which the document does not list"
            );
        }
    }
    let unknown = server.get("/portal/api/v1/nope").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["content-type"], "application/json");
    server.stop().await;
}
both_stores!(every_documented_operation_is_served_and_answers_json);

/// Step 6 of the guide as written: the consent, PAR with PKCE, the
/// customer's approval at the bank (the browser's part), the code exchange
/// and the first account read.
async fn follow_the_ais_journey(
    server: &TestServer,
    blocks: &[String],
    client_vars: &[(&str, &str)],
) {
    let pkce = run_shell(
        &format!(
            "{}\nprintf '%s %s' \"$VERIFIER\" \"$CHALLENGE\"",
            blocks[10]
        ),
        &[],
    );
    let (verifier, challenge) = pkce.split_once(' ').unwrap();
    assert_eq!(challenge, fintechapi_domain::secret::pkce_s256(verifier));
    let issued = run_block(&blocks[7], client_vars);
    let mut vars = client_vars.to_vec();
    vars.push(("ACCESS_TOKEN", issued["access_token"].as_str().unwrap()));
    let consent = run_block(&blocks[11], &vars);
    assert_eq!(consent["consentStatus"], "received", "{consent}");
    vars.push(("CONSENT_ID", consent["consentId"].as_str().unwrap()));
    vars.push(("CHALLENGE", challenge));
    let pushed = run_block(&blocks[12], &vars);
    vars.push(("REQUEST_URI", pushed["request_uri"].as_str().unwrap()));
    let link = run_shell(&blocks[13], &vars);

    let mut psu = Browser::new(server);
    let screen = psu.authorise(link.trim(), "alice", "alice-demo-2026").await;
    let approved = psu.decide(&screen, "approve").await;
    let back = redirect_params(
        approved.location.as_deref().unwrap(),
        "https://app.example/callback",
    );
    assert_eq!(param(&back, "state"), Some("a-random-value-you-keep"));
    vars.push(("CODE", param(&back, "code").unwrap()));
    vars.push(("VERIFIER", verifier));
    let tokens = run_block(&blocks[14], &vars);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    vars.push(("PSU_TOKEN", tokens["access_token"].as_str().unwrap()));
    assert_alices_accounts(server, &run_block(&blocks[15], &vars)).await;
}

async fn the_getting_started_guide_works_as_written_and_the_reference_lists_every_operation_offered(
    db: TestDb,
) {
    let mut config = config_for(&db);
    // The AIS journey signs in as a demo customer.
    config.demo.seed = Some(true);
    let server = TestServer::start_with(db, config.clone()).await;
    let guide = server.get("/portal/docs").await.text().await.unwrap();
    let blocks = code_blocks(&guide);
    assert!(
        blocks[0].contains(&format!("BASE={}", server.base_url)),
        "{}",
        blocks[0]
    );
    let ca = server.ca.display().to_string();
    let base = server.base_url.clone();
    let vars = |session: &str| {
        vec![
            ("BASE", base.clone()),
            ("CA", ca.clone()),
            ("SESSION", session.to_owned()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let run = |block: &str, session: &str| {
        let owned = as_refs(&vars(session));
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_block(block, &pairs)
    };
    assert_eq!(run(&blocks[1], "")["status"], "verification_sent");
    let token = token_from_mail(&server, "you@tpp.example").await;
    assert_eq!(
        run(&blocks[2].replace("TOKEN-FROM-THE-MAIL", &token), "")["status"],
        "verified"
    );
    let session = run(&blocks[3], "")["token"].as_str().unwrap().to_owned();
    let org = run(&blocks[4], &session);
    let org_id = org["id"].as_str().unwrap();
    let app = run(&blocks[5].replace("ORG-ID", org_id), &session);
    let (key, secret) = (
        app["credentials"]["client_id"].as_str().unwrap(),
        app["credentials"]["client_secret"].as_str().unwrap(),
    );
    let registry =
        fintechapi_server::app::registry(&config, server.db.store().await, Arc::new(SystemClock))
            .unwrap();
    assert!(
        registry.authenticate(key, secret).await.unwrap().is_some(),
        "the guide gives working credentials"
    );

    // …which get, introspect and revoke a token as the guide shows.
    assert!(blocks[6].starts_with("CLIENT_ID=") && blocks[6].contains("CLIENT_SECRET="));
    let client_vars = [
        ("BASE", base.as_str()),
        ("CA", ca.as_str()),
        ("CLIENT_ID", key),
        ("CLIENT_SECRET", secret),
    ];
    let issued = run_block(&blocks[7], &client_vars);
    assert_eq!(issued["scope"], "ais", "{issued}");
    let access = issued["access_token"].as_str().unwrap();
    let mut token_vars = client_vars.to_vec();
    token_vars.push(("ACCESS_TOKEN", access));
    assert_eq!(run_block(&blocks[8], &token_vars)["active"], true);
    assert_eq!(run_block(&blocks[9], &token_vars), 200);
    assert_eq!(run_block(&blocks[8], &token_vars)["active"], false);
    follow_the_ais_journey(&server, &blocks, &client_vars).await;
    for (file, program) in [("ais.py", "python3"), ("ais.mjs", "node")] {
        let example = server
            .get_text(&format!("/portal/docs/examples/{file}"))
            .await;
        assert!(guide.contains(&escaped(&example)), "the guide shows {file}");
        let printed = run_program(&server, program, &example, &client_vars).await;
        assert_alices_accounts(&server, &printed[0]).await;
    }

    let reference = server.get("/portal/docs/xs2a").await.text().await.unwrap();
    // The specification's 38 operations less the 5 the ASPSP profile refuses.
    assert_eq!(reference.matches(r#"<article class="card""#).count(), 33);
    assert!(reference.contains("<code>/v1/consents/{consentId}/authorisations</code>"));
    assert!(reference.contains("<code>/v1/signing-baskets</code>"));
    assert!(
        !reference.contains("updateConsentsPsuData"),
        "refused operations are left out"
    );
    assert!(reference.contains(r#"<a href="/aspsp-profile">ASPSP profile</a>"#));
    let yaml = server.get("/portal/docs/psd2-api.yaml").await;
    assert_eq!(
        yaml.text().await.unwrap(),
        fintechapi_portal::docs::SPEC_YAML
    );
    server.stop().await;
}
both_stores!(
    the_getting_started_guide_works_as_written_and_the_reference_lists_every_operation_offered
);
