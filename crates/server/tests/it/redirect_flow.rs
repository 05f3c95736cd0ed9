//! The OAuth SCA approach end to end over HTTPS, on both stores: a TPP creates
//! an AIS consent on the XS2A API, pushes an authorization request (PAR, PKCE
//! S256), the PSU logs in at the bank's pages with two factors and approves,
//! the TPP exchanges the code and reads exactly the consented accounts; and
//! every way this must fail.

use crate::support::xs2a::{Answer, REDIRECT, Tpp, VERIFIER, approved_code};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, demo_server, log_in, open, param, redirect_params,
    second_factor, urlencode,
};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::secret::pkce_s256;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

type Form<'a> = Vec<(&'a str, &'a str)>;

/// Carol holds three accounts in the demo bank.
async fn carol_accounts(server: &TestServer) -> Vec<Account> {
    let store = server.db.store().await;
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    store.accounts_of_psu(carol.id).await.unwrap()
}

async fn the_full_redirect_flow_gives_a_token_that_reads_exactly_the_consented_accounts(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let accounts = carol_accounts(&server).await;
    assert_eq!(accounts.len(), 3);
    let (first, second, third) = (&accounts[0], &accounts[1], &accounts[2]);
    let iban = |a: &Account| a.iban.as_ref().unwrap().as_str().to_owned();

    let cc = tpp.client_token().await;
    let access = json!({"balances": [{"iban": iban(first)}], "transactions": [{"iban": iban(first)}, {"iban": iban(second)}]});
    let consent = tpp.consent(&cc, access, 4).await;
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "received");
    let request_uri = tpp.par(&consent).await;

    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &request_uri).await;
    let login_page = psu.get("/bank/login").await;
    assert!(login_page.body.contains("Budget App") && login_page.body.contains("Acme TPP GmbH"));
    let wrong = log_in(&mut psu, "carol", "not her password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("The login name or the password is not right, or sign-in is paused")
    );
    let unknown = log_in(&mut psu, "mallory", "whatever").await;
    assert!(
        unknown
            .body
            .contains("The login name or the password is not right, or sign-in is paused"),
        "same message for an unknown login"
    );
    let ok = log_in(&mut psu, "carol", "carol-demo-2026").await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/sca")),
        "{}",
        ok.body
    );
    let ok = second_factor(&mut psu, SANDBOX_CODE).await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/consent")),
        "{}",
        ok.body
    );
    let screen = psu.get("/bank/consent").await;
    assert_eq!(screen.status, StatusCode::OK);
    assert!(screen.body.contains("Acme TPP GmbH") && screen.body.contains("AISP"));
    assert!(
        screen
            .body
            .contains(&first.iban.as_ref().unwrap().to_print_format())
    );
    assert!(
        screen
            .body
            .contains(&second.iban.as_ref().unwrap().to_print_format())
    );
    assert!(
        !screen
            .body
            .contains(&third.iban.as_ref().unwrap().to_print_format())
    );
    let approved = psu
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let params = redirect_params(approved.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "state"), Some("st-42"));
    assert_eq!(
        param(&params, "iss"),
        Some(server.base_url.as_str()),
        "RFC 9207"
    );
    let code = param(&params, "code").unwrap().to_owned();

    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.body["scope"], format!("AIS:{consent}"));
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "valid");
    // The authorisation sub-resource: one authorisation (the PAR), finalised.
    let authorisations = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/authorisations"),
            &cc,
            &[],
            None,
        )
        .await;
    let ids = authorisations.body["authorisationIds"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids.len(), 1, "{}", authorisations.body);
    let sca = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/consents/{consent}/authorisations/{}",
                ids[0].as_str().unwrap()
            ),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(sca.body["scaStatus"], "finalised");
    let explicit = tpp
        .call(
            reqwest::Method::POST,
            &format!("/v1/consents/{consent}/authorisations"),
            &cc,
            &[],
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (explicit.status, explicit.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("SERVICE_INVALID"))
    );
    let embedded = tpp
        .call(
            reqwest::Method::PUT,
            &format!(
                "/v1/consents/{consent}/authorisations/{}",
                ids[0].as_str().unwrap()
            ),
            &cc,
            &[],
            Some(&json!({"psuData": {"password": "x"}})),
        )
        .await;
    assert_eq!(embedded.status, StatusCode::BAD_REQUEST);

    // Exactly the consented accounts.
    let with_psu = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let list = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed: Vec<&str> = list.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["iban"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [iban(first), iban(second)]);
    assert!(list.headers.contains_key("x-request-id"));
    let balances = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{}/balances", first.id),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{}", balances.body);
    let types: Vec<&str> = balances.body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["balanceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["closingBooked", "interimAvailable", "expected"]);
    let amount = balances.body["balances"][1]["balanceAmount"]["amount"]
        .as_str()
        .unwrap();
    assert_eq!(
        amount.split('.').nth(1).map(str::len),
        Some(2),
        "decimal string with the currency's exponent"
    );
    let not_covered = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{}/balances", second.id),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        (not_covered.status, not_covered.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"))
    );
    let booked = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                second.id
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(booked.status, StatusCode::OK, "{}", booked.body);
    let entries = booked.body["transactions"]["booked"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(booked.body["transactions"].get("pending").is_none());
    assert_eq!(
        booked.body["transactions"]["_links"]["account"]["href"],
        format!("/v1/accounts/{}", second.id)
    );
    // entryReferenceFrom: only what came after a known entry; all: with standing orders (none).
    let oldest = entries.last().unwrap()["entryReference"]
        .as_str()
        .unwrap()
        .to_owned();
    let newer = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=all&entryReferenceFrom={oldest}",
                second.id
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(newer.status, StatusCode::OK, "{}", newer.body);
    let newer_booked = newer.body["transactions"]["booked"].as_array().unwrap();
    assert!(newer_booked.iter().all(|e| {
        e["entryReference"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > oldest.parse::<i64>().unwrap()
    }));
    assert_eq!(newer.body["transactions"]["information"], json!([]));
    let path = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&deltaList=true&entryReferenceFrom={oldest}",
        second.id
    );
    let delta = tpp
        .call(reqwest::Method::GET, &path, &access_token, &with_psu, None)
        .await;
    assert_eq!(
        (
            delta.body["tppMessages"][0]["code"].as_str(),
            delta.body["tppMessages"][0]["path"].as_str()
        ),
        (Some("PARAMETER_NOT_CONSISTENT"), Some("entryReferenceFrom")),
        "two delta accesses at once"
    );
    let with_balance = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked&withBalance=true",
                first.id
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        with_balance.body["balances"].as_array().map(Vec::len),
        Some(3),
        "{}",
        with_balance.body
    );
    let first_entry = &entries[0];
    let detail = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions/{}",
                second.id,
                first_entry["transactionId"].as_str().unwrap()
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(
        &detail.body["transactionsDetails"], first_entry,
        "the spec's transactionsDetails"
    );
    let unknown = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions/00000000-0000-4000-8000-000000000000",
                second.id
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.tpp_message().0),
        (StatusCode::NOT_FOUND, Some("RESOURCE_UNKNOWN"))
    );
    let outside = tpp
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                third.id
            ),
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        (outside.status, outside.tpp_message().0),
        (StatusCode::FORBIDDEN, Some("CONSENT_INVALID"))
    );
    let wrong_consent = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &access_token,
            &[("consent-id", "00000000-0000-4000-8000-000000000000")],
            None,
        )
        .await;
    assert_eq!(wrong_consent.status, StatusCode::UNAUTHORIZED);
    let cc_reads = tpp
        .call(reqwest::Method::GET, "/v1/accounts", &cc, &with_psu, None)
        .await;
    assert_eq!(
        cc_reads.body["tppMessages"][0]["code"], "CONSENT_INVALID",
        "a client-credentials token reads no account"
    );

    // Refresh rotates; presenting the used refresh token again revokes the grant.
    let refreshed = tpp
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let new_access = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(
        refreshed.body["refresh_token"].as_str().unwrap(),
        refresh_token
    );
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &new_access,
            &with_psu,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let reuse = tpp
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    assert_eq!(
        (reuse.status, reuse.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let revoked = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &new_access,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        (revoked.status, revoked.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("TOKEN_INVALID"))
    );
    assert!(
        revoked.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    // The revoked grant ends its consent, and carol's online banking says so.
    let ended = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(ended.body["consentStatus"], "expired", "{}", ended.body);
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    let listed = carol.get("/bank/online/consents").await;
    assert!(
        listed.body.contains("expired") && !listed.body.contains(">valid<"),
        "{}",
        listed.body
    );

    // A replayed code fails.
    let replay = tpp.exchange(&code).await;
    assert_eq!(
        (replay.status, replay.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    server.stop().await;
}
both_stores!(the_full_redirect_flow_gives_a_token_that_reads_exactly_the_consented_accounts);

async fn a_replayed_code_revokes_the_tokens_issued_from_it_and_a_deleted_consent_stops_reads(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let request_uri = tpp.par(&consent).await;
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(&tpp.link(&request_uri), "bob", "bob-demo-2026")
        .await;
    let approved = psu
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    let code = approved_code(&approved);
    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let list = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts?withBalance=true",
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body["accounts"][0]["balances"].is_array(),
        "allPsd2 covers balances"
    );

    let replay = tpp.exchange(&code).await;
    assert_eq!(replay.body["error"], "invalid_grant");
    let after = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "tokens from a replayed code are revoked"
    );
    let refresh = tpp
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens.body["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
    // No new grant can revive the consent (only a received one is authorised): it ends.
    let ended = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(ended.body["consentStatus"], "expired", "{}", ended.body);

    // A consent the TPP deletes: terminatedByTpp, its token stops reading, a second delete is STATUS_INVALID.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let request_uri = tpp.par(&consent).await;
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(&tpp.link(&request_uri), "bob", "bob-demo-2026")
        .await;
    let approved = psu
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    let tokens = tpp.exchange(&approved_code(&approved)).await;
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let reads = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let deleted = tpp
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/consents/{consent}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let stopped = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &access_token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(stopped.status, StatusCode::UNAUTHORIZED, "{}", stopped.body);
    let again = tpp
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/consents/{consent}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.tpp_message().0),
        (StatusCode::CONFLICT, Some("STATUS_INVALID"))
    );
    let read = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(read.body["consentStatus"], "terminatedByTpp");
    assert_eq!(read.body["access"], json!({"allPsd2": "allAccounts"}));
    server.stop().await;
}
both_stores!(a_replayed_code_revokes_the_tokens_issued_from_it_and_a_deleted_consent_stops_reads);

async fn authorization_requests_are_refused_precisely_and_never_redirect_unverified(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"accounts": []}), 4).await;
    let scope = format!("AIS:{consent}");
    let challenge = pkce_s256(VERIFIER);
    let base: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", &scope),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = base.clone();
        form.extend_from_slice(extra);
        form
    };
    let cases: Vec<(Form, &str, &str)> = vec![
        (with(&[]), "invalid_request", "PKCE is required"),
        (
            with(&[
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ]),
            "invalid_request",
            "plain PKCE",
        ),
        (
            with(&[("code_challenge", "abc")]),
            "invalid_request",
            "plain PKCE",
        ),
    ];
    for (form, error, text) in cases {
        let a = tpp.form("/oauth2/par", &form).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{form:?}"
        );
        assert!(
            a.body["error_description"].as_str().unwrap().contains(text),
            "{}",
            a.body
        );
    }
    let unregistered = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", &scope),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(unregistered.body["error"], "invalid_request");
    assert!(
        unregistered.body["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );
    let unknown_consent = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "AIS:00000000-0000-4000-8000-000000000000"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(unknown_consent.body["error"], "invalid_scope");

    // Once opened, a pushed request belongs to that browser: it may reload it
    // until the PSU has authenticated, another browser may not take it over.
    let request_uri = tpp.par(&consent).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &request_uri).await;
    let mut second = Browser::new(&server);
    let taken = second
        .get(&format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            tpp.key,
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken.body.contains("opened in another browser"),
        "{}",
        taken.body
    );
    assert!(taken.location.is_none());
    assert_eq!(
        second.get("/bank/login").await.status,
        StatusCode::BAD_REQUEST,
        "the second browser has no session"
    );
    open(&mut psu, &tpp.key, &request_uri).await;
    assert_eq!(
        psu.get("/bank/login").await.status,
        StatusCode::OK,
        "the first browser may reload"
    );
    let wrong_client = Browser::new(&server)
        .get(&format!(
            "/oauth2/authorize?client_id=ck_other&request_uri={}",
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(wrong_client.status, StatusCode::BAD_REQUEST);
    assert!(wrong_client.location.is_none());
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let mut other = Browser::new(&server);
    let replay = other
        .get(&format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            tpp.key,
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.location.is_none());
    let unpushed = other
        .get(&format!(
            "/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}",
            tpp.key,
            urlencode("https://evil.example/cb")
        ))
        .await;
    assert_eq!(unpushed.status, StatusCode::BAD_REQUEST);
    assert!(unpushed.location.is_none(), "no open redirect");

    // The PSU chooses accounts on a bank-offered consent, but denies: access_denied.
    second_factor(&mut psu, SANDBOX_CODE).await;
    let screen = psu.get("/bank/consent").await;
    assert!(
        screen.body.contains(r#"type="checkbox""#),
        "bank-offered: the PSU chooses"
    );
    let forged = psu
        .post_with(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", "forged")],
            &[],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let cross_site = psu
        .post_with(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let denied = psu
        .post(
            "/bank/consent",
            &[("decision", "deny"), ("csrf", &screen.csrf())],
        )
        .await;
    let params = redirect_params(denied.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("st-42"));
    assert!(param(&params, "code").is_none());
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "rejected");
    server.stop().await;
}
both_stores!(authorization_requests_are_refused_precisely_and_never_redirect_unverified);

async fn five_failures_block_the_psu_and_five_idle_minutes_end_the_session(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;

    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    for _ in 0..5 {
        assert_eq!(
            log_in(&mut psu, "alice", "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let sixth = log_in(&mut psu, "alice", "alice-demo-2026").await;
    assert_eq!(sixth.status, StatusCode::UNAUTHORIZED);
    assert!(
        sixth.body.contains("paused after too many failed attempts"),
        "{}",
        sixth.body
    );
    let store = server.db.store().await;
    assert!(
        store
            .psu_by_login("alice")
            .await
            .unwrap()
            .unwrap()
            .0
            .is_blocked(clock.now())
    );

    // Idle for more than five minutes: the session is over.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    assert_eq!(
        log_in(&mut psu, "bob", "bob-demo-2026").await.status,
        StatusCode::SEE_OTHER
    );
    clock.advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = psu.get("/bank/sca").await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("5 minutes without activity"));
    server.stop().await;
}
both_stores!(five_failures_block_the_psu_and_five_idle_minutes_end_the_session);

async fn a_strangers_wrong_passwords_pause_alice_who_is_alerted_and_signs_in_from_elsewhere_later(
    db: TestDb,
) {
    // Whole seconds: PostgreSQL keeps microseconds.
    let clock = ManualClock::new(SystemClock.now().replace_nanosecond(0).unwrap());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;

    // A stranger tries 20 passwords for alice from one address.
    let mut stranger = Browser::from_address(&server, "127.0.0.1".parse().unwrap());
    open(&mut stranger, &tpp.key, &tpp.par(&consent).await).await;
    let mut statuses = Vec::new();
    for n in 0..20 {
        let page = log_in(&mut stranger, "alice", &format!("guess {n}")).await;
        if page.status == StatusCode::UNAUTHORIZED {
            assert!(
                page.body.contains("paused after too many failed attempts"),
                "one answer for every failure: {}",
                page.body
            );
        }
        statuses.push(page.status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        refused, 10,
        "10 attempts a minute per login, then 429: {statuses:?}"
    );
    let store = server.db.store().await;
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert!(
        alice.is_blocked(clock.now()) && !alice.is_blocked_for_good(),
        "paused, not blocked for good"
    );
    assert_eq!(
        alice.blocked_until,
        Some(clock.now() + time::Duration::minutes(15))
    );
    assert_eq!(
        alice.blocks_in_row, 1,
        "attempts during the pause do not count"
    );
    let notices = store.psu_notices(alice.id, 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].message.contains("paused until"),
        "{}",
        notices[0].message
    );
    let mailed: Vec<String> = server.db.raw_strings("SELECT recipient FROM outbox").await;
    assert_eq!(
        mailed,
        ["alice@demo-psu.example.com"],
        "the alert is mailed too"
    );

    // While paused even the right password gets the same answer.
    let mut alice_browser = Browser::from_address(&server, "127.0.0.2".parse().unwrap());
    open(&mut alice_browser, &tpp.key, &tpp.par(&consent).await).await;
    clock.advance(time::Duration::minutes(2));
    let paused = log_in(&mut alice_browser, "alice", "alice-demo-2026").await;
    assert_eq!(paused.status, StatusCode::UNAUTHORIZED);
    assert!(
        paused
            .body
            .contains("paused after too many failed attempts")
    );

    // After the pause alice authorises from her own address.
    clock.advance(time::Duration::minutes(14));
    let mut alice_browser = Browser::from_address(&server, "127.0.0.2".parse().unwrap());
    open(&mut alice_browser, &tpp.key, &tpp.par(&consent).await).await;
    let signed = log_in(&mut alice_browser, "alice", "alice-demo-2026").await;
    assert_eq!(
        (signed.status, signed.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/sca")),
        "{}",
        signed.body
    );
    let sca = second_factor(&mut alice_browser, SANDBOX_CODE).await;
    assert_eq!(
        sca.location.as_deref(),
        Some("/bank/consent"),
        "{}",
        sca.body
    );
    let screen = alice_browser.get("/bank/consent").await;
    let approved = alice_browser
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    assert!(
        param(
            &redirect_params(approved.location.as_deref().unwrap(), REDIRECT),
            "code"
        )
        .is_some()
    );
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.failed_logins, alice.blocks_in_row),
        (0, 0),
        "a complete authentication clears the record"
    );

    // She sees the alert in online banking.
    let mut own = online_banking(&server, "alice", "alice-demo-2026").await;
    let page = own.get("/bank/online/consents").await;
    assert!(
        page.body.contains("Messages from your bank") && page.body.contains("paused until"),
        "{}",
        page.body
    );
    server.stop().await;
}
both_stores!(
    a_strangers_wrong_passwords_pause_alice_who_is_alerted_and_signs_in_from_elsewhere_later
);

async fn repeated_pauses_grow_then_block_for_good_after_a_warning_and_an_operator_unblocks(
    db: TestDb,
) {
    // Whole seconds: PostgreSQL keeps microseconds.
    let clock = ManualClock::new(SystemClock.now().replace_nanosecond(0).unwrap());
    let server = crate::support::demo_server_at(db, &clock).await;
    let store = server.db.store().await;
    let series = |n: usize| {
        let server = &server;
        async move {
            let mut b = Browser::new(server);
            for k in 0..5 {
                let form = b.get("/bank/online").await;
                let page = b
                    .post(
                        "/bank/online/login",
                        &[
                            ("login", "bob"),
                            ("password", &format!("wrong {n} {k}")),
                            ("csrf", &form.csrf()),
                        ],
                    )
                    .await;
                assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
            }
        }
    };
    for (n, pause) in [(0, 15), (1, 60), (2, 240)] {
        series(n).await;
        let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
        assert_eq!(
            bob.blocked_until,
            Some(clock.now() + time::Duration::minutes(pause)),
            "block {n}"
        );
        clock.advance(time::Duration::minutes(pause) + time::Duration::seconds(1));
    }
    let notices = store
        .psu_notices(store.psu_by_login("bob").await.unwrap().unwrap().0.id, 10)
        .await
        .unwrap();
    assert_eq!(notices.len(), 3);
    assert!(
        notices[0]
            .message
            .contains("stays blocked until you contact"),
        "warned before the permanent block: {}",
        notices[0].message
    );
    assert!(!notices[1].message.contains("stays blocked"));

    series(3).await;
    let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
    assert!(bob.is_blocked_for_good());
    assert!(
        store.psu_notices(bob.id, 1).await.unwrap()[0]
            .message
            .contains("Contact your bank")
    );
    clock.advance(time::Duration::days(2));
    let mut b = Browser::new(&server);
    let form = b.get("/bank/online").await;
    let still = b
        .post(
            "/bank/online/login",
            &[
                ("login", "bob"),
                ("password", "bob-demo-2026"),
                ("csrf", &form.csrf()),
            ],
        )
        .await;
    assert_eq!(still.status, StatusCode::UNAUTHORIZED, "blocked for good");

    let mut ops = crate::support::operator(&server).await;
    let csrf = ops.get("/admin/psus").await.csrf();
    let unblocked = ops
        .post(
            &format!("/admin/psus/{}/unblock", bob.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(unblocked.status, StatusCode::OK, "{}", unblocked.body);
    online_banking(&server, "bob", "bob-demo-2026").await;
    server.stop().await;
}
both_stores!(repeated_pauses_grow_then_block_for_good_after_a_warning_and_an_operator_unblocks);

async fn parallel_wrong_guesses_check_at_most_five_passwords(db: TestDb) {
    let server = demo_server(db).await;
    let store = server.db.store().await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..10 {
        let mut b = Browser::from_address(&server, format!("127.0.1.{n}").parse().unwrap());
        let csrf = b.get("/bank/online").await.csrf();
        guesses.spawn(async move {
            b.post(
                "/bank/online/login",
                &[
                    ("login", "carol"),
                    ("password", &format!("wrong {n}")),
                    ("csrf", &csrf),
                ],
            )
            .await
            .status
        });
    }
    let statuses = guesses.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    assert_eq!(
        (carol.blocks_in_row, carol.failed_logins),
        (1, 0),
        "five counted, one block, the rest refused uncounted"
    );

    // At the port: of 20 checks at once, exactly 5 may run.
    store.reset_psu_login_failures(carol.id).await.unwrap();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        attempts.spawn(async move {
            store
                .begin_psu_attempt(carol.id, SystemClock.now())
                .await
                .unwrap()
                .is_some()
        });
    }
    let admitted = attempts.join_all().await.into_iter().filter(|a| *a).count();
    assert_eq!(admitted, 5);
    server.stop().await;
}
both_stores!(parallel_wrong_guesses_check_at_most_five_passwords);

async fn access_without_the_psu_counts_against_frequency_per_day(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let unattended = [("consent-id", consent.as_str())];
    for _ in 0..4 {
        assert_eq!(
            tpp.call(
                reqwest::Method::GET,
                "/v1/accounts",
                &token,
                &unattended,
                None
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let fifth = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &unattended,
            None,
        )
        .await;
    assert_eq!(
        (fifth.status, fifth.tpp_message().0),
        (StatusCode::TOO_MANY_REQUESTS, Some("ACCESS_EXCEEDED"))
    );
    let present = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    assert_eq!(
        tpp.call(reqwest::Method::GET, "/v1/accounts", &token, &present, None)
            .await
            .status,
        StatusCode::OK,
        "with the PSU present there is no daily limit"
    );
    // The next day the count starts again; the access token lived minutes, the refresh token did not.
    clock.advance(time::Duration::days(1));
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &unattended,
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = tpp
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens.body["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let token = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &unattended,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    server.stop().await;
}
both_stores!(access_without_the_psu_counts_against_frequency_per_day);

async fn a_psu_with_an_authenticator_app_confirms_with_totp_and_each_code_works_once(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;

    // An operator enrols bob's authenticator app; the key is shown once.
    let mut ops = crate::support::operator(&server).await;
    let store = server.db.store().await;
    let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
    let csrf = ops.get("/admin/psus").await.csrf();
    let enrolled = ops
        .post(&format!("/admin/psus/{}/totp", bob.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    assert!(enrolled.body.contains("<svg"), "a QR code");
    let at = enrolled.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    let secret = &enrolled.body[at..at + enrolled.body[at..].find('<').unwrap()];
    let seed = fintechapi_domain::otp::Seed::from_base32(secret).unwrap();
    assert!(
        !ops.get("/admin/psus").await.body.contains(secret),
        "shown only once"
    );
    assert!(
        server
            .db
            .raw_strings("SELECT totp_secret FROM psus WHERE login = 'bob'")
            .await[0]
            != secret,
        "stored sealed"
    );

    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    log_in(&mut psu, "bob", "bob-demo-2026").await;
    let page = psu.get("/bank/sca").await;
    assert!(page.body.contains("authenticator app"));
    let code = seed.code_at(SystemClock.now()).unwrap();
    let wrong = psu
        .post("/bank/sca", &[("code", "000000"), ("csrf", &page.csrf())])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = psu
        .post("/bank/sca", &[("code", &code), ("csrf", &page.csrf())])
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/consent")),
        "{}",
        ok.body
    );

    // The same code again, in a second authorization: refused.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut again = Browser::new(&server);
    open(&mut again, &tpp.key, &tpp.par(&consent).await).await;
    log_in(&mut again, "bob", "bob-demo-2026").await;
    let page = again.get("/bank/sca").await;
    let replay = again
        .post("/bank/sca", &[("code", &code), ("csrf", &page.csrf())])
        .await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a TOTP code works once"
    );
    server.stop().await;
}
both_stores!(a_psu_with_an_authenticator_app_confirms_with_totp_and_each_code_works_once);

/// Enrols `login`'s authenticator app through the admin console; its seed.
async fn enrol_authenticator(server: &TestServer, login: &str) -> fintechapi_domain::otp::Seed {
    let mut ops = crate::support::operator(server).await;
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    let csrf = ops.get("/admin/psus").await.csrf();
    let page = ops
        .post(&format!("/admin/psus/{}/totp", psu.id), &[("csrf", &csrf)])
        .await;
    let at = page.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    fintechapi_domain::otp::Seed::from_base32(
        &page.body[at..at + page.body[at..].find('<').unwrap()],
    )
    .unwrap()
}

fn challenge_on(page: &str) -> String {
    let at = page
        .find(r#"id="challenge">"#)
        .expect("a challenge on the page")
        + r#"id="challenge">"#.len();
    page[at..at + 8].to_owned()
}

async fn a_sepa_payment_is_authorised_with_dynamic_linking_and_executes_exactly_once(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let store = server.db.store().await;
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    let debtor = store.accounts_of_psu(alice.id).await.unwrap().remove(0);
    let before = debtor.balances.booked;
    let seed = enrol_authenticator(&server, "alice").await;

    // Initiation is idempotent by X-Request-ID: the same body gives the same payment.
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()}, "creditorName": "Corner Shop <b>", "creditorAccount": {"iban": "DE02120300000000202051"}, "remittanceInformationUnstructured": "Invoice 42"});
    let request_id = uuid::Uuid::new_v4().to_string();
    let initiate = |body: Value| {
        let req = tpp
            .http
            .post(format!("{}/v1/payments/sepa-credit-transfers", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", &request_id)
            .header("psu-ip-address", "192.0.2.7")
            .json(&body);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let first = initiate(body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["transactionStatus"], "RCVD");
    assert_eq!(first.headers["aspsp-sca-approach"], "REDIRECT");
    let payment = first.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        first.headers["location"],
        format!("/v1/payments/sepa-credit-transfers/{payment}")
    );
    let again = initiate(body.clone()).await;
    assert_eq!(
        (again.status, again.body["paymentId"].as_str()),
        (StatusCode::CREATED, Some(payment.as_str()))
    );
    let mut changed = body.clone();
    changed["instructedAmount"]["amount"] = json!("99.00");
    let conflict = initiate(changed).await;
    assert_eq!(
        (conflict.status, conflict.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("FORMAT_ERROR"))
    );
    assert_eq!(
        server
            .db
            .raw_strings("SELECT CAST(COUNT(*) AS TEXT) FROM payments")
            .await,
        ["1"],
        "one payment"
    );

    // The PSU sees amount and payee with a challenge derived from them.
    let mut psu = Browser::new(&server);
    open(
        &mut psu,
        &tpp.key,
        &tpp.par_scope(&format!("PIS:{payment}")).await,
    )
    .await;
    log_in(&mut psu, "alice", "alice-demo-2026").await;
    let page = psu.get("/bank/sca").await;
    assert!(
        page.body.contains("12.34 EUR")
            && page.body.contains("Corner Shop &#60;b&#62;")
            && page.body.contains("DE02 1203 0000 0000 2020 51"),
        "{}",
        page.body
    );
    let challenge = challenge_on(&page.body);
    let response = seed.ocra_response(&challenge).unwrap();
    // TOTP alone does not authorise a payment.
    let totp = seed.code_at(SystemClock.now()).unwrap();
    assert_eq!(
        psu.post("/bank/sca", &[("code", &totp), ("csrf", &page.csrf())])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The amount changes after the challenge: the answer no longer fits.
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 99900 WHERE id = '{payment}'"
        ))
        .await;
    assert_eq!(
        psu.post("/bank/sca", &[("code", &response), ("csrf", &page.csrf())])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 1234 WHERE id = '{payment}'"
        ))
        .await;
    let ok = psu
        .post("/bank/sca", &[("code", &response), ("csrf", &page.csrf())])
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/consent")),
        "{}",
        ok.body
    );
    let screen = psu.get("/bank/consent").await;
    assert!(screen.body.contains("Approve this payment?") && screen.body.contains("Invoice 42"));
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    assert!(
        tokens.body.get("refresh_token").is_none(),
        "a payment authorization has no refresh token"
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();

    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/sepa-credit-transfers/{payment}/status"),
            &token,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    let authorisations = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/sepa-credit-transfers/{payment}/authorisations"),
            &cc,
            &[],
            None,
        )
        .await;
    let id = authorisations.body["authorisationIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let sca = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/sepa-credit-transfers/{payment}/authorisations/{id}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(sca.body["scaStatus"], "finalised");
    let cancellations = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/sepa-credit-transfers/{payment}/cancellation-authorisations"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(cancellations.body, json!({"authorisationIds": []}));
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(
        moved.balances.booked,
        before - 1234,
        "the ledger moved once"
    );
    assert!(store.audit().await.unwrap().is_consistent());
    let cancel = tpp
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/payments/sepa-credit-transfers/{payment}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(
        (cancel.status, cancel.tpp_message().0),
        (StatusCode::METHOD_NOT_ALLOWED, Some("CANCELLATION_INVALID"))
    );
    server.stop().await;
}
both_stores!(a_sepa_payment_is_authorised_with_dynamic_linking_and_executes_exactly_once);

async fn payments_are_validated_rejected_without_funds_and_cancelled_before_authorisation(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let store = server.db.store().await;
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    let debtor = store.accounts_of_psu(carol.id).await.unwrap().remove(0);
    let debtor_iban = debtor.iban.as_ref().unwrap().as_str().to_owned();
    let payment = |amount: &str| json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": debtor_iban}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let post = |path: &str, body: Value, extra: Vec<(&'static str, &'static str)>| {
        let mut req = tpp
            .http
            .post(format!("{}{path}", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .json(&body);
        for (k, v) in extra {
            req = req.header(k, v);
        }
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let ip = || vec![("psu-ip-address", "192.0.2.7")];
    let mut bad_iban = payment("1.00");
    bad_iban["creditorAccount"]["iban"] = json!("DE00123");
    let mut usd = payment("1.00");
    usd["instructedAmount"]["currency"] = json!("USD");
    let mut past = payment("1.00");
    past["requestedExecutionDate"] = json!("2020-01-01");
    let cases = [
        (
            "/v1/payments/sepa-credit-transfers",
            payment("1.00"),
            vec![],
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "PSU-IP-Address",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            bad_iban,
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "creditorAccount.iban",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            usd,
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.currency",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            past,
            ip(),
            StatusCode::BAD_REQUEST,
            "EXECUTION_DATE_INVALID",
            "requestedExecutionDate",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment("1.001"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment("0.00"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "/v1/payments/sepa-express",
            payment("1.00"),
            ip(),
            StatusCode::NOT_FOUND,
            "PRODUCT_UNKNOWN",
            "payment-product",
        ),
        (
            "/v1/bulk-payments/sepa-credit-transfers",
            payment("1.00"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "payments",
        ),
    ];
    for (path, body, extra, status, code, at) in cases {
        let a = post(path, body, extra).await;
        assert_eq!(
            (
                a.status,
                a.body["tppMessages"][0]["code"].as_str(),
                a.body["tppMessages"][0]["path"].as_str()
            ),
            (status, Some(code), Some(at)),
            "{path}: {}",
            a.body
        );
    }
    let malformed = tpp
        .http
        .post(format!("{}/v1/payments/sepa-credit-transfers", tpp.base))
        .bearer_auth(&cc)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("psu-ip-address", "192.0.2.7")
        .header("content-type", "application/json")
        .body("{\"instructedAmount\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // Cancelled before authorisation: 204, CANC, and no authorization for it any more.
    let created = post(
        "/v1/payments/instant-sepa-credit-transfers",
        payment("5.00"),
        ip(),
    )
    .await;
    let id = created.body["paymentId"].as_str().unwrap().to_owned();
    let cancel = tpp
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/payments/instant-sepa-credit-transfers/{id}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT);
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/instant-sepa-credit-transfers/{id}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "CANC");
    let par = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", &format!("PIS:{id}")),
                ("code_challenge", &pkce_s256(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(par.body["error"], "invalid_scope");

    // More than the account holds: RJCT with AM04, and the ledger unchanged.
    let created = post(
        "/v1/payments/sepa-credit-transfers",
        payment("99999999.00"),
        ip(),
    )
    .await;
    let id = created.body["paymentId"].as_str().unwrap().to_owned();
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(&tpp.par_scope(&format!("PIS:{id}")).await),
            "carol",
            "carol-demo-2026",
        )
        .await;
    let approved = psu
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/sepa-credit-transfers/{id}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "RJCT");
    assert!(status.body["psuMessage"].as_str().unwrap().contains("AM04"));
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        debtor.balances.booked
    );
    server.stop().await;
}
both_stores!(payments_are_validated_rejected_without_funds_and_cancelled_before_authorisation);

async fn funds_confirmation_needs_the_holders_piis_consent_and_answers_yes_or_no(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,piis");
    let cc = tpp.client_token().await;
    let store = server.db.store().await;
    let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
    let account = store.accounts_of_psu(bob.id).await.unwrap().remove(0);
    let iban = account.iban.as_ref().unwrap().as_str().to_owned();
    let available =
        fintechapi_domain::Money::from_minor(account.balances.available(), account.currency)
            .to_decimal_string();
    let ask = |iban: &str, amount: &str| json!({"account": {"iban": iban}, "instructedAmount": {"currency": "EUR", "amount": amount}});
    let post = reqwest::Method::POST;

    // Without the holder's consent the bank answers nothing about the account.
    let unasked = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &cc,
            &[],
            Some(&ask(&iban, "1.00")),
        )
        .await;
    assert_eq!(
        (unasked.status, unasked.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("NO_PIIS_ACTIVATION")),
        "{}",
        unasked.body
    );

    // RFC 9396: the pushed request asks for a funds-confirmation consent on bob's account.
    let challenge = pkce_s256(VERIFIER);
    let par = |details: Value| {
        let form = vec![
            ("response_type", "code".to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("authorization_details", details.to_string()),
        ];
        let req = tpp
            .http
            .post(format!("{}/oauth2/par", tpp.base))
            .basic_auth(&tpp.key, Some(&tpp.secret))
            .form(&form);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let past = par(json!([{"type": "funds_confirmation", "account": {"iban": iban}, "validUntil": "2020-01-01"}])).await;
    assert_eq!(past.body["error"], "invalid_authorization_details");
    let pushed = par(json!([{"type": "funds_confirmation", "account": {"iban": iban}}])).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(pushed.body["request_uri"].as_str().unwrap()),
            "bob",
            "bob-demo-2026",
        )
        .await;
    assert!(
        screen.body.contains("check your available funds")
            && screen.body.contains("never your balance"),
        "{}",
        screen.body
    );
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    let consent = tokens.body["authorization_details"][0]["consentId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tokens.body["scope"], format!("PIIS:{consent}"));
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "valid");

    // The bound token, or the client's token with Consent-ID: yes or no, nothing more.
    let yes = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &token,
            &[],
            Some(&ask(&iban, &available)),
        )
        .await;
    assert_eq!(
        (yes.status, &yes.body),
        (StatusCode::OK, &json!({"fundsAvailable": true}))
    );
    let no = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &cc,
            &[("consent-id", consent.as_str())],
            Some(&ask(&iban, "99999999.00")),
        )
        .await;
    assert_eq!(no.body, json!({"fundsAvailable": false}), "{}", no.body);
    let other = store.accounts_of_psu(bob.id).await.unwrap().remove(1);
    let elsewhere = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &token,
            &[],
            Some(&ask(other.iban.as_ref().unwrap().as_str(), "1.00")),
        )
        .await;
    assert_eq!(
        (elsewhere.status, elsewhere.tpp_message().1),
        (StatusCode::BAD_REQUEST, Some("account.iban")),
        "another account of bob's is not covered"
    );
    let unknown = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &cc,
            &[("consent-id", "00000000-0000-4000-8000-000000000001")],
            Some(&ask(&iban, "1.00")),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("CONSENT_UNKNOWN")),
        "an unknown Consent-ID header"
    );
    let forged = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &token,
            &[("consent-id", "00000000-0000-4000-8000-000000000001")],
            Some(&ask(&iban, "1.00")),
        )
        .await;
    assert_eq!(
        (forged.status, forged.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"))
    );
    // A funds-confirmation grant reads no accounts, and cannot be made an
    // account-information one by a Redirect authorisation of the consent.
    let refused = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &[("consent-id", consent.as_str())],
            None,
        )
        .await;
    assert_eq!(
        (refused.status, refused.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID")),
        "{}",
        refused.body
    );
    let redirect = [
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let start = tpp
        .call(
            post.clone(),
            &format!("/v1/consents/{consent}/authorisations"),
            &cc,
            &redirect,
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (start.status, start.tpp_message().0),
        (StatusCode::FORBIDDEN, Some("CONSENT_UNKNOWN")),
        "{}",
        start.body
    );
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body["authorization_details"][0]["type"],
        "funds_confirmation"
    );

    // Bob withdraws it in online banking: the very next question is refused.
    let mut online = online_banking(&server, "bob", "bob-demo-2026").await;
    let list = online.get("/bank/online/consents").await;
    let withdrawn = online
        .post(
            &format!("/bank/online/consents/{consent}/revoke"),
            &[("csrf", &list.csrf())],
        )
        .await;
    assert!(
        withdrawn.body.contains("Access withdrawn"),
        "{}",
        withdrawn.body
    );
    let after = tpp
        .call(
            post.clone(),
            "/v1/funds-confirmations",
            &token,
            &[],
            Some(&ask(&iban, "1.00")),
        )
        .await;
    assert_eq!(
        (after.status, after.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"))
    );

    // An account that is not the PSU's cannot be granted.
    let foreign =
        par(json!([{"type": "funds_confirmation", "account": {"iban": "DE02120300000000202051"}}]))
            .await;
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(foreign.body["request_uri"].as_str().unwrap()),
            "bob",
            "bob-demo-2026",
        )
        .await;
    assert!(screen.body.contains("not one of yours"), "{}", screen.body);

    let basket = tpp
        .call(post, "/v1/signing-baskets", &cc, &[], Some(&json!({})))
        .await;
    assert_eq!(
        (basket.status, basket.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("SERVICE_INVALID"))
    );
    server.stop().await;
}
both_stores!(funds_confirmation_needs_the_holders_piis_consent_and_answers_yes_or_no);

async fn a_consent_expires_after_valid_until_and_its_refresh_token_with_it(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let today = clock.now().date();
    let tomorrow = today.next_day().unwrap().to_string();
    let body = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": tomorrow, "frequencyPerDay": 4, "combinedServiceIndicator": false});
    let created = tpp
        .call(reqwest::Method::POST, "/v1/consents", &cc, &[], Some(&body))
        .await;
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let read = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(
        (
            read.body["consentStatus"].as_str(),
            read.body["validUntil"].as_str()
        ),
        (Some("valid"), Some(tomorrow.as_str()))
    );

    // Two days later the consent is expired; its refresh token died with it.
    clock.advance(time::Duration::days(2));
    let cc = tpp.client_token().await;
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "expired");
    let renewed = tpp
        .form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(renewed.body["error"], "invalid_grant");
    server.stop().await;
}
both_stores!(a_consent_expires_after_valid_until_and_its_refresh_token_with_it);

async fn the_same_x_request_id_and_body_create_one_consent(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let create = |access: Value| {
        let body = json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
        let req = tpp
            .http
            .post(format!("{}/v1/consents", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", &request_id)
            .json(&body);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let first = create(json!({"allPsd2": "allAccounts"})).await;
    let again = create(json!({"allPsd2": "allAccounts"})).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body, again.body, "the first answer again");
    assert_eq!(again.headers["x-request-id"], request_id.as_str());
    let other = create(json!({"availableAccounts": "allAccounts"})).await;
    assert_eq!(
        (other.status, other.tpp_message().1),
        (StatusCode::BAD_REQUEST, Some("X-Request-ID"))
    );
    assert_eq!(
        server
            .db
            .raw_strings("SELECT CAST(COUNT(*) AS TEXT) FROM consents")
            .await,
        ["1"]
    );
    let missing = tpp
        .http
        .post(format!("{}/v1/consents", tpp.base))
        .bearer_auth(&cc)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        StatusCode::BAD_REQUEST,
        "X-Request-ID is required"
    );
    server.stop().await;
}
both_stores!(the_same_x_request_id_and_body_create_one_consent);

/// A PSU's online-banking session, logged in with both factors.
async fn online_banking(server: &TestServer, login: &str, password: &str) -> Browser {
    let mut b = Browser::new(server);
    let start = b.get("/bank/online").await;
    assert_eq!(start.status, StatusCode::OK);
    let logged = b
        .post(
            "/bank/online/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &start.csrf()),
            ],
        )
        .await;
    assert_eq!(
        logged.location.as_deref(),
        Some("/bank/online/sca"),
        "{}",
        logged.body
    );
    let page = b.get("/bank/online/sca").await;
    let done = b
        .post(
            "/bank/online/sca",
            &[("code", SANDBOX_CODE), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/bank/online/consents"),
        "{}",
        done.body
    );
    b
}

async fn a_psu_withdraws_a_consent_in_online_banking_and_the_next_call_fails(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &with_psu,
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(introspected.body["active"], true, "{}", introspected.body);

    // Another customer sees nothing of it and cannot withdraw it.
    let mut bob = online_banking(&server, "bob", "bob-demo-2026").await;
    let bobs = bob.get("/bank/online/consents").await;
    assert!(!bobs.body.contains("Budget App"));
    let stranger = bob
        .post(
            &format!("/bank/online/consents/{consent}/revoke"),
            &[("csrf", &bobs.csrf())],
        )
        .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    let mut alice = online_banking(&server, "alice", "alice-demo-2026").await;
    let list = alice.get("/bank/online/consents").await;
    assert!(
        list.body.contains("Budget App")
            && list.body.contains("Acme TPP GmbH")
            && list.body.contains("valid"),
        "{}",
        list.body
    );
    let forged = alice
        .post(
            &format!("/bank/online/consents/{consent}/revoke"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let withdrawn = alice
        .post(
            &format!("/bank/online/consents/{consent}/revoke"),
            &[("csrf", &list.csrf())],
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK);
    assert!(withdrawn.body.contains("Access withdrawn"));
    assert!(withdrawn.body.contains("revokedByPsu"));

    // The TPP's very next call fails; its refresh token is worthless.
    let next = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &with_psu,
            None,
        )
        .await;
    assert_eq!(
        (next.status, next.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"))
    );
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["consentStatus"], "revokedByPsu");
    // Introspection agrees with the API: the token is no longer active.
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body,
        json!({"active": false}),
        "{}",
        introspected.body
    );
    let renewed = tpp
        .form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens.body["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(renewed.body["error"], "invalid_grant");

    // Logging out ends the session.
    let page = alice.get("/bank/online/consents").await;
    alice
        .post("/bank/online/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(
        alice.get("/bank/online/consents").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}
both_stores!(a_psu_withdraws_a_consent_in_online_banking_and_the_next_call_fails);

async fn a_psu_enrols_an_authenticator_app_on_the_security_page(db: TestDb) {
    let server = demo_server(db).await;
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    let page = carol.get("/bank/online/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "a QR code");
    let at = page.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    let secret = page.body[at..at + page.body[at..].find('<').unwrap()].to_owned();
    let seed = fintechapi_domain::otp::Seed::from_base32(&secret).unwrap();
    let wrong = carol
        .post(
            "/bank/online/security",
            &[
                ("seed", &secret),
                ("code", "000000"),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let code = seed.code_at(SystemClock.now()).unwrap();
    let done = carol
        .post(
            "/bank/online/security",
            &[("seed", &secret), ("code", &code), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("is set up"));
    let store = server.db.store().await;
    assert!(
        store
            .psu_by_login("carol")
            .await
            .unwrap()
            .unwrap()
            .0
            .totp_enabled
    );
    // The enrolment code is used up: it does not log in again.
    let mut again = Browser::new(&server);
    let start = again.get("/bank/online").await;
    again
        .post(
            "/bank/online/login",
            &[
                ("login", "carol"),
                ("password", "carol-demo-2026"),
                ("csrf", &start.csrf()),
            ],
        )
        .await;
    let sca = again.get("/bank/online/sca").await;
    assert!(sca.body.contains("authenticator app"));
    let replay = again
        .post(
            "/bank/online/sca",
            &[("code", &code), ("csrf", &sca.csrf())],
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
both_stores!(a_psu_enrols_an_authenticator_app_on_the_security_page);

async fn rich_authorization_requests_name_the_consent_and_travel_with_the_grant(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let details = json!([{"type": "account_information", "consentId": consent}]).to_string();
    let challenge = pkce_s256(VERIFIER);
    let base = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-42"),
    ];
    let par = |extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> =
            base.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        form.extend(extra);
        let req = tpp
            .http
            .post(format!("{}/oauth2/par", tpp.base))
            .basic_auth(&tpp.key, Some(&tpp.secret))
            .form(&form);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let both = par(vec![
        ("authorization_details", details.clone()),
        ("scope", format!("AIS:{consent}")),
    ])
    .await;
    assert_eq!(both.body["error"], "invalid_request");
    let funds = par(vec![(
        "authorization_details",
        json!([{"type": "funds_confirmation", "account": {}}]).to_string(),
    )])
    .await;
    assert_eq!(funds.body["error"], "invalid_authorization_details");
    let pushed = par(vec![("authorization_details", details.clone())]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);

    let code = tpp
        .code(
            &server,
            pushed.body["request_uri"].as_str().unwrap(),
            "alice",
            "alice-demo-2026",
        )
        .await;
    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(
        tokens.body["authorization_details"][0]["consentId"],
        consent.as_str()
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body["authorization_details"][0]["type"],
        "account_information"
    );
    let list = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &[
                ("consent-id", consent.as_str()),
                ("psu-ip-address", "192.0.2.7"),
            ],
            None,
        )
        .await;
    assert_eq!(
        list.status,
        StatusCode::OK,
        "the token is bound to the consent the details named"
    );
    let meta: Value = tpp
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            tpp.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["authorization_details_types_supported"],
        json!([
            "account_information",
            "payment_initiation",
            "funds_confirmation"
        ])
    );
    server.stop().await;
}
both_stores!(rich_authorization_requests_name_the_consent_and_travel_with_the_grant);

async fn a_passkey_confirms_sign_in_and_signs_exactly_the_payment(db: TestDb) {
    let server = demo_server(db).await;
    let store = server.db.store().await;
    let mut phone = crate::support::passkey::SoftPasskey::new(&server.base_url);

    // Alice adds a passkey on her security page; the options exclude nothing yet.
    let mut alice = online_banking(&server, "alice", "alice-demo-2026").await;
    let page = alice.get("/bank/online/security").await;
    let options = crate::support::passkey::options_on(&page.body);
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let created = phone.create(&options);
    let nameless = alice
        .post(
            "/bank/online/passkeys",
            &[
                ("label", " "),
                ("credential", &created),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    let page = alice.get("/bank/online/security").await;
    let created = phone.create(&crate::support::passkey::options_on(&page.body));
    let added = alice
        .post(
            "/bank/online/passkeys",
            &[
                ("label", "Alice's phone"),
                ("credential", &created),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(
        added
            .body
            .contains("Passkey &#34;Alice&#39;s phone&#34; added"),
        "{}",
        added.body
    );
    // The challenge it answered was used up: the same answer again is refused.
    let replayed = alice
        .post(
            "/bank/online/passkeys",
            &[
                ("label", "Again"),
                ("credential", &created),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert!(
        replayed.body.contains("could not be registered"),
        "{}",
        replayed.body
    );
    let (psu, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert_eq!(store.psu_passkeys(psu.id).await.unwrap().len(), 1);
    // Her only second factor cannot be removed.
    let id = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &phone.credential_id,
    );
    let page = alice.get("/bank/online/security").await;
    let removal = alice
        .post(
            &format!("/bank/online/passkeys/{id}/remove"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(removal.status, StatusCode::BAD_REQUEST);
    assert!(removal.body.contains("only way to confirm"));

    // Online banking: the passkey is the second factor; an assertion works once.
    let mut b = Browser::new(&server);
    let start = b.get("/bank/online").await;
    b.post(
        "/bank/online/login",
        &[
            ("login", "alice"),
            ("password", "alice-demo-2026"),
            ("csrf", &start.csrf()),
        ],
    )
    .await;
    let sca = b.get("/bank/online/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&sca.body));
    let signed_in = b
        .post(
            "/bank/online/sca",
            &[("credential", &assertion), ("csrf", &sca.csrf())],
        )
        .await;
    assert_eq!(
        signed_in.location.as_deref(),
        Some("/bank/online/consents"),
        "{}",
        signed_in.body
    );
    let mut other = Browser::new(&server);
    let start = other.get("/bank/online").await;
    other
        .post(
            "/bank/online/login",
            &[
                ("login", "alice"),
                ("password", "alice-demo-2026"),
                ("csrf", &start.csrf()),
            ],
        )
        .await;
    let sca = other.get("/bank/online/sca").await;
    let replay = other
        .post(
            "/bank/online/sca",
            &[("credential", &assertion), ("csrf", &sca.csrf())],
        )
        .await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "an assertion for another session's challenge"
    );
    assert!(
        store.psu_passkeys(psu.id).await.unwrap()[0]
            .last_used_at
            .is_some()
    );

    // A payment: the challenge carries its digest; the sandbox code no longer does.
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let debtor = store.accounts_of_psu(psu.id).await.unwrap().remove(0);
    let before = debtor.balances.booked;
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "7.50"}, "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()}, "creditorName": "Bakery", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let created = tpp
        .call(
            reqwest::Method::POST,
            "/v1/payments/instant-sepa-credit-transfers",
            &cc,
            &[("psu-ip-address", "192.0.2.7")],
            Some(&body),
        )
        .await;
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let mut psu_browser = Browser::new(&server);
    open(
        &mut psu_browser,
        &tpp.key,
        &tpp.par_scope(&format!("PIS:{payment}")).await,
    )
    .await;
    log_in(&mut psu_browser, "alice", "alice-demo-2026").await;
    let page = psu_browser.get("/bank/sca").await;
    let options = crate::support::passkey::options_on(&page.body);
    let stored = store
        .payment(payment.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let challenge = crate::support::passkey::challenge(&options);
    assert_eq!(challenge.len(), 48);
    assert_eq!(
        challenge[..32],
        fintechapi_bank::passkey::payment_digest(&stored)[..],
        "the payment's digest is what the passkey signs"
    );
    let sandbox = psu_browser
        .post(
            "/bank/sca",
            &[("code", SANDBOX_CODE), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(
        sandbox.status,
        StatusCode::UNAUTHORIZED,
        "a PSU with a passkey signs payments with it"
    );
    // The amount changes after the challenge: the signed assertion is void.
    let page = psu_browser.get("/bank/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&page.body));
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 75000 WHERE id = '{payment}'"
        ))
        .await;
    let changed = psu_browser
        .post(
            "/bank/sca",
            &[("credential", &assertion), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(changed.status, StatusCode::UNAUTHORIZED);
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 750 WHERE id = '{payment}'"
        ))
        .await;
    let page = psu_browser.get("/bank/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&page.body));
    let ok = psu_browser
        .post(
            "/bank/sca",
            &[("credential", &assertion), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/bank/consent")),
        "{}",
        ok.body
    );
    let screen = psu_browser.get("/bank/consent").await;
    let approved = psu_browser
        .post(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
        )
        .await;
    let code = approved_code(&approved);
    let token = tpp.exchange(&code).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/payments/instant-sepa-credit-transfers/{payment}/status"),
            &token,
            &[],
            None,
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        before - 750
    );
    let failures = store.psu(psu.id).await.unwrap().unwrap().failed_logins;
    assert_eq!(failures, 0, "a success clears the failures");
    server.stop().await;
}
both_stores!(a_passkey_confirms_sign_in_and_signs_exactly_the_payment);

async fn an_available_accounts_with_balance_consent_lists_the_accounts_with_balances(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp
        .consent(
            &cc,
            json!({"availableAccountsWithBalance": "allAccounts"}),
            4,
        )
        .await;
    let tokens = tpp
        .tokens(&server, &consent, "carol", "carol-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let headers = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let list = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts?withBalance=true",
            &token,
            &headers,
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let accounts = list.body["accounts"].as_array().unwrap();
    assert!(
        !accounts.is_empty() && accounts.iter().all(|a| a["balances"].is_array()),
        "{}",
        list.body
    );
    // Transactions are not part of it.
    let id = accounts[0]["resourceId"].as_str().unwrap();
    let refused = tpp
        .call(
            reqwest::Method::GET,
            &format!("/v1/accounts/{id}/transactions?bookingStatus=booked"),
            &token,
            &headers,
            None,
        )
        .await;
    assert_ne!(refused.status, StatusCode::OK);
    server.stop().await;
}
both_stores!(an_available_accounts_with_balance_consent_lists_the_accounts_with_balances);

async fn each_privilege_step_renews_the_bank_session_so_a_known_id_is_dead_after_it(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    // An attacker who knows (or planted) the session id before login.
    let mut attacker = Browser::new(&server);
    attacker.cookies = psu.cookies.clone();
    let before_login = psu.cookies["__Host-ftapi_psu"].clone();
    let ok = log_in(&mut psu, "carol", "carol-demo-2026").await;
    assert_eq!(ok.location.as_deref(), Some("/bank/sca"), "{}", ok.body);
    let after_login = psu.cookies["__Host-ftapi_psu"].clone();
    assert_ne!(
        before_login, after_login,
        "a new session id once the password is accepted"
    );
    assert_eq!(
        attacker.get("/bank/sca").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    attacker.cookies = psu.cookies.clone();
    let ok = second_factor(&mut psu, SANDBOX_CODE).await;
    assert_eq!(ok.location.as_deref(), Some("/bank/consent"), "{}", ok.body);
    assert_ne!(
        psu.cookies["__Host-ftapi_psu"], after_login,
        "a new session id once the second factor is accepted"
    );
    assert_eq!(
        attacker.get("/bank/consent").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    assert_eq!(psu.get("/bank/consent").await.status, StatusCode::OK);

    // Online banking renews the same way.
    let mut alice = Browser::new(&server);
    let start = alice.get("/bank/online").await;
    let mut attacker = Browser::new(&server);
    attacker.cookies = alice.cookies.clone();
    alice
        .post(
            "/bank/online/login",
            &[
                ("login", "alice"),
                ("password", "alice-demo-2026"),
                ("csrf", &start.csrf()),
            ],
        )
        .await;
    assert_ne!(
        alice.cookies["__Host-ftapi_bank"],
        attacker.cookies["__Host-ftapi_bank"]
    );
    assert_eq!(
        attacker.get("/bank/online/sca").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    attacker.cookies = alice.cookies.clone();
    let sca = alice.get("/bank/online/sca").await;
    let done = alice
        .post(
            "/bank/online/sca",
            &[("code", SANDBOX_CODE), ("csrf", &sca.csrf())],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/bank/online/consents"),
        "{}",
        done.body
    );
    assert_eq!(
        attacker.get("/bank/online/consents").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    assert_eq!(
        alice.get("/bank/online/consents").await.status,
        StatusCode::OK
    );
    server.stop().await;
}
both_stores!(each_privilege_step_renews_the_bank_session_so_a_known_id_is_dead_after_it);

async fn a_failed_code_exchange_does_not_spend_the_code_and_only_its_client_can_replay_it(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let out = crate::support::fintechapi(
        &server.db,
        &[
            "admin",
            "app",
            "create",
            "--org",
            "Other TPP Ltd",
            "--name",
            "Other App",
            "--redirect-uri",
            REDIRECT,
            "--products",
            "ais",
            "--json",
        ],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stranger = Tpp {
        http: server.client(),
        base: server.base_url.clone(),
        key: json["client_id"].as_str().unwrap().to_owned(),
        secret: json["client_secret"].as_str().unwrap().to_owned(),
    };
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let code = tpp
        .code(&server, &tpp.par(&consent).await, "bob", "bob-demo-2026")
        .await;
    let exchange = |who: &Tpp, redirect: &str, verifier: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ];
        let req = who
            .http
            .post(format!("{}/oauth2/token", who.base))
            .basic_auth(&who.key, Some(&who.secret))
            .form(&form);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let other_verifier = "another-pkce-code-verifier-of-fifty-characters-0123";
    for (who, redirect, verifier) in [
        (&stranger, REDIRECT, VERIFIER),
        (&tpp, REDIRECT, other_verifier),
        (&tpp, "https://acme.example/other", VERIFIER),
    ] {
        let failed = exchange(who, redirect, verifier).await;
        assert_eq!(
            (failed.status, failed.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{}",
            failed.body
        );
    }
    let tokens = tpp.exchange(&code).await;
    assert_eq!(
        tokens.status,
        StatusCode::OK,
        "the code survived the failed attempts: {}",
        tokens.body
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", "192.0.2.7"),
    ];

    // Another client presenting the spent code neither gets tokens nor revokes the grant.
    let foreign = exchange(&stranger, REDIRECT, VERIFIER).await;
    assert_eq!(foreign.body["error"], "invalid_grant");
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &with_psu,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Its own client replaying it revokes what was issued from it.
    let replay = tpp.exchange(&code).await;
    assert!(
        replay.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        replay.body
    );
    assert_eq!(
        tpp.call(
            reqwest::Method::GET,
            "/v1/accounts",
            &token,
            &with_psu,
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}
both_stores!(a_failed_code_exchange_does_not_spend_the_code_and_only_its_client_can_replay_it);

async fn changing_the_second_factor_needs_it_passed_within_five_minutes(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    assert!(
        carol
            .get("/bank/online/security")
            .await
            .body
            .contains("totp-secret"),
        "fresh after login"
    );
    // Still signed in (active every 4 minutes), but the factor is 8 minutes old.
    for _ in 0..2 {
        clock.advance(time::Duration::minutes(4));
        assert_eq!(
            carol.get("/bank/online/consents").await.status,
            StatusCode::OK
        );
    }
    let page = carol.get("/bank/online/security").await;
    assert!(
        !page.body.contains("totp-secret") && page.body.contains("Confirm it is you"),
        "{}",
        page.body
    );
    let seed = fintechapi_domain::otp::Seed::generate().unwrap();
    let secret = seed.to_base32();
    let code = seed.code_at(clock.now()).unwrap();
    let replaced = carol
        .post(
            "/bank/online/security",
            &[("seed", &secret), ("code", &code), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::FORBIDDEN, "{}", replaced.body);
    let store = server.db.store().await;
    assert!(
        !store
            .psu_by_login("carol")
            .await
            .unwrap()
            .unwrap()
            .0
            .totp_enabled,
        "the app was not replaced"
    );
    let added = carol
        .post(
            "/bank/online/passkeys",
            &[
                ("label", "Phone"),
                ("credential", "{}"),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::FORBIDDEN);
    let removed = carol
        .post(
            "/bank/online/passkeys/some-id/remove",
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN);

    // Passing the second factor again opens the changes for five minutes.
    let confirm = carol
        .post("/bank/online/confirm", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(
        confirm.location.as_deref(),
        Some("/bank/online/sca"),
        "{}",
        confirm.body
    );
    let sca = carol.get("/bank/online/sca").await;
    let done = carol
        .post(
            "/bank/online/sca",
            &[("code", SANDBOX_CODE), ("csrf", &sca.csrf())],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/bank/online/security"),
        "{}",
        done.body
    );
    let page = carol.get("/bank/online/security").await;
    assert!(page.body.contains("totp-secret"), "{}", page.body);
    let replaced = carol
        .post(
            "/bank/online/security",
            &[("seed", &secret), ("code", &code), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert!(
        store
            .psu_by_login("carol")
            .await
            .unwrap()
            .unwrap()
            .0
            .totp_enabled
    );
    server.stop().await;
}
both_stores!(changing_the_second_factor_needs_it_passed_within_five_minutes);
