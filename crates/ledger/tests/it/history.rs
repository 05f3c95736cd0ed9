//! Balances and history: the Berlin Group balances, pages of entries, and
//! the demo bank's seeded year.

use std::collections::HashMap;

use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::ledger::{
    AccountEntry, EntryCursor, EntryFilter, EntryStatus, LedgerRepository, NewTransfer, PageStart,
};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, Currency};
use fintechapi_ledger::{BalanceType, Ledger};
use fintechapi_testkit::{TestDb, both_stores};

use crate::bank::{Bank, balance, clock, entries_of, eur, external_iban};

async fn balances_follow_the_berlin_group_definitions(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 0).await;
    // Yesterday's deposit is in closingBooked; today's payment is not.
    let yesterday = bank.clock.today() - time::Duration::days(1);
    let clearing = bank
        .ledger
        .clearing_account(Currency::EUR, "X")
        .await
        .unwrap();
    let entry = |key: &str, debit, credit, minor, status, day| NewTransfer {
        idempotency_key: key.into(),
        transaction_id: TransactionId::random(),
        debit,
        credit,
        amount: eur(minor),
        status,
        booking_date: day,
        value_date: day,
        debtor: Default::default(),
        creditor: Default::default(),
        remittance_information: None,
        end_to_end_id: None,
        bank_transaction_code: "PMNT-ICDT-ESCT".into(),
        created_at: bank.clock.now(),
    };
    let today = bank.clock.today();
    bank.ledger
        .post(vec![
            entry(
                "d",
                clearing.id,
                a.id,
                500_00,
                EntryStatus::Booked,
                yesterday,
            ),
            entry("p", a.id, clearing.id, 20_00, EntryStatus::Booked, today),
            entry(
                "card",
                a.id,
                clearing.id,
                30_00,
                EntryStatus::Pending,
                today,
            ),
            entry("in", clearing.id, a.id, 100_00, EntryStatus::Pending, today),
        ])
        .await
        .unwrap();
    let account = bank.store.account(a.id).await.unwrap().unwrap();
    let balances = bank.ledger.balances(&account).await.unwrap();
    let get = |t: BalanceType| balance(&balances, t);
    assert_eq!(get(BalanceType::ClosingBooked).amount, eur(500_00));
    assert_eq!(get(BalanceType::ClosingBooked).reference_date, yesterday);
    assert_eq!(get(BalanceType::InterimAvailable).amount, eur(450_00));
    assert_eq!(get(BalanceType::Expected).amount, eur(550_00));
    // The one-read form (the XS2A balances call) answers the same.
    let (read, in_one) = bank.ledger.account_balances(a.id).await.unwrap().unwrap();
    assert_eq!(read, account);
    assert_eq!(in_one, balances);
    bank.assert_consistent().await;
}
both_stores!(balances_follow_the_berlin_group_definitions);

async fn pages_of_entries_cover_the_history_once_either_way(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 1_000_00).await;
    for i in 0..23 {
        bank.clock.advance(time::Duration::hours(7));
        bank.pay(&format!("p{i}"), &a, &external_iban(), 1_00 + i)
            .await
            .unwrap();
    }
    let all = entries_of(a.id, None);
    let at = |e: &AccountEntry| EntryCursor {
        booking_date: e.booking_date,
        entry_reference: e.entry_reference,
    };
    let mut seen = Vec::new();
    let mut start = PageStart::Newest;
    loop {
        let page = bank.store.entries(&all, start, 5).await.unwrap();
        let Some(last) = page.last() else { break };
        start = PageStart::After(at(last));
        seen.extend(page);
    }
    assert_eq!(seen.len(), 24); // 23 payments and the opening deposit
    assert_eq!(bank.store.count_entries(&all).await.unwrap(), 24);
    assert!(
        seen.windows(2)
            .all(|w| (w[0].booking_date, w[0].entry_reference)
                > (w[1].booking_date, w[1].entry_reference))
    );
    let mut refs: Vec<_> = seen.iter().map(|e| e.entry_reference).collect();
    refs.dedup();
    assert_eq!(refs.len(), 24);

    // Backwards from the oldest page, newest first within each page.
    let oldest = bank
        .store
        .entries(&all, PageStart::Oldest, 4)
        .await
        .unwrap();
    assert_eq!(oldest, seen[20..]);
    let mut back = oldest.clone();
    let mut start = PageStart::Before(at(&oldest[0]));
    loop {
        let page = bank.store.entries(&all, start, 5).await.unwrap();
        let Some(first) = page.first() else { break };
        start = PageStart::Before(at(first));
        back.splice(0..0, page);
    }
    assert_eq!(back, seen);

    // A period keeps its bounds on every page; delta reads run by entry reference.
    let days = EntryFilter {
        date_from: Some(seen[15].booking_date),
        date_to: Some(seen[5].booking_date),
        ..all.clone()
    };
    let inside: Vec<_> = seen
        .iter()
        .filter(|e| (seen[15].booking_date..=seen[5].booking_date).contains(&e.booking_date))
        .cloned()
        .collect();
    assert_eq!(
        bank.store
            .entries(&days, PageStart::Newest, 100)
            .await
            .unwrap(),
        inside
    );
    assert_eq!(
        bank.store
            .entries(&days, PageStart::After(at(&inside[1])), 100)
            .await
            .unwrap(),
        inside[2..]
    );
    assert_eq!(
        bank.store.count_entries(&days).await.unwrap(),
        inside.len() as u64
    );
    let after = bank
        .store
        .booked_entries_after(a.id, seen[3].entry_reference, 2)
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|e| e.entry_reference).collect::<Vec<_>>(),
        [seen[2].entry_reference, seen[1].entry_reference]
    );
}
both_stores!(pages_of_entries_cover_the_history_once_either_way);

async fn the_demo_bank_is_deterministic_and_consistent(db: TestDb) {
    let store = db.store().await;
    let clock = clock();
    let bank = fintechapi_ledger::demo::seed(store.clone(), clock.clone())
        .await
        .unwrap();
    assert_eq!(bank.psus, 5);
    assert!(bank.transactions > 500, "about a year of history: {bank:?}");
    let ledger = Ledger::new(store.clone(), clock.clone());
    assert!(ledger.audit().await.unwrap().is_consistent());

    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    let accounts = store.accounts_of_psu(alice.id).await.unwrap();
    assert!(accounts.len() >= 2);
    let main = &accounts[0];
    assert!(main.balances.pending_debits < 0, "pending card payments");
    let oldest = store
        .entries(
            &entries_of(main.id, Some(EntryStatus::Booked)),
            PageStart::Newest,
            10_000,
        )
        .await
        .unwrap();
    let first_day = oldest.last().unwrap().booking_date;
    assert!(
        clock.today() - first_day >= time::Duration::days(330),
        "history starts {first_day}"
    );

    // A second bank seeded on another database with the same clock is identical.
    let other = TestDb::create(db.backend()).await;
    let other_store = other.store().await;
    fintechapi_ledger::demo::seed(other_store.clone(), clock.clone())
        .await
        .unwrap();
    let (alice2, _) = other_store.psu_by_login("alice").await.unwrap().unwrap();
    assert_eq!(alice2.id, alice.id);
    let balances: HashMap<_, _> = accounts.iter().map(|a| (a.id, a.balances)).collect();
    for account in other_store.accounts_of_psu(alice2.id).await.unwrap() {
        assert_eq!(Some(&account.balances), balances.get(&account.id));
    }
}
both_stores!(the_demo_bank_is_deterministic_and_consistent);
