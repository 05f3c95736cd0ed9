//! Single transfers: internal and to another bank, idempotency, refusals,
//! and the funds check the ledger keeps to.

use fintechapi_domain::Currency;
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::{EntryStatus, LedgerError, LedgerRepository, PageStart};
use fintechapi_testkit::{TestDb, both_stores};

use crate::bank::{Bank, entries_of, eur, external_iban, order};

async fn an_internal_transfer_debits_one_account_and_credits_the_other(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let b = bank.account("EUR", 0, 0).await;
    let receipt = bank
        .pay("t1", &a, b.iban.as_ref().unwrap(), 25_50)
        .await
        .unwrap();
    assert!(!receipt.replayed);
    assert_eq!(receipt.status, EntryStatus::Booked);
    assert_eq!(bank.booked(a.id).await, 74_50);
    assert_eq!(bank.booked(b.id).await, 25_50);
    let page = bank
        .store
        .entries(&entries_of(b.id, None), PageStart::Newest, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].amount, eur(25_50));
    assert_eq!(page[0].transaction_id, receipt.transaction_id);
    assert_eq!(page[0].debtor.iban, a.iban);
    assert_eq!(
        page[0].remittance_information.as_deref(),
        Some("Invoice 42")
    );
    bank.assert_consistent().await;
}
both_stores!(an_internal_transfer_debits_one_account_and_credits_the_other);

async fn a_payment_to_another_bank_goes_through_the_clearing_account(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let clearing_before = bank
        .store
        .clearing_account(Currency::EUR)
        .await
        .unwrap()
        .unwrap()
        .balances
        .booked;
    bank.pay("ext", &a, &external_iban(), 40_00).await.unwrap();
    let clearing = bank
        .store
        .clearing_account(Currency::EUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(clearing.balances.booked, clearing_before + 40_00);
    assert_eq!(bank.booked(a.id).await, 60_00);
    let entry = &bank
        .store
        .entries(
            &entries_of(a.id, Some(EntryStatus::Booked)),
            PageStart::Newest,
            1,
        )
        .await
        .unwrap()[0];
    assert_eq!(entry.amount, eur(-40_00));
    assert_eq!(entry.creditor.iban, Some(external_iban()));
    bank.assert_consistent().await;
}
both_stores!(a_payment_to_another_bank_goes_through_the_clearing_account);

async fn the_same_idempotency_key_posts_once_and_returns_the_first_result(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let first = bank.pay("same", &a, &external_iban(), 10_00).await.unwrap();
    let again = bank.pay("same", &a, &external_iban(), 10_00).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.transaction_id, first.transaction_id);
    assert_eq!(bank.booked(a.id).await, 90_00);
    assert_refused!(
        bank.pay("same", &a, &external_iban(), 11_00).await,
        LedgerError::IdempotencyConflict(_)
    );
    assert_eq!(bank.booked(a.id).await, 90_00);
    bank.assert_consistent().await;
}
both_stores!(the_same_idempotency_key_posts_once_and_returns_the_first_result);

async fn refused_transfers_change_nothing(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 50_00, 100_00).await;
    let usd = bank.account("USD", 0, 0).await;
    let before = bank.ledger.audit().await.unwrap().transactions;

    assert_refused!(

        bank.pay("k1", &a, &external_iban(), 150_01).await,

        LedgerError::InsufficientFunds(id) if id == a.id

    );
    assert_refused!(
        bank.pay("k2", &a, &external_iban(), 0).await,
        LedgerError::NonPositiveAmount
    );
    assert_refused!(
        bank.pay("k3", &a, &external_iban(), -5).await,
        LedgerError::NonPositiveAmount
    );
    assert_refused!(
        bank.pay("k4", &a, usd.iban.as_ref().unwrap(), 1_00).await,
        LedgerError::CurrencyMismatch { .. }
    );
    let mut unknown = order("k5", &a, &external_iban(), 1_00);
    unknown.debtor_account = AccountId::random();
    assert_refused!(
        bank.ledger.transfer(unknown).await,
        LedgerError::UnknownAccount(_)
    );
    assert_refused!(
        bank.pay("k6", &a, a.iban.as_ref().unwrap(), 1_00).await,
        LedgerError::SameAccount
    );

    assert_eq!(bank.booked(a.id).await, 100_00);
    assert_eq!(bank.ledger.audit().await.unwrap().transactions, before);
    // The overdraft is usable to exactly its limit.
    bank.pay("k7", &a, &external_iban(), 150_00).await.unwrap();
    assert_eq!(bank.booked(a.id).await, -50_00);
    bank.assert_consistent().await;
}
both_stores!(refused_transfers_change_nothing);

async fn account_covers_says_what_the_ledger_then_does(db: TestDb) {
    // The funds-confirmation endpoint answers with `Account::covers`; the
    // ledger must take exactly the debits it says are covered.
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 50_00, 100_00).await;
    // No limit means unlimited: the clearing account, which the opening
    // deposit drew below zero, covers anything.
    let clearing = bank
        .ledger
        .clearing_account(Currency::EUR, "FTAPDEB1XXX")
        .await
        .unwrap();
    assert!(clearing.overdraft_limit.is_none() && clearing.balances.available() < 0);
    assert!(clearing.covers(eur(1_000_000_00)));

    assert!(!a.covers(eur(150_01)) && a.covers(eur(150_00)));
    assert_refused!(
        bank.pay("cover-1", &a, &external_iban(), 150_01).await,
        LedgerError::InsufficientFunds(_)
    );
    bank.pay("cover-2", &a, &external_iban(), 150_00)
        .await
        .unwrap();
    let a = bank.store.account(a.id).await.unwrap().unwrap();
    assert!(!a.covers(eur(1)));
}
both_stores!(account_covers_says_what_the_ledger_then_does);
