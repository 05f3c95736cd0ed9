//! Card account queries. Compiled once per backend; `super::Db` is the backend.
//!
//! A card account is a ledger account plus a `card_accounts` row, and a card
//! payment a journal entry plus a `card_transactions` row, each pair written
//! in one transaction through the ledger's own posting code.

use fintechapi_domain::card::CardRepository;
use std::collections::HashMap;

use fintechapi_domain::StoreError;
use fintechapi_domain::card::{CardAccount, CardPayment, NewCardAccount, NewCardTransfer};
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{LedgerError, TransferReceipt};
use sqlx::{Pool, QueryBuilder};
use time::Date;

use super::ledger::{Conn, insert_account};
use super::posting::{Attempt, post_one, retry_key_race};
use super::{Db, Read, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{CardAccountRow, CardPaymentRow};

macro_rules! card_account_select {
    ($where:literal) => {
        concat!(
            "SELECT ",
            account_columns!(),
            ", masked_pan FROM accounts JOIN card_accounts ON account_id = id WHERE ",
            $where
        )
    };
}

impl CardRepository for super::Store {
    async fn create_card_account(&self, card: NewCardAccount) -> Result<CardAccount, LedgerError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        insert_account(&mut tx, &card.ledger_account()).await?;
        let inserted =
            sqlx::query("INSERT INTO card_accounts (account_id, masked_pan) VALUES ($1, $2)")
                .bind(card.id)
                .bind(card.masked_pan.as_str())
                .execute(&mut *tx)
                .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, "masked_pan") => {
                return Err(LedgerError::InvalidAccount(
                    "a card with this masked PAN already exists",
                ));
            }
            Err(e) => return Err(store(e).into()),
        }
        let opened = load(&mut tx, card.id).await?;
        tx.commit().await.map_err(store)?;
        opened.ok_or_else(|| StoreError::corrupt("card account vanished after insert").into())
    }

    async fn card_account(&self, id: AccountId) -> Result<Option<CardAccount>, StoreError> {
        let pool = &self.0;
        let mut conn = pool.acquire().await.map_err(store)?;
        load(&mut conn, id).await
    }

    async fn card_accounts_of_psu(&self, psu: PsuId) -> Result<Vec<CardAccount>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, CardAccountRow>(card_account_select!(
            "psu_id = $1 ORDER BY created_at, id"
        ))
        .bind(psu)
        .all_into(pool)
        .await
    }

    async fn post_card_transfers(
        &self,
        transfers: Vec<NewCardTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        let pool = &self.0;
        let transfers = &transfers;
        retry_key_race(|| post_once(pool, &self.1, transfers)).await
    }

    async fn card_payments(
        &self,
        transactions: &[TransactionId],
    ) -> Result<HashMap<TransactionId, CardPayment>, StoreError> {
        let pool = &self.0;
        if transactions.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query = QueryBuilder::<Db>::new(
            "SELECT transaction_id, transaction_date, merchant_name, merchant_city, merchant_country, \
         merchant_category_code, original_amount, original_currency FROM card_transactions \
         WHERE transaction_id IN (",
        );
        let mut ids = query.separated(", ");
        for id in transactions {
            ids.push_bind(id);
        }
        query.push(")");
        query
            .build_query_as::<CardPaymentRow>()
            .fetch_all(pool)
            .await
            .map_err(store)?
            .into_iter()
            .map(<(TransactionId, CardPayment)>::try_from)
            .collect()
    }

    async fn card_payments_booked_after(
        &self,
        account: AccountId,
        date: Date,
    ) -> Result<i64, StoreError> {
        let pool = &self.0;
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM postings p \
         JOIN card_transactions c ON c.transaction_id = p.transaction_id \
         WHERE p.account_id = $1 AND p.status = 'booked' AND p.booking_date > $2",
        )
        .bind(account)
        .bind(date)
        .fetch_one(pool)
        .await
        .map_err(store)
    }
}

async fn load(conn: &mut Conn, id: AccountId) -> Result<Option<CardAccount>, StoreError> {
    sqlx::query_as::<_, CardAccountRow>(card_account_select!("id = $1"))
        .bind(id)
        .optional_into(&mut *conn)
        .await
}

async fn post_once(
    pool: &Pool<Db>,
    gate: &crate::WriteGate,
    transfers: &[NewCardTransfer],
) -> Result<Vec<TransferReceipt>, Attempt> {
    let mut tx = begin_write(pool, gate).await?;
    let mut receipts = Vec::with_capacity(transfers.len());
    for NewCardTransfer { transfer, payment } in transfers {
        let receipt = post_one(&mut tx, transfer).await?;
        if let Some(p) = payment.as_ref().filter(|_| !receipt.replayed) {
            // Stored only if one side is a card account: the check and the write in one statement.
            let stored = sqlx::query(
                "INSERT INTO card_transactions (transaction_id, transaction_date, merchant_name, \
                 merchant_city, merchant_country, merchant_category_code, original_amount, \
                 original_currency) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS \
                 (SELECT 1 FROM card_accounts WHERE account_id IN ($9, $10))",
            )
            .bind(transfer.transaction_id)
            .bind(p.transaction_date)
            .bind(&p.merchant.name)
            .bind(&p.merchant.city)
            .bind(&p.merchant.country)
            .bind(&p.merchant.category_code)
            .bind(p.original_amount.minor())
            .bind(p.original_amount.currency().code())
            .bind(transfer.debit)
            .bind(transfer.credit)
            .changed_one(&mut *tx)
            .await?;
            if !stored {
                return Err(LedgerError::InvalidAccount(
                    "a card payment must debit or credit a card account",
                )
                .into());
            }
        }
        receipts.push(receipt);
    }
    tx.commit().await.map_err(store)?;
    Ok(receipts)
}
