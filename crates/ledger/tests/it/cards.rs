//! Card accounts in the ledger against real stores (SQLite and PostgreSQL):
//! the credit limit holds, card payments are double-entry postings with
//! their merchant details, the card balances add up, and the demo's cards.

use std::sync::Arc;

use fintechapi_domain::card::{
    CardAccount, CardPayment, CardRepository, Merchant, NewCardAccount, NewCardTransfer,
};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{
    AccountEntry, AccountKind, EntryStatus, LedgerError, LedgerRepository, NewAccount, NewTransfer,
    PageStart, Party,
};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, Currency, ManualClock, Money};
use fintechapi_ledger::{BalanceType, Ledger};
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use time::macros::date;

use crate::bank::{balance, clock, create_psu, entries_of, eur};

struct Bank {
    ledger: Ledger<Store>,
    store: Store,
    clock: Arc<ManualClock>,
    psu: PsuId,
}

impl Bank {
    async fn new(db: &TestDb) -> Self {
        let store = db.store().await;
        let clock = clock();
        let psu = PsuId::random();
        create_psu(&store, psu, "card-holder", "Card Holder", &clock).await;
        Self {
            ledger: Ledger::new(store.clone(), clock.clone()),
            store,
            clock,
            psu,
        }
    }

    async fn card(&self, masked_pan: &str, limit: i64) -> Result<CardAccount, LedgerError> {
        self.ledger
            .open_card_account(NewCardAccount {
                id: AccountId::random(),
                psu_id: self.psu,
                masked_pan: masked_pan.parse().unwrap(),
                bic: "FTAPDEB1XXX".into(),
                currency: Currency::EUR,
                name: "Kreditkarte".into(),
                owner_name: "Card Holder".into(),
                product: "Mastercard Gold".into(),
                credit_limit: limit,
                created_at: self.clock.now(),
            })
            .await
    }

    async fn clearing(&self) -> AccountId {
        self.ledger
            .clearing_account(Currency::EUR, "FTAPDEB1XXX")
            .await
            .unwrap()
            .id
    }

    /// A card payment of `billed` euro cents, booked on `booked` (pending if None).
    async fn payment(
        &self,
        key: &str,
        (debit, credit): (AccountId, AccountId),
        billed: i64,
        original: Money,
        booked: Option<time::Date>,
    ) -> NewCardTransfer {
        let day = booked.unwrap_or(self.clock.today());
        NewCardTransfer {
            transfer: NewTransfer {
                idempotency_key: key.into(),
                transaction_id: TransactionId::random(),
                debit,
                credit,
                amount: eur(billed),
                status: if booked.is_some() {
                    EntryStatus::Booked
                } else {
                    EntryStatus::Pending
                },
                booking_date: day,
                value_date: day,
                debtor: Party::default(),
                creditor: Party::default(),
                remittance_information: None,
                end_to_end_id: None,
                bank_transaction_code: "PMNT-CCRD-POSD".into(),
                created_at: self.clock.now(),
            },
            payment: Some(CardPayment {
                transaction_date: day,
                merchant: Merchant {
                    name: "Pret A Manger".into(),
                    city: "London".into(),
                    country: "GB".into(),
                    category_code: "5814".into(),
                },
                original_amount: original,
            }),
        }
    }
}

/// One entry of a card account, with its card payment if it is one.
struct CardEntry {
    entry: AccountEntry,
    payment: Option<CardPayment>,
}

/// The card account's newest entries and their card payments, as a report reads them.
async fn card_entries(store: &Store, card: AccountId, limit: u32) -> Vec<CardEntry> {
    let filter = entries_of(card, None);
    let entries = store
        .entries(&filter, PageStart::Newest, limit)
        .await
        .unwrap();
    let ids: Vec<TransactionId> = entries.iter().map(|e| e.transaction_id).collect();
    let mut payments = store.card_payments(&ids).await.unwrap();
    entries
        .into_iter()
        .map(|entry| CardEntry {
            payment: payments.remove(&entry.transaction_id),
            entry,
        })
        .collect()
}

async fn a_card_spends_within_its_credit_limit_and_its_balances_add_up(db: TestDb) {
    let bank = Bank::new(&db).await;
    let card = bank.card("525412******3241", 100_00).await.unwrap();
    assert_eq!(card.credit_limit(), Some(eur(100_00)));
    assert_eq!(card.account.cash_account_type, "CARD");
    assert!(card.account.iban.is_none());
    let clearing = bank.clearing().await;
    let gbp: Currency = "GBP".parse().unwrap();
    let sides = (card.account.id, clearing);

    // Invoiced in October, not yet invoiced in November, one authorisation pending.
    let october = bank
        .payment(
            "p1",
            sides,
            30_00,
            Money::from_minor(2_564, gbp),
            Some(date!(2026 - 10 - 20)),
        )
        .await;
    let november = bank
        .payment("p2", sides, 20_00, eur(20_00), Some(date!(2026 - 11 - 03)))
        .await;
    let pending = bank.payment("p3", sides, 15_00, eur(15_00), None).await;
    bank.ledger
        .post_card_transfers(vec![october.clone(), november, pending])
        .await
        .unwrap();

    let over = bank
        .payment("p4", sides, 35_01, eur(35_01), Some(date!(2026 - 11 - 24)))
        .await;
    assert_refused!(
        bank.ledger.post_card_transfers(vec![over]).await,
        LedgerError::InsufficientFunds(id) if id == card.account.id
    );

    // The same key again replays the entry and stores its card payment once.
    let replay = bank
        .ledger
        .post_card_transfers(vec![october])
        .await
        .unwrap();
    assert!(replay[0].replayed);
    let entries = card_entries(&bank.store, card.account.id, 100).await;
    assert_eq!(entries.len(), 3);
    let foreign = entries
        .iter()
        .find(|e| e.entry.booking_date == date!(2026 - 10 - 20))
        .unwrap();
    assert_eq!(foreign.entry.amount, eur(-30_00));
    assert_eq!(
        foreign.payment.as_ref().unwrap().original_amount,
        Money::from_minor(2_564, gbp)
    );
    assert!(bank.ledger.is_invoiced(&foreign.entry));
    assert!(
        entries
            .iter()
            .filter(|e| e.entry != foreign.entry)
            .all(|e| !bank.ledger.is_invoiced(&e.entry))
    );

    let card = bank
        .store
        .card_account(card.account.id)
        .await
        .unwrap()
        .unwrap();
    let balances = bank.ledger.card_balances(&card).await.unwrap();
    let amount = |t: BalanceType| balance(&balances, t).amount.minor();
    assert_eq!(
        amount(BalanceType::ClosingBooked),
        -30_00,
        "October's statement"
    );
    assert_eq!(amount(BalanceType::NonInvoiced), -20_00);
    assert_eq!(amount(BalanceType::InterimBooked), -50_00);
    assert_eq!(
        amount(BalanceType::InterimAvailable),
        100_00 - 50_00 - 15_00
    );
    assert_eq!(amount(BalanceType::Expected), -65_00);
    let closing = balances
        .iter()
        .find(|b| b.balance_type == BalanceType::ClosingBooked)
        .unwrap();
    assert_eq!(closing.reference_date, date!(2026 - 10 - 31));
    let available = balances
        .iter()
        .find(|b| b.balance_type == BalanceType::InterimAvailable)
        .unwrap();
    assert!(available.credit_limit_included);
    assert!(bank.ledger.audit().await.unwrap().is_consistent());
}
both_stores!(a_card_spends_within_its_credit_limit_and_its_balances_add_up);

async fn a_card_payment_needs_a_card_account_and_masked_pans_are_unique(db: TestDb) {
    let bank = Bank::new(&db).await;
    let card = bank.card("492913******7788", 500_00).await.unwrap();
    assert_refused!(
        bank.card("492913xxxxxx7788", 500_00).await,
        LedgerError::InvalidAccount(_)
    );
    assert_refused!(
        bank.card("535310******0154", -1).await,
        LedgerError::InvalidAccount(_)
    );

    let clearing = bank.clearing().await;
    let current = bank
        .ledger
        .open_account(NewAccount {
            id: AccountId::random(),
            kind: AccountKind::Customer,
            psu_id: Some(bank.psu),
            iban: Some(Iban::from_bban("DE", "765432100005000001").unwrap()),
            bic: "FTAPDEB1XXX".into(),
            currency: Currency::EUR,
            name: "Girokonto".into(),
            owner_name: "Card Holder".into(),
            product: "Girokonto".into(),
            cash_account_type: "CACC".into(),
            overdraft_limit: Some(1_000_00),
            created_at: bank.clock.now(),
        })
        .await
        .unwrap();

    // A batch with a card payment that touches no card account posts nothing.
    let fine = bank
        .payment(
            "fine",
            (card.account.id, clearing),
            10_00,
            eur(10_00),
            Some(date!(2026 - 11 - 20)),
        )
        .await;
    let stray = bank
        .payment(
            "stray",
            (current.id, clearing),
            10_00,
            eur(10_00),
            Some(date!(2026 - 11 - 20)),
        )
        .await;
    let before = bank.ledger.audit().await.unwrap().transactions;
    assert_refused!(
        bank.ledger.post_card_transfers(vec![fine, stray]).await,
        LedgerError::InvalidAccount(_)
    );
    assert_eq!(bank.ledger.audit().await.unwrap().transactions, before);
    let zero = bank
        .payment(
            "zero",
            (card.account.id, clearing),
            10_00,
            eur(0),
            Some(date!(2026 - 11 - 20)),
        )
        .await;
    assert_refused!(
        bank.ledger.post_card_transfers(vec![zero]).await,
        LedgerError::NonPositiveAmount
    );

    // Payment accounts and card accounts are listed apart.
    let payment_accounts = bank.store.accounts_of_psu(bank.psu).await.unwrap();
    assert_eq!(
        payment_accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
        [current.id]
    );
    let cards = bank.store.card_accounts_of_psu(bank.psu).await.unwrap();
    assert_eq!(
        cards
            .iter()
            .map(|c| c.masked_pan.as_str())
            .collect::<Vec<_>>(),
        ["492913******7788"]
    );
    assert!(bank.store.card_account(current.id).await.unwrap().is_none());
}
both_stores!(a_card_payment_needs_a_card_account_and_masked_pans_are_unique);

async fn each_demo_customer_has_one_credit_card_with_months_of_settled_history(db: TestDb) {
    let store = db.store().await;
    let clock = clock();
    fintechapi_ledger::demo::seed(store.clone(), clock.clone())
        .await
        .unwrap();
    let ledger = Ledger::new(store.clone(), clock.clone());
    assert!(ledger.audit().await.unwrap().is_consistent());

    let other = TestDb::create(db.backend()).await;
    let other_store = other.store().await;
    fintechapi_ledger::demo::seed(other_store.clone(), clock.clone())
        .await
        .unwrap();
    for login in ["alice", "bob", "carol"] {
        let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
        let cards = store.card_accounts_of_psu(psu.id).await.unwrap();
        assert_eq!(cards.len(), 1, "{login}");
        let card = &cards[0];
        assert_eq!(
            other_store.card_accounts_of_psu(psu.id).await.unwrap(),
            cards,
            "deterministic"
        );
        assert!(card.account.covers(eur(0)), "within its credit limit");

        let entries = card_entries(&store, card.account.id, 1_000).await;
        let oldest = entries.last().unwrap().entry.booking_date;
        assert!(
            clock.today() - oldest >= time::Duration::days(90),
            "{login}: history from {oldest}"
        );
        assert!(
            entries.len() > 50,
            "{login}: {} entries, more than a page",
            entries.len()
        );
        // Posted day by day, so every account's references grow with its booking dates.
        assert!(
            entries
                .windows(2)
                .all(|w| w[0].entry.entry_reference > w[1].entry.entry_reference),
            "{login}"
        );
        for account in store.accounts_of_psu(psu.id).await.unwrap() {
            let refs: Vec<i64> = card_entries(&store, account.id, 10_000)
                .await
                .iter()
                .map(|e| e.entry.entry_reference)
                .collect();
            assert!(
                refs.windows(2).all(|w| w[0] > w[1]),
                "{login}: {}",
                account.name
            );
        }
        assert!(
            entries
                .iter()
                .any(|e| e.entry.status == EntryStatus::Pending)
        );
        assert!(
            entries.iter().any(|e| e
                .payment
                .as_ref()
                .is_some_and(|p| p.original_amount.currency() != Currency::EUR)),
            "{login}: a payment abroad"
        );
        // Statements are collected: the credits on the card come from the holder's current account.
        let settlements: Vec<_> = entries.iter().filter(|e| e.payment.is_none()).collect();
        assert!(
            settlements.len() >= 3,
            "{login}: {} settlements",
            settlements.len()
        );
        assert!(settlements.iter().all(|e| e.entry.amount.is_positive()
            && e.entry.booking_date.day() == fintechapi_ledger::cards::DUE_DAY));
        let balances = ledger.card_balances(card).await.unwrap();
        let closing = balances
            .iter()
            .find(|b| b.balance_type == BalanceType::ClosingBooked)
            .unwrap();
        assert_eq!(
            closing.amount.minor(),
            0,
            "{login}: November 10 collected October's statement"
        );
    }
}
both_stores!(each_demo_customer_has_one_credit_card_with_months_of_settled_history);
