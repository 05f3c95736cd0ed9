//! The bodies of payment answers: the created resource, the payment's information.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::payment::{Execution, Payment};
use serde::Serialize;

use crate::approach::{Links, REDIRECT, ScaAnswer, oauth_metadata};
use crate::body::{Amount, IbanRef};
use crate::pain001::PathProduct;

pub(super) fn self_link(payment: &Payment, service: &str) -> String {
    format!("/v1/{service}/{}/{}", PathProduct::of(payment), payment.id)
}

fn created_body(payment: &Payment, sca: &ScaAnswer, service: &str) -> PaymentCreated {
    let self_link = self_link(payment, service);
    PaymentCreated {
        links: sca.links(Links::resource(&self_link)),
        payment_id: payment.id.to_string(),
        psu_message: sca.psu_message,
        sca_status: sca.sca_status,
        transaction_status: payment.status.as_str(),
    }
}

pub(super) fn created_response(payment: &Payment, sca: &ScaAnswer, service: &str) -> Response {
    sca.created(
        &self_link(payment, service),
        created_body(payment, sca, service),
    )
}

/// `GET /v1/{service}/{product}/{id}` of a JSON payment: a single or
/// periodic payment's fields, or a bulk payment's transfers.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum PaymentInformation<'a> {
    Single(Box<SinglePayment<'a>>),
    Bulk(BulkPayment<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SinglePayment<'a> {
    creditor_account: IbanRef,
    creditor_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    day_of_execution: Option<String>,
    debtor_account: IbanRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_to_end_identification: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_rule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency: Option<&'static str>,
    instructed_amount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    remittance_information_unstructured: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_execution_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<String>,
    transaction_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BulkPayment<'a> {
    batch_booking_preferred: bool,
    debtor_account: IbanRef,
    payments: Vec<BulkTransfer<'a>>,
    transaction_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BulkTransfer<'a> {
    creditor_account: IbanRef,
    creditor_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_to_end_identification: Option<&'a str>,
    instructed_amount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    remittance_information_unstructured: Option<&'a str>,
    transaction_status: &'static str,
}

fn iban(iban: &Iban) -> IbanRef {
    IbanRef {
        iban: iban.as_str().to_owned(),
    }
}

pub(super) fn payment_json(payment: &Payment) -> PaymentInformation<'_> {
    if let Some(bulk) = &payment.bulk {
        return PaymentInformation::Bulk(BulkPayment {
            batch_booking_preferred: bulk.batch_booking,
            debtor_account: iban(&payment.debtor_iban),
            payments: bulk
                .entries
                .iter()
                .map(|e| BulkTransfer {
                    creditor_account: iban(&e.creditor_iban),
                    creditor_name: &e.creditor_name,
                    end_to_end_identification: e.end_to_end_id.as_deref(),
                    instructed_amount: e.amount.into(),
                    remittance_information_unstructured: e.remittance.as_deref(),
                    transaction_status: e.status.as_str(),
                })
                .collect(),
            transaction_status: payment.status.as_str(),
        });
    }
    let (on_date, order) = match &payment.execution {
        Execution::Immediate => (None, None),
        Execution::OnDate(date) => (Some(date.to_string()), None),
        Execution::Periodic(order) => (None, Some(order)),
    };
    PaymentInformation::Single(Box::new(SinglePayment {
        creditor_account: iban(&payment.creditor_iban),
        creditor_name: &payment.creditor_name,
        day_of_execution: order
            .and_then(|o| o.day_of_execution)
            .map(|d| d.to_string()),
        debtor_account: iban(&payment.debtor_iban),
        end_date: order.and_then(|o| o.end_date).map(|d| d.to_string()),
        end_to_end_identification: payment.end_to_end_id.as_deref(),
        execution_rule: order.and_then(|o| o.execution_rule).map(|r| r.as_str()),
        frequency: order.map(|o| o.frequency.as_str()),
        instructed_amount: payment.amount.into(),
        remittance_information_unstructured: payment.remittance.as_deref(),
        requested_execution_date: on_date,
        start_date: order.map(|o| o.start_date.to_string()),
        transaction_status: payment.status.as_str(),
    }))
}

/// 202 to a cancellation that needs the PSU's authorisation: the OAuth link.
pub(super) fn cancellation_accepted(payment: &Payment, issuer: &str, self_link: &str) -> Response {
    let body = CancellationAccepted {
        links: Links {
            sca_oauth: Some(oauth_metadata(issuer)),
            ..Links::resource(self_link)
        },
        transaction_status: payment.status.as_str(),
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    response
        .headers_mut()
        .insert("aspsp-sca-approach", HeaderValue::from_static(REDIRECT));
    response
}

/// 201 to a payment's initiation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PaymentCreated {
    #[serde(rename = "_links")]
    links: Links,
    payment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    psu_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sca_status: Option<&'static str>,
    transaction_status: &'static str,
}

/// 202 to a cancellation that awaits the PSU's authorisation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancellationAccepted {
    #[serde(rename = "_links")]
    links: Links,
    transaction_status: &'static str,
}

/// `GET /v1/{service}/{product}/{id}/status`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PaymentStatusBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psu_message: Option<String>,
    pub transaction_status: &'static str,
}
