//! Demo requests from the public site, as the admin console changes them.

use fintechapi_domain::ids::LeadId;
use fintechapi_domain::lead::{LeadRepository, LeadStatus};
use fintechapi_domain::portal::{AuditEntry, PortalRepository};

use crate::{Actor, Registry, RegistryError};

impl<R: PortalRepository + LeadRepository> Registry<R> {
    /// An operator's change of a request's status and notes, audited at the
    /// time of the change (`NotFound` for a request there is not).
    pub async fn update_lead(
        &self,
        actor: &Actor,
        id: LeadId,
        status: LeadStatus,
        notes: &str,
    ) -> Result<(), RegistryError> {
        let now = self.now();
        if !self.repo.update_lead(id, status, notes, now).await? {
            return Err(RegistryError::NotFound);
        }
        self.repo
            .record_audit(AuditEntry {
                at: now,
                actor: actor.0.clone(),
                action: "lead.update".into(),
                target: id.to_string(),
                detail: format!("status {status}"),
            })
            .await?;
        Ok(())
    }
}
