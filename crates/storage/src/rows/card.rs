//! Card account and card payment rows.

use super::{AccountRow, parse};
use fintechapi_domain::card::{CardAccount, CardPayment, MaskedPan, Merchant};
use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::{Currency, Money, StoreError};
use time::Date;

/// A card account: [`AccountRow`] joined with `card_accounts`.
#[derive(sqlx::FromRow)]
pub(crate) struct CardAccountRow {
    #[sqlx(flatten)]
    account: AccountRow,
    masked_pan: String,
}

impl TryFrom<CardAccountRow> for CardAccount {
    type Error = StoreError;

    fn try_from(r: CardAccountRow) -> Result<Self, StoreError> {
        Ok(CardAccount {
            account: r.account.try_into()?,
            masked_pan: parse::<MaskedPan>("masked PAN", &r.masked_pan)?,
        })
    }
}

/// A stored card payment and the journal entry it belongs to.
#[derive(sqlx::FromRow)]
pub(crate) struct CardPaymentRow {
    transaction_id: TransactionId,
    transaction_date: Date,
    merchant_name: String,
    merchant_city: String,
    merchant_country: String,
    merchant_category_code: String,
    original_amount: i64,
    original_currency: String,
}

impl TryFrom<CardPaymentRow> for (TransactionId, CardPayment) {
    type Error = StoreError;

    fn try_from(r: CardPaymentRow) -> Result<Self, StoreError> {
        let currency = parse::<Currency>("currency", &r.original_currency)?;
        Ok((
            r.transaction_id,
            CardPayment {
                transaction_date: r.transaction_date,
                merchant: Merchant {
                    name: r.merchant_name,
                    city: r.merchant_city,
                    country: r.merchant_country,
                    category_code: r.merchant_category_code,
                },
                original_amount: Money::from_minor(r.original_amount, currency),
            },
        ))
    }
}
