//! Card account information under a valid consent: the card account's side
//! of the list, details, balances and transactions under `/v1/card-accounts`
//! (their handlers, with the consent checks of the account endpoints, are
//! `granted`'s).
//!
//! A card account is named by its masked PAN only. Debits are reported
//! negative (`debitAccounting: false`). Transaction reports are paged and
//! delta-reported by the accounts' `Report`; a card transaction's
//! `cardTransactionId` is its entry reference, so `entryReferenceFrom` takes it.

use axum::Json;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::card::CardRepository;
use fintechapi_domain::card::{CardAccount, CardPayment, MaskedPan};
use fintechapi_domain::consent::{AccountGrant, Consent, GrantedResource};
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::AccountEntry;
use fintechapi_domain::{Money, StoreError};
use serde::Serialize;

use crate::accounts::AccountLinks;
use crate::body::Href;
use crate::body::{Amount, Balance};
use crate::granted::{Granted, ReportRead, Shown};
use crate::transactions::{ReportLinks, TransactionReport};
use crate::{Xs2aError, Xs2aService, Xs2aStore};

impl Granted for CardAccount {
    const NOUN: &'static str = "card account";
    const RESOURCE: GrantedResource = GrantedResource::CardAccount;
    const REPORT_BALANCES_NOT_COVERED: &'static str =
        "the consent does not cover this card account's balances";

    fn id(&self) -> AccountId {
        self.account.id
    }

    fn grant_for(consent: &Consent, id: AccountId) -> Option<&AccountGrant> {
        consent.card_grant_for(id)
    }

    fn listed(consent: &Consent) -> Vec<&AccountGrant> {
        consent
            .grants
            .iter()
            .filter(|g| g.resource == GrantedResource::CardAccount)
            .collect()
    }

    fn report_links(href: Href) -> ReportLinks {
        ReportLinks {
            card_account: Some(href),
            ..ReportLinks::default()
        }
    }

    fn path(id: AccountId) -> String {
        format!("/v1/card-accounts/{id}")
    }

    async fn load<R: Xs2aStore>(
        service: &Xs2aService<R>,
        id: AccountId,
    ) -> Result<Option<Self>, StoreError> {
        service.cards().card_account(id).await
    }

    async fn held<R: Xs2aStore>(
        service: &Xs2aService<R>,
        psu: PsuId,
    ) -> Result<Vec<Self>, StoreError> {
        service.cards().card_accounts_of_psu(psu).await
    }

    async fn balances<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
    ) -> Result<Vec<Balance>, StoreError> {
        let balances = service.ledger.card_balances(self).await?;
        Ok(balances.iter().map(Balance::of_card).collect())
    }

    fn list_answer(shown: Vec<Shown<Self>>) -> Response {
        let card_accounts = shown.into_iter().map(CardDetails::new).collect();
        Json(CardList { card_accounts }).into_response()
    }

    fn details_answer(shown: Shown<Self>) -> Response {
        let card_account = CardDetails::new(shown);
        Json(OneCard { card_account }).into_response()
    }

    fn balances_answer(&self, balances: Vec<Balance>) -> Response {
        let body = CardBalances {
            balances,
            card_account: CardReference::from(self),
            debit_accounting: false,
        };
        Json(body).into_response()
    }

    async fn report_answer<R: Xs2aStore>(
        read: &ReportRead<Self>,
        service: &Xs2aService<R>,
    ) -> Result<Response, Xs2aError> {
        // The card payments of the whole page in one query.
        let entries = &read.found.entries;
        let ids: Vec<TransactionId> = entries.iter().map(|e| e.transaction_id).collect();
        let payments = service.cards().card_payments(&ids).await?;
        let card = &read.resource;
        let body = CardTransactions {
            balances: read.balances.as_deref(),
            card_account: CardReference::from(card),
            card_transactions: read.transactions(|entry| {
                let payment = payments.get(&entry.transaction_id);
                let invoiced = service.ledger.is_invoiced(entry);
                CardTransaction::new(&card.masked_pan, entry, payment, invoiced)
            }),
            debit_accounting: false,
        };
        Ok(Json(body).into_response())
    }
}

/// A card account as the consent shows it, with its balances when asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardDetails {
    #[serde(rename = "_links")]
    links: AccountLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Vec<Balance>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_limit: Option<Amount>,
    currency: &'static str,
    debit_accounting: bool,
    masked_pan: String,
    name: String,
    owner_name: String,
    product: String,
    resource_id: String,
    status: &'static str,
}

impl CardDetails {
    fn new(shown: Shown<CardAccount>) -> Self {
        let card = &shown.resource;
        let account = &card.account;
        Self {
            links: AccountLinks::granted(&CardAccount::path(account.id), &shown.grant),
            balances: shown.balances,
            credit_limit: card.credit_limit().map(Amount::from),
            currency: account.currency.code(),
            debit_accounting: false,
            masked_pan: card.masked_pan.as_str().to_owned(),
            name: account.name.clone(),
            owner_name: account.owner_name.clone(),
            product: account.product.clone(),
            resource_id: account.id.to_string(),
            status: account.status.as_str(),
        }
    }
}

/// The card account a balances or transactions report is about.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardReference {
    currency: &'static str,
    masked_pan: String,
}

impl From<&CardAccount> for CardReference {
    fn from(card: &CardAccount) -> Self {
        Self {
            currency: card.account.currency.code(),
            masked_pan: card.masked_pan.as_str().to_owned(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardList {
    card_accounts: Vec<CardDetails>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OneCard {
    card_account: CardDetails,
}

/// `GET /v1/card-accounts/{id}/balances`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardBalances {
    balances: Vec<Balance>,
    card_account: CardReference,
    debit_accounting: bool,
}

/// One card transaction of a report.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardTransaction<'a> {
    booking_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_acceptor_address: Option<CardAcceptorAddress<'a>>,
    card_transaction_id: String,
    invoiced: bool,
    #[serde(rename = "maskedPAN", skip_serializing_if = "Option::is_none")]
    masked_pan: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_category_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_amount: Option<Amount>,
    transaction_amount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_details: Option<&'a str>,
    value_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardAcceptorAddress<'a> {
    country: &'a str,
    town_name: &'a str,
}

impl<'a> CardTransaction<'a> {
    fn new(
        masked_pan: &'a MaskedPan,
        entry: &'a AccountEntry,
        payment: Option<&'a CardPayment>,
        invoiced: bool,
    ) -> Self {
        let mut out = Self {
            booking_date: entry.booking_date.to_string(),
            card_acceptor_address: None,
            card_transaction_id: entry.entry_reference.to_string(),
            invoiced,
            masked_pan: None,
            merchant_category_code: None,
            original_amount: None,
            transaction_amount: entry.amount.into(),
            transaction_date: None,
            transaction_details: entry.remittance_information.as_deref(),
            value_date: entry.value_date.to_string(),
        };
        if let Some(payment) = payment {
            // The original amount carries the sign of the amount billed.
            let original = payment.original_amount;
            let signed = original.minor() * entry.amount.minor().signum();
            let merchant = &payment.merchant;
            out.transaction_date = Some(payment.transaction_date.to_string());
            out.original_amount = Some(Money::from_minor(signed, original.currency()).into());
            out.card_acceptor_address = Some(CardAcceptorAddress {
                country: &merchant.country,
                town_name: &merchant.city,
            });
            out.merchant_category_code = Some(&merchant.category_code);
            out.masked_pan = Some(masked_pan.as_str());
            out.transaction_details = Some(&merchant.name);
        }
        out
    }
}

/// `GET /v1/card-accounts/{id}/transactions`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardTransactions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<&'a [Balance]>,
    card_account: CardReference,
    card_transactions: TransactionReport<'a, CardTransaction<'a>>,
    debit_accounting: bool,
}

#[cfg(test)]
mod tests {
    use fintechapi_domain::Currency;
    use fintechapi_domain::card::Merchant;
    use fintechapi_domain::ids::TransactionId;
    use fintechapi_domain::ledger::{EntryStatus, Party};
    use serde_json::json;
    use time::macros::date;

    use super::*;
    use crate::body::assert_sorted_like_json_value;

    #[test]
    fn a_card_transaction_shows_its_merchant_or_else_its_remittance() {
        let pan: MaskedPan = "525412******3241".parse().expect("a masked PAN");
        let entry = AccountEntry {
            entry_reference: 9,
            transaction_id: TransactionId::random(),
            status: EntryStatus::Booked,
            amount: Money::from_minor(-1_250, Currency::EUR),
            booking_date: date!(2026 - 11 - 25),
            value_date: date!(2026 - 11 - 25),
            debtor: Party::default(),
            creditor: Party::default(),
            remittance_information: Some("Settlement".into()),
            end_to_end_id: None,
            bank_transaction_code: "PMNT-CCRD-POSD".into(),
        };
        let usd = "USD".parse().expect("ISO 4217");
        let payment = CardPayment {
            transaction_date: date!(2026 - 11 - 23),
            merchant: Merchant {
                name: "Cafe".into(),
                city: "Berlin".into(),
                country: "DE".into(),
                category_code: "5814".into(),
            },
            original_amount: Money::from_minor(1_400, usd),
        };
        let paid = CardTransaction::new(&pan, &entry, Some(&payment), false);
        assert_sorted_like_json_value(&paid);
        assert_eq!(
            serde_json::to_value(&paid).expect("serialisable"),
            json!({"bookingDate": "2026-11-25",
                "cardAcceptorAddress": {"country": "DE", "townName": "Berlin"},
                "cardTransactionId": "9", "invoiced": false, "maskedPAN": "525412******3241",
                "merchantCategoryCode": "5814",
                "originalAmount": {"amount": "-14.00", "currency": "USD"},
                "transactionAmount": {"amount": "-12.50", "currency": "EUR"},
                "transactionDate": "2026-11-23", "transactionDetails": "Cafe",
                "valueDate": "2026-11-25"})
        );
        let other = CardTransaction::new(&pan, &entry, None, true);
        assert_eq!(
            serde_json::to_value(&other).expect("serialisable"),
            json!({"bookingDate": "2026-11-25", "cardTransactionId": "9", "invoiced": true,
                "transactionAmount": {"amount": "-12.50", "currency": "EUR"},
                "transactionDetails": "Settlement", "valueDate": "2026-11-25"})
        );
    }
}
