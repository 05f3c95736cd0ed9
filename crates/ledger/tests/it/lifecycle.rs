//! The payment lifecycle use case without HTTP, on SQLite and PostgreSQL:
//! what authorising, declining and cancelling come to, and what is stored.

use std::sync::Arc;

use fintechapi_domain::holders::Mandate;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{
    AccountId, ApplicationId, CredentialId, OrganisationId, PaymentId, PsuId, TransactionId,
};
use fintechapi_domain::ledger::{
    Account, AccountKind, EntryStatus, LedgerRepository, NewAccount, NewTransfer,
};
use fintechapi_domain::payment::{
    Execution, Payment, PaymentFormat, PaymentOutcome, PaymentProduct, PaymentRepository,
    PaymentService, PaymentStatus, RejectReason,
};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{
    Application, Credential, Environment, Organisation, Psd2Roles, SecurityProfile, Status,
};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::{Clock, Currency, ManualClock};
use fintechapi_ledger::Ledger;
use fintechapi_ledger::lifecycle::{self, Cancellation};
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use time::macros::date;

use crate::bank::{clock, create_psu, eur};

/// A bank with one PSU holding one funded account, and one TPP application.
struct Bank {
    ledger: Ledger<Store>,
    store: Store,
    clock: Arc<ManualClock>,
    psu: PsuId,
    account: Account,
    application: ApplicationId,
}

const FUNDS: i64 = 100_00;

impl Bank {
    async fn new(db: &TestDb) -> Self {
        let store = db.store().await;
        let clock = clock();
        let now = clock.now();
        let psu = PsuId::random();
        create_psu(&store, psu, "payer", "Payer", &clock).await;
        let ledger = Ledger::new(store.clone(), clock.clone());
        let account = ledger
            .open_account(NewAccount {
                id: AccountId::random(),
                kind: AccountKind::Customer,
                psu_id: Some(psu),
                iban: Some(iban("765432100050000001")),
                bic: "FTAPDEB1XXX".into(),
                currency: Currency::EUR,
                name: "Giro".into(),
                owner_name: "Payer".into(),
                product: "Girokonto".into(),
                cash_account_type: "CACC".into(),
                overdraft_limit: Some(0),
                created_at: now,
            })
            .await
            .unwrap();
        let clearing = ledger
            .clearing_account(Currency::EUR, "FTAPDEB1XXX")
            .await
            .unwrap();
        ledger
            .post(vec![NewTransfer {
                idempotency_key: "opening".into(),
                transaction_id: TransactionId::random(),
                debit: clearing.id,
                credit: account.id,
                amount: eur(FUNDS),
                status: EntryStatus::Booked,
                booking_date: now.date(),
                value_date: now.date(),
                debtor: Default::default(),
                creditor: Default::default(),
                remittance_information: None,
                end_to_end_id: None,
                bank_transaction_code: "PMNT-RCDT-ESCT".into(),
                created_at: now,
            }])
            .await
            .unwrap();
        let application = register_application(&store, now).await;
        Self {
            ledger,
            store,
            clock,
            psu,
            account,
            application,
        }
    }

    /// A received payment of `minor` cents from `debtor` to an outside payee.
    async fn payment(&self, debtor: &Iban, minor: i64, execution: Execution) -> Payment {
        let now = self.clock.now();
        let id = PaymentId::random();
        let payment = Payment {
            id,
            application_id: self.application,
            service: PaymentService::Single,
            product: PaymentProduct::SepaCreditTransfers,
            format: PaymentFormat::Json,
            status: PaymentStatus::Received,
            debtor_iban: debtor.clone(),
            creditor_iban: iban("123456780000000042"),
            creditor_name: "Payee".into(),
            amount: eur(minor),
            remittance: None,
            end_to_end_id: None,
            execution,
            next_execution: None,
            cancellation_requested_at: None,
            bulk: None,
            psu_id: None,
            transaction_id: None,
            reason: None,
            request_id: format!("request-{id}"),
            request_hash: "unused".into(),
            created_at: now,
            status_changed_at: now,
        };
        self.store.create_payment(payment.clone()).await.unwrap();
        payment
    }

    async fn stored(&self, payment: &Payment) -> Payment {
        self.store.payment(payment.id).await.unwrap().unwrap()
    }

    async fn booked(&self) -> i64 {
        let account = self.store.account(self.account.id).await.unwrap().unwrap();
        account.balances.booked
    }
}

async fn register_application(store: &Store, now: time::OffsetDateTime) -> ApplicationId {
    let organisation = OrganisationId::random();
    store
        .create_organisation(
            Organisation {
                id: organisation,
                legal_name: "Buddy GmbH".into(),
                country: "DE".into(),
                roles: Psd2Roles::default(),
                competent_authority: "BaFin".into(),
                authorisation_number: "HRB 12345".into(),
                status: Status::Active,
                created_at: now,
            },
            None,
        )
        .await
        .unwrap();
    let application = ApplicationId::random();
    let credential = Credential {
        id: CredentialId::random(),
        application_id: application,
        consumer_key: format!("key-{application}"),
        secret_hash: Pepper::from_bytes(&[42; 32]).unwrap().hash("secret"),
        created_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    store
        .create_application(
            Application {
                id: application,
                organisation_id: organisation,
                name: "Budget Buddy".into(),
                description: "Pays bills".into(),
                redirect_uris: Vec::new(),
                security_profile: SecurityProfile::Basic,
                jwks: None,
                jwks_uri: None,
                tls_subject_dn: None,
                environment: Environment::Sandbox,
                status: Status::Active,
                created_at: now,
                assigned_plan: None,
                require_signed_request_object: false,
            },
            Vec::new(),
            credential,
        )
        .await
        .unwrap();
    application
}

fn iban(bban: &str) -> Iban {
    Iban::from_bban("DE", bban).unwrap()
}

/// The reason exactly as the `payments` table holds it.
async fn stored_reason(db: &TestDb, payment: &Payment) -> Vec<String> {
    db.raw_strings(&format!(
        "SELECT reason FROM payments WHERE id = '{}'",
        payment.id
    ))
    .await
}

async fn an_authorised_immediate_payment_is_settled_once(db: TestDb) {
    let bank = Bank::new(&db).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 30_00, Execution::Immediate).await;

    let outcome = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(outcome, PaymentOutcome::Settled);
    let stored = bank.stored(&payment).await;
    assert_eq!(stored.status, PaymentStatus::AcceptedSettlementCompleted);
    assert_eq!(stored.psu_id, Some(bank.psu));
    assert!(stored.transaction_id.is_some());
    assert_eq!(bank.booked().await, FUNDS - 30_00);

    let again = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(again, PaymentOutcome::AlreadyDecided);
    assert_eq!(bank.booked().await, FUNDS - 30_00, "paid once");
}
both_stores!(an_authorised_immediate_payment_is_settled_once);

async fn a_payment_over_the_funds_is_rejected_with_am04(db: TestDb) {
    let bank = Bank::new(&db).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, FUNDS + 1, Execution::Immediate).await;

    let outcome = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        PaymentOutcome::Rejected(RejectReason::InsufficientFunds)
    );
    let stored = bank.stored(&payment).await;
    assert_eq!(stored.status, PaymentStatus::Rejected);
    assert_eq!(stored.reason, Some(RejectReason::InsufficientFunds));
    assert_eq!(stored_reason(&db, &payment).await, ["AM04"]);
    assert_eq!(bank.booked().await, FUNDS, "nothing moved");
}
both_stores!(a_payment_over_the_funds_is_rejected_with_am04);

async fn a_declined_payment_is_rejected_with_ds02_and_cannot_be_authorised_after(db: TestDb) {
    let bank = Bank::new(&db).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 10_00, Execution::Immediate).await;

    let outcome = lifecycle::decline(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        PaymentOutcome::Rejected(RejectReason::OrderCancelled)
    );
    assert_eq!(stored_reason(&db, &payment).await, ["DS02"]);

    let late = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(late, PaymentOutcome::AlreadyDecided);
    assert_eq!(bank.stored(&payment).await.status, PaymentStatus::Rejected);
    assert_eq!(bank.booked().await, FUNDS);
}
both_stores!(a_declined_payment_is_rejected_with_ds02_and_cannot_be_authorised_after);

async fn a_scheduled_payment_from_someone_elses_account_is_rejected_with_ac01(db: TestDb) {
    let bank = Bank::new(&db).await;
    let foreign = iban("765432100059999999");
    let payment = bank
        .payment(&foreign, 10_00, Execution::OnDate(date!(2026 - 12 - 01)))
        .await;

    let outcome = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        PaymentOutcome::Rejected(RejectReason::IncorrectAccountNumber)
    );
    assert_eq!(stored_reason(&db, &payment).await, ["AC01"]);
    assert_eq!(bank.stored(&payment).await.psu_id, Some(bank.psu));
}
both_stores!(a_scheduled_payment_from_someone_elses_account_is_rejected_with_ac01);

async fn the_tpp_cancels_at_once_before_authorisation_and_only_once(db: TestDb) {
    let bank = Bank::new(&db).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 10_00, Execution::Immediate).await;

    let first = lifecycle::cancel(&bank.ledger, &payment).await.unwrap();
    assert_eq!(first, Cancellation::Cancelled);
    assert_eq!(bank.stored(&payment).await.status, PaymentStatus::Cancelled);
    let stored = bank.stored(&payment).await;
    let second = lifecycle::cancel(&bank.ledger, &stored).await.unwrap();
    assert_eq!(second, Cancellation::NotCancellable);
}
both_stores!(the_tpp_cancels_at_once_before_authorisation_and_only_once);

async fn a_scheduled_payment_is_cancelled_only_with_the_psus_confirmation(db: TestDb) {
    let bank = Bank::new(&db).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank
        .payment(&debtor, 10_00, Execution::OnDate(date!(2026 - 12 - 01)))
        .await;

    let outcome = lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    assert_eq!(outcome, PaymentOutcome::Scheduled);
    let scheduled = bank.stored(&payment).await;
    assert_eq!(scheduled.status, PaymentStatus::AcceptedCustomerProfile);
    assert_eq!(scheduled.next_execution, Some(date!(2026 - 12 - 01)));

    let asked = lifecycle::cancel(&bank.ledger, &scheduled).await.unwrap();
    assert_eq!(asked, Cancellation::AwaitsAuthorisation);
    let asked = bank.stored(&payment).await;
    assert_eq!(
        asked.status,
        PaymentStatus::AcceptedCustomerProfile,
        "still scheduled"
    );
    assert!(asked.cancellation_requested_at.is_some());

    let confirmed = lifecycle::confirm_cancellation(&bank.ledger, &asked)
        .await
        .unwrap();
    assert_eq!(confirmed, Cancellation::Cancelled);
    assert_eq!(bank.stored(&payment).await.status, PaymentStatus::Cancelled);
    let again = lifecycle::confirm_cancellation(&bank.ledger, &asked)
        .await
        .unwrap();
    assert_eq!(again, Cancellation::NotCancellable);
    assert_eq!(bank.booked().await, FUNDS);
}
both_stores!(a_scheduled_payment_is_cancelled_only_with_the_psus_confirmation);

/// Makes the bank's account a joint one of its PSU and a second PSU, who is
/// answered; `mandate` is the first PSU's.
async fn joint(bank: &Bank, mandate: Mandate) -> PsuId {
    let second = PsuId::random();
    create_psu(&bank.store, second, "cosigner", "Cosigner", &bank.clock).await;
    let store = &bank.store;
    store
        .set_account_holder(bank.account.id, bank.psu, mandate)
        .await
        .unwrap();
    store
        .set_account_holder(bank.account.id, second, Mandate::Joint)
        .await
        .unwrap();
    second
}

async fn a_joint_accounts_payment_executes_after_every_joint_holders_approval(db: TestDb) {
    let bank = Bank::new(&db).await;
    let second = joint(&bank, Mandate::Joint).await;
    let stranger = PsuId::random();
    create_psu(&bank.store, stranger, "stranger", "Stranger", &bank.clock).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 10_00, Execution::Immediate).await;
    let authorise = |psu: PsuId, payment: Payment| {
        let ledger = &bank.ledger;
        async move { lifecycle::authorise(ledger, &payment, psu).await.unwrap() }
    };

    assert_eq!(
        authorise(bank.psu, payment.clone()).await,
        PaymentOutcome::PartiallyAuthorised
    );
    let waiting = bank.stored(&payment).await;
    assert_eq!(waiting.status, PaymentStatus::PartiallyAccepted);
    assert_eq!(bank.booked().await, FUNDS, "nothing moved yet");
    assert_eq!(
        authorise(bank.psu, waiting.clone()).await,
        PaymentOutcome::PartiallyAuthorised,
        "the same holder again counts once"
    );
    assert_eq!(
        authorise(stranger, waiting.clone()).await,
        PaymentOutcome::NotAHolder
    );
    let declined = lifecycle::decline(&bank.ledger, &waiting, stranger).await;
    assert_eq!(declined.unwrap(), PaymentOutcome::NotAHolder);
    assert_eq!(
        bank.stored(&payment).await.status,
        PaymentStatus::PartiallyAccepted
    );
    assert_eq!(bank.booked().await, FUNDS);

    assert_eq!(
        authorise(second, waiting.clone()).await,
        PaymentOutcome::Settled
    );
    let settled = bank.stored(&payment).await;
    assert_eq!(settled.status, PaymentStatus::AcceptedSettlementCompleted);
    assert_eq!(settled.psu_id, Some(second));
    assert_eq!(bank.booked().await, FUNDS - 10_00);
    assert_eq!(
        authorise(second, waiting).await,
        PaymentOutcome::AlreadyDecided
    );
    assert_eq!(bank.booked().await, FUNDS - 10_00, "moved once");
}
both_stores!(a_joint_accounts_payment_executes_after_every_joint_holders_approval);

async fn a_joint_holders_decline_rejects_the_payment(db: TestDb) {
    let bank = Bank::new(&db).await;
    let second = joint(&bank, Mandate::Joint).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 10_00, Execution::Immediate).await;
    lifecycle::authorise(&bank.ledger, &payment, bank.psu)
        .await
        .unwrap();
    let waiting = bank.stored(&payment).await;
    let outcome = lifecycle::decline(&bank.ledger, &waiting, second).await;
    assert_eq!(
        outcome.unwrap(),
        PaymentOutcome::Rejected(RejectReason::OrderCancelled)
    );
    assert_eq!(bank.stored(&payment).await.status, PaymentStatus::Rejected);
    let late = lifecycle::authorise(&bank.ledger, &waiting, second).await;
    assert_eq!(late.unwrap(), PaymentOutcome::AlreadyDecided);
    assert_eq!(bank.booked().await, FUNDS);
}
both_stores!(a_joint_holders_decline_rejects_the_payment);

async fn a_sole_holder_authorises_alone_beside_joint_holders(db: TestDb) {
    let bank = Bank::new(&db).await;
    joint(&bank, Mandate::Sole).await;
    let debtor = bank.account.iban.clone().unwrap();
    let payment = bank.payment(&debtor, 10_00, Execution::Immediate).await;
    let outcome = lifecycle::authorise(&bank.ledger, &payment, bank.psu).await;
    assert_eq!(outcome.unwrap(), PaymentOutcome::Settled);
    assert_eq!(bank.booked().await, FUNDS - 10_00);
}
both_stores!(a_sole_holder_authorises_alone_beside_joint_holders);

/// The last approval, given several times at once (the same holder's
/// authorisations, and both holders from the start), executes the payment
/// once: only one of them moves it out of RCVD/PATC.
async fn racing_last_approvals_execute_a_joint_payment_once(db: TestDb) {
    let bank = Bank::new(&db).await;
    let second = joint(&bank, Mandate::Joint).await;
    let debtor = bank.account.iban.clone().unwrap();
    let race = |payment: Payment, approvers: Vec<PsuId>| {
        let (store, clock) = (bank.store.clone(), bank.clock.clone());
        async move {
            let tasks: Vec<_> = approvers
                .into_iter()
                .map(|psu| {
                    let ledger = Ledger::new(store.clone(), clock.clone());
                    let payment = payment.clone();
                    tokio::spawn(async move {
                        lifecycle::authorise(&ledger, &payment, psu).await.unwrap()
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.unwrap());
            }
            outcomes
        }
    };

    let mut expected = FUNDS;
    for round in 0..3 {
        let payment = bank.payment(&debtor, 1_00, Execution::Immediate).await;
        lifecycle::authorise(&bank.ledger, &payment, bank.psu)
            .await
            .unwrap();
        let waiting = bank.stored(&payment).await;
        let outcomes = race(waiting, vec![second; 6]).await;
        let settled = outcomes.iter().filter(|o| **o == PaymentOutcome::Settled);
        assert_eq!(settled.count(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, PaymentOutcome::Settled | PaymentOutcome::AlreadyDecided)),
            "{outcomes:?}"
        );
        expected -= 1_00;
        assert_eq!(bank.booked().await, expected);

        let payment = bank.payment(&debtor, 1_00, Execution::Immediate).await;
        let outcomes = race(payment.clone(), vec![bank.psu, second, bank.psu, second]).await;
        let settled = outcomes.iter().filter(|o| **o == PaymentOutcome::Settled);
        assert_eq!(settled.count(), 1, "round {round}: {outcomes:?}");
        assert_eq!(
            bank.stored(&payment).await.status,
            PaymentStatus::AcceptedSettlementCompleted
        );
        expected -= 1_00;
        assert_eq!(bank.booked().await, expected);
    }
    assert!(bank.ledger.audit().await.unwrap().is_consistent());
}
both_stores!(racing_last_approvals_execute_a_joint_payment_once);
