//! The demo bank's credit cards: one per customer, four months of card
//! payments (some abroad, in the merchant's currency), today's pending
//! authorisations, and each monthly statement collected from the customer's
//! current account on its due day. Their own random generator, so the
//! accounts' history stays as it was.

use fintechapi_domain::card::{
    CardPayment, CardRepository, Merchant, NewCardAccount, NewCardTransfer,
};
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{EntryStatus, LedgerRepository, NewTransfer, Party};
use fintechapi_domain::{Currency, Money};
use time::{Date, Duration, OffsetDateTime};

use super::{BANK_BIC, DEMO_PSUS, DemoError, History, Rng, month_name};
use crate::cards::{DUE_DAY, due_date, month_end, statement_date};
use crate::service::Ledger;

struct DemoCard {
    owner: usize,
    masked_pan: &'static str,
    product: &'static str,
    credit_limit: i64,
    /// Index into `ACCOUNTS` of the account statements are collected from.
    settled_from: usize,
}

const CARDS: [DemoCard; 3] = [
    DemoCard {
        owner: 0,
        masked_pan: "525412******3241",
        product: "Mastercard Gold",
        credit_limit: 300_000,
        settled_from: 0,
    },
    DemoCard {
        owner: 1,
        masked_pan: "492913******7788",
        product: "Visa Classic",
        credit_limit: 150_000,
        settled_from: 2,
    },
    DemoCard {
        owner: 2,
        masked_pan: "535310******0154",
        product: "Mastercard Platinum",
        credit_limit: 500_000,
        settled_from: 6,
    },
];

struct Shop {
    name: &'static str,
    city: &'static str,
    country: &'static str,
    category_code: &'static str,
    currency: &'static str,
    /// Euro cents charged per 100 minor units of `currency`.
    rate: i64,
}

const fn shop(
    name: &'static str,
    city: &'static str,
    country: &'static str,
    category_code: &'static str,
    currency: &'static str,
    rate: i64,
) -> Shop {
    Shop {
        name,
        city,
        country,
        category_code,
        currency,
        rate,
    }
}

const SHOPS: [Shop; 10] = [
    shop("REWE Markt", "Berlin", "DE", "5411", "EUR", 100),
    shop("Aral Tankstelle", "München", "DE", "5541", "EUR", 100),
    shop("Zalando SE", "Berlin", "DE", "5691", "EUR", 100),
    shop("Lufthansa", "Frankfurt am Main", "DE", "4511", "EUR", 100),
    shop(
        "Hotel Vier Jahreszeiten",
        "Hamburg",
        "DE",
        "7011",
        "EUR",
        100,
    ),
    shop("Trattoria da Enzo", "Roma", "IT", "5812", "EUR", 100),
    shop("Spotify AB", "Stockholm", "SE", "5815", "EUR", 100),
    shop("Amazon.com", "Seattle", "US", "5942", "USD", 92),
    shop("Pret A Manger", "London", "GB", "5814", "GBP", 117),
    shop("SBB CFF FFS", "Bern", "CH", "4112", "CHF", 104),
];

/// How far back the card history goes.
const HISTORY_DAYS: i64 = 122;

/// The generator's view of one card account.
struct Card {
    id: AccountId,
    holder: Party,
    limit: i64,
    settled_from: usize,
    /// Booked balance and pending debits, in posting order.
    booked: i64,
    pending: i64,
    /// What the last statement invoiced and is not yet collected (zero or less).
    invoiced: i64,
}

/// The demo's cards and their own generator: it adds their payments and
/// statements to the bank's [`History`] day by day.
pub(super) struct CardBook {
    rng: Rng,
    now: OffsetDateTime,
    start: Date,
    cards: Vec<Card>,
    transfers: usize,
}

impl CardBook {
    /// Opens a card for each demo customer.
    pub(super) async fn open<R>(
        ledger: &Ledger<R>,
        psu_ids: &[PsuId],
        today: Date,
    ) -> Result<Self, DemoError>
    where
        R: LedgerRepository + CardRepository,
    {
        let mut rng = Rng(0x0CA2_D5EE_D000_2026);
        let mut cards = Vec::new();
        for spec in &CARDS {
            let holder = DEMO_PSUS[spec.owner].name;
            let opened = ledger
                .open_card_account(NewCardAccount {
                    id: AccountId::from_random_bytes(rng.bytes16()),
                    psu_id: psu_ids[spec.owner],
                    masked_pan: spec.masked_pan.parse()?,
                    bic: BANK_BIC.to_owned(),
                    currency: Currency::EUR,
                    name: "Kreditkarte".to_owned(),
                    owner_name: holder.to_owned(),
                    product: spec.product.to_owned(),
                    credit_limit: spec.credit_limit,
                    created_at: ledger.now(),
                })
                .await?;
            cards.push(Card {
                id: opened.account.id,
                holder: Party {
                    name: Some(holder.to_owned()),
                    iban: None,
                },
                limit: spec.credit_limit,
                settled_from: spec.settled_from,
                booked: 0,
                pending: 0,
                invoiced: 0,
            });
        }
        Ok(Self {
            rng,
            now: ledger.now(),
            start: today - Duration::days(HISTORY_DAYS),
            cards,
            transfers: 0,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.cards.len()
    }

    /// One day of the cards: the last statement collected on its due day, a
    /// statement closing at month end, and the day's payments, booked the next day.
    pub(super) fn day(&mut self, h: &mut History, day: Date) -> Result<(), DemoError> {
        if day < self.start {
            return Ok(());
        }
        for n in 0..self.cards.len() {
            if day.day() == DUE_DAY {
                self.settle(h, n, day);
            }
            // The statement closing today holds what is booked until today.
            if day == month_end(day) {
                self.cards[n].invoiced = self.cards[n].booked;
            }
            if self.rng.chance(55) {
                let booked = (EntryStatus::Booked, day + Duration::days(1));
                self.purchase(h, n, day, booked)?;
            }
        }
        Ok(())
    }

    /// Card payments made today and not yet booked.
    pub(super) fn authorisations(&mut self, h: &mut History, today: Date) -> Result<(), DemoError> {
        for n in 0..self.cards.len() {
            for _ in 0..self.rng.between(1, 2) {
                self.purchase(h, n, today, (EntryStatus::Pending, today))?;
            }
        }
        Ok(())
    }

    fn transfer(
        &mut self,
        (debit, credit): (AccountId, AccountId),
        (debtor, creditor): (Party, Party),
        minor: i64,
        (status, booking_date): (EntryStatus, Date),
        text: String,
        code: &str,
    ) -> NewTransfer {
        self.transfers += 1;
        NewTransfer {
            idempotency_key: format!("demo:card:{}", self.transfers),
            transaction_id: TransactionId::from_random_bytes(self.rng.bytes16()),
            debit,
            credit,
            amount: Money::from_minor(minor, Currency::EUR),
            status,
            booking_date,
            value_date: due_date(booking_date),
            debtor,
            creditor,
            remittance_information: Some(text),
            end_to_end_id: None,
            bank_transaction_code: code.to_owned(),
            created_at: self.now,
        }
    }

    /// A card payment at a random shop, if the card's limit allows it.
    fn purchase(
        &mut self,
        h: &mut History,
        n: usize,
        day: Date,
        (status, booking_date): (EntryStatus, Date),
    ) -> Result<(), DemoError> {
        let shop = self.rng.pick(&SHOPS);
        let original = self.rng.between(400, 18_000);
        let billed = original * shop.rate / 100;
        let card = &mut self.cards[n];
        if card.limit + card.booked + card.pending - billed < 0 {
            return Ok(());
        }
        match status {
            EntryStatus::Booked => card.booked -= billed,
            EntryStatus::Pending => card.pending -= billed,
        }
        let (id, holder) = (card.id, card.holder.clone());
        let merchant = Party {
            name: Some(shop.name.to_owned()),
            iban: None,
        };
        let transfer = self.transfer(
            (id, h.clearing),
            (holder, merchant),
            billed,
            (status, booking_date),
            format!("{} {}", shop.name, shop.city),
            "PMNT-CCRD-POSD",
        );
        h.entries.push(NewCardTransfer {
            transfer,
            payment: Some(CardPayment {
                transaction_date: day,
                merchant: Merchant {
                    name: shop.name.to_owned(),
                    city: shop.city.to_owned(),
                    country: shop.country.to_owned(),
                    category_code: shop.category_code.to_owned(),
                },
                original_amount: Money::from_minor(original, shop.currency.parse()?),
            }),
        });
        Ok(())
    }

    /// The last statement collected from the holder's current account, if it
    /// has the funds today.
    fn settle(&mut self, h: &mut History, n: usize, day: Date) {
        let card = &self.cards[n];
        let amount = -card.invoiced;
        let (payer, payer_party, overdraft) = h.accounts[card.settled_from].clone();
        let available = h.available.entry(payer).or_default();
        if amount <= 0 || *available - amount < -overdraft {
            return;
        }
        *available -= amount;
        let card = &mut self.cards[n];
        card.booked += amount;
        card.invoiced = 0;
        let (id, holder) = (card.id, card.holder.clone());
        let closed = statement_date(day);
        let text = format!(
            "Kreditkartenabrechnung {} {}",
            month_name(closed.month()),
            closed.year()
        );
        let transfer = self.transfer(
            (payer, id),
            (payer_party, holder),
            amount,
            (EntryStatus::Booked, day),
            text,
            "PMNT-ICDT-BOOK",
        );
        h.entries.push(NewCardTransfer {
            transfer,
            payment: None,
        });
    }
}
