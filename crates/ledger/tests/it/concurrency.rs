//! Concurrent transfers: no overdraft, no deadlock, one posting per key.

use fintechapi_domain::ledger::LedgerError;
use fintechapi_testkit::{TestDb, both_stores};

use crate::bank::{Bank, external_iban, order};

async fn fifty_concurrent_debits_never_overdraw_and_leave_exact_balances(db: TestDb) {
    let bank = Bank::new(&db).await;
    // 300.00 plus 100.00 overdraft: exactly 40 of 60 payments of 10.00 fit.
    let a = bank.account("EUR", 100_00, 300_00).await;
    let b = bank.account("EUR", 0, 0).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let ledger = bank.ledger.clone();
        let (a, to) = (
            a.clone(),
            if i % 2 == 0 {
                b.iban.clone().unwrap()
            } else {
                external_iban()
            },
        );
        tasks.push(tokio::spawn(async move {
            ledger
                .transfer(order(&format!("c{i}"), &a, &to, 10_00))
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(LedgerError::InsufficientFunds(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 40);
    assert_eq!(bank.booked(a.id).await, -100_00);
    let b_booked = bank.booked(b.id).await;
    let external_total: i64 = 40 * 10_00 - b_booked;
    assert_eq!(b_booked + external_total, 400_00);
    bank.assert_consistent().await;
}
both_stores!(fifty_concurrent_debits_never_overdraw_and_leave_exact_balances);

async fn opposite_concurrent_transfers_do_not_deadlock(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 1_000_00).await;
    let b = bank.account("EUR", 0, 1_000_00).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let ledger = bank.ledger.clone();
        let (from, to) = if i % 2 == 0 {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        tasks.push(tokio::spawn(async move {
            ledger
                .transfer(order(
                    &format!("x{i}"),
                    &from,
                    to.iban.as_ref().unwrap(),
                    1_00 + i,
                ))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let total = bank.booked(a.id).await + bank.booked(b.id).await;
    assert_eq!(total, 2_000_00);
    bank.assert_consistent().await;
}
both_stores!(opposite_concurrent_transfers_do_not_deadlock);

async fn a_key_raced_by_many_callers_posts_exactly_once(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (ledger, a) = (bank.ledger.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            ledger
                .transfer(order("raced", &a, &external_iban(), 7_00))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().transaction_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(bank.booked(a.id).await, 93_00);
}
both_stores!(a_key_raced_by_many_callers_posts_exactly_once);
