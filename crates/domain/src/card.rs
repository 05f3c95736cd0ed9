//! Card accounts: a PSU's credit card account, kept in the ledger like any
//! other customer account (its overdraft limit is the credit limit), named to
//! the outside world only by its masked PAN, and the card payments posted to it.
//!
//! The full PAN never enters the system: a TPP that names a card by `pan` has
//! it masked while its request is parsed ([`MaskedPan::of_pan`]).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use time::{Date, OffsetDateTime};

use crate::ids::{AccountId, PsuId, TransactionId};
use crate::ledger::{
    Account, AccountKind, LedgerError, NewAccount, NewTransfer, Overdraft, TransferReceipt,
};
use crate::money::{Currency, Money};
use crate::store::StoreError;

/// ISO 20022 ExternalCashAccountType1Code of a card account.
pub const CARD_CASH_ACCOUNT_TYPE: &str = "CARD";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PanError {
    #[error("a PAN is 13 to 19 digits ending in a valid Luhn check digit")]
    InvalidPan,
    #[error(
        "a masked PAN shows the first six and the last four digits of a 13 to 19 digit PAN and masks the rest with * or x, e.g. 525412******3241"
    )]
    InvalidMaskedPan,
}

/// A masked primary account number (ISO/IEC 7812): the first six and the last
/// four digits, the rest as `*` (PCI DSS). Parsing accepts `x` or `X` as the
/// mask too and stores `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaskedPan(String);

const SHOWN_HEAD: usize = 6;
const SHOWN_TAIL: usize = 4;

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl MaskedPan {
    /// Masks a full PAN. The PAN itself is not kept, and no error repeats it.
    pub fn of_pan(pan: &str) -> Result<Self, PanError> {
        let digits = pan.as_bytes();
        if !(13..=19).contains(&digits.len())
            || !digits.iter().all(u8::is_ascii_digit)
            || !luhn_valid(digits)
        {
            return Err(PanError::InvalidPan);
        }
        let head = &pan[..SHOWN_HEAD];
        let tail = &pan[pan.len() - SHOWN_TAIL..];
        let hidden = "*".repeat(pan.len() - SHOWN_HEAD - SHOWN_TAIL);
        Ok(Self(format!("{head}{hidden}{tail}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MaskedPan {
    type Err = PanError;

    fn from_str(text: &str) -> Result<Self, PanError> {
        let bytes = text.as_bytes();
        if !(13..=19).contains(&bytes.len()) {
            return Err(PanError::InvalidMaskedPan);
        }
        let (head, rest) = bytes.split_at(SHOWN_HEAD);
        let (hidden, tail) = rest.split_at(rest.len() - SHOWN_TAIL);
        if !head.iter().chain(tail).all(u8::is_ascii_digit)
            || !hidden.iter().all(|b| matches!(b, b'*' | b'x' | b'X'))
        {
            return Err(PanError::InvalidMaskedPan);
        }
        let hidden = "*".repeat(hidden.len());
        Ok(Self(format!(
            "{}{hidden}{}",
            &text[..SHOWN_HEAD],
            &text[text.len() - SHOWN_TAIL..]
        )))
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for MaskedPan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MaskedPan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A card account: its ledger account and the masked PAN of its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardAccount {
    pub account: Account,
    pub masked_pan: MaskedPan,
}

impl CardAccount {
    /// The pre-approved credit limit: how far the ledger lets the account go
    /// below zero. None for an account without a limit, which a card opened
    /// here never is ([`NewCardAccount::ledger_account`]).
    pub fn credit_limit(&self) -> Option<Money> {
        match self.account.overdraft() {
            Overdraft::Limit(limit) => Some(Money::from_minor(limit, self.account.currency)),
            Overdraft::Unlimited => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewCardAccount {
    pub id: AccountId,
    pub psu_id: PsuId,
    pub masked_pan: MaskedPan,
    pub bic: String,
    pub currency: Currency,
    pub name: String,
    pub owner_name: String,
    pub product: String,
    /// In minor units; zero or more.
    pub credit_limit: i64,
    pub created_at: OffsetDateTime,
}

impl NewCardAccount {
    /// The ledger account behind the card: a customer account without an
    /// IBAN whose overdraft limit is the credit limit.
    pub fn ledger_account(&self) -> NewAccount {
        NewAccount {
            id: self.id,
            kind: AccountKind::Customer,
            psu_id: Some(self.psu_id),
            iban: None,
            bic: self.bic.clone(),
            currency: self.currency,
            name: self.name.clone(),
            owner_name: self.owner_name.clone(),
            product: self.product.clone(),
            cash_account_type: CARD_CASH_ACCOUNT_TYPE.to_owned(),
            overdraft_limit: Some(self.credit_limit),
            created_at: self.created_at,
        }
    }
}

/// The card acceptor of a card payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub name: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 18245 merchant category code, four digits.
    pub category_code: String,
}

/// What a card payment records beyond its journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPayment {
    /// The day the card was used; booking follows.
    pub transaction_date: Date,
    pub merchant: Merchant,
    /// Positive, in the merchant's currency; the journal entry holds the
    /// amount converted to the card account's currency.
    pub original_amount: Money,
}

/// A journal entry to post on a card account, with the card payment it
/// records (None for other movements, such as the statement's settlement).
#[derive(Debug, Clone)]
pub struct NewCardTransfer {
    pub transfer: NewTransfer,
    pub payment: Option<CardPayment>,
}

/// The card accounts' storage port, next to the ledger's.
pub trait CardRepository: Send + Sync {
    /// Opens the ledger account and its card record together.
    fn create_card_account(
        &self,
        card: NewCardAccount,
    ) -> impl Future<Output = Result<CardAccount, LedgerError>> + Send;

    fn card_account(
        &self,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<CardAccount>, StoreError>> + Send;

    fn card_accounts_of_psu(
        &self,
        psu: PsuId,
    ) -> impl Future<Output = Result<Vec<CardAccount>, StoreError>> + Send;

    /// Posts like [`post_transfers`](crate::ledger::LedgerRepository::post_transfers)
    /// (atomic, idempotent by key, within limits), storing each card payment
    /// with its journal entry. A card payment must debit or credit a card account.
    fn post_card_transfers(
        &self,
        transfers: Vec<NewCardTransfer>,
    ) -> impl Future<Output = Result<Vec<TransferReceipt>, LedgerError>> + Send;

    /// The card payments among these journal entries, by journal entry: the
    /// details of a page of a card account's
    /// [`entries`](crate::ledger::LedgerRepository::entries), in one query.
    fn card_payments(
        &self,
        transactions: &[TransactionId],
    ) -> impl Future<Output = Result<HashMap<TransactionId, CardPayment>, StoreError>> + Send;

    /// Sum of the account's booked card payments with a booking date after `date`.
    fn card_payments_booked_after(
        &self,
        account: AccountId,
        date: Date,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_pan_is_masked_and_checked() {
        let masked = MaskedPan::of_pan("5254121234563241").unwrap();
        assert_eq!(masked.as_str(), "525412******3241");
        assert_eq!(
            MaskedPan::of_pan("5254121234563242"),
            Err(PanError::InvalidPan)
        );
        assert_eq!(MaskedPan::of_pan("52541200"), Err(PanError::InvalidPan));
        assert_eq!(
            MaskedPan::of_pan("525412123456324a"),
            Err(PanError::InvalidPan)
        );
        assert!(!PanError::InvalidPan.to_string().contains("5254"));
    }

    #[test]
    fn masked_pans_parse_with_either_mask_and_print_with_stars() {
        let x: MaskedPan = "525412xxxxxx3241".parse().unwrap();
        let star: MaskedPan = "525412******3241".parse().unwrap();
        assert_eq!(x, star);
        assert_eq!(x.to_string(), "525412******3241");
        for bad in [
            "5254120000003241",
            "525412******324",
            "52541******3241",
            "525412**-***3241",
            "",
        ] {
            assert_eq!(
                bad.parse::<MaskedPan>(),
                Err(PanError::InvalidMaskedPan),
                "{bad}"
            );
        }
    }
}
