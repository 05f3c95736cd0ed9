//! The operator's PSU management, without HTTP, on both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::sync::Arc;

use fintechapi_bank::operator::{PsuDesk, PsuDeskError, SandboxPsu};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::otp::Seed;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::psu::{MAX_FAILED_LOGINS, PsuRepository};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::{Clock, Currency, ManualClock, Money};
use fintechapi_ledger::Ledger;
use fintechapi_ledger::demo::BANK_CODE;
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use fintechapi_web::passwords::PasswordPool;
use time::macros::datetime;

struct Desk {
    store: Store,
    ledger: Ledger<Store>,
    passwords: PasswordPool,
    pepper: Pepper,
    clock: Arc<ManualClock>,
}

impl Desk {
    async fn new(db: &TestDb) -> Self {
        let store = db.store().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)));
        Self {
            ledger: Ledger::new(store.clone(), clock.clone()),
            store,
            passwords: PasswordPool::new().unwrap(),
            pepper: Pepper::from_bytes(&[42; 32]).unwrap(),
            clock,
        }
    }

    fn desk(&self) -> PsuDesk<'_, Store> {
        PsuDesk::new(
            &self.ledger,
            &self.passwords,
            &self.pepper,
            "admin:ops@bank.example".into(),
        )
    }

    fn sandbox_psu(login: &str) -> SandboxPsu {
        SandboxPsu {
            login: login.into(),
            display_name: "Erika Mustermann".into(),
            password: "correct horse battery staple".into(),
            opening: Some(Money::from_minor(100_000, Currency::EUR)),
        }
    }

    async fn actions(&self) -> Vec<(String, String)> {
        let trail = self.store.audit_trail(50).await.unwrap();
        trail
            .into_iter()
            .map(|l| (l.entry.action, l.entry.actor))
            .collect()
    }
}

async fn a_sandbox_psu_gets_a_funded_account_of_this_bank_and_an_audit_entry(db: TestDb) {
    let d = Desk::new(&db).await;
    let (psu, account) = d.desk().create(Desk::sandbox_psu("erika")).await.unwrap();
    assert_eq!(psu.login, "erika");
    let iban = account.iban.clone().unwrap();
    assert!(
        iban.as_str().starts_with("DE") && iban.as_str()[4..].starts_with(BANK_CODE),
        "{iban}"
    );
    assert_eq!(account.psu_id, Some(psu.id));
    assert_eq!(account.owner_name, "Erika Mustermann");
    let stored = d.store.account(account.id).await.unwrap().unwrap();
    assert_eq!(stored.balances.booked, 100_000);
    let (_, hash) = d.store.psu_by_login("erika").await.unwrap().unwrap();
    assert!(hash.verify("correct horse battery staple"));
    assert!(
        d.actions()
            .await
            .contains(&("psu.create".into(), "admin:ops@bank.example".into()))
    );

    let again = d.desk().create(Desk::sandbox_psu("erika")).await;
    assert!(
        matches!(again, Err(PsuDeskError::LoginTaken(_))),
        "{:?}",
        again.err()
    );

    let (_, second) = d.desk().open_account(psu.id, None).await.unwrap();
    assert_ne!(second.iban, account.iban);
    assert_eq!(
        d.store
            .account(second.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        0
    );
    assert_eq!(d.store.accounts_of_psu(psu.id).await.unwrap().len(), 2);
}

both_stores!(a_sandbox_psu_gets_a_funded_account_of_this_bank_and_an_audit_entry);

async fn an_operator_unblocks_resets_and_enrols_an_app_for_a_psu(db: TestDb) {
    let d = Desk::new(&db).await;
    let (psu, _) = d.desk().create(Desk::sandbox_psu("max")).await.unwrap();
    for _ in 0..MAX_FAILED_LOGINS {
        d.store
            .begin_psu_attempt(psu.id, d.clock.now())
            .await
            .unwrap();
    }
    d.store
        .block_psu(psu.id, d.clock.now(), 0, None)
        .await
        .unwrap();
    assert!(
        d.store
            .psu(psu.id)
            .await
            .unwrap()
            .unwrap()
            .blocked_at
            .is_some()
    );

    d.desk().unblock(psu.id).await.unwrap();
    let unblocked = d.store.psu(psu.id).await.unwrap().unwrap();
    assert_eq!((unblocked.failed_logins, unblocked.blocked_at), (0, None));

    d.desk()
        .reset_password(psu.id, "a new and long passphrase".into())
        .await
        .unwrap();
    let (_, hash) = d.store.psu_by_login("max").await.unwrap().unwrap();
    assert!(hash.verify("a new and long passphrase"));

    let (enrolled, seed) = d.desk().enrol_totp(psu.id).await.unwrap();
    assert_eq!(enrolled.id, psu.id);
    let sealed = d.store.psu_totp_seed(psu.id).await.unwrap().unwrap();
    let opened = d
        .pepper
        .sealer()
        .open(&sealed)
        .map(Seed::from_bytes)
        .unwrap();
    assert_eq!(opened.as_bytes(), seed.as_bytes());

    let actions: Vec<String> = d.actions().await.into_iter().map(|(a, _)| a).collect();
    for action in ["psu.unblock", "psu.reset_password", "psu.totp_enrol"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    let nobody = d.desk().unblock(PsuId::random()).await;
    assert!(
        matches!(nobody, Err(PsuDeskError::NotFound)),
        "{:?}",
        nobody.err()
    );
}

both_stores!(an_operator_unblocks_resets_and_enrols_an_app_for_a_psu);
