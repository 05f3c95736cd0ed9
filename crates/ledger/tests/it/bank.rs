//! A bank on a test store: its ledger, clock and customer, and the orders and
//! filters the tests use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{
    Account, AccountKind, EntryFilter, EntryStatus, LedgerError, LedgerRepository, NewAccount,
    NewTransfer, TransferReceipt,
};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::psu::{NewPsu, PsuRepository};
use fintechapi_domain::{Clock, Currency, ManualClock, Money};
use fintechapi_ledger::{Balance, BalanceType, Ledger, TransferOrder};
use fintechapi_storage::Store;
use fintechapi_testkit::TestDb;
use time::macros::datetime;

pub(crate) fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)))
}

/// A PSU with a password nobody can use.
pub(crate) async fn create_psu(
    store: &Store,
    id: PsuId,
    login: &str,
    display_name: &str,
    clock: &ManualClock,
) {
    store
        .create_psu(NewPsu {
            id,
            login: login.into(),
            display_name: display_name.into(),
            password: PasswordHash::from_phc("$argon2id$unused".into()),
            created_at: clock.now(),
        })
        .await
        .unwrap();
}

/// Every entry of `account`, or those with `status`.
pub(crate) fn entries_of(account: AccountId, status: Option<EntryStatus>) -> EntryFilter {
    EntryFilter {
        account,
        status,
        date_from: None,
        date_to: None,
        reference_above: None,
    }
}

pub(crate) struct Bank {
    /// Shared, so that concurrent tasks can post through it.
    pub ledger: Arc<Ledger<Store>>,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub psu: PsuId,
    next_account: AtomicU64,
}

impl Bank {
    pub(crate) async fn new(db: &TestDb) -> Self {
        let store = db.store().await;
        let clock = clock();
        let psu = PsuId::random();
        create_psu(&store, psu, &format!("psu-{psu}"), "Test Customer", &clock).await;
        Self {
            ledger: Arc::new(Ledger::new(store.clone(), clock.clone())),
            store,
            clock,
            psu,
            next_account: 1.into(),
        }
    }

    /// A customer account funded with `funds` from the clearing account.
    pub(crate) async fn account(&self, currency: &str, overdraft: i64, funds: i64) -> Account {
        let n = self.next_account.fetch_add(1, Ordering::Relaxed);
        let iban = Iban::from_bban("DE", &format!("76543210{:010}", 5_000_000 + n)).unwrap();
        let currency: Currency = currency.parse().unwrap();
        let account = self
            .ledger
            .open_account(NewAccount {
                id: AccountId::random(),
                kind: AccountKind::Customer,
                psu_id: Some(self.psu),
                iban: Some(iban),
                bic: "FTAPDEB1XXX".into(),
                currency,
                name: format!("Account {n}"),
                owner_name: "Test Customer".into(),
                product: "Girokonto".into(),
                cash_account_type: "CACC".into(),
                overdraft_limit: Some(overdraft),
                created_at: self.clock.now(),
            })
            .await
            .unwrap();
        if funds > 0 {
            let clearing = self
                .ledger
                .clearing_account(currency, "FTAPDEB1XXX")
                .await
                .unwrap();
            let today = self.clock.today();
            self.ledger
                .post(vec![NewTransfer {
                    idempotency_key: format!("fund-{}", account.id),
                    transaction_id: TransactionId::random(),
                    debit: clearing.id,
                    credit: account.id,
                    amount: Money::from_minor(funds, currency),
                    status: EntryStatus::Booked,
                    booking_date: today,
                    value_date: today,
                    debtor: Default::default(),
                    creditor: Default::default(),
                    remittance_information: Some("opening deposit".into()),
                    end_to_end_id: None,
                    bank_transaction_code: "PMNT-RCDT-ESCT".into(),
                    created_at: self.clock.now(),
                }])
                .await
                .unwrap();
        }
        self.stored(account.id).await
    }

    /// The account as stored now.
    pub(crate) async fn stored(&self, id: AccountId) -> Account {
        self.store.account(id).await.unwrap().unwrap()
    }

    pub(crate) async fn booked(&self, id: AccountId) -> i64 {
        self.stored(id).await.balances.booked
    }

    /// Orders a transfer of `minor` euro cents from `from` to `to`.
    pub(crate) async fn pay(
        &self,
        key: &str,
        from: &Account,
        to: &Iban,
        minor: i64,
    ) -> Result<TransferReceipt, LedgerError> {
        self.ledger.transfer(order(key, from, to, minor)).await
    }

    pub(crate) async fn assert_consistent(&self) {
        let audit = self.ledger.audit().await.unwrap();
        assert!(audit.is_consistent(), "ledger inconsistent: {audit:?}");
    }
}

pub(crate) fn order(key: &str, from: &Account, to: &Iban, minor: i64) -> TransferOrder {
    TransferOrder {
        idempotency_key: key.into(),
        debtor_account: from.id,
        creditor_iban: to.clone(),
        creditor_name: Some("Payee".into()),
        amount: eur(minor),
        remittance_information: Some("Invoice 42".into()),
        end_to_end_id: None,
        bank_transaction_code: None,
    }
}

/// The balance of type `t` among `balances`.
pub(crate) fn balance(balances: &[Balance], t: BalanceType) -> &Balance {
    balances.iter().find(|b| b.balance_type == t).unwrap()
}

pub(crate) fn external_iban() -> Iban {
    "DE89370400440532013000".parse().unwrap()
}
