//! XS2A over HTTPS on both stores: the 24-hour idempotency of `X-Request-ID`
//! on consents and payments, also under concurrent duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod support;

use std::sync::Arc;

use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_storage::Store;
use fintechapi_testkit::both_stores;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::xs2a::{Answer, Tpp};
use support::{TestServer, config_for, demo_server};

const PSU_PRESENT: &str = "192.0.2.7";

/// The first account of a demo PSU.
async fn account_of(store: &Store, login: &str) -> Account {
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.accounts_of_psu(psu.id).await.unwrap().remove(0)
}

fn iban(account: &Account) -> String {
    account.iban.as_ref().unwrap().as_str().to_owned()
}

fn consent_body(access: Value) -> Value {
    json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4})
}

fn payment_body(debtor: &Account, amount: &str) -> Value {
    json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": iban(debtor)}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}})
}

async fn count(server: &TestServer, table: &str) -> String {
    server
        .db
        .raw_strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .await
        .remove(0)
}

both_stores! {
    async fn an_x_request_id_names_one_consent_and_one_payment_for_24_hours(db) {
        let clock = ManualClock::new(SystemClock.now());
        let mut config = config_for(&db);
        config.demo.seed = Some(true);
        let server = TestServer::start_with_clock(db, config, Arc::new(clock.clone())).await;
        let tpp = Tpp::new(&server, &server.db, "ais,pis");
        let debtor = account_of(&server.db.store().await, "bob").await;
        let request_id = uuid::Uuid::new_v4().to_string();
        let consent = consent_body(json!({"allPsd2": "allAccounts"}));
        let other_consent = consent_body(json!({"availableAccounts": "allAccounts"}));
        let payment = payment_body(&debtor, "10.00");
        let other_payment = payment_body(&debtor, "11.00");
        let payments = "/v1/payments/sepa-credit-transfers";
        // Both resources with the one X-Request-ID; the ids created, or the refusal.
        let post = |body: &Value, path: &'static str| {
            let (tpp, request_id, body) = (&tpp, request_id.clone(), body.clone());
            async move {
                let token = tpp.client_token().await;
                tpp.call_as(&request_id, Method::POST, path, &token, &[("psu-ip-address", PSU_PRESENT)], Some(&body)).await
            }
        };
        let created = |a: &Answer, key: &str| {
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            a.body[key].as_str().unwrap().to_owned()
        };

        let first_consent = created(&post(&consent, "/v1/consents").await, "consentId");
        let first_payment = created(&post(&payment, payments).await, "paymentId");

        // A second before the day is over: the first answer again, another body refused.
        clock.advance(time::Duration::hours(24) - time::Duration::seconds(1));
        assert_eq!(created(&post(&consent, "/v1/consents").await, "consentId"), first_consent);
        assert_eq!(created(&post(&payment, payments).await, "paymentId"), first_payment);
        for (body, path) in [(&other_consent, "/v1/consents"), (&other_payment, payments)] {
            let refused = post(body, path).await;
            assert_eq!((refused.status, refused.tpp_message()), (StatusCode::BAD_REQUEST, (Some("FORMAT_ERROR"), Some("X-Request-ID"))), "{path}: {}", refused.body);
            assert!(refused.body["tppMessages"][0]["text"].as_str().unwrap().contains("24 hours"));
        }
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("1".into(), "1".into()));

        // 24 hours after the first use the X-Request-ID creates anew, and names the new ones.
        clock.advance(time::Duration::seconds(1));
        let second_consent = created(&post(&consent, "/v1/consents").await, "consentId");
        let second_payment = created(&post(&payment, payments).await, "paymentId");
        assert_ne!(second_consent, first_consent);
        assert_ne!(second_payment, first_payment);
        clock.advance(time::Duration::hours(1));
        assert_eq!(created(&post(&consent, "/v1/consents").await, "consentId"), second_consent);
        assert_eq!(created(&post(&payment, payments).await, "paymentId"), second_payment);
        assert_eq!(post(&other_consent, "/v1/consents").await.tpp_message(), (Some("FORMAT_ERROR"), Some("X-Request-ID")));
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("2".into(), "2".into()));

        // The first ones are still there, unchanged.
        let cc = tpp.client_token().await;
        let read = tpp.call(Method::GET, &format!("/v1/consents/{first_consent}"), &cc, &[], None).await;
        assert_eq!((read.status, read.body["consentStatus"].as_str()), (StatusCode::OK, Some("received")));
        let status = tpp.call(Method::GET, &format!("{payments}/{first_payment}/status"), &cc, &[], None).await;
        assert_eq!((status.status, status.body["transactionStatus"].as_str()), (StatusCode::OK, Some("RCVD")));
        server.stop().await;
    }
}

both_stores! {
    async fn concurrent_duplicates_of_one_request_create_one_consent_and_one_payment(db) {
        let server = demo_server(db).await;
        let tpp = Tpp::new(&server, &server.db, "ais,pis");
        let cc = tpp.client_token().await;
        let debtor = account_of(&server.db.store().await, "bob").await;
        for (path, body, key) in [
            ("/v1/consents", consent_body(json!({"allPsd2": "allAccounts"})), "consentId"),
            ("/v1/payments/sepa-credit-transfers", payment_body(&debtor, "3.00"), "paymentId"),
        ] {
            let request_id = uuid::Uuid::new_v4().to_string();
            let send = || tpp.call_as(&request_id, Method::POST, path, &cc, &[("psu-ip-address", PSU_PRESENT)], Some(&body));
            let (a, b, c, d, e, f) = tokio::join!(send(), send(), send(), send(), send(), send());
            let ids: Vec<String> = [a, b, c, d, e, f].iter().map(|r| {
                assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
                r.body[key].as_str().unwrap().to_owned()
            }).collect();
            assert!(ids.iter().all(|id| *id == ids[0]), "{path}: one resource for all: {ids:?}");
        }
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("1".into(), "1".into()));
        server.stop().await;
    }
}
