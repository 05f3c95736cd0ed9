//! Demo requests from the public site.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::LeadId;
use fintechapi_domain::lead::{Lead, LeadRepository, LeadStatus, NewLead};
use time::OffsetDateTime;

use super::{Read, Write};
use crate::rows::LeadRow;

macro_rules! lead_columns {
    () => {
        "id, name, organisation, role, email, message, status, notes, created_at, updated_at"
    };
}

impl LeadRepository for super::Store {
    async fn create_lead(
        &self,
        id: LeadId,
        lead: NewLead,
        at: OffsetDateTime,
    ) -> Result<Lead, StoreError> {
        sqlx::query(
            "INSERT INTO leads (id, name, organisation, role, email, message, status, notes, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $8)",
        )
        .bind(id)
        .bind(&lead.name)
        .bind(&lead.organisation)
        .bind(&lead.role)
        .bind(lead.email.as_str())
        .bind(&lead.message)
        .bind(LeadStatus::New.as_str())
        .bind(at)
        .run(&self.0)
        .await?;
        Ok(Lead {
            id,
            name: lead.name,
            organisation: lead.organisation,
            role: lead.role,
            email: lead.email,
            message: lead.message,
            status: LeadStatus::New,
            notes: String::new(),
            created_at: at,
            updated_at: at,
        })
    }

    async fn leads(&self, status: Option<LeadStatus>, limit: u32) -> Result<Vec<Lead>, StoreError> {
        select_rows!(
            LeadRow,
            lead_columns,
            "FROM leads WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT $2"
        )
        .bind(status.map(|s| s.as_str()))
        .bind(i64::from(limit))
        .all_into(&self.0)
        .await
    }

    async fn lead(&self, id: LeadId) -> Result<Option<Lead>, StoreError> {
        select_rows!(LeadRow, lead_columns, "FROM leads WHERE id = $1")
            .bind(id)
            .optional_into(&self.0)
            .await
    }

    async fn update_lead(
        &self,
        id: LeadId,
        status: LeadStatus,
        notes: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        sqlx::query("UPDATE leads SET status = $2, notes = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .bind(notes)
            .bind(at)
            .changed_one(&self.0)
            .await
    }
}
