//! Card accounts over HTTPS on both stores: a TPP asks for a card by its
//! masked PAN (or its PAN, masked at once), the PSU approves it at the bank,
//! and the TPP reads exactly that card under `/v1/card-accounts` — list,
//! details, balances, transactions page by page — never a full PAN, never a
//! card outside the consent, with the ledger still balanced.

mod consents;
mod masked_pan;

use crate::support::TestServer;
use fintechapi_domain::card::{CardAccount, CardRepository};
use fintechapi_domain::psu::PsuRepository;
use serde_json::Value;

async fn card_of(server: &TestServer, login: &str) -> CardAccount {
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.card_accounts_of_psu(psu.id).await.unwrap().remove(0)
}

/// The longest run of digits in `text`: a full PAN is 13 to 19 of them.
fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn decimal(v: &Value) -> i64 {
    let text = v["amount"].as_str().unwrap();
    let (whole, cents) = text.split_once('.').unwrap();
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    whole.parse::<i64>().unwrap() * 100 + sign * cents.parse::<i64>().unwrap()
}

/// The `cardTransactionId`s of a report's booked list, as listed.
fn booked_ids(report: &Value) -> Vec<i64> {
    report["cardTransactions"]["booked"]
        .as_array()
        .unwrap_or_else(|| panic!("a booked list: {report}"))
        .iter()
        .map(|t| t["cardTransactionId"].as_str().unwrap().parse().unwrap())
        .collect()
}
