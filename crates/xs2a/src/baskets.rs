//! Signing baskets (`/v1/signing-baskets`): payments and consents of the
//! caller's application, each still awaiting its own authorisation, put
//! under one SCA. Creation (idempotent under `X-Request-ID`), information,
//! status, deletion before any authorisation. The basket is authorised with
//! the Redirect approach only: its authorisation sub-resources are
//! `authorisations.rs`'s; the PSU's one page and one second factor are the
//! bank's (`bank/src/basket.rs`).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::basket::{
    BasketCreation, BasketRepository, BasketStatus, MAX_BASKET_ENTRIES, SigningBasket,
};
use fintechapi_domain::consent::{ConsentRepository, ConsentStatus};
use fintechapi_domain::idempotency::IDEMPOTENCY_WINDOW;
use fintechapi_domain::ids::{BasketId, ConsentId, PaymentId};
use fintechapi_domain::oauth::{AuthorizationRepository, AuthorizationStage};
use fintechapi_domain::payment::{PaymentRepository, PaymentStatus};
use fintechapi_ledger::lifecycle;
use fintechapi_oauth::ScopedResource;
use serde::{Deserialize, Serialize};

use crate::approach::{Approach, Links};
use crate::caller::Sbs;
use crate::error::MessageCode;
use crate::idempotency::replay;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text, psu_ip_address};

/// Why a basket is authorised with the Redirect approach only.
const REDIRECT_ONLY: &str = "a signing basket is authorised with the Redirect SCA approach \
     only: send TPP-Redirect-Preferred: true with a registered TPP-Redirect-URI (the OAuth \
     and Decoupled approaches are not offered for signing baskets)";

/// The request body: at least one entry in all.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BasketRequest {
    payment_ids: Option<Vec<String>>,
    consent_ids: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    basket_id: String,
    #[serde(rename = "_links")]
    links: Links,
    #[serde(skip_serializing_if = "Option::is_none")]
    psu_message: Option<&'static str>,
    transaction_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Information {
    #[serde(rename = "_links")]
    links: Links,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    consents: Vec<ConsentId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    payments: Vec<PaymentId>,
    transaction_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    transaction_status: &'static str,
}

pub(crate) fn self_link(id: BasketId) -> String {
    format!("/v1/signing-baskets/{id}")
}

/// The approach a basket is authorised with: Redirect, or a refusal.
pub(crate) fn redirect_only(approach: Approach) -> Result<Approach, Xs2aError> {
    match approach {
        Approach::Redirect { .. } => Ok(approach),
        Approach::OAuth | Approach::Decoupled { .. } => {
            Err(Xs2aError::new(MessageCode::ServiceInvalid, REDIRECT_ONLY))
        }
    }
}

/// The caller's own basket named in the path.
pub(crate) async fn own_basket<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    id: &str,
) -> Result<SigningBasket, Xs2aError> {
    let unknown = || {
        Xs2aError::new(
            MessageCode::ResourceUnknown,
            "the signing basket does not exist or does not belong to this TPP",
        )
        .not_addressable()
        .at("basketId")
    };
    let id: BasketId = id.parse().map_err(|_| unknown())?;
    // A token bound to one consent or payment names nothing else.
    if caller.grant.payment.is_some() || caller.grant.consent.is_some() {
        return Err(unknown());
    }
    service
        .baskets()
        .basket(id)
        .await?
        .filter(|b| b.application_id == caller.grant.application_id)
        .ok_or_else(unknown)
}

/// A basket entry refused: `code` at `at` (`paymentIds[2]`).
fn refused(code: MessageCode, at: String, text: String) -> Xs2aError {
    let error = Xs2aError::new(code, text).at(at);
    // An unknown entry is named in the body (400); the reference codes keep their 409.
    if matches!(code, MessageCode::ResourceUnknown) {
        error.in_request()
    } else {
        error
    }
}

/// The ids of one list, each a UUID and none twice in the basket.
fn ids<T: std::str::FromStr>(
    list: Option<&Vec<String>>,
    name: &str,
    seen: &mut HashSet<String>,
) -> Result<Vec<(String, T)>, Xs2aError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(Xs2aError::format(format!("{name} must name at least one id")).at(name));
    }
    let mut parsed = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let at = format!("{name}[{i}]");
        let id = text.parse::<T>().map_err(|_| {
            refused(
                MessageCode::ResourceUnknown,
                at.clone(),
                format!("{name}[{i}] names no resource of this TPP"),
            )
        })?;
        if !seen.insert(text.to_ascii_lowercase()) {
            return Err(Xs2aError::format(format!("{text} is named twice")).at(at));
        }
        parsed.push((at, id));
    }
    Ok(parsed)
}

/// Whether the resource (`scope`) is free for a basket: in no basket and
/// with no authorisation of its own started.
async fn unclaimed<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    scope: ScopedResource,
    id: &str,
    at: &str,
) -> Result<(), Xs2aError> {
    if let Some(basket) = service.baskets().basket_of(id).await? {
        return Err(refused(
            MessageCode::ReferenceStatusInvalid,
            at.to_owned(),
            format!("{id} belongs to signing basket {basket} already"),
        ));
    }
    let started = service
        .authorizations()
        .authorizations_for_scope(caller.grant.application_id, &scope.scope())
        .await?;
    if !started.is_empty() {
        return Err(refused(
            MessageCode::ReferenceStatusInvalid,
            at.to_owned(),
            format!("an authorisation of {id} was started already; it cannot join a basket"),
        ));
    }
    Ok(())
}

/// The entries of a new basket, each the caller's, awaiting its
/// authorisation (RCVD, received), in no basket and not being authorised.
async fn entries<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    request: &BasketRequest,
) -> Result<(Vec<PaymentId>, Vec<ConsentId>), Xs2aError> {
    let mut seen = HashSet::new();
    let payment_ids = ids::<PaymentId>(request.payment_ids.as_ref(), "paymentIds", &mut seen)?;
    let consent_ids = ids::<ConsentId>(request.consent_ids.as_ref(), "consentIds", &mut seen)?;
    if seen.is_empty() {
        return Err(Xs2aError::format(
            "a signing basket names at least one payment (paymentIds) or consent (consentIds)",
        ));
    }
    if seen.len() > MAX_BASKET_ENTRIES {
        return Err(Xs2aError::format(format!(
            "a signing basket holds at most {MAX_BASKET_ENTRIES} payments and consents"
        )));
    }
    let application = caller.grant.application_id;
    let mut payments = Vec::with_capacity(payment_ids.len());
    for (at, id) in payment_ids {
        let unknown = || {
            refused(
                MessageCode::ResourceUnknown,
                at.clone(),
                format!("payment {id} does not exist or does not belong to this TPP"),
            )
        };
        let payment = service.payments().payment(id).await?;
        let payment = payment
            .filter(|p| p.application_id == application)
            .ok_or_else(unknown)?;
        if payment.status != PaymentStatus::Received {
            return Err(refused(
                MessageCode::ReferenceStatusInvalid,
                at,
                format!(
                    "payment {id} is {}: only a payment awaiting its authorisation (RCVD) joins a basket",
                    payment.status.as_str()
                ),
            ));
        }
        // Multilevel SCA asks each joint holder on their own: no one SCA for all.
        if lifecycle::needs_several_approvals(&service.ledger, &payment).await? {
            return Err(refused(
                MessageCode::ReferenceMixInvalid,
                at,
                format!(
                    "payment {id} is drawn on a joint account: each holder authorises it on its own, not in a basket"
                ),
            ));
        }
        unclaimed(
            service,
            caller,
            ScopedResource::Payment(id),
            &id.to_string(),
            &at,
        )
        .await?;
        payments.push(id);
    }
    let mut consents = Vec::with_capacity(consent_ids.len());
    for (at, id) in consent_ids {
        let consent = service.consents().consent(id).await?;
        let consent = consent
            .filter(|c| c.application_id == application)
            .ok_or_else(|| {
                refused(
                    MessageCode::ResourceUnknown,
                    at.clone(),
                    format!("consent {id} does not exist or does not belong to this TPP"),
                )
            })?;
        if consent.funds_account().is_some() {
            return Err(refused(
                MessageCode::ReferenceMixInvalid,
                at,
                format!(
                    "consent {id} is a funds-confirmation consent, authorised with its pushed request only"
                ),
            ));
        }
        if consent.status != ConsentStatus::Received {
            return Err(refused(
                MessageCode::ReferenceStatusInvalid,
                at,
                format!(
                    "consent {id} is {}: only a consent awaiting its authorisation (received) joins a basket",
                    consent.status
                ),
            ));
        }
        let scope = ScopedResource::Consent(id);
        unclaimed(service, caller, scope, &id.to_string(), &at).await?;
        consents.push(id);
    }
    Ok((payments, consents))
}

/// `POST /v1/signing-baskets`.
pub(crate) async fn create<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Sbs(caller): Sbs,
    body: Bytes,
) -> Response {
    let result = async {
        if psu_ip_address(&headers)?.is_none() {
            return Err(
                Xs2aError::format("PSU-IP-Address is required to create a signing basket")
                    .at("PSU-IP-Address"),
            );
        }
        let request: BasketRequest = serde_json::from_slice(&body)
            .map_err(|e| Xs2aError::format(format!("the signing basket body is invalid: {e}")))?;
        let approach = redirect_only(Approach::requested(&service, &caller, &headers).await?)?;
        let now = service.now();
        let request_id = caller.request_id.to_string();
        let request_hash = service
            .pepper()
            .hash(&format!(
                "signing-baskets:{}",
                String::from_utf8_lossy(&body)
            ))
            .as_str()
            .to_owned();
        let application = caller.grant.application_id;
        let earlier = service
            .baskets()
            .basket_by_request(application, &request_id, now - IDEMPOTENCY_WINDOW)
            .await?;
        let basket = match earlier {
            // The same request again: the first basket, its entries not checked again.
            Some(first) => replay(
                SigningBasket {
                    request_hash,
                    ..first.clone()
                },
                Some(first),
            )?,
            None => {
                let (payments, consents) = entries(&service, &caller, &request).await?;
                let basket = SigningBasket {
                    id: BasketId::random(),
                    application_id: application,
                    payments,
                    consents,
                    status: BasketStatus::Received,
                    psu_id: None,
                    request_id,
                    request_hash,
                    created_at: now,
                    status_changed_at: now,
                };
                let first = match service.baskets().create_basket(basket.clone()).await? {
                    BasketCreation::Created => None,
                    BasketCreation::Existing(first) => Some(*first),
                    BasketCreation::Taken => {
                        return Err(Xs2aError::new(
                            MessageCode::ReferenceStatusInvalid,
                            "an entry joined another signing basket meanwhile",
                        ));
                    }
                };
                replay(basket, first)?
            }
        };
        let link = self_link(basket.id);
        let awaiting = basket.status == BasketStatus::Received;
        let resource = ScopedResource::Basket(basket.id);
        let sca = approach
            .answer(&service, &caller, resource, awaiting, &link)
            .await?;
        let body = Created {
            basket_id: basket.id.to_string(),
            links: sca.links(Links::resource(&link)),
            psu_message: sca.psu_message,
            transaction_status: basket.status.as_str(),
        };
        let mut created = sca.created(&link, body);
        // Status notifications are not sent for baskets; the TPP learns so.
        if header_text(&headers, "tpp-notification-uri").is_some() {
            created.headers_mut().insert(
                "aspsp-notification-support",
                axum::http::HeaderValue::from_static("false"),
            );
        }
        Ok(created)
    }
    .await;
    caller.answer(result)
}

/// `GET /v1/signing-baskets/{basketId}`.
pub(crate) async fn read<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path(id): Path<String>,
    Sbs(caller): Sbs,
) -> Response {
    let result = async {
        let basket = own_basket(&service, &caller, &id).await?;
        let body = Information {
            links: Links::resource(&self_link(basket.id)),
            consents: basket.consents,
            payments: basket.payments,
            transaction_status: basket.status.as_str(),
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

/// `GET /v1/signing-baskets/{basketId}/status`.
pub(crate) async fn status<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path(id): Path<String>,
    Sbs(caller): Sbs,
) -> Response {
    let result = async {
        let basket = own_basket(&service, &caller, &id).await?;
        let body = Status {
            transaction_status: basket.status.as_str(),
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

/// `DELETE /v1/signing-baskets/{basketId}`: while no authorisation went
/// further than its start (the PSU has not opened its link), the basket is
/// deleted (CANC) and its entries are free again; afterwards 405
/// `CANCELLATION_INVALID`. The entries themselves are not touched.
pub(crate) async fn delete<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path(id): Path<String>,
    Sbs(caller): Sbs,
) -> Response {
    let result = async {
        let basket = own_basket(&service, &caller, &id).await?;
        let scope = ScopedResource::Basket(basket.id).scope();
        let started = service
            .authorizations()
            .authorizations_for_scope(caller.grant.application_id, &scope)
            .await?;
        let touched = started
            .iter()
            .any(|a| a.stage != AuthorizationStage::Pushed);
        if touched
            || !service
                .baskets()
                .cancel_basket(basket.id, service.now())
                .await?
        {
            return Err(Xs2aError::new(
                MessageCode::CancellationInvalid,
                "the signing basket's authorisation has begun or it was decided or deleted; \
                 cancel its payments one by one instead",
            ));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    caller.answer(result)
}

/// An individual authorisation of a resource in a signing basket is refused:
/// the basket's SCA authorises it, and nothing is authorised twice.
pub(crate) async fn not_in_basket<R: Xs2aStore>(
    service: &Xs2aService<R>,
    id: &str,
) -> Result<(), Xs2aError> {
    match service.baskets().basket_of(id).await? {
        Some(basket) => Err(Xs2aError::new(
            MessageCode::ServiceInvalid,
            format!("{id} belongs to signing basket {basket}: authorise the basket instead"),
        )),
        None => Ok(()),
    }
}
