//! Single (immediate or future-dated) and periodic payments: initiation
//! (JSON, or pain.001 XML via `pain001` for single payments), information,
//! status and cancellation. The PSU authorises on the bank's pages (OAuth SCA
//! approach); the bank then executes an immediate payment in the ledger, and
//! the scheduler (`fintechapi_ledger::schedule`) the others on their dates.

mod body;
mod pain002;
pub(crate) mod request;

use body::{PaymentStatusBody, cancellation_accepted, created_response, payment_json, self_link};
use request::{BodyKind, Initiation};

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::PaymentId;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::notification::NotifiedResource;
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::payment::{Payment, PaymentService, PaymentStatus};
use fintechapi_ledger::lifecycle::{self, Cancellation};
use fintechapi_oauth::ScopedResource;

use crate::approach::Approach;
use crate::caller::Pis;
use crate::error::MessageCode;
use crate::idempotency::create_or_replay;
use crate::notifications::Notifications;
use crate::pain001::PathProduct;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text, psu_ip_address};

/// The payment service and product of a path, or the spec's error.
fn service_and_product(
    service: &str,
    product: &str,
) -> Result<(PaymentService, PathProduct), Xs2aError> {
    let service = match service.parse::<PaymentService>() {
        Ok(known) => known,
        Err(_) => {
            return Err(
                Xs2aError::resource_unknown(format!("no payment service {service:?}"))
                    .at("payment-service"),
            );
        }
    };
    let product = product.parse::<PathProduct>().map_err(|_| {
        Xs2aError::new(
            MessageCode::ProductUnknown,
            format!("payment product {product:?} is not offered"),
        )
        .at("payment-product")
    })?;
    Ok((service, product))
}

/// A payment is initiated with the PSU present: `PSU-IP-Address` is required.
fn require_psu_ip(headers: &HeaderMap) -> Result<(), Xs2aError> {
    match psu_ip_address(headers)? {
        Some(_) => Ok(()),
        None => Err(
            Xs2aError::format("PSU-IP-Address is required to initiate a payment")
                .at("PSU-IP-Address"),
        ),
    }
}

pub(crate) async fn initiate<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path((payment_service, payment_product)): Path<(String, String)>,
    Pis(caller): Pis,
    body: Bytes,
) -> Response {
    let result = async {
        let (kind, product) = service_and_product(&payment_service, &payment_product)?;
        let body_kind = BodyKind::of(kind, &product, header_text(&headers, "content-type"))?;
        require_psu_ip(&headers)?;
        let approach = Approach::requested(&service, &caller, &headers).await?;
        let notifications = Notifications::requested(&service, &caller, &headers).await?;
        let now = service.now();
        let initiation = body_kind.read(body, kind, now.date()).await?;
        let path = format!("{payment_service}/{payment_product}");
        let payment = create(&service, &caller, &path, product, kind, initiation).await?;
        notifications
            .subscribe(
                &service,
                &caller,
                NotifiedResource::Payment,
                payment.id.to_string(),
            )
            .await?;
        let awaiting = payment.status == PaymentStatus::Received;
        let approach = if lifecycle::needs_several_approvals(&service.ledger, &payment).await? {
            approach.explicitly()
        } else {
            approach
        };
        let resource = ScopedResource::Payment(payment.id);
        let link = self_link(&payment, &payment_service);
        let sca = approach
            .answer(&service, &caller, resource, awaiting, &link)
            .await?;
        Ok(notifications.mark(created_response(&payment, &sca, &payment_service)))
    }
    .await;
    caller.answer(result)
}

/// A new payment of `initiation` under the caller's `X-Request-ID`, or the
/// one the same request created before. `path` (service/product) is part of
/// what idempotency compares.
async fn create<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    path: &str,
    product: PathProduct,
    kind: PaymentService,
    initiation: Initiation,
) -> Result<Payment, Xs2aError> {
    let Initiation {
        request,
        document,
        compared,
    } = initiation;
    if service
        .accounts()
        .account_by_iban(&request.debtor)
        .await?
        .is_none()
    {
        return Err(
            Xs2aError::format("the debtor account is not an account of this ASPSP")
                .at(product.debtor_iban_path()),
        );
    }
    let request_hash = service
        .pepper()
        .hash(&format!("{path}:{}", String::from_utf8_lossy(&compared)));
    let now = service.now();
    let payment = Payment {
        id: PaymentId::random(),
        application_id: caller.grant.application_id,
        service: kind,
        product: product.product,
        format: product.format(&document),
        status: PaymentStatus::Received,
        debtor_iban: request.debtor,
        creditor_iban: request.creditor,
        creditor_name: request.creditor_name,
        amount: request.amount,
        remittance: request.remittance,
        end_to_end_id: request.end_to_end_id,
        execution: request.execution,
        next_execution: None,
        cancellation_requested_at: None,
        bulk: request.bulk,
        psu_id: None,
        transaction_id: None,
        reason: None,
        request_id: caller.request_id.to_string(),
        request_hash: request_hash.as_str().to_owned(),
        created_at: now,
        status_changed_at: now,
    };
    create_or_replay(&payment, service.payments().create_payment(payment.clone())).await
}

/// The caller's payment: initiated by its application, and (for a token bound
/// to a payment) exactly that one.
pub(crate) async fn own_payment<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    payment_service: &str,
    payment_product: &str,
    id: &str,
) -> Result<Payment, Xs2aError> {
    let (kind, product) = service_and_product(payment_service, payment_product)?;
    let unknown = || {
        Xs2aError::new(
            MessageCode::ResourceUnknown,
            "the payment does not exist or does not belong to this TPP",
        )
        .not_addressable()
        .at("paymentId")
    };
    let id: PaymentId = id.parse().map_err(|_| unknown())?;
    if caller.grant.payment.is_some_and(|bound| bound != id) || caller.grant.consent.is_some() {
        return Err(unknown());
    }
    service
        .payments()
        .payment(id)
        .await?
        .filter(|p| {
            p.application_id == caller.grant.application_id
                && p.service == kind
                && PathProduct::of(p) == product
        })
        .ok_or_else(unknown)
}

pub(crate) async fn read<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path((payment_service, payment_product, id)): Path<(String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    let result = async {
        let payment =
            own_payment(&service, &caller, &payment_service, &payment_product, &id).await?;
        // The spec answers a pain.001 payment's information with its pain.001 document.
        if let Some(document) = payment.format.document() {
            return Ok((
                [(header::CONTENT_TYPE, "application/xml")],
                document.to_owned(),
            )
                .into_response());
        }
        Ok(Json(payment_json(&payment)).into_response())
    }
    .await;
    caller.answer(result)
}

/// The status in JSON, or as a pain.002 report when `Accept` admits XML but
/// not JSON (the route layer has refused anything admitting neither).
pub(crate) async fn status<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path((payment_service, payment_product, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Pis(caller): Pis,
) -> Response {
    let result = async {
        let payment =
            own_payment(&service, &caller, &payment_service, &payment_product, &id).await?;
        if crate::quality(&headers, crate::profile::ANSWER_MEDIA_TYPES[0]).is_none() {
            let report = pain002::status_report(&payment, service.now());
            return Ok(([(header::CONTENT_TYPE, pain002::MEDIA_TYPE)], report).into_response());
        }
        let body = PaymentStatusBody {
            psu_message: (payment.reason.as_ref())
                .map(|reason| format!("Rejected with ISO 20022 reason {reason}")),
            transaction_status: payment.status.as_str(),
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

/// Cancels a payment not yet authorised: 204, status CANC. An authorised
/// scheduled payment (ACCP) needs the PSU's cancellation authorisation: 202
/// with the OAuth link; the TPP pushes `PIS:<id>` and the PSU confirms on the
/// bank's pages. Executed or rejected payments cannot be cancelled.
pub(crate) async fn cancel<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    Path((payment_service, payment_product, id)): Path<(String, String, String)>,
    Pis(caller): Pis,
) -> Response {
    let result = async {
        let payment =
            own_payment(&service, &caller, &payment_service, &payment_product, &id).await?;
        match lifecycle::cancel(&service.ledger, &payment).await? {
            Cancellation::Cancelled => Ok(StatusCode::NO_CONTENT.into_response()),
            Cancellation::AwaitsAuthorisation => Ok(cancellation_accepted(
                &payment,
                &service.oauth.server.settings().issuer,
                &format!("/v1/{payment_service}/{payment_product}/{}", payment.id),
            )),
            // 405, as the spec's MessageCode405_PIS_CANC pairs it: also for a
            // payment cancelled already.
            Cancellation::NotCancellable => Err(Xs2aError::new(
                MessageCode::CancellationInvalid,
                format!("a payment in status {} cannot be cancelled", payment.status),
            )),
        }
    }
    .await;
    caller.answer(result)
}
