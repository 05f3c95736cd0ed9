//! Demo-request rows.

use super::parse;
use fintechapi_domain::StoreError;
use fintechapi_domain::ids::LeadId;
use fintechapi_domain::lead::{Lead, LeadStatus};
use fintechapi_domain::portal::Email;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct LeadRow {
    id: LeadId,
    name: String,
    organisation: String,
    role: String,
    email: String,
    message: String,
    status: String,
    notes: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<LeadRow> for Lead {
    type Error = StoreError;
    fn try_from(r: LeadRow) -> Result<Self, StoreError> {
        Ok(Lead {
            id: r.id,
            name: r.name,
            organisation: r.organisation,
            role: r.role,
            email: parse::<Email>("lead e-mail", &r.email)?,
            message: r.message,
            status: parse::<LeadStatus>("lead status", &r.status)?,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}
