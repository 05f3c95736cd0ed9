//! Tests' ledger rows, written straight into either store's pool as the
//! application writes them.

/// The EUR clearing account, created at `$created`; its id.
macro_rules! insert_clearing {
    ($pool:expr, $created:expr) => {{
        let clearing = fintechapi_domain::ids::AccountId::random();
        insert_account!(
            $pool,
            clearing,
            "clearing",
            None::<fintechapi_domain::ids::PsuId>,
            None::<&str>,
            None::<i64>,
            $created
        );
        clearing
    }};
}

macro_rules! insert_account {
    ($pool:expr, $id:expr, $kind:expr, $owner:expr, $iban:expr, $limit:expr, $created:expr) => {
        sqlx::query(
            "INSERT INTO accounts (id, kind, psu_id, iban, bic, currency, name, owner_name, \
             product, cash_account_type, status, overdraft_limit, booked_balance, \
             pending_debits, pending_credits, created_at) \
             VALUES ($1, $2, $3, $4, 'TESTDEFFXXX', 'EUR', 'Giro', 'Hot Reader', \
             'Current account', 'CACC', 'enabled', $5, 950, -100, 30, $6)",
        )
        .bind($id)
        .bind($kind)
        .bind($owner)
        .bind($iban)
        .bind($limit)
        .bind($created)
        .execute($pool)
        .await
        .unwrap()
    };
}

/// A PSU `$login` holding a customer account `$iban`, which was paid from
/// `$clearing` 700 booked the day before `$today`, `$booked_today` booked
/// and 100 pending on `$today`; the PSU's and the account's ids.
macro_rules! insert_customer {
    ($pool:expr, $clearing:expr, $login:expr, $iban:expr, $created:expr, $today:expr, $booked_today:expr) => {{
        let (psu, customer) = (
            fintechapi_domain::ids::PsuId::random(),
            fintechapi_domain::ids::AccountId::random(),
        );
        sqlx::query(
            "INSERT INTO psus (id, login, display_name, password_hash, created_at) \
             VALUES ($1, $2, 'Hot Reader', 'x', $3)",
        )
        .bind(psu)
        .bind($login)
        .bind($created)
        .execute($pool)
        .await
        .unwrap();
        insert_account!(
            $pool,
            customer,
            "customer",
            Some(psu),
            Some($iban),
            Some(500_i64),
            $created
        );
        sqlx::query(
            "INSERT INTO account_holders (account_id, psu_id, mandate) VALUES ($1, $2, 'sole')",
        )
        .bind(customer)
        .bind(psu)
        .execute($pool)
        .await
        .unwrap();
        let today: time::Date = $today;
        for (amount, status, day) in [
            (700_i64, "booked", today.previous_day().unwrap()),
            ($booked_today, "booked", today),
            (100, "pending", today),
        ] {
            let transaction = fintechapi_domain::ids::TransactionId::random();
            sqlx::query(
                "INSERT INTO ledger_transactions (id, idempotency_key, debit_account_id, \
                 credit_account_id, amount, currency, status, booking_date, value_date, \
                 debtor_name, debtor_iban, creditor_name, creditor_iban, \
                 remittance_information, end_to_end_id, bank_transaction_code, created_at) \
                 VALUES ($1, $1, $2, $3, $4, 'EUR', $5, $6, $8, 'Debtor Ltd', \
                 'DE02120300000000202051', 'Hot Reader', $9, \
                 'Invoice 7', 'E2E-7', 'PMNT-RCDT-ESCT', $7)",
            )
            .bind(transaction)
            .bind($clearing)
            .bind(customer)
            .bind(amount)
            .bind(status)
            .bind(day)
            .bind($created)
            .bind(day.next_day().unwrap())
            .bind($iban)
            .execute($pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO postings (transaction_id, account_id, amount, currency, status, \
                 booking_date) VALUES ($1, $2, $3, 'EUR', $4, $5), ($1, $6, $7, 'EUR', $4, $5)",
            )
            .bind(transaction)
            .bind(customer)
            .bind(amount)
            .bind(status)
            .bind(day)
            .bind($clearing)
            .bind(-amount)
            .execute($pool)
            .await
            .unwrap();
        }
        (psu, customer)
    }};
}
