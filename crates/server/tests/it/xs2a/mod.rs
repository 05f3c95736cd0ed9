//! XS2A over HTTPS on both stores: transaction reports paged by keyset links
//! and sealed cursors, delta reports (`deltaList`), the same report as camt
//! and MT940 documents, the 24-hour
//! idempotency of `X-Request-ID` on consents and payments, also under
//! concurrent duplicates, and the refusals of the spec's error model.

mod documents;
mod idempotency;
mod refusals;
mod reports;

use crate::support::TestServer;
use crate::support::xs2a::{Answer, Reader, Tpp};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_storage::Store;
use serde_json::{Value, json};

const PSU_PRESENT: &str = "192.0.2.7";

/// The first account of a demo PSU.
async fn account_of(store: &Store, login: &str) -> Account {
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.accounts_of_psu(psu.id).await.unwrap().remove(0)
}

fn iban(account: &Account) -> String {
    account.iban.as_ref().unwrap().as_str().to_owned()
}

async fn reader<'a>(server: &TestServer, tpp: &'a Tpp, login: &str, access: Value) -> Reader<'a> {
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, access, 4).await;
    let token = tpp
        .authorise(server, &consent, login, &format!("{login}-demo-2026"))
        .await;
    tpp.reader(&token, &consent)
}

fn consent_body(access: Value) -> Value {
    json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false})
}

fn payment_body(debtor: &Account, amount: &str) -> Value {
    json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": iban(debtor)}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}})
}

/// A consent of `body` authorised by `login` at the bank: (consent id, PSU token).
async fn authorised(server: &TestServer, tpp: &Tpp, login: &str, body: &Value) -> (String, String) {
    let cc = tpp.client_token().await;
    let consent = tpp
        .post("/v1/consents", &cc, &[], body)
        .await
        .created("consentId");
    let token = tpp
        .authorise(server, &consent, login, &format!("{login}-demo-2026"))
        .await;
    (consent, token)
}

/// How many consents and payments are stored.
async fn stored(server: &TestServer) -> (usize, usize) {
    (
        server.db.count_rows("consents").await,
        server.db.count_rows("payments").await,
    )
}

/// The first tppMessage's text.
fn text(a: &Answer) -> &str {
    a.body["tppMessages"][0]["text"]
        .as_str()
        .unwrap_or_default()
}
