//! Card accounts in the ledger: opening them, posting card payments, the
//! monthly statement cycle and the balances Berlin Group defines for card
//! accounts.
//!
//! A statement closes at the end of each calendar month; what it invoices is
//! due, and collected from the PSU's payment account, on [`DUE_DAY`] of the
//! next month.

use fintechapi_domain::Money;
use fintechapi_domain::StoreError;
use fintechapi_domain::card::{CardAccount, CardRepository, NewCardAccount, NewCardTransfer};
use fintechapi_domain::ledger::{
    AccountEntry, EntryStatus, LedgerError, LedgerRepository, TransferReceipt,
};
use time::{Date, Duration};

use crate::service::{Balance, BalanceType, Ledger};

/// Day of the month on which the previous month's statement is due.
pub const DUE_DAY: u8 = 10;

/// The last day of `date`'s month.
pub fn month_end(date: Date) -> Date {
    let length = date.month().length(date.year());
    date + Duration::days(i64::from(length - date.day()))
}

/// The closing day of the last statement before `today`: the last day of the previous month.
pub fn statement_date(today: Date) -> Date {
    today - Duration::days(i64::from(today.day()))
}

/// When a card payment booked on `booking` is due: [`DUE_DAY`] of the next month.
pub fn due_date(booking: Date) -> Date {
    month_end(booking) + Duration::days(i64::from(DUE_DAY))
}

impl<R: LedgerRepository + CardRepository> Ledger<R> {
    pub async fn open_card_account(
        &self,
        card: NewCardAccount,
    ) -> Result<CardAccount, LedgerError> {
        if card.credit_limit < 0 {
            return Err(LedgerError::InvalidAccount(
                "a card account needs a credit limit of zero or more",
            ));
        }
        self.repo().create_card_account(card).await
    }

    /// Posts journal entries on card accounts atomically (all or none), each
    /// card payment with its details.
    pub async fn post_card_transfers(
        &self,
        transfers: Vec<NewCardTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        let positive = |t: &NewCardTransfer| {
            t.transfer.amount.is_positive()
                && t.payment
                    .as_ref()
                    .is_none_or(|p| p.original_amount.is_positive())
        };
        if !transfers.iter().all(positive) {
            return Err(LedgerError::NonPositiveAmount);
        }
        self.repo().post_card_transfers(transfers).await
    }

    /// Whether an entry was on a statement already (Berlin Group `invoiced`).
    pub fn is_invoiced(&self, entry: &AccountEntry) -> bool {
        entry.status == EntryStatus::Booked
            && entry.booking_date <= statement_date(self.now().date())
    }

    /// The card account's balances as Berlin Group defines them for cards:
    /// `closingBooked` (invoiced on the last statement and not yet paid),
    /// `interimBooked` (everything booked), `nonInvoiced` (card payments
    /// booked since the statement), `interimAvailable` (what the card can
    /// still spend within its credit limit) and `expected` (with pending items).
    pub async fn card_balances(&self, card: &CardAccount) -> Result<Vec<Balance>, StoreError> {
        let today = self.now().date();
        let statement = statement_date(today);
        let non_invoiced = self
            .repo()
            .card_payments_booked_after(card.account.id, statement)
            .await?;
        let b = card.account.balances;
        let money = |minor| Money::from_minor(minor, card.account.currency);
        let balance = |balance_type, minor, reference_date| Balance {
            balance_type,
            amount: money(minor),
            reference_date,
            credit_limit_included: false,
        };
        let mut balances = vec![
            balance(
                BalanceType::ClosingBooked,
                b.booked - non_invoiced,
                statement,
            ),
            balance(BalanceType::InterimBooked, b.booked, today),
            balance(BalanceType::NonInvoiced, non_invoiced, today),
        ];
        // Without a limit there is no amount left to spend to show.
        if let Some(spendable) = card.account.overdraft().spendable(b.available()) {
            balances.push(Balance {
                credit_limit_included: true,
                ..balance(BalanceType::InterimAvailable, spendable, today)
            });
        }
        balances.push(balance(BalanceType::Expected, b.expected(), today));
        Ok(balances)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn statements_close_at_month_end_and_fall_due_on_the_tenth() {
        assert_eq!(statement_date(date!(2026 - 11 - 25)), date!(2026 - 10 - 31));
        assert_eq!(statement_date(date!(2026 - 03 - 01)), date!(2026 - 02 - 28));
        assert_eq!(due_date(date!(2026 - 10 - 31)), date!(2026 - 11 - 10));
        assert_eq!(due_date(date!(2026 - 12 - 01)), date!(2027 - 01 - 10));
        assert_eq!(month_end(date!(2028 - 02 - 03)), date!(2028 - 02 - 29));
    }
}
