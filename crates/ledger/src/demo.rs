//! The demo bank: three customers with known credentials, several EUR accounts
//! each, a year of booked history and a few pending card payments, and a
//! credit card account each with four months of card payments (`cards`);
//! and two more who hold a funded account jointly (multilevel SCA).
//!
//! Deterministic: the same seed date always gives the same customers, account
//! ids, IBANs, amounts and balances. History ends on the seed date.

use std::collections::HashMap;
use std::sync::Arc;

use fintechapi_domain::card::{CardRepository, NewCardTransfer, PanError};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{
    AccountKind, EntryStatus, LedgerError, LedgerRepository, NewAccount, NewTransfer, Party,
};
use fintechapi_domain::money::MoneyError;
use fintechapi_domain::password::{PasswordHash, PasswordHashError};
use fintechapi_domain::psu::{NewPsu, PsuError, PsuRepository};
use fintechapi_domain::{Clock, Currency, Money};
use time::{Date, Duration, Month};

use crate::service::Ledger;

mod cards;

/// The demo bank's BIC and German bank code.
pub const BANK_BIC: &str = "FTAPDEB1XXX";
pub const BANK_CODE: &str = "76543210";

/// A demo customer's credentials, printed at start in the default profile.
#[derive(Debug, Clone, Copy)]
pub struct DemoPsu {
    pub login: &'static str,
    pub password: &'static str,
    pub name: &'static str,
}

pub const DEMO_PSUS: [DemoPsu; 3] = [
    DemoPsu {
        login: "alice",
        password: "alice-demo-2026",
        name: "Alice Schmidt",
    },
    DemoPsu {
        login: "bob",
        password: "bob-demo-2026",
        name: "Bob Müller",
    },
    DemoPsu {
        login: "carol",
        password: "carol-demo-2026",
        name: "Carol Rossi",
    },
];

/// Two more customers who hold one account jointly: each must approve its
/// payments (multilevel SCA). Seeded after the others, with their own
/// generator, so the first three customers' data stays as it was.
pub const JOINT_DEMO_PSUS: [DemoPsu; 2] = [
    DemoPsu {
        login: "dave",
        password: "dave-demo-2026",
        name: "Dave Weber",
    },
    DemoPsu {
        login: "erin",
        password: "erin-demo-2026",
        name: "Erin Weber",
    },
];

/// The joint account's opening balance, in cents.
const JOINT_FUNDS: i64 = 500_000;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Psu(#[from] PsuError),
    #[error(transparent)]
    Password(#[from] PasswordHashError),
    #[error(transparent)]
    Card(#[from] PanError),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What was seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBank {
    pub psus: usize,
    pub accounts: usize,
    pub transactions: usize,
}

/// SplitMix64: a small deterministic generator for demo data (not for secrets).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = u64::try_from(items.len()).unwrap_or(1);
        &items[usize::try_from(self.next() % len).unwrap_or(0)]
    }

    fn bytes16(&mut self) -> [u8; 16] {
        let mut out = [0_u8; 16];
        out[..8].copy_from_slice(&self.next().to_le_bytes());
        out[8..].copy_from_slice(&self.next().to_le_bytes());
        out
    }
}

struct DemoAccount {
    owner: usize,
    name: &'static str,
    product: &'static str,
    cash_account_type: &'static str,
    overdraft: i64,
}

const ACCOUNTS: [DemoAccount; 7] = [
    DemoAccount {
        owner: 0,
        name: "Girokonto",
        product: "Girokonto Plus",
        cash_account_type: "CACC",
        overdraft: 150_000,
    },
    DemoAccount {
        owner: 0,
        name: "Tagesgeld",
        product: "Tagesgeld Flex",
        cash_account_type: "SVGS",
        overdraft: 0,
    },
    DemoAccount {
        owner: 1,
        name: "Girokonto",
        product: "Girokonto Basis",
        cash_account_type: "CACC",
        overdraft: 50_000,
    },
    DemoAccount {
        owner: 1,
        name: "Sparkonto",
        product: "Sparkonto",
        cash_account_type: "SVGS",
        overdraft: 0,
    },
    DemoAccount {
        owner: 2,
        name: "Geschäftskonto",
        product: "Business Konto",
        cash_account_type: "CACC",
        overdraft: 500_000,
    },
    DemoAccount {
        owner: 2,
        name: "Rücklagen",
        product: "Business Tagesgeld",
        cash_account_type: "SVGS",
        overdraft: 0,
    },
    DemoAccount {
        owner: 2,
        name: "Privatkonto",
        product: "Girokonto Plus",
        cash_account_type: "CACC",
        overdraft: 100_000,
    },
];

/// Index into `ACCOUNTS` of each PSU's main (salary) and savings accounts.
const MAIN: [usize; 3] = [0, 2, 4];
const SAVINGS: [usize; 3] = [1, 3, 5];

const SHOPS: [&str; 8] = [
    "REWE Markt",
    "EDEKA Center",
    "Lidl",
    "dm-drogerie markt",
    "Bäckerei Kamps",
    "Deutsche Bahn",
    "Aral Tankstelle",
    "Amazon EU S.a.r.l.",
];

fn external(name: &str, account_no: u64) -> Party {
    Party {
        name: Some(name.to_owned()),
        iban: Iban::from_bban("DE", &format!("10020030{account_no:010}")).ok(),
    }
}

fn month_name(m: Month) -> &'static str {
    match m {
        Month::January => "Januar",
        Month::February => "Februar",
        Month::March => "März",
        Month::April => "April",
        Month::May => "Mai",
        Month::June => "Juni",
        Month::July => "Juli",
        Month::August => "August",
        Month::September => "September",
        Month::October => "Oktober",
        Month::November => "November",
        Month::December => "Dezember",
    }
}

/// Collects journal entries in date order and keeps the generator's own view of
/// each account's available balance, so no expense breaks an overdraft limit.
/// Posted in that order, an account's entry references grow with its booking
/// dates, as they do when a bank books day by day.
struct History {
    rng: Rng,
    clearing: AccountId,
    accounts: Vec<(AccountId, Party, i64)>,
    available: HashMap<AccountId, i64>,
    /// The card payments among them carry their details (`cards`).
    entries: Vec<NewCardTransfer>,
    now: time::OffsetDateTime,
}

impl History {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        day: Date,
        debit: Option<usize>,
        credit: Option<usize>,
        other: &Party,
        minor: i64,
        remittance: String,
        code: &str,
        status: EntryStatus,
    ) {
        let debit_id = debit.map_or(self.clearing, |i| self.accounts[i].0);
        if let Some(i) = debit {
            let limit = self.accounts[i].2;
            let available = self.available.get(&debit_id).copied().unwrap_or(0);
            if available - minor < -limit {
                return;
            }
        }
        let credit_id = credit.map_or(self.clearing, |i| self.accounts[i].0);
        *self.available.entry(debit_id).or_default() -= minor;
        if status == EntryStatus::Booked {
            *self.available.entry(credit_id).or_default() += minor;
        }
        let party = |side: Option<usize>| {
            side.map_or_else(|| other.clone(), |i| self.accounts[i].1.clone())
        };
        let (debtor, creditor) = (party(debit), party(credit));
        let n = self.entries.len();
        let transaction_id = TransactionId::from_random_bytes(self.rng.bytes16());
        let transfer = NewTransfer {
            idempotency_key: format!("demo:{n}"),
            transaction_id,
            debit: debit_id,
            credit: credit_id,
            amount: Money::from_minor(minor, Currency::EUR),
            status,
            booking_date: day,
            value_date: day,
            debtor,
            creditor,
            remittance_information: Some(remittance),
            end_to_end_id: Some(if self.rng.chance(50) {
                format!("E2E{:016X}", self.rng.next())
            } else {
                "NOTPROVIDED".to_owned()
            }),
            bank_transaction_code: code.to_owned(),
            created_at: self.now,
        };
        self.entries.push(NewCardTransfer {
            transfer,
            payment: None,
        });
    }
}

/// Seeds the demo bank. Call on an empty database only.
pub async fn seed<R>(repo: R, clock: Arc<dyn Clock>) -> Result<DemoBank, DemoError>
where
    R: LedgerRepository + CardRepository + PsuRepository,
{
    let mut rng = Rng(0x00F1_7EC4_A9D1_2026);
    let now = clock.now();
    let today = clock.today();
    let psu_ids = create_psus(&repo, &mut rng, &DEMO_PSUS, now).await?;
    let ledger = Ledger::new(repo, clock.clone());
    let clearing = ledger.clearing_account(Currency::EUR, BANK_BIC).await?.id;
    let mut accounts = Vec::new();
    for (n, spec) in ACCOUNTS.iter().enumerate() {
        let iban = Iban::from_bban("DE", &format!("{BANK_CODE}{:010}", 1_000_100 + n * 7919))
            .map_err(|_| LedgerError::InvalidAccount("demo IBAN"))?;
        let owner = DEMO_PSUS[spec.owner].name;
        let owner_name = if n == 4 || n == 5 {
            "Rossi Design Studio"
        } else {
            owner
        };
        let account = ledger
            .open_account(NewAccount {
                id: AccountId::from_random_bytes(rng.bytes16()),
                kind: AccountKind::Customer,
                psu_id: Some(psu_ids[spec.owner]),
                iban: Some(iban.clone()),
                bic: BANK_BIC.to_owned(),
                currency: Currency::EUR,
                name: spec.name.to_owned(),
                owner_name: owner_name.to_owned(),
                product: spec.product.to_owned(),
                cash_account_type: spec.cash_account_type.to_owned(),
                overdraft_limit: Some(spec.overdraft),
                created_at: now,
            })
            .await?;
        let party = Party {
            name: Some(owner_name.to_owned()),
            iban: Some(iban),
        };
        accounts.push((account.id, party, spec.overdraft));
    }

    let mut cards = cards::CardBook::open(&ledger, &psu_ids, today).await?;
    let mut history = History {
        rng,
        clearing,
        accounts,
        available: HashMap::new(),
        entries: Vec::new(),
        now,
    };
    generate(&mut history, today, &mut cards)?;
    let transactions = history.entries.len();
    ledger.post_card_transfers(history.entries).await?;
    seed_joint_account(&ledger, clearing).await?;
    Ok(DemoBank {
        psus: DEMO_PSUS.len() + JOINT_DEMO_PSUS.len(),
        accounts: ACCOUNTS.len() + cards.len() + 1,
        transactions: transactions + 1,
    })
}

/// The demo PSUs `psus`, their ids drawn from `rng`.
async fn create_psus<R: PsuRepository>(
    repo: &R,
    rng: &mut Rng,
    psus: &[DemoPsu],
    now: time::OffsetDateTime,
) -> Result<Vec<PsuId>, DemoError> {
    let mut ids = Vec::with_capacity(psus.len());
    for psu in psus {
        let id = PsuId::from_random_bytes(rng.bytes16());
        repo.create_psu(NewPsu {
            id,
            login: psu.login.to_owned(),
            display_name: psu.name.to_owned(),
            password: PasswordHash::create(psu.password)?,
            created_at: now,
        })
        .await?;
        // Block alerts go to the demo outbox (example.com never receives mail).
        repo.set_psu_email(id, Some(format!("{}@demo-psu.example.com", psu.login)))
            .await
            .map_err(PsuError::from)?;
        ids.push(id);
    }
    Ok(ids)
}

/// Dave and Erin's joint account, funded once.
async fn seed_joint_account<R>(ledger: &Ledger<R>, clearing: AccountId) -> Result<(), DemoError>
where
    R: LedgerRepository + CardRepository + PsuRepository,
{
    let mut rng = Rng(0x00F1_7EC4_A9D1_2027);
    let now = ledger.now();
    let repo = ledger.repo();
    let ids = create_psus(repo, &mut rng, &JOINT_DEMO_PSUS, now).await?;
    let n = ACCOUNTS.len();
    let iban = Iban::from_bban("DE", &format!("{BANK_CODE}{:010}", 1_000_100 + n * 7919))
        .map_err(|_| LedgerError::InvalidAccount("demo IBAN"))?;
    let account = ledger
        .open_joint_account(
            NewAccount {
                id: AccountId::from_random_bytes(rng.bytes16()),
                kind: AccountKind::Customer,
                psu_id: Some(ids[0]),
                iban: Some(iban),
                bic: BANK_BIC.to_owned(),
                currency: Currency::EUR,
                name: "Gemeinschaftskonto".to_owned(),
                owner_name: "Dave und Erin Weber".to_owned(),
                product: "Girokonto Plus".to_owned(),
                cash_account_type: "CACC".to_owned(),
                overdraft_limit: Some(0),
                created_at: now,
            },
            &ids[1..],
        )
        .await?;
    ledger
        .post(vec![NewTransfer {
            idempotency_key: format!("demo:opening:{}", account.id),
            transaction_id: TransactionId::from_random_bytes(rng.bytes16()),
            debit: clearing,
            credit: account.id,
            amount: Money::from_minor(JOINT_FUNDS, Currency::EUR),
            status: EntryStatus::Booked,
            booking_date: now.date(),
            value_date: now.date(),
            debtor: external("Dave Weber", 4_711),
            creditor: Party {
                name: Some(account.owner_name.clone()),
                iban: account.iban.clone(),
            },
            remittance_information: Some("Eröffnungseinzahlung".to_owned()),
            end_to_end_id: None,
            bank_transaction_code: "PMNT-RCDT-ESCT".to_owned(),
            created_at: now,
        }])
        .await?;
    Ok(())
}

impl History {
    /// A customer pays someone at another bank.
    fn pay(&mut self, day: Date, from: usize, payee: &Party, minor: i64, text: String, code: &str) {
        self.push(
            day,
            Some(from),
            None,
            payee,
            minor,
            text,
            code,
            EntryStatus::Booked,
        );
    }

    /// Someone at another bank pays a customer.
    fn receive(&mut self, day: Date, to: usize, payer: &Party, minor: i64, text: String) {
        let code = "PMNT-RCDT-ESCT";
        self.push(
            day,
            None,
            Some(to),
            payer,
            minor,
            text,
            code,
            EntryStatus::Booked,
        );
    }

    /// A book transfer between two accounts of this bank.
    fn book(&mut self, day: Date, from: usize, to: usize, minor: i64, text: String) {
        let nobody = Party::default();
        let code = "PMNT-ICDT-BOOK";
        self.push(
            day,
            Some(from),
            Some(to),
            &nobody,
            minor,
            text,
            code,
            EntryStatus::Booked,
        );
    }
}

fn generate(h: &mut History, today: Date, cards: &mut cards::CardBook) -> Result<(), DemoError> {
    let employers = [
        (external("Nordlicht Software GmbH", 4_410_001), 385_000),
        (external("Stadtwerke Musterstadt", 4_410_002), 294_000),
    ];
    let landlords = [
        (external("Hausverwaltung Berger", 5_520_001), 115_000),
        (external("Wohnbau eG", 5_520_002), 89_000),
        (external("Gewerbehof Mitte GmbH", 5_520_003), 140_000),
    ];
    let clients = [
        external("Kaffeerösterei Hansen KG", 6_630_001),
        external("Bergmann Architekten", 6_630_002),
        external("Stiftung Lesewelt", 6_630_003),
    ];
    let power = external("Stadtwerke Musterstadt Strom", 7_740_001);
    let telco = external("Telekom Deutschland GmbH", 7_740_002);
    let insurance = external("Allianz Versicherungs-AG", 7_740_003);
    let debit_order = "PMNT-RDDT-ESDD";
    let transfer = "PMNT-ICDT-ESCT";
    let card = "PMNT-CCRD-POSD";

    let mut day = today - Duration::days(365);
    while day < today {
        let dom = day.day();
        let month = format!("{} {}", month_name(day.month()), day.year());
        if dom == 1 {
            for (main, (employer, salary)) in MAIN.iter().zip(&employers) {
                h.receive(day, *main, employer, *salary, format!("Gehalt {month}"));
            }
        }
        if dom == 3 {
            for (main, (landlord, rent)) in MAIN.iter().zip(&landlords) {
                h.pay(
                    day,
                    *main,
                    landlord,
                    *rent,
                    format!("Miete {month}"),
                    transfer,
                );
            }
        }
        if dom == 5 {
            for main in MAIN {
                let amount = h.rng.between(5_500, 11_000);
                h.pay(
                    day,
                    main,
                    &power,
                    amount,
                    format!("Abschlag Strom {month}"),
                    debit_order,
                );
                h.pay(
                    day,
                    main,
                    &telco,
                    3_995,
                    format!("Rechnung {month}"),
                    debit_order,
                );
            }
        }
        if dom == 15 && (day.month() as u8).is_multiple_of(3) {
            let text = "Hausrat/Haftpflicht Quartal".to_owned();
            h.pay(day, MAIN[0], &insurance, 18_720, text, debit_order);
        }
        if dom == 28 {
            for (main, savings) in MAIN.into_iter().zip(SAVINGS) {
                let amount = h.rng.between(10, 40) * 1_000;
                h.book(day, main, savings, amount, format!("Sparen {month}"));
            }
            let draw = h.rng.between(20, 35) * 10_000;
            h.book(day, 4, 6, draw, format!("Privatentnahme {month}"));
        }
        // Invoices paid to Carol's studio, a few a month.
        if h.rng.chance(10) {
            let client = h.rng.pick(&clients).clone();
            let amount = h.rng.between(1_200, 4_800) * 100;
            let text = format!("Rechnung RD-{}-{:03}", day.year(), h.rng.between(1, 999));
            h.receive(day, 4, &client, amount, text);
        }
        // Card payments from the private current accounts.
        for account in [0, 2, 6] {
            if h.rng.chance(40) {
                let shop = *h.rng.pick(&SHOPS);
                let amount = h.rng.between(250, 12_000);
                let payee = external(shop, 8_850_000);
                h.pay(
                    day,
                    account,
                    &payee,
                    amount,
                    format!("Kartenzahlung {shop} {day}"),
                    card,
                );
            }
        }
        // Alice and Bob split dinners now and then.
        if h.rng.chance(3) {
            let amount = h.rng.between(1_500, 6_000);
            h.book(day, 0, 2, amount, "Essen geteilt".into());
        }
        cards.day(h, day)?;
        day += Duration::days(1);
    }
    // Card payments not yet booked, and a transfer announced for tomorrow.
    let pending = EntryStatus::Pending;
    for (account, shop, amount) in [
        (0, "REWE Markt", 4_217),
        (0, "Deutsche Bahn", 8_990),
        (2, "Lidl", 2_345),
        (6, "Aral Tankstelle", 6_502),
    ] {
        let text = format!("Kartenzahlung {shop} {today}");
        let payee = external(shop, 8_850_000);
        h.push(
            today,
            Some(account),
            None,
            &payee,
            amount,
            text,
            card,
            pending,
        );
    }
    let tomorrow = today + Duration::days(1);
    let text = "Rechnung RD-Anzahlung".to_owned();
    let code = "PMNT-RCDT-ESCT";
    h.push(
        tomorrow,
        None,
        Some(4),
        &clients[1],
        275_000,
        text,
        code,
        pending,
    );
    cards.authorisations(h, today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        assert_eq!(
            (0..100).map(|_| a.next()).collect::<Vec<_>>(),
            (0..100).map(|_| b.next()).collect::<Vec<_>>()
        );
        let mut r = Rng(1);
        assert!(
            (0..1000)
                .map(|_| r.between(3, 9))
                .all(|v| (3..=9).contains(&v))
        );
    }
}
