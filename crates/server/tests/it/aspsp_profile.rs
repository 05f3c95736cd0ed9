//! The ASPSP profile (`GET /aspsp-profile`) tried against the running API:
//! each feature it offers works, each it refuses is refused, with the values
//! it names.

use crate::support::xs2a::{Answer, REDIRECT, Tpp, psu_headers};
use crate::support::{accounts_of, demo_server, demo_server_at, iban};
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PSU_PRESENT: [(&str, &str); 1] = [("psu-ip-address", "192.0.2.7")];

async fn profile(tpp: &Tpp) -> Value {
    let resp = tpp
        .http
        .get(format!("{}/aspsp-profile", tpp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn consent_body(access: Value, recurring: bool, until: &str, frequency: u64) -> Value {
    json!({"access": access, "recurringIndicator": recurring, "validUntil": until,
        "frequencyPerDay": frequency, "combinedServiceIndicator": false})
}

async fn consents_and_sca_are_as_the_profile_says(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let profile = profile(&tpp).await;
    let ais = &profile["ais"];
    let cc = tpp.client_token().await;
    let post = |body: Value, headers: Vec<(&'static str, &'static str)>| {
        let (tpp, cc) = (&tpp, &cc);
        async move {
            tpp.call(Method::POST, "/v1/consents", cc, &headers, Some(&body))
                .await
        }
    };

    // Every kind of access offered is granted; an empty list is a bank-offered consent.
    for kind in strings(&ais["access"]) {
        let value = match kind.as_str() {
            "accounts" | "balances" | "transactions" => json!([]),
            _ => json!("allAccounts"),
        };
        let a = post(
            consent_body(json!({ kind.as_str(): value }), true, "2099-12-31", 4),
            vec![],
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{kind}: {}", a.body);
        let approaches = strings(&profile["sca"]["approaches"]);
        assert_eq!(a.headers["aspsp-sca-approach"], approaches[0].as_str());
    }
    assert_eq!(ais["bankOfferedConsent"], true);
    let unoffered = post(
        consent_body(
            json!({"additionalInformation": {"ownerName": []}}),
            true,
            "2099-12-31",
            4,
        ),
        vec![],
    )
    .await;
    unoffered.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");

    // validUntil far out is granted up to the profile's number of days.
    let days = ais["maxConsentValidityDays"].as_i64().unwrap();
    let long = post(
        consent_body(json!({"allPsd2": "allAccounts"}), true, "2099-12-31", 4),
        vec![],
    )
    .await;
    let id = long.body["consentId"].as_str().unwrap();
    let read = tpp.get(&format!("/v1/consents/{id}"), &cc, &[]).await;
    let granted = read.body["validUntil"].as_str().unwrap().to_owned();
    let cap = (clock.now().date() + time::Duration::days(days)).to_string();
    assert_eq!(granted, cap, "today + {days} days");

    let max = ais["maxFrequencyPerDay"].as_u64().unwrap();
    let at_max = post(
        consent_body(json!({"allPsd2": "allAccounts"}), true, "2099-12-31", max),
        vec![],
    )
    .await;
    assert_eq!(at_max.status, StatusCode::CREATED, "{}", at_max.body);
    let over = post(
        consent_body(
            json!({"allPsd2": "allAccounts"}),
            true,
            "2099-12-31",
            max + 1,
        ),
        vec![],
    )
    .await;
    over.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    assert_eq!(ais["oneOffConsent"], true);
    let one_off = post(
        consent_body(json!({"allPsd2": "allAccounts"}), false, "2099-12-31", 1),
        vec![],
    )
    .await;
    assert_eq!(one_off.status, StatusCode::CREATED, "{}", one_off.body);

    assert_eq!(ais["combinedServiceIndicator"], false);
    let mut combined = consent_body(json!({"allPsd2": "allAccounts"}), true, "2099-12-31", 4);
    combined["combinedServiceIndicator"] = json!(true);
    let combined = post(combined, vec![]).await;
    combined.assert_tpp_message(StatusCode::BAD_REQUEST, "SESSIONS_NOT_SUPPORTED");

    // Embedded SCA is refused; Decoupled is offered, with PSU-ID.
    let sca = &profile["sca"];
    assert_eq!(
        (sca["embedded"].as_bool(), sca["decoupled"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(strings(&sca["approaches"]).contains(&"DECOUPLED".to_owned()));
    let all = || consent_body(json!({"allPsd2": "allAccounts"}), true, "2099-12-31", 4);
    let embedded = post(
        all(),
        vec![
            ("tpp-redirect-preferred", "false"),
            ("tpp-decoupled-preferred", "false"),
        ],
    )
    .await;
    embedded.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");
    assert_eq!(sca["decoupledRequiresPsuId"], true);
    for asked in [
        ("tpp-redirect-preferred", "false"),
        ("tpp-decoupled-preferred", "true"),
    ] {
        let anonymous = post(all(), vec![asked]).await;
        anonymous.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
        let named = post(all(), vec![asked, ("psu-id", "alice")]).await;
        assert_eq!(named.status, StatusCode::CREATED, "{}", named.body);
        assert_eq!(named.headers["aspsp-sca-approach"], "DECOUPLED");
        assert_eq!(named.body["scaStatus"], "received", "{}", named.body);
        assert!(named.body["psuMessage"].is_string(), "{}", named.body);
        assert!(named.body["_links"].get("scaRedirect").is_none());
        assert!(named.body["_links"]["scaStatus"]["href"].is_string());
    }

    // An explicit start: with OAuth refused, with Redirect a new scaRedirect link.
    assert_eq!(sca["explicitStartWithOAuth"], false);
    let start = format!("/v1/consents/{id}/authorisations");
    let oauth = tpp
        .call(Method::POST, &start, &cc, &[], Some(&json!({})))
        .await;
    oauth.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");
    assert_eq!(sca["explicitStartWithRedirect"], true);
    let redirect = [
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let started = tpp
        .call(Method::POST, &start, &cc, &redirect, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    tpp.sca_link(&started);

    // TPP-Explicit-Authorisation-Preferred: the initiation only links where to start.
    assert_eq!(sca["explicitAuthorisationPreferred"], true);
    let explicit = [
        redirect[0],
        redirect[1],
        ("tpp-explicit-authorisation-preferred", "true"),
    ];
    let later = post(all(), explicit.to_vec()).await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
    let later_id = later.body["consentId"].as_str().unwrap();
    let links = &later.body["_links"];
    assert!(links.get("scaRedirect").is_none(), "{}", later.body);
    let start_later = format!("/v1/consents/{later_id}/authorisations");
    assert_eq!(links["startAuthorisation"]["href"], start_later.as_str());
    let started = tpp
        .call(Method::POST, &start_later, &cc, &redirect, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    tpp.sca_link(&started);

    // An explicit start with Decoupled; unanswered for the profile's
    // minutes, the authorisation has failed.
    assert_eq!(sca["explicitStartWithDecoupled"], true);
    let decoupled = [("tpp-decoupled-preferred", "true"), ("psu-id", "alice")];
    let started = tpp
        .call(Method::POST, &start, &cc, &decoupled, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.headers["aspsp-sca-approach"], "DECOUPLED");
    assert!(started.body["psuMessage"].is_string(), "{}", started.body);
    let status_link = started.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        tpp.get(&status_link, &cc, &[]).await.body["scaStatus"],
        "received"
    );
    let minutes = sca["decoupledExpiryMinutes"].as_i64().unwrap();
    clock.advance(time::Duration::minutes(minutes) - time::Duration::seconds(1));
    let fresh = tpp.client_token().await;
    let polled = tpp.get(&status_link, &fresh, &[]).await;
    assert_eq!(polled.body["scaStatus"], "received", "{}", polled.body);
    clock.advance(time::Duration::seconds(1));
    let polled = tpp.get(&status_link, &fresh, &[]).await;
    assert_eq!(polled.body["scaStatus"], "failed", "{}", polled.body);
    // Later calls with a token issued after the clock moved.
    let cc = fresh;

    // Answers come in the media types listed, and in no other.
    let listed = strings(&profile["answerMediaTypes"]);
    for accept in &listed {
        let a = tpp
            .get(&format!("/v1/consents/{id}"), &cc, &[("accept", accept)])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{accept}: {}", a.body);
    }
    assert!(!listed.iter().any(|m| m == "application/xml"));
    let xml = tpp
        .get(
            &format!("/v1/consents/{id}/status"),
            &cc,
            &[("accept", "application/xml")],
        )
        .await;
    xml.assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");

    // Every operation of the specification it refuses says so.
    let refused = profile["refusedOperations"].as_array().unwrap();
    assert_eq!(refused.len(), 5);
    for op in refused {
        let path = op["path"]
            .as_str()
            .unwrap()
            .replace("{payment-service}", "payments")
            .replace("{payment-product}", "sepa-credit-transfers")
            .replace("{consentId}", id)
            .replace("{paymentId}", &uuid::Uuid::new_v4().to_string())
            .replace("{basketId}", &uuid::Uuid::new_v4().to_string())
            .replace("{authorisationId}", &uuid::Uuid::new_v4().to_string());
        let method = Method::from_bytes(op["method"].as_str().unwrap().as_bytes()).unwrap();
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let a = tpp.call(method, &path, &cc, &[], body.as_ref()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{op}: {}", a.body);
        assert_eq!(
            a.tpp_message().0,
            Some("SERVICE_INVALID"),
            "{op}: {}",
            a.body
        );
    }
    // Signing baskets: at most maxEntries entries, by the Redirect approach only.
    assert_eq!(profile["signingBaskets"], true);
    let baskets = &profile["signingBasket"];
    assert_eq!(baskets["scaApproaches"], json!(["REDIRECT"]));
    let max = baskets["maxEntries"].as_u64().unwrap() as usize;
    let ids =
        |n: usize| -> Vec<String> { (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect() };
    const BY_REDIRECT: [(&str, &str); 3] = [
        ("psu-ip-address", "192.0.2.7"),
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let basket = |headers: &'static [(&'static str, &'static str)], body: Value| {
        let (tpp, cc) = (&tpp, &cc);
        async move {
            tpp.call(
                Method::POST,
                "/v1/signing-baskets",
                cc,
                headers,
                Some(&body),
            )
            .await
        }
    };
    let too_many = basket(&BY_REDIRECT, json!({"paymentIds": ids(max + 1)})).await;
    too_many.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    // As many as allowed pass the count: each is then looked up.
    let at_most = basket(&BY_REDIRECT, json!({"paymentIds": ids(max)})).await;
    at_most.assert_refusal(StatusCode::BAD_REQUEST, "RESOURCE_UNKNOWN", "paymentIds[0]");
    let by_oauth = basket(&BY_REDIRECT[..1], json!({"consentIds": [id]})).await;
    by_oauth.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");

    // Notifications: every content constant named is honoured, the default
    // is what a consent without preferences gets, the URI rule and length hold.
    let notifications = &profile["notifications"];
    assert_eq!(notifications["supported"], true);
    let body = consent_body(json!({"allPsd2": "allAccounts"}), true, "2099-12-31", 4);
    let consent_with = |headers: Vec<(&'static str, String)>| {
        let (tpp, cc, body) = (&tpp, &cc, &body);
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            tpp.call(Method::POST, "/v1/consents", cc, &headers, Some(body))
                .await
        }
    };
    let uri = || {
        (
            "tpp-notification-uri",
            "https://acme.example/notifications".to_owned(),
        )
    };
    for constant in strings(&notifications["content"]) {
        let preferred = format!("status={constant}");
        let a = consent_with(vec![
            uri(),
            ("tpp-notification-content-preferred", preferred.clone()),
        ])
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.headers["aspsp-notification-support"], "true");
        assert_eq!(a.headers["aspsp-notification-content"], preferred.as_str());
    }
    let default = consent_with(vec![uri()]).await;
    assert_eq!(
        default.headers["aspsp-notification-content"],
        notifications["defaultContent"].as_str().unwrap()
    );
    let unsupported = consent_with(vec![
        uri(),
        ("tpp-notification-content-preferred", "status=ALL".into()),
    ])
    .await;
    assert_eq!(unsupported.status, StatusCode::CREATED);
    assert_eq!(unsupported.headers["aspsp-notification-support"], "false");
    let longest = notifications["maxUriLength"].as_u64().unwrap() as usize;
    let base = "https://acme.example/";
    let fits = format!("{base}{}", "n".repeat(longest - base.len()));
    assert_eq!(
        consent_with(vec![("tpp-notification-uri", fits.clone())])
            .await
            .status,
        StatusCode::CREATED
    );
    for refused in [format!("{fits}n"), "https://other.example/n".into()] {
        consent_with(vec![("tpp-notification-uri", refused)])
            .await
            .assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    }
    server.stop().await;
}

both_stores!(consents_and_sca_are_as_the_profile_says);

async fn every_payment_service_and_product_named_is_offered(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let profile = profile(&tpp).await;
    let pis = &profile["pis"];
    let token = tpp.client_token().await;
    let debtor = iban(&accounts_of(&server, "alice").await[0]);
    let transfer = json!({"instructedAmount": {"currency": "EUR", "amount": "1.00"},
        "debtorAccount": {"iban": debtor}, "creditorName": "Landlord",
        "creditorAccount": {"iban": "DE02120300000000202051"}});
    let tomorrow = clock.now().date().next_day().unwrap().to_string();
    let mut standing_order = transfer.clone();
    standing_order["startDate"] = json!(tomorrow);
    standing_order["frequency"] = json!("Monthly");
    let bulk = json!({"batchBookingPreferred": pis["batchBooking"], "debtorAccount": {"iban": debtor},
        "payments": [{"instructedAmount": {"currency": "EUR", "amount": "2.00"}, "creditorName": "Shop",
            "creditorAccount": {"iban": "DE89370400440532013000"}}]});
    let mut future = transfer.clone();
    future["requestedExecutionDate"] = json!(tomorrow);

    let products = strings(&pis["products"]);
    for service in strings(&pis["services"]) {
        let body = match service.as_str() {
            "payments" => &transfer,
            "periodic-payments" => &standing_order,
            "bulk-payments" => &bulk,
            other => panic!("a service the test does not know: {other}"),
        };
        for product in &products {
            let path = format!("/v1/{service}/{product}");
            let a = tpp
                .call(Method::POST, &path, &token, &PSU_PRESENT, Some(body))
                .await;
            if product.starts_with("pain.001-") {
                // Known, and it takes a pain.001 document, not JSON.
                assert_eq!(
                    a.status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{path}: {}",
                    a.body
                );
                let text = a.body["tppMessages"][0]["text"]
                    .as_str()
                    .unwrap_or_default();
                assert!(text.contains("pain.001"), "{path}: {}", a.body);
            } else {
                assert_eq!(a.status, StatusCode::CREATED, "{path}: {}", a.body);
            }
        }
    }
    let unknown = tpp
        .call(
            Method::POST,
            "/v1/payments/faster-payments",
            &token,
            &PSU_PRESENT,
            Some(&transfer),
        )
        .await;
    unknown.assert_tpp_message(StatusCode::NOT_FOUND, "PRODUCT_UNKNOWN");

    assert_eq!(pis["futureDated"], true);
    let scheduled = tpp
        .call(
            Method::POST,
            "/v1/payments/sepa-credit-transfers",
            &token,
            &PSU_PRESENT,
            Some(&future),
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::CREATED, "{}", scheduled.body);
    assert_eq!(pis["cancellation"], true);
    let id = scheduled.body["paymentId"].as_str().unwrap();
    let cancelled = tpp
        .delete(
            &format!("/v1/payments/sepa-credit-transfers/{id}"),
            &token,
            &[],
        )
        .await;
    assert_eq!(
        cancelled.status,
        StatusCode::NO_CONTENT,
        "{}",
        cancelled.body
    );

    // Funds confirmation only under the holder's consent.
    assert_eq!(profile["piis"]["consentRequired"], true);
    let piis = Tpp::with_nok(&server, "Funds Checker AG", "ais,piis");
    let cc = piis.client_token().await;
    let ask = json!({"account": {"iban": debtor}, "instructedAmount": {"currency": "EUR", "amount": "1.00"}});
    let unasked = piis
        .call(
            Method::POST,
            "/v1/funds-confirmations",
            &cc,
            &[],
            Some(&ask),
        )
        .await;
    unasked.assert_tpp_message(StatusCode::BAD_REQUEST, "NO_PIIS_ACTIVATION");
    server.stop().await;
}

both_stores!(every_payment_service_and_product_named_is_offered);

async fn every_report_option_named_is_served(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let profile = profile(&tpp).await;
    let ais = &profile["ais"];
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let token = tpp
        .authorise(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let present = psu_headers(&consent);
    let accounts = tpp.get("/v1/accounts", &token, &present).await;
    let account = accounts.body["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = |query: String| {
        let (tpp, token) = (&tpp, &token);
        let path = format!("/v1/accounts/{account}/transactions?{query}");
        async move { tpp.get(&path, token, &present).await }
    };

    for status in strings(&ais["bookingStatus"]) {
        let a = report(format!("bookingStatus={status}")).await;
        assert_eq!(a.status, StatusCode::OK, "{status}: {}", a.body);
    }
    let max = ais["maxItemsPerPage"].as_u64().unwrap();
    let page = report(format!("bookingStatus=booked&itemsPerPage={max}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let over = report(format!("bookingStatus=booked&itemsPerPage={}", max + 1)).await;
    over.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    assert_eq!(ais["pageIndex"], false);
    let numbered = report("bookingStatus=booked&pageIndex=2".into()).await;
    numbered.assert_tpp_message(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED");
    for (flag, option) in [("deltaList", "deltaList"), ("withBalance", "withBalance")] {
        assert_eq!(ais[flag], true);
        let a = report(format!("bookingStatus=booked&{option}=true")).await;
        assert_eq!(a.status, StatusCode::OK, "{option}: {}", a.body);
    }

    // The report comes in every media type listed, in its own type, and in no other.
    let types = strings(&ais["transactionReportMediaTypes"]);
    assert_eq!(types[0], "application/json");
    let documents = &ais["transactionDocuments"];
    let yesterday = SystemClock.today() - time::Duration::days(1);
    let closed = format!(
        "/v1/accounts/{account}/transactions?bookingStatus=booked&dateFrom={}&dateTo={yesterday}",
        yesterday - time::Duration::days(30)
    );
    let with_accept = |path: String, accept: String| {
        let (tpp, token) = (&tpp, &token);
        async move { read_as(tpp, token, present, &path, &accept).await }
    };
    for accept in &types {
        let a = with_accept(closed.clone(), accept.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{accept}: {}", a.text);
        assert_eq!(a.headers["content-type"], accept);
    }
    let statement = with_accept(closed.clone(), "application/xml".into()).await;
    let camt_statement = documents["camtStatement"].as_str().unwrap();
    assert!(
        statement.text.contains(camt_statement),
        "{}",
        statement.text
    );
    let when = documents["camtStatementWhen"].as_str().unwrap();
    assert!(when.contains("bookingStatus=booked") && when.contains("dateTo before today"));
    let open = format!("/v1/accounts/{account}/transactions?bookingStatus=both");
    let camt052 = with_accept(open, "application/xml".into()).await;
    let camt_report = documents["camtReport"].as_str().unwrap();
    assert!(camt052.text.contains(camt_report), "{}", camt052.text);
    assert_eq!(strings(&documents["mt940BookingStatus"]), ["booked"]);
    let pending = format!("/v1/accounts/{account}/transactions?bookingStatus=pending");
    with_accept(pending, "text/plain".into())
        .await
        .assert_tpp_message(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED");
    assert_eq!(documents["paged"], false);
    assert_eq!(documents["deltaList"], false);
    assert_eq!(documents["maxEntries"], 1000);
    for option in ["itemsPerPage=10", "deltaList=true"] {
        let path = format!("/v1/accounts/{account}/transactions?bookingStatus=booked&{option}");
        with_accept(path, "application/xml".into())
            .await
            .assert_tpp_message(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED");
    }
    for unlisted in ["text/html", "application/pdf", "text/csv"] {
        assert!(!types.iter().any(|t| t == unlisted));
        with_accept(closed.clone(), unlisted.into())
            .await
            .assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");
    }

    assert_eq!(ais["cardAccounts"], true);
    let cards = tpp.get("/v1/card-accounts", &token, &present).await;
    assert_eq!(cards.status, StatusCode::OK, "{}", cards.body);
    let card = cards.body["cardAccounts"][0]["resourceId"]
        .as_str()
        .unwrap();
    let card_statuses = strings(&ais["cardAccountBookingStatus"]);
    for status in strings(&ais["bookingStatus"]) {
        let path = format!("/v1/card-accounts/{card}/transactions?bookingStatus={status}");
        let a = tpp.get(&path, &token, &present).await;
        if card_statuses.contains(&status) {
            assert_eq!(a.status, StatusCode::OK, "{status}: {}", a.body);
        } else {
            a.assert_tpp_message(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED");
        }
    }
    // A card account's report is JSON only.
    let card_report = format!("/v1/card-accounts/{card}/transactions?bookingStatus=booked");
    for document in &types[1..] {
        with_accept(card_report.clone(), document.clone())
            .await
            .assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");
    }
    server.stop().await;
}

both_stores!(every_report_option_named_is_served);

/// A read of `path` with the PSU present, asking for `accept`.
async fn read_as(
    tpp: &Tpp,
    token: &str,
    present: [(&str, &str); 2],
    path: &str,
    accept: &str,
) -> Answer {
    let headers = [present[0], present[1], ("accept", accept)];
    tpp.get(path, token, &headers).await
}

/// `multilevelSca`: a payment from the demo joint account waits (PATC) for
/// the second holder's own authorisation, which the TPP starts; consents
/// too (`multilevelScaCovers`, tried in `multilevel_sca.rs`).
async fn multilevel_sca_is_as_the_profile_says(db: TestDb) {
    use crate::multilevel_sca::{approve_decoupled, joint_bank, joint_payment, start, status};
    let (server, tpp, cc, joint) = joint_bank(db).await;
    let claimed = profile(&tpp).await;
    assert_eq!(claimed["multilevelSca"], true);
    assert_eq!(
        claimed["multilevelScaCovers"],
        json!(["payments", "consents"])
    );
    let for_dave = [("tpp-decoupled-preferred", "true"), ("psu-id", "dave")];
    let payment = joint_payment(&tpp, &cc, &joint).await;
    start(&tpp, &cc, &payment, &for_dave).await;
    approve_decoupled(&server, "dave", "approve").await;
    assert_eq!(status(&tpp, &cc, &payment).await, "PATC");
    let for_erin = [("tpp-decoupled-preferred", "true"), ("psu-id", "erin")];
    start(&tpp, &cc, &payment, &for_erin).await;
    approve_decoupled(&server, "erin", "approve").await;
    assert_eq!(status(&tpp, &cc, &payment).await, "ACSC");
    server.stop().await;
}
both_stores!(multilevel_sca_is_as_the_profile_says);
