//! Consent rows.

use super::from_json;
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::Consent;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::ids::ConsentId;
use fintechapi_domain::ids::PsuId;
use time::{Date, OffsetDateTime};

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    id: ConsentId,
    application_id: ApplicationId,
    status: String,
    access: String,
    recurring: bool,
    valid_until: Date,
    frequency_per_day: i32,
    psu_id: Option<PsuId>,
    grants: String,
    request_id: String,
    request_hash: String,
    created_at: OffsetDateTime,
    status_changed_at: OffsetDateTime,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(Consent {
            id: r.id,
            application_id: r.application_id,
            status: r.status.parse()?,
            access: from_json("consent access", &r.access)?,
            recurring: r.recurring,
            valid_until: r.valid_until,
            frequency_per_day: u32::try_from(r.frequency_per_day).unwrap_or(1),
            psu_id: r.psu_id,
            grants: from_json("consent grants", &r.grants)?,
            request_id: r.request_id,
            request_hash: r.request_hash,
            created_at: r.created_at,
            status_changed_at: r.status_changed_at,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use fintechapi_domain::consent::{
        AccountGrant, AccountReference, ConsentAccess, GrantedResource, RequestedAccount,
    };

    use super::*;
    use crate::rows::to_json;

    #[test]
    fn consents_stored_before_card_accounts_still_parse_and_card_references_round_trip() {
        let old: ConsentAccess = from_json(
            "consent access",
            r#"{"Dedicated":[{"iban":"DE02120300000000202051","balances":true,"transactions":false}]}"#,
        )
        .unwrap();
        let ConsentAccess::Dedicated(list) = &old else {
            panic!("{old:?}")
        };
        assert!(
            matches!(&list[0].reference, AccountReference::Iban(i) if i.as_str() == "DE02120300000000202051")
        );
        let grants: Vec<AccountGrant> = from_json(
            "consent grants",
            r#"[{"account":"00000000-0000-4000-8000-000000000001","balances":true,"transactions":true}]"#,
        )
        .unwrap();
        assert_eq!(grants[0].resource, GrantedResource::Account);
        assert!(
            !to_json(&grants).unwrap().contains("resource"),
            "payment grants are stored as before"
        );

        let card = ConsentAccess::Dedicated(vec![RequestedAccount {
            reference: AccountReference::MaskedPan("525412******3241".parse().unwrap()),
            balances: false,
            transactions: true,
        }]);
        let text = to_json(&card).unwrap();
        assert!(text.contains(r#""maskedPan":"525412******3241""#), "{text}");
        assert_eq!(
            from_json::<ConsentAccess>("consent access", &text).unwrap(),
            card
        );
    }
}
