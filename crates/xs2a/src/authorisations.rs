//! Authorisation sub-resources of consents, payments and signing baskets.
//! An authorisation starts with a pushed authorization request (OAuth SCA
//! approach), or with the initiation itself or an explicit start here
//! (Redirect and Decoupled approaches; a basket's by Redirect only); each is
//! listed and read here with its `scaStatus` (a Decoupled one unanswered in
//! time is `failed`). A resource in a signing basket gets none of its own. A
//! cancellation authorisation is a pushed request for a scheduled payment
//! whose cancellation the TPP asked for (`DELETE` → 202). PSU data updates
//! (embedded SCA) are not offered and say so.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::basket::BasketStatus;
use fintechapi_domain::consent::ConsentStatus;
use fintechapi_domain::ids::AuthorizationId;
use fintechapi_domain::notification::NotifiedResource;
use fintechapi_domain::oauth::{
    Authorization, AuthorizationFlow, AuthorizationRepository, AuthorizationStage,
};
use fintechapi_oauth::ScopedResource;
use serde::Serialize;
use time::OffsetDateTime;

use crate::approach::{Approach, DECOUPLED_EXPIRED, DECOUPLED_MESSAGE, Links};
use crate::baskets::{not_in_basket, own_basket, redirect_only, self_link as basket_link};
use crate::caller::{Ais, Pis, Sbs};
use crate::consents::own_consent;
use crate::error::MessageCode;
use crate::notifications::Notifications;
use crate::payments::own_payment;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore};

/// The scope naming a consent or payment the caller owns (or the
/// cancellation of the payment).
async fn scope_of<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    resource: &Resource,
    cancellation: bool,
) -> Result<String, Xs2aError> {
    Ok(match resource {
        Resource::Consent(id) => format!("AIS:{}", own_consent(service, caller, id).await?.id),
        Resource::Payment {
            service: s,
            product,
            id,
        } => {
            let id = own_payment(service, caller, s, product, id).await?.id;
            if cancellation {
                format!("PIS-CANCEL:{id}")
            } else {
                format!("PIS:{id}")
            }
        }
        Resource::Basket(id) => {
            ScopedResource::Basket(own_basket(service, caller, id).await?.id).scope()
        }
    })
}

/// 201 to an explicit start (Redirect and Decoupled approaches).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorisationStarted {
    #[serde(rename = "_links")]
    links: Links,
    authorisation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    psu_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sca_status: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorisationIds {
    authorisation_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaStatus {
    sca_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    psu_message: Option<&'static str>,
}

/// What the TPP may tell the PSU about a Decoupled authorisation: where it
/// waits while undecided, and that it ran out when it did.
fn decoupled_message(found: &Authorization, now: OffsetDateTime) -> Option<&'static str> {
    if found.flow != AuthorizationFlow::Decoupled {
        return None;
    }
    if found.lapsed_at(now) {
        return Some(DECOUPLED_EXPIRED);
    }
    matches!(
        found.stage,
        AuthorizationStage::Pushed | AuthorizationStage::Login
    )
    .then_some(DECOUPLED_MESSAGE)
}

enum Resource {
    Consent(String),
    Basket(String),
    Payment {
        service: String,
        product: String,
        id: String,
    },
}

/// A payment's path: service, product, id.
impl From<(String, String, String)> for Resource {
    fn from((service, product, id): (String, String, String)) -> Self {
        Resource::Payment {
            service,
            product,
            id,
        }
    }
}

async fn list<R: Xs2aStore>(
    service: Arc<Xs2aService<R>>,
    caller: Caller,
    resource: Resource,
    cancellation: bool,
) -> Response {
    let result = async {
        let found = authorisations(&service, &caller, &resource, cancellation).await?;
        let authorisation_ids = found.iter().map(|a| a.id.to_string()).collect();
        Ok(Json(AuthorisationIds { authorisation_ids }).into_response())
    }
    .await;
    caller.answer(result)
}

async fn status<R: Xs2aStore>(
    service: Arc<Xs2aService<R>>,
    caller: Caller,
    resource: Resource,
    authorisation: String,
    cancellation: bool,
) -> Response {
    let result = async {
        let found = authorisations(&service, &caller, &resource, cancellation).await?;
        let id: AuthorizationId = authorisation.parse().map_err(|_| unknown_authorisation())?;
        let found = found.into_iter().find(|a| a.id == id);
        let found = found.ok_or_else(unknown_authorisation)?;
        let now = service.now();
        let sca_status = found.sca_status_at(now);
        let psu_message = decoupled_message(&found, now);
        Ok(Json(ScaStatus {
            sca_status,
            psu_message,
        })
        .into_response())
    }
    .await;
    caller.answer(result)
}

/// The authorisations the caller's application started of the resource
/// (or of its cancellation), after the resource is found to be its own.
async fn authorisations<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    resource: &Resource,
    cancellation: bool,
) -> Result<Vec<Authorization>, Xs2aError> {
    let scope = scope_of(service, caller, resource, cancellation).await?;
    let repo = service.authorizations();
    Ok(repo
        .authorizations_for_scope(caller.grant.application_id, &scope)
        .await?)
}

fn unknown_authorisation() -> Xs2aError {
    Xs2aError::new(
        MessageCode::ResourceUnknown,
        "no such authorisation of this resource",
    )
    .not_addressable()
    .at("authorisationId")
}

fn not_offered(what: &str) -> Response {
    Xs2aError::new(MessageCode::ServiceInvalid, what).into_response()
}

const IMPLICIT_START: &str = "with the OAuth approach an authorisation starts with a pushed authorization request (PAR) to the server named in _links.scaOAuth; an explicit start is offered for the Redirect approach (TPP-Redirect-Preferred: true with TPP-Redirect-URI) and the Decoupled approach (TPP-Decoupled-Preferred: true with PSU-ID)";
const NO_EMBEDDED: &str =
    "embedded SCA is not offered: the PSU authenticates at the bank's own pages";

pub(crate) async fn consent_list<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path(id): Path<String>,
    Ais(caller): Ais,
) -> Response {
    list(s, caller, Resource::Consent(id), false).await
}

pub(crate) async fn consent_status<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path((id, authorisation)): Path<(String, String)>,
    Ais(caller): Ais,
) -> Response {
    status(s, caller, Resource::Consent(id), authorisation, false).await
}

pub(crate) async fn payment_list<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path(path): Path<(String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    list(s, caller, path.into(), false).await
}

pub(crate) async fn payment_status<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path((service, product, id, authorisation)): Path<(String, String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    let payment = (service, product, id).into();
    status(s, caller, payment, authorisation, false).await
}

pub(crate) async fn cancellation_status<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path((service, product, id, authorisation)): Path<(String, String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    let payment = (service, product, id).into();
    status(s, caller, payment, authorisation, true).await
}

pub(crate) async fn cancellation_list<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path(path): Path<(String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    list(s, caller, path.into(), true).await
}

/// The resource an explicit start names: its scope, whether it still awaits
/// an authorisation, and its own link.
async fn target<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    resource: &Resource,
) -> Result<(ScopedResource, bool, String), Xs2aError> {
    Ok(match resource {
        Resource::Consent(id) => {
            let consent = own_consent(service, caller, id).await?;
            // A funds-confirmation consent is authorised through its pushed
            // request only; never as an account-information one.
            if consent.funds_account().is_some() {
                return Err(Xs2aError::consent_unknown().at("consentId"));
            }
            not_in_basket(service, &consent.id.to_string()).await?;
            (
                ScopedResource::Consent(consent.id),
                // Multilevel SCA: the next holder's authorisation.
                matches!(
                    consent.status,
                    ConsentStatus::Received | ConsentStatus::PartiallyAuthorised
                ),
                format!("/v1/consents/{}", consent.id),
            )
        }
        Resource::Payment {
            service: s,
            product,
            id,
        } => {
            let payment = own_payment(service, caller, s, product, id).await?;
            not_in_basket(service, &payment.id.to_string()).await?;
            (
                ScopedResource::Payment(payment.id),
                payment.status.awaits_authorisation(),
                format!("/v1/{s}/{product}/{}", payment.id),
            )
        }
        Resource::Basket(id) => {
            let basket = own_basket(service, caller, id).await?;
            (
                ScopedResource::Basket(basket.id),
                basket.status == BasketStatus::Received,
                basket_link(basket.id),
            )
        }
    })
}

/// An explicit start needs the Redirect or Decoupled approach and a resource
/// still awaiting its authorisation.
fn startable(approach: &Approach, awaiting: bool) -> Result<(), Xs2aError> {
    if matches!(approach, Approach::OAuth) {
        return Err(Xs2aError::new(MessageCode::ServiceInvalid, IMPLICIT_START));
    }
    if !awaiting {
        return Err(Xs2aError::new(
            MessageCode::StatusInvalid,
            "the resource was already authorised, rejected or cancelled",
        ));
    }
    Ok(())
}

/// Explicit start of an authorisation of a consent or payment still awaiting
/// one: with the Redirect approach (`TPP-Redirect-Preferred: true` and a
/// registered `TPP-Redirect-URI`) a new authorisation with a fresh
/// `scaRedirect` link; with the Decoupled approach (`PSU-ID` required) a new
/// authorisation awaiting the PSU in online banking and a `psuMessage`; with
/// OAuth the authorisation starts with a pushed request instead.
async fn start<R: Xs2aStore>(
    service: Arc<Xs2aService<R>>,
    caller: Caller,
    headers: HeaderMap,
    resource: Resource,
) -> Response {
    let result = async {
        let (scoped, awaiting, self_link) = target(&service, &caller, &resource).await?;
        let mut approach = Approach::requested(&service, &caller, &headers)
            .await?
            .started_now();
        if let Resource::Basket(_) = resource {
            approach = redirect_only(approach)?;
        }
        startable(&approach, awaiting)?;
        let notifications = Notifications::requested(&service, &caller, &headers).await?;
        let subscribed = notified(&scoped);
        if let Some((kind, id)) = subscribed.clone() {
            notifications.subscribe(&service, &caller, kind, id).await?;
        }
        let sca = approach
            .answer(&service, &caller, scoped, true, &self_link)
            .await?;
        let body = AuthorisationStarted {
            links: sca.links(Links::default()),
            authorisation_id: sca.authorisation.map(|a| a.to_string()),
            psu_message: sca.psu_message,
            sca_status: sca.sca_status,
        };
        let answer = sca.mark((StatusCode::CREATED, Json(body)).into_response());
        // A signing basket's status changes are not notified: nothing to announce.
        Ok(match subscribed {
            Some(_) => notifications.mark(answer),
            None => answer,
        })
    }
    .await;
    caller.answer(result)
}

/// The resource whose status changes an explicit start's notification
/// headers subscribe to.
fn notified(scoped: &ScopedResource) -> Option<(NotifiedResource, String)> {
    match scoped {
        ScopedResource::Consent(id) => Some((NotifiedResource::Consent, id.to_string())),
        ScopedResource::Payment(id) => Some((NotifiedResource::Payment, id.to_string())),
        _ => None,
    }
}

pub(crate) async fn consent_start<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Ais(caller): Ais,
) -> Response {
    start(s, caller, headers, Resource::Consent(id)).await
}

pub(crate) async fn payment_start<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(path): Path<(String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    start(s, caller, headers, path.into()).await
}

pub(crate) async fn basket_list<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path(id): Path<String>,
    Sbs(caller): Sbs,
) -> Response {
    list(s, caller, Resource::Basket(id), false).await
}

pub(crate) async fn basket_status<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    Path((id, authorisation)): Path<(String, String)>,
    Sbs(caller): Sbs,
) -> Response {
    status(s, caller, Resource::Basket(id), authorisation, false).await
}

pub(crate) async fn basket_start<R: Xs2aStore>(
    State(s): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Sbs(caller): Sbs,
) -> Response {
    start(s, caller, headers, Resource::Basket(id)).await
}

/// A cancellation authorisation starts with a pushed request (`PIS:<id>`)
/// once the TPP's `DELETE` answered 202.
pub(crate) async fn cancellation_start() -> Response {
    not_offered(IMPLICIT_START)
}

pub(crate) async fn update() -> Response {
    not_offered(NO_EMBEDDED)
}
