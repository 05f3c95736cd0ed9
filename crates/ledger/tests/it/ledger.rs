//! The ledger against real stores: every test runs on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId};
use fintechapi_domain::ledger::{
    Account, AccountKind, EntryCursor, EntryFilter, EntryStatus, LedgerError, LedgerRepository,
    NewAccount, PageStart,
};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::psu::{NewPsu, PsuRepository};
use fintechapi_domain::{Clock, Currency, ManualClock, Money};
use fintechapi_ledger::{BalanceType, Ledger, TransferOrder};
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use time::macros::datetime;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)))
}

struct Bank {
    ledger: Ledger<Store>,
    store: Store,
    clock: Arc<ManualClock>,
    psu: PsuId,
    next_account: std::sync::atomic::AtomicU64,
}

impl Bank {
    async fn new(db: &TestDb) -> Self {
        let store = db.store().await;
        let clock = clock();
        let psu = PsuId::random();
        store
            .create_psu(NewPsu {
                id: psu,
                login: format!("psu-{psu}"),
                display_name: "Test Customer".into(),
                password: PasswordHash::from_phc("$argon2id$unused".into()),
                created_at: clock.now(),
            })
            .await
            .unwrap();
        Self {
            ledger: Ledger::new(store.clone(), clock.clone()),
            store,
            clock,
            psu,
            next_account: 1.into(),
        }
    }

    /// A customer account funded with `funds` from the clearing account.
    async fn account(&self, currency: &str, overdraft: i64, funds: i64) -> Account {
        let n = self
            .next_account
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                .post(vec![fintechapi_domain::ledger::NewTransfer {
                    idempotency_key: format!("fund-{}", account.id),
                    transaction_id: fintechapi_domain::ids::TransactionId::random(),
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
        self.store.account(account.id).await.unwrap().unwrap()
    }

    async fn booked(&self, id: AccountId) -> i64 {
        self.store
            .account(id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked
    }

    async fn assert_consistent(&self) {
        let audit = self.ledger.audit().await.unwrap();
        assert!(audit.is_consistent(), "ledger inconsistent: {audit:?}");
    }
}

fn order(key: &str, from: &Account, to: &Iban, minor: i64) -> TransferOrder {
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

fn external_iban() -> Iban {
    "DE89370400440532013000".parse().unwrap()
}

async fn an_internal_transfer_debits_one_account_and_credits_the_other(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let b = bank.account("EUR", 0, 0).await;
    let receipt = bank
        .ledger
        .transfer(order("t1", &a, b.iban.as_ref().unwrap(), 25_50))
        .await
        .unwrap();
    assert!(!receipt.replayed);
    assert_eq!(receipt.status, EntryStatus::Booked);
    assert_eq!(bank.booked(a.id).await, 74_50);
    assert_eq!(bank.booked(b.id).await, 25_50);
    let page = bank
        .store
        .entries(
            &EntryFilter {
                account: b.id,
                status: None,
                date_from: None,
                date_to: None,
                reference_above: None,
            },
            PageStart::Newest,
            10,
        )
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
    bank.ledger
        .transfer(order("ext", &a, &external_iban(), 40_00))
        .await
        .unwrap();
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
            &EntryFilter {
                account: a.id,
                status: Some(EntryStatus::Booked),
                date_from: None,
                date_to: None,
                reference_above: None,
            },
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
    let first = bank
        .ledger
        .transfer(order("same", &a, &external_iban(), 10_00))
        .await
        .unwrap();
    let again = bank
        .ledger
        .transfer(order("same", &a, &external_iban(), 10_00))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.transaction_id, first.transaction_id);
    assert_eq!(bank.booked(a.id).await, 90_00);
    let changed = bank
        .ledger
        .transfer(order("same", &a, &external_iban(), 11_00))
        .await;
    assert!(
        matches!(changed, Err(LedgerError::IdempotencyConflict(_))),
        "{changed:?}"
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

    let too_much = bank
        .ledger
        .transfer(order("k1", &a, &external_iban(), 150_01))
        .await;
    assert!(
        matches!(too_much, Err(LedgerError::InsufficientFunds(id)) if id == a.id),
        "{too_much:?}"
    );
    let zero = bank
        .ledger
        .transfer(order("k2", &a, &external_iban(), 0))
        .await;
    assert!(
        matches!(zero, Err(LedgerError::NonPositiveAmount)),
        "{zero:?}"
    );
    let negative = bank
        .ledger
        .transfer(order("k3", &a, &external_iban(), -5))
        .await;
    assert!(
        matches!(negative, Err(LedgerError::NonPositiveAmount)),
        "{negative:?}"
    );
    let wrong_currency = bank
        .ledger
        .transfer(order("k4", &a, usd.iban.as_ref().unwrap(), 1_00))
        .await;
    assert!(
        matches!(wrong_currency, Err(LedgerError::CurrencyMismatch { .. })),
        "{wrong_currency:?}"
    );
    let mut unknown = order("k5", &a, &external_iban(), 1_00);
    unknown.debtor_account = AccountId::random();
    assert!(matches!(
        bank.ledger.transfer(unknown).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    let to_self = bank
        .ledger
        .transfer(order("k6", &a, a.iban.as_ref().unwrap(), 1_00))
        .await;
    assert!(
        matches!(to_self, Err(LedgerError::SameAccount)),
        "{to_self:?}"
    );

    assert_eq!(bank.booked(a.id).await, 100_00);
    assert_eq!(bank.ledger.audit().await.unwrap().transactions, before);
    // The overdraft is usable to exactly its limit.
    bank.ledger
        .transfer(order("k7", &a, &external_iban(), 150_00))
        .await
        .unwrap();
    assert_eq!(bank.booked(a.id).await, -50_00);
    bank.assert_consistent().await;
}
both_stores!(refused_transfers_change_nothing);

async fn fifty_concurrent_debits_never_overdraw_and_leave_exact_balances(db: TestDb) {
    let bank = Bank::new(&db).await;
    // 300.00 plus 100.00 overdraft: exactly 40 of 60 payments of 10.00 fit.
    let a = bank.account("EUR", 100_00, 300_00).await;
    let b = bank.account("EUR", 0, 0).await;
    let ledger = Arc::new(bank.ledger);
    let mut tasks = Vec::new();
    for i in 0..60 {
        let ledger = ledger.clone();
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
    let a_now = bank.store.account(a.id).await.unwrap().unwrap();
    assert_eq!(a_now.balances.booked, -100_00);
    let b_now = bank.store.account(b.id).await.unwrap().unwrap();
    let external_total: i64 = 40 * 10_00 - b_now.balances.booked;
    assert_eq!(b_now.balances.booked + external_total, 400_00);
    let audit = ledger.audit().await.unwrap();
    assert!(audit.is_consistent(), "{audit:?}");
}
both_stores!(fifty_concurrent_debits_never_overdraw_and_leave_exact_balances);

async fn opposite_concurrent_transfers_do_not_deadlock(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 1_000_00).await;
    let b = bank.account("EUR", 0, 1_000_00).await;
    let ledger = Arc::new(bank.ledger);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let ledger = ledger.clone();
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
    let total = bank
        .store
        .account(a.id)
        .await
        .unwrap()
        .unwrap()
        .balances
        .booked
        + bank
            .store
            .account(b.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked;
    assert_eq!(total, 2_000_00);
    assert!(ledger.audit().await.unwrap().is_consistent());
}
both_stores!(opposite_concurrent_transfers_do_not_deadlock);

async fn a_key_raced_by_many_callers_posts_exactly_once(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 100_00).await;
    let ledger = Arc::new(bank.ledger);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (ledger, a) = (ledger.clone(), a.clone());
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
    assert_eq!(
        bank.store
            .account(a.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        93_00
    );
}
both_stores!(a_key_raced_by_many_callers_posts_exactly_once);

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
    let entry =
        |key: &str, debit, credit, minor, status, day| fintechapi_domain::ledger::NewTransfer {
            idempotency_key: key.into(),
            transaction_id: fintechapi_domain::ids::TransactionId::random(),
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
    let get = |t: BalanceType| {
        balances
            .iter()
            .find(|b| b.balance_type == t)
            .unwrap()
            .clone()
    };
    assert_eq!(get(BalanceType::ClosingBooked).amount, eur(500_00));
    assert_eq!(get(BalanceType::ClosingBooked).reference_date, yesterday);
    assert_eq!(get(BalanceType::InterimAvailable).amount, eur(450_00));
    assert_eq!(get(BalanceType::Expected).amount, eur(550_00));
    bank.assert_consistent().await;
}
both_stores!(balances_follow_the_berlin_group_definitions);

async fn pages_of_entries_cover_the_history_once_either_way(db: TestDb) {
    let bank = Bank::new(&db).await;
    let a = bank.account("EUR", 0, 1_000_00).await;
    for i in 0..23 {
        bank.clock.advance(time::Duration::hours(7));
        bank.ledger
            .transfer(order(&format!("p{i}"), &a, &external_iban(), 1_00 + i))
            .await
            .unwrap();
    }
    let all = EntryFilter {
        account: a.id,
        status: None,
        date_from: None,
        date_to: None,
        reference_above: None,
    };
    let at = |e: &fintechapi_domain::ledger::AccountEntry| EntryCursor {
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
    assert_eq!(bank.psus, 3);
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
            &EntryFilter {
                account: main.id,
                status: Some(EntryStatus::Booked),
                date_from: None,
                date_to: None,
                reference_above: None,
            },
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

/// One payment in a generated scenario: account indexes (3 means another bank),
/// an amount, and optionally the idempotency key of an earlier step.
#[derive(Debug, Clone)]
struct Step {
    from: usize,
    to: usize,
    amount: i64,
    reuse_key_of: Option<usize>,
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    prop::collection::vec(
        (
            0..3_usize,
            0..4_usize,
            1..40_000_i64,
            prop::option::weighted(0.2, 0..40_usize),
        )
            .prop_map(|(from, to, amount, reuse_key_of)| Step {
                from,
                to,
                amount,
                reuse_key_of,
            }),
        1..40,
    )
}

/// The ledger agrees with a plain in-memory model on every outcome and every
/// final balance, and its invariants hold after every scenario.
fn ledger_matches_the_model(backend: fintechapi_testkit::Backend) {
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create(backend));
    let bank = rt.block_on(Bank::new(&db));
    let scenario = std::sync::atomic::AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&steps(), |steps| {
            rt.block_on(async {
                let run = scenario.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let limits = [0_i64, 50_00, 250_00];
                let mut accounts = Vec::new();
                for (i, limit) in limits.iter().enumerate() {
                    accounts.push(bank.account("EUR", *limit, 100_00 * i as i64).await);
                }
                let mut model: Vec<i64> = accounts.iter().map(|a| a.balances.booked).collect();
                let mut committed: HashMap<String, (usize, usize, i64)> = HashMap::new();
                let keys: Vec<String> = (0..steps.len()).map(|i| format!("s{run}-{i}")).collect();
                for (i, step) in steps.iter().enumerate() {
                    let key = step
                        .reuse_key_of
                        .filter(|j| *j < i)
                        .map_or(&keys[i], |j| &keys[j])
                        .clone();
                    let to = if step.to == 3 {
                        external_iban()
                    } else {
                        accounts[step.to].iban.clone().unwrap()
                    };
                    let got = bank
                        .ledger
                        .transfer(order(&key, &accounts[step.from], &to, step.amount))
                        .await;
                    let params = (step.from, step.to, step.amount);
                    match committed.get(&key) {
                        Some(first) if *first == params => assert!(got.unwrap().replayed),
                        Some(_) => assert!(
                            matches!(got, Err(LedgerError::IdempotencyConflict(_))),
                            "{got:?}"
                        ),
                        None if step.from == step.to => {
                            assert!(matches!(got, Err(LedgerError::SameAccount)), "{got:?}")
                        }
                        None if model[step.from] - step.amount < -limits[step.from] => {
                            assert!(
                                matches!(got, Err(LedgerError::InsufficientFunds(_))),
                                "{got:?}"
                            )
                        }
                        None => {
                            assert!(!got.unwrap().replayed);
                            model[step.from] -= step.amount;
                            if step.to < 3 {
                                model[step.to] += step.amount;
                            }
                            committed.insert(key, params);
                        }
                    }
                }
                for (i, account) in accounts.iter().enumerate() {
                    let booked = bank.booked(account.id).await;
                    assert_eq!(booked, model[i], "account {i}");
                    assert!(booked >= -limits[i]);
                }
                bank.assert_consistent().await;
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_ledger_matches_a_simple_model_on_sqlite() {
    ledger_matches_the_model(fintechapi_testkit::Backend::Sqlite);
}

#[test]
fn the_ledger_matches_a_simple_model_on_postgres() {
    ledger_matches_the_model(fintechapi_testkit::Backend::Postgres);
}

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
    let refused = bank
        .ledger
        .transfer(order("cover-1", &a, &external_iban(), 150_01))
        .await;
    assert!(
        matches!(refused, Err(LedgerError::InsufficientFunds(_))),
        "{refused:?}"
    );
    bank.ledger
        .transfer(order("cover-2", &a, &external_iban(), 150_00))
        .await
        .unwrap();
    let a = bank.store.account(a.id).await.unwrap().unwrap();
    assert!(!a.covers(eur(1)));
}
both_stores!(account_covers_says_what_the_ledger_then_does);
