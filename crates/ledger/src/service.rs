//! The ledger service: rules that hold whatever the store.

use std::sync::Arc;

use fintechapi_domain::holders::Mandate;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{
    Account, AccountKind, EntryStatus, LedgerAudit, LedgerError, LedgerRepository, NewAccount,
    NewTransfer, Overdraft, Party, TransferReceipt,
};
use fintechapi_domain::{Clock, Currency, Money, StoreError};
use time::{Date, Duration};

/// Longest idempotency key accepted (an `X-Request-ID` UUID plus a prefix fits easily).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A payment order from one of the bank's customer accounts to any IBAN.
#[derive(Debug, Clone)]
pub struct TransferOrder {
    pub idempotency_key: String,
    pub debtor_account: AccountId,
    pub creditor_iban: Iban,
    pub creditor_name: Option<String>,
    pub amount: Money,
    pub remittance_information: Option<String>,
    pub end_to_end_id: Option<String>,
    /// ISO 20022 bank transaction code; SEPA credit transfer when absent.
    pub bank_transaction_code: Option<String>,
}

/// Berlin Group balance types the ledger reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceType {
    /// Booked balance at the end of the previous booking day; for a card
    /// account, what the last statement invoiced and is not yet paid.
    ClosingBooked,
    /// Booked balance now (card accounts).
    InterimBooked,
    /// Card payments booked since the last statement (card accounts).
    NonInvoiced,
    /// Booked balance minus pending debits, now.
    InterimAvailable,
    /// Booked balance plus all pending items.
    Expected,
}

impl BalanceType {
    /// The Berlin Group `balanceType` code.
    pub fn code(&self) -> &'static str {
        match self {
            BalanceType::ClosingBooked => "closingBooked",
            BalanceType::InterimBooked => "interimBooked",
            BalanceType::NonInvoiced => "nonInvoiced",
            BalanceType::InterimAvailable => "interimAvailable",
            BalanceType::Expected => "expected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub balance_type: BalanceType,
    pub amount: Money,
    pub reference_date: Date,
    /// Whether the amount counts the account's credit limit as available.
    pub credit_limit_included: bool,
}

pub struct Ledger<R> {
    repo: R,
    clock: Arc<dyn Clock>,
}

impl<R: LedgerRepository> Ledger<R> {
    pub fn new(repo: R, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    /// Opens a customer account held jointly by its owner and `others`
    /// (multilevel SCA): every one of them must approve its payments.
    pub async fn open_joint_account(
        &self,
        account: NewAccount,
        others: &[PsuId],
    ) -> Result<Account, LedgerError> {
        let opened = self.open_account(account).await?;
        for psu in opened.psu_id.iter().chain(others) {
            self.repo
                .set_account_holder(opened.id, *psu, Mandate::Joint)
                .await?;
        }
        Ok(opened)
    }

    /// Opens an account after checking what the store cannot: a customer account
    /// has an owner, an IBAN and a finite overdraft limit; an internal one has neither.
    pub async fn open_account(&self, account: NewAccount) -> Result<Account, LedgerError> {
        match account.kind {
            AccountKind::Customer => {
                if account.psu_id.is_none() || account.iban.is_none() {
                    return Err(LedgerError::InvalidAccount(
                        "a customer account needs an owner and an IBAN",
                    ));
                }
                if !matches!(Overdraft::of(account.overdraft_limit), Overdraft::Limit(l) if l >= 0)
                {
                    return Err(LedgerError::InvalidAccount(
                        "a customer account needs an overdraft limit of zero or more",
                    ));
                }
            }
            AccountKind::Clearing => {
                if account.psu_id.is_some()
                    || Overdraft::of(account.overdraft_limit) != Overdraft::Unlimited
                {
                    return Err(LedgerError::InvalidAccount(
                        "an internal account has no owner and no overdraft limit",
                    ));
                }
            }
        }
        self.repo.create_account(account).await
    }

    /// The clearing account for `currency`, opened on first use.
    pub async fn clearing_account(
        &self,
        currency: Currency,
        bic: &str,
    ) -> Result<Account, LedgerError> {
        if let Some(account) = self.repo.clearing_account(currency).await? {
            return Ok(account);
        }
        let opened = self
            .repo
            .create_account(NewAccount {
                id: AccountId::random(),
                kind: AccountKind::Clearing,
                psu_id: None,
                iban: None,
                bic: bic.to_owned(),
                currency,
                name: format!("Clearing {currency}"),
                owner_name: "FinTechAPI Bank".into(),
                product: "Internal clearing".into(),
                cash_account_type: "CACC".into(),
                overdraft_limit: None,
                created_at: self.clock.now(),
            })
            .await;
        match opened {
            Ok(account) => Ok(account),
            // Opened concurrently by someone else: use theirs.
            Err(LedgerError::InvalidAccount(_)) => self
                .repo
                .clearing_account(currency)
                .await?
                .ok_or_else(|| StoreError::corrupt("clearing account missing").into()),
            Err(e) => Err(e),
        }
    }

    /// Executes a payment order at once and books it today. An IBAN of this bank
    /// is credited directly; any other IBAN through the clearing account.
    /// Idempotent by `idempotency_key`: a repeated order returns the first receipt.
    pub async fn transfer(&self, order: TransferOrder) -> Result<TransferReceipt, LedgerError> {
        if order.idempotency_key.is_empty() || order.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN
        {
            return Err(LedgerError::InvalidIdempotencyKey(MAX_IDEMPOTENCY_KEY_LEN));
        }
        if !order.amount.is_positive() {
            return Err(LedgerError::NonPositiveAmount);
        }
        let debtor = self
            .repo
            .account(order.debtor_account)
            .await?
            .filter(|a| a.kind == AccountKind::Customer)
            .ok_or(LedgerError::UnknownAccount(order.debtor_account))?;
        let credit = match self.repo.account_by_iban(&order.creditor_iban).await? {
            Some(internal) => internal.id,
            None => {
                self.clearing_account(order.amount.currency(), &debtor.bic)
                    .await?
                    .id
            }
        };
        let today = self.clock.today();
        let transfer = NewTransfer {
            idempotency_key: order.idempotency_key,
            transaction_id: TransactionId::random(),
            debit: debtor.id,
            credit,
            amount: order.amount,
            status: EntryStatus::Booked,
            booking_date: today,
            value_date: today,
            debtor: Party {
                name: Some(debtor.owner_name.clone()),
                iban: debtor.iban.clone(),
            },
            creditor: Party {
                name: order.creditor_name,
                iban: Some(order.creditor_iban),
            },
            remittance_information: order.remittance_information,
            end_to_end_id: order.end_to_end_id,
            bank_transaction_code: order
                .bank_transaction_code
                .unwrap_or_else(|| "PMNT-ICDT-ESCT".into()),
            created_at: self.clock.now(),
        };
        let mut receipts = self.repo.post_transfers(vec![transfer]).await?;
        receipts
            .pop()
            .ok_or_else(|| StoreError::corrupt("no receipt for a posted transfer").into())
    }

    /// Books a bulk of credit transfers from one account as one debit of
    /// their total (batch booking), all or nothing in one transaction: the
    /// total goes to the clearing account, which credits each payee of this
    /// bank (`<key>:<n>`) and keeps the rest for the clearing system. Returns
    /// the receipt of the debit. Idempotent by `key`.
    pub async fn batch_transfer(
        &self,
        key: &str,
        debtor_account: AccountId,
        orders: &[TransferOrder],
        text: &str,
    ) -> Result<TransferReceipt, LedgerError> {
        let debtor = self
            .repo
            .account(debtor_account)
            .await?
            .filter(|a| a.kind == AccountKind::Customer)
            .ok_or(LedgerError::UnknownAccount(debtor_account))?;
        let total = orders
            .iter()
            .try_fold(0_i64, |sum, o| sum.checked_add(o.amount.minor()))
            .map(|minor| Money::from_minor(minor, debtor.currency))
            .ok_or(LedgerError::NonPositiveAmount)?;
        let clearing = self.clearing_account(debtor.currency, &debtor.bic).await?;
        let today = self.clock.today();
        let now = self.clock.now();
        let debtor_party = Party {
            name: Some(debtor.owner_name.clone()),
            iban: debtor.iban.clone(),
        };
        let mut transfers = vec![NewTransfer {
            idempotency_key: key.to_owned(),
            transaction_id: TransactionId::random(),
            debit: debtor.id,
            credit: clearing.id,
            amount: total,
            status: EntryStatus::Booked,
            booking_date: today,
            value_date: today,
            debtor: debtor_party.clone(),
            creditor: Party {
                name: Some(format!("{} payees", orders.len())),
                iban: None,
            },
            remittance_information: Some(text.to_owned()),
            end_to_end_id: None,
            bank_transaction_code: "PMNT-ICDT-BOOK".into(),
            created_at: now,
        }];
        for (n, order) in orders.iter().enumerate() {
            let Some(payee) = self.repo.account_by_iban(&order.creditor_iban).await? else {
                continue;
            };
            transfers.push(NewTransfer {
                idempotency_key: format!("{key}:{n}"),
                transaction_id: TransactionId::random(),
                debit: clearing.id,
                credit: payee.id,
                amount: order.amount,
                status: EntryStatus::Booked,
                booking_date: today,
                value_date: today,
                debtor: debtor_party.clone(),
                creditor: Party {
                    name: order.creditor_name.clone(),
                    iban: Some(order.creditor_iban.clone()),
                },
                remittance_information: order.remittance_information.clone(),
                end_to_end_id: order.end_to_end_id.clone(),
                bank_transaction_code: "PMNT-RCDT-ESCT".into(),
                created_at: now,
            });
        }
        let mut receipts = self.repo.post_transfers(transfers).await?.into_iter();
        receipts
            .next()
            .ok_or_else(|| StoreError::corrupt("no receipt for a posted batch").into())
    }

    /// Credits a customer account from the clearing account (a sandbox deposit).
    pub async fn deposit(
        &self,
        account: AccountId,
        amount: Money,
        idempotency_key: &str,
        text: &str,
    ) -> Result<TransferReceipt, LedgerError> {
        let target = self
            .repo
            .account(account)
            .await?
            .ok_or(LedgerError::UnknownAccount(account))?;
        let clearing = self
            .clearing_account(amount.currency(), &target.bic)
            .await?;
        let today = self.clock.today();
        let mut receipts = self
            .post(vec![NewTransfer {
                idempotency_key: idempotency_key.to_owned(),
                transaction_id: TransactionId::random(),
                debit: clearing.id,
                credit: target.id,
                amount,
                status: EntryStatus::Booked,
                booking_date: today,
                value_date: today,
                debtor: Party {
                    name: Some("FinTechAPI Bank".into()),
                    iban: None,
                },
                creditor: Party {
                    name: Some(target.owner_name.clone()),
                    iban: target.iban.clone(),
                },
                remittance_information: Some(text.to_owned()),
                end_to_end_id: None,
                bank_transaction_code: "PMNT-RCDT-ESCT".into(),
                created_at: self.clock.now(),
            }])
            .await?;
        receipts
            .pop()
            .ok_or_else(|| StoreError::corrupt("no receipt for a posted deposit").into())
    }

    /// Posts prepared journal entries atomically (all or none).
    pub async fn post(
        &self,
        transfers: Vec<NewTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        if let Some(bad) = transfers.iter().find(|t| !t.amount.is_positive()) {
            tracing::debug!(key = %bad.idempotency_key, "refused a non-positive amount");
            return Err(LedgerError::NonPositiveAmount);
        }
        self.repo.post_transfers(transfers).await
    }

    /// `closingBooked` (end of yesterday), `interimAvailable` and `expected` (today).
    pub async fn balances(&self, account: &Account) -> Result<Vec<Balance>, StoreError> {
        let today = self.clock.today();
        let booked_today = self.repo.booked_since(account.id, today).await?;
        Ok(balances_on(account, booked_today, today))
    }

    /// An account and its [`balances`](Self::balances), in one read.
    pub async fn account_balances(
        &self,
        id: AccountId,
    ) -> Result<Option<(Account, Vec<Balance>)>, StoreError> {
        let today = self.clock.today();
        let found = self.repo.account_with_booked_since(id, today).await?;
        Ok(found.map(|(account, booked_today)| {
            let balances = balances_on(&account, booked_today, today);
            (account, balances)
        }))
    }

    pub async fn audit(&self) -> Result<LedgerAudit, StoreError> {
        self.repo.audit().await
    }
}

/// `closingBooked` (end of yesterday), `interimAvailable` and `expected`
/// (today) of `account`, which booked `booked_today` today.
fn balances_on(account: &Account, booked_today: i64, today: Date) -> Vec<Balance> {
    let money = |minor| Money::from_minor(minor, account.currency);
    let b = account.balances;
    vec![
        Balance {
            balance_type: BalanceType::ClosingBooked,
            amount: money(b.booked - booked_today),
            reference_date: today - Duration::days(1),
            credit_limit_included: false,
        },
        Balance {
            balance_type: BalanceType::InterimAvailable,
            amount: money(b.available()),
            reference_date: today,
            credit_limit_included: false,
        },
        Balance {
            balance_type: BalanceType::Expected,
            amount: money(b.expected()),
            reference_date: today,
            credit_limit_included: false,
        },
    ]
}
