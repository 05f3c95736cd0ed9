//! Future-dated payments and standing orders over HTTPS, on both stores, with
//! an injected clock: initiation and validation, authorisation (ACCP, nothing
//! booked yet), execution on the date by the scheduler, exactly once however
//! many schedulers run at the same time or take over a crashed one's claim.

mod bulk;
mod future_dated;
mod standing_orders;

use std::sync::Arc;

use crate::support::xs2a::{Answer, REDIRECT, Tpp};
use crate::support::{Browser, TestServer, param, redirect_params};
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{ManualClock, SystemClock};
use fintechapi_ledger::Ledger;
use fintechapi_storage::Store;
use fintechapi_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where the PSU is, on every call.
const PSU: [(&str, &str); 1] = [("psu-ip-address", "192.0.2.7")];

/// The demo bank on a clock the test moves, a PIS TPP with a client token,
/// and alice's first account as it was at the start.
struct Bank {
    clock: ManualClock,
    server: TestServer,
    tpp: Tpp,
    token: String,
    debtor: Account,
}

async fn bank(db: TestDb) -> Bank {
    let clock = ManualClock::new(fintechapi_domain::Clock::now(&SystemClock));
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let (debtor, _) = iban_of(&server, "alice").await;
    Bank {
        clock,
        server,
        tpp,
        token,
        debtor,
    }
}

impl Bank {
    /// The TPP's initiation of `body` at `path`, with the PSU present.
    async fn initiate(&self, path: &str, body: &Value) -> Answer {
        self.tpp.post(path, &self.token, &PSU, body).await
    }

    /// An initiation of `body` at `path` that alice authorises: its id.
    async fn authorised(&self, path: &str, body: &Value) -> String {
        let id = self.initiate(path, body).await.created("paymentId");
        self.authorise(&id).await;
        id
    }

    /// alice authorises payment `id` at the bank's pages.
    async fn authorise(&self, id: &str) {
        let location = self.decide(id, "alice", "approve").await;
        assert!(
            param(&redirect_params(&location, REDIRECT), "code").is_some(),
            "{location}"
        );
    }

    /// `login` decides on what `PIS:<id>` names (a payment, or its
    /// cancellation); where the bank sends the browser back.
    async fn decide(&self, id: &str, login: &str, decision: &str) -> String {
        let link = self
            .tpp
            .link(&self.tpp.par_scope(&format!("PIS:{id}")).await);
        let mut psu = Browser::new(&self.server);
        let password = format!("{login}-demo-2026");
        let screen = psu.authorise(&link, login, &password).await;
        assert!(screen.body.contains("When"), "{}", screen.body);
        let decided = psu.decide(&screen, decision).await;
        decided.location.expect("back to the TPP")
    }

    /// The body of a GET of `path`, with the PSU present.
    async fn read(&self, path: &str) -> Value {
        self.tpp.get(path, &self.token, &PSU).await.body
    }

    /// A fresh client token, for after the clock has moved on.
    async fn renew_token(&mut self) {
        self.token = self.tpp.client_token().await;
    }

    async fn store(&self) -> Store {
        self.server.db.store().await
    }

    /// The ledger as the scheduler sees it, on the test's clock.
    async fn ledger(&self) -> Ledger<Store> {
        Ledger::new(self.store().await, Arc::new(self.clock.clone()))
    }

    /// What `account` has booked now.
    async fn booked(&self, account: AccountId) -> i64 {
        crate::support::booked_balance(&self.server, account).await
    }

    /// The ledger's postings for `payment`, by idempotency key.
    async fn postings(&self, payment: &str) -> Vec<String> {
        self.server
            .db
            .raw_strings(&format!(
                "SELECT idempotency_key FROM ledger_transactions WHERE idempotency_key LIKE 'payment:{payment}%' ORDER BY idempotency_key"
            ))
            .await
    }

    /// The initiation of `body` at `path` is refused with a 400, `code` and `at`.
    async fn assert_refused(&self, path: &str, body: &Value, code: &str, at: &str) {
        self.initiate(path, body)
            .await
            .assert_refusal(StatusCode::BAD_REQUEST, code, at);
    }
}

/// Four schedulers at once, as four nodes would; how many recorded an execution.
async fn futures_join(ledger: &Ledger<Store>) -> usize {
    let (a, b, c, d) = tokio::join!(
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
    );
    a.unwrap() + b.unwrap() + c.unwrap() + d.unwrap()
}

fn transfer(debtor: &Account, amount: &str) -> Value {
    json!({
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()},
        "creditorName": "Landlord",
        "creditorAccount": {"iban": "DE02120300000000202051"},
    })
}

async fn iban_of(server: &TestServer, login: &str) -> (Account, String) {
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    let account = store.accounts_of_psu(psu.id).await.unwrap().remove(0);
    let iban = account.iban.as_ref().unwrap().as_str().to_owned();
    (account, iban)
}
