//! PSU rows.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::psu::Psu;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct PsuRow {
    pub id: PsuId,
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    pub failed_logins: i32,
    pub blocks_in_row: i32,
    pub blocked_until: Option<OffsetDateTime>,
    pub blocked_at: Option<OffsetDateTime>,
    pub email: Option<String>,
    pub totp_enabled: bool,
}

/// Columns of [`PsuRow`].
macro_rules! psu_columns {
    () => {
        "id, login, display_name, password_hash, created_at, failed_logins, blocks_in_row, \
         blocked_until, blocked_at, email, totp_secret IS NOT NULL AS totp_enabled"
    };
}

impl TryFrom<PsuRow> for Psu {
    type Error = StoreError;
    fn try_from(r: PsuRow) -> Result<Self, StoreError> {
        r.psu()
    }
}

impl PsuRow {
    pub(crate) fn psu(&self) -> Result<Psu, StoreError> {
        Ok(Psu {
            id: self.id,
            login: self.login.clone(),
            display_name: self.display_name.clone(),
            created_at: self.created_at,
            failed_logins: u32::try_from(self.failed_logins).unwrap_or(0),
            blocks_in_row: u32::try_from(self.blocks_in_row).unwrap_or(0),
            blocked_until: self.blocked_until,
            blocked_at: self.blocked_at,
            email: self.email.clone(),
            totp_enabled: self.totp_enabled,
        })
    }
}
