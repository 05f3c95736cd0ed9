//! Account-information consents: create, read, status, delete.

mod request;

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::consent::{
    AccountReference, Consent, ConsentAccess, ConsentStatus, RequestedAccount,
};
use fintechapi_domain::ids::ConsentId;
use fintechapi_domain::notification::NotifiedResource;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_oauth::ScopedResource;
use serde::Serialize;

use crate::approach::{Approach, Links};
use crate::body::Href;
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::idempotency::create_or_replay;
use crate::notifications::Notifications;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore};

pub(crate) use request::{ACCESS_KINDS, ConsentRequest, MAX_FREQUENCY_PER_DAY};

pub(crate) async fn initiate<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Ais(caller): Ais,
    body: Bytes,
) -> Response {
    let result = async {
        let approach = Approach::requested(&service, &caller, &headers).await?;
        let notifications = Notifications::requested(&service, &caller, &headers).await?;
        let consent = create(&service, &caller, &body).await?;
        notifications
            .subscribe(
                &service,
                &caller,
                NotifiedResource::Consent,
                consent.id.to_string(),
            )
            .await?;
        let self_link = format!("/v1/consents/{}", consent.id);
        let awaiting = consent.status == ConsentStatus::Received;
        let resource = ScopedResource::Consent(consent.id);
        let sca = approach
            .answer(&service, &caller, resource, awaiting, &self_link)
            .await?;
        let body = ConsentCreated {
            links: sca.links(Links::resource(&self_link)),
            consent_id: consent.id.to_string(),
            consent_status: consent.status.as_str(),
            psu_message: sca.psu_message,
            sca_status: sca.sca_status,
        };
        Ok(notifications.mark(sca.created(&self_link, body)))
    }
    .await;
    caller.answer(result)
}

/// A new consent of the request `body` under the caller's `X-Request-ID`,
/// or the one the same request created before.
async fn create<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    body: &[u8],
) -> Result<Consent, Xs2aError> {
    let now = service.now();
    let request = ConsentRequest::parse(body, now.date(), service.settings.max_consent_days)?;
    let consent = Consent {
        id: ConsentId::random(),
        application_id: caller.grant.application_id,
        status: ConsentStatus::Received,
        access: request.access,
        recurring: request.recurring,
        valid_until: request.valid_until,
        frequency_per_day: request.frequency_per_day,
        psu_id: None,
        grants: vec![],
        request_id: caller.request_id.to_string(),
        request_hash: service
            .pepper()
            .hash(&String::from_utf8_lossy(body))
            .as_str()
            .to_owned(),
        created_at: now,
        status_changed_at: now,
    };
    create_or_replay(&consent, service.consents().create_consent(consent.clone())).await
}

/// 201 to a consent's creation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsentCreated {
    #[serde(rename = "_links")]
    links: Links,
    consent_id: String,
    consent_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    psu_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sca_status: Option<&'static str>,
}

/// `GET /v1/consents/{id}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsentInformation {
    #[serde(rename = "_links")]
    links: Links,
    access: AccessBody,
    consent_status: &'static str,
    frequency_per_day: u32,
    last_action_date: String,
    recurring_indicator: bool,
    valid_until: String,
}

/// `GET /v1/consents/{id}/status`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsentStatusBody {
    consent_status: &'static str,
}

/// The caller's own consent: its application created it (client-credentials
/// token) or its token is bound to it.
pub(crate) async fn own_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    id: &str,
) -> Result<Consent, Xs2aError> {
    let loaded = match id.parse::<ConsentId>() {
        Ok(id) => service.consents().consent(id).await?,
        Err(_) => None,
    };
    owned(caller, loaded)
}

/// `loaded`, if it is the caller's own consent.
fn owned(caller: &Caller, loaded: Option<Consent>) -> Result<Consent, Xs2aError> {
    let bound = caller.grant.consent.or(caller.grant.funds_consent);
    loaded
        .filter(|c| c.application_id == caller.grant.application_id)
        .filter(|c| bound.is_none_or(|bound| bound == c.id))
        .ok_or_else(|| Xs2aError::consent_unknown().at("consentId"))
}

/// A consent's lifecycle call (read, status, delete): the consent is read
/// once, and picks the product the caller must hold — funds confirmation
/// for a PIIS consent, which shares these endpoints, account information
/// otherwise.
pub(crate) struct LifecycleCall {
    caller: Caller,
    /// The caller's own consent named by the path.
    consent: Result<Consent, Xs2aError>,
}

impl<R: Xs2aStore> FromRequestParts<Arc<Xs2aService<R>>> for LifecycleCall {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Xs2aService<R>>,
    ) -> Result<Self, Response> {
        let Path(id) = Path::<String>::from_request_parts(parts, service)
            .await
            .map_err(IntoResponse::into_response)?;
        let loaded = match id.parse::<ConsentId>() {
            Ok(id) => service
                .consents()
                .consent(id)
                .await
                .map_err(Xs2aError::from),
            Err(_) => Ok(None),
        };
        let product = match &loaded {
            Ok(Some(consent)) if consent.funds_account().is_some() => ApiProduct::Piis,
            _ => ApiProduct::Ais,
        };
        let caller = service.caller(parts, product).await?;
        let consent = loaded.and_then(|loaded| owned(&caller, loaded));
        Ok(Self { caller, consent })
    }
}

/// A consent's `access` as the Berlin Group's `AccountAccess` names it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccessBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<AccountRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    all_psd2: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_accounts: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_accounts_with_balance: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Vec<AccountRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions: Option<Vec<AccountRef>>,
}

/// An account reference: `{"iban": …}` or, for a card, `{"maskedPan": …}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
enum AccountRef {
    Iban(String),
    MaskedPan(String),
}

const ALL_ACCOUNTS: Option<&str> = Some("allAccounts");

impl From<&ConsentAccess> for AccessBody {
    fn from(access: &ConsentAccess) -> Self {
        let refs = |pick: fn(&RequestedAccount) -> bool, list: &[RequestedAccount]| {
            let refs = list.iter().filter(|r| pick(r)).map(|r| match &r.reference {
                AccountReference::Iban(iban) => AccountRef::Iban(iban.as_str().to_owned()),
                AccountReference::MaskedPan(pan) => AccountRef::MaskedPan(pan.as_str().to_owned()),
            });
            Some(refs.collect())
        };
        match access {
            ConsentAccess::Dedicated(list) => Self {
                accounts: refs(|_| true, list),
                balances: refs(|r| r.balances, list),
                transactions: refs(|r| r.transactions, list),
                ..Self::default()
            },
            ConsentAccess::BankOffered {
                balances,
                transactions,
            } => Self {
                accounts: Some(Vec::new()),
                balances: balances.then(Vec::new),
                transactions: transactions.then(Vec::new),
                ..Self::default()
            },
            ConsentAccess::AvailableAccounts {
                with_balance: false,
            } => Self {
                available_accounts: ALL_ACCOUNTS,
                ..Self::default()
            },
            ConsentAccess::AvailableAccounts { with_balance: true } => Self {
                available_accounts_with_balance: ALL_ACCOUNTS,
                ..Self::default()
            },
            ConsentAccess::AllPsd2 => Self {
                all_psd2: ALL_ACCOUNTS,
                ..Self::default()
            },
            // A funds-confirmation consent (made by a pushed authorization request)
            // shares the lifecycle endpoints but grants no account information.
            ConsentAccess::FundsConfirmation { .. } => Self::default(),
        }
    }
}

pub(crate) async fn read<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    LifecycleCall { caller, consent }: LifecycleCall,
) -> Response {
    let result = async {
        let consent = consent?;
        let today = service.now().date();
        let body = ConsentInformation {
            links: Links {
                status: Some(Href::to(format!("/v1/consents/{}/status", consent.id))),
                ..Links::default()
            },
            access: AccessBody::from(&consent.access),
            consent_status: consent.status_on(today).as_str(),
            frequency_per_day: consent.frequency_per_day,
            last_action_date: consent.status_changed_at.date().to_string(),
            recurring_indicator: consent.recurring,
            valid_until: consent.valid_until.to_string(),
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn status<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    LifecycleCall { caller, consent }: LifecycleCall,
) -> Response {
    let result = async {
        let consent = consent?;
        let today = service.now().date();
        let consent_status = consent.status_on(today).as_str();
        Ok(Json(ConsentStatusBody { consent_status }).into_response())
    }
    .await;
    caller.answer(result)
}

/// Ends a consent that is received or valid (`terminatedByTpp`); one
/// already ended stays as it is (`STATUS_INVALID`).
async fn terminate<R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
) -> Result<(), Xs2aError> {
    let ended = service
        .oauth
        .server
        .set_consent_status(
            consent.id,
            &[ConsentStatus::Received, ConsentStatus::Valid],
            ConsentStatus::TerminatedByTpp,
            service.now(),
        )
        .await?;
    if !ended {
        let status = consent.status_on(service.now().date());
        return Err(Xs2aError::new(
            MessageCode::StatusInvalid,
            format!("the consent is already {status}"),
        ));
    }
    Ok(())
}

/// The TPP ends a consent: `terminatedByTpp`, effective on the next call.
pub(crate) async fn delete<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    LifecycleCall { caller, consent }: LifecycleCall,
) -> Response {
    let result = async {
        terminate(&service, &consent?).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    caller.answer(result)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::body::assert_sorted_like_json_value;

    fn shown(access: &ConsentAccess) -> serde_json::Value {
        let body = AccessBody::from(access);
        assert_sorted_like_json_value(&body);
        serde_json::to_value(&body).expect("serialisable")
    }

    #[test]
    fn access_reads_back_as_the_berlin_group_names_it() {
        let iban = "DE02120300000000202051".parse().expect("an IBAN");
        let pan = "525412******3241".parse().expect("a masked PAN");
        let dedicated = ConsentAccess::Dedicated(vec![
            RequestedAccount {
                reference: AccountReference::Iban(iban),
                balances: true,
                transactions: false,
            },
            RequestedAccount {
                reference: AccountReference::MaskedPan(pan),
                balances: false,
                transactions: true,
            },
        ]);
        assert_eq!(
            shown(&dedicated),
            json!({"accounts": [{"iban": "DE02120300000000202051"}, {"maskedPan": "525412******3241"}],
                "balances": [{"iban": "DE02120300000000202051"}],
                "transactions": [{"maskedPan": "525412******3241"}]})
        );
        let offered = ConsentAccess::BankOffered {
            balances: false,
            transactions: true,
        };
        assert_eq!(shown(&offered), json!({"accounts": [], "transactions": []}));
        assert_eq!(
            shown(&ConsentAccess::AvailableAccounts { with_balance: true }),
            json!({"availableAccountsWithBalance": "allAccounts"})
        );
        assert_eq!(
            shown(&ConsentAccess::AvailableAccounts {
                with_balance: false
            }),
            json!({"availableAccounts": "allAccounts"})
        );
        assert_eq!(
            shown(&ConsentAccess::AllPsd2),
            json!({"allPsd2": "allAccounts"})
        );
        let funds = ConsentAccess::FundsConfirmation {
            iban: "DE02120300000000202051".parse().expect("an IBAN"),
        };
        assert_eq!(shown(&funds), json!({}));
    }
}
