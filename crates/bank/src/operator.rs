//! The operator's management of the bank's PSUs, free of HTTP: sandbox PSUs
//! with a funded current account, one more account, a new password, the
//! lifting of a block, a new authenticator app. Each change is written to
//! the audit trail under the operator's name. The admin console's pages
//! (`portal/src/web/admin/psus.rs`) validate the form and call these.

use fintechapi_domain::Money;
use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::{Account, LedgerError, LedgerRepository};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::portal::{AuditEntry, PortalRepository};
use fintechapi_domain::psu::{NewPsu, Psu, PsuError, PsuRepository};
use fintechapi_domain::secret::{Pepper, SecretError};
use fintechapi_ledger::Ledger;
use fintechapi_web::passwords::{PasswordPool, PasswordPoolError};

/// The storage the operator's PSU management runs on.
pub trait PsuDeskStore: PsuRepository + LedgerRepository + PortalRepository {}
impl<T: PsuRepository + LedgerRepository + PortalRepository> PsuDeskStore for T {}

#[derive(Debug, thiserror::Error)]
pub enum PsuDeskError {
    #[error("there is no such PSU")]
    NotFound,
    #[error("a PSU with login {0:?} already exists")]
    LoginTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Password(#[from] PasswordPoolError),
    #[error("the authenticator seed: {0}")]
    Seed(#[from] SecretError),
}

impl From<PsuError> for PsuDeskError {
    fn from(e: PsuError) -> Self {
        match e {
            PsuError::LoginTaken(login) => Self::LoginTaken(login),
            PsuError::Store(e) => Self::Store(e),
        }
    }
}

/// A sandbox PSU to create, its fields validated by the caller.
pub struct SandboxPsu {
    pub login: String,
    pub display_name: String,
    pub password: String,
    /// The first account's opening balance, from the clearing account.
    pub opening: Option<Money>,
}

/// The operator's desk for PSUs, acting for `actor` (the audit trail's name).
pub struct PsuDesk<'a, R> {
    ledger: &'a Ledger<R>,
    passwords: &'a PasswordPool,
    pepper: &'a Pepper,
    actor: String,
}

impl<'a, R: PsuDeskStore> PsuDesk<'a, R> {
    pub fn new(
        ledger: &'a Ledger<R>,
        passwords: &'a PasswordPool,
        pepper: &'a Pepper,
        actor: String,
    ) -> Self {
        Self {
            ledger,
            passwords,
            pepper,
            actor,
        }
    }

    /// Creates a sandbox PSU with one current account.
    pub async fn create(&self, new: SandboxPsu) -> Result<(Psu, Account), PsuDeskError> {
        let password = self.passwords.hash(new.password).await?;
        let psu = self
            .ledger
            .repo()
            .create_psu(NewPsu {
                id: PsuId::random(),
                login: new.login,
                display_name: new.display_name,
                password,
                created_at: self.ledger.now(),
            })
            .await?;
        let account = self
            .ledger
            .open_sandbox_account(psu.id, &psu.display_name, new.opening)
            .await?;
        self.audit("psu.create", &psu, psu.login.clone()).await?;
        Ok((psu, account))
    }

    /// Opens one more current account for the PSU `id`.
    pub async fn open_account(
        &self,
        id: PsuId,
        opening: Option<Money>,
    ) -> Result<(Psu, Account), PsuDeskError> {
        let psu = self.psu(id).await?;
        let account = self
            .ledger
            .open_sandbox_account(psu.id, &psu.display_name, opening)
            .await?;
        let iban = account.iban.as_ref().map(|i| i.to_print_format());
        self.audit("psu.open_account", &psu, iban.unwrap_or_default())
            .await?;
        Ok((psu, account))
    }

    /// Sets a new password for the PSU `id`.
    pub async fn reset_password(&self, id: PsuId, password: String) -> Result<Psu, PsuDeskError> {
        let psu = self.psu(id).await?;
        let hash = self.passwords.hash(password).await?;
        self.ledger.repo().set_psu_password(psu.id, hash).await?;
        self.audit("psu.reset_password", &psu, String::new())
            .await?;
        Ok(psu)
    }

    /// Lifts a block (temporary or permanent) that failed logins put on the
    /// PSU's credentials, and forgets the blocks in a row.
    pub async fn unblock(&self, id: PsuId) -> Result<Psu, PsuDeskError> {
        let psu = self.psu(id).await?;
        self.ledger.repo().reset_psu_login_failures(psu.id).await?;
        self.audit("psu.unblock", &psu, String::new()).await?;
        Ok(psu)
    }

    /// Enrols a new authenticator app for the PSU `id` (at the branch, as a
    /// bank does): the seed is returned once, to be shown, and stored only
    /// sealed.
    pub async fn enrol_totp(&self, id: PsuId) -> Result<(Psu, Seed), PsuDeskError> {
        let psu = self.psu(id).await?;
        let seed = Seed::generate()?;
        let sealed = self.pepper.sealer().seal(seed.as_bytes())?;
        let repo = self.ledger.repo();
        repo.set_psu_totp(psu.id, Some(sealed)).await?;
        self.audit("psu.totp_enrol", &psu, String::new()).await?;
        Ok((psu, seed))
    }

    async fn psu(&self, id: PsuId) -> Result<Psu, PsuDeskError> {
        let psu = self.ledger.repo().psu(id).await?;
        psu.ok_or(PsuDeskError::NotFound)
    }

    async fn audit(&self, action: &str, psu: &Psu, detail: String) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at: self.ledger.now(),
            actor: self.actor.clone(),
            action: action.into(),
            target: psu.id.to_string(),
            detail,
        };
        self.ledger.repo().record_audit(entry).await
    }
}
