//! Bank customers (payment service users) and their repository port.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::PsuId;
use crate::password::PasswordHash;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psu {
    pub id: PsuId,
    /// The login name the PSU types at the bank's pages.
    pub login: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewPsu {
    pub id: PsuId,
    pub login: String,
    pub display_name: String,
    pub password: PasswordHash,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum PsuError {
    #[error("a PSU with login {0:?} already exists")]
    LoginTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub trait PsuRepository: Send + Sync {
    fn create_psu(&self, psu: NewPsu) -> impl Future<Output = Result<Psu, PsuError>> + Send;

    /// The PSU and its password hash, for authentication.
    fn psu_by_login(
        &self,
        login: &str,
    ) -> impl Future<Output = Result<Option<(Psu, PasswordHash)>, StoreError>> + Send;

    fn list_psus(&self) -> impl Future<Output = Result<Vec<Psu>, StoreError>> + Send;

    fn set_psu_password(
        &self,
        id: crate::ids::PsuId,
        password: PasswordHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
