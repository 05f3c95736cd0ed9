//! Signing basket rows.

use super::from_json;
use fintechapi_domain::StoreError;
use fintechapi_domain::basket::SigningBasket;
use fintechapi_domain::ids::{ApplicationId, BasketId, PsuId};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct BasketRow {
    id: BasketId,
    application_id: ApplicationId,
    payments: String,
    consents: String,
    status: String,
    psu_id: Option<PsuId>,
    request_id: String,
    request_hash: String,
    created_at: OffsetDateTime,
    status_changed_at: OffsetDateTime,
}

impl TryFrom<BasketRow> for SigningBasket {
    type Error = StoreError;
    fn try_from(r: BasketRow) -> Result<Self, StoreError> {
        Ok(SigningBasket {
            id: r.id,
            application_id: r.application_id,
            payments: from_json("basket payments", &r.payments)?,
            consents: from_json("basket consents", &r.consents)?,
            status: r.status.parse()?,
            psu_id: r.psu_id,
            request_id: r.request_id,
            request_hash: r.request_hash,
            created_at: r.created_at,
            status_changed_at: r.status_changed_at,
        })
    }
}
