//! The bodies of payment answers: the created resource, the payment's information.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::payment::{Execution, Payment};
use serde_json::{Value, json};

use crate::approach::ScaAnswer;
use crate::pain001::PathProduct;

pub(super) fn self_link(payment: &Payment, service: &str) -> String {
    format!("/v1/{service}/{}/{}", PathProduct::of(payment), payment.id)
}

fn created_body(payment: &Payment, sca: &ScaAnswer, service: &str) -> Value {
    let self_link = self_link(payment, service);
    let mut body = json!({
        "transactionStatus": payment.status.as_str(),
        "paymentId": payment.id.to_string(),
        "_links": {
            "self": {"href": self_link},
            "status": {"href": format!("{self_link}/status")},
        },
    });
    sca.complete(&mut body);
    body
}

pub(super) fn created_response(payment: &Payment, sca: &ScaAnswer, service: &str) -> Response {
    let body = created_body(payment, sca, service);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&self_link(payment, service)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    sca.mark(response)
}

pub(super) fn payment_json(payment: &Payment) -> Value {
    if let Some(bulk) = &payment.bulk {
        let entries: Vec<Value> = bulk
            .entries
            .iter()
            .map(|e| {
                let mut entry = json!({
                    "instructedAmount": {"currency": e.amount.currency().code(), "amount": e.amount.to_decimal_string()},
                    "creditorAccount": {"iban": e.creditor_iban.as_str()},
                    "creditorName": e.creditor_name,
                    "transactionStatus": e.status.as_str(),
                });
                if let Some(r) = &e.remittance {
                    entry["remittanceInformationUnstructured"] = json!(r);
                }
                if let Some(id) = &e.end_to_end_id {
                    entry["endToEndIdentification"] = json!(id);
                }
                entry
            })
            .collect();
        return json!({
            "batchBookingPreferred": bulk.batch_booking,
            "debtorAccount": {"iban": payment.debtor_iban.as_str()},
            "payments": entries,
            "transactionStatus": payment.status.as_str(),
        });
    }
    let mut out = json!({
        "transactionStatus": payment.status.as_str(),
        "instructedAmount": {"currency": payment.amount.currency().code(), "amount": payment.amount.to_decimal_string()},
        "debtorAccount": {"iban": payment.debtor_iban.as_str()},
        "creditorAccount": {"iban": payment.creditor_iban.as_str()},
        "creditorName": payment.creditor_name,
    });
    if let Some(r) = &payment.remittance {
        out["remittanceInformationUnstructured"] = json!(r);
    }
    if let Some(e) = &payment.end_to_end_id {
        out["endToEndIdentification"] = json!(e);
    }
    match &payment.execution {
        Execution::Immediate => {}
        Execution::OnDate(date) => out["requestedExecutionDate"] = json!(date.to_string()),
        Execution::Periodic(order) => {
            out["startDate"] = json!(order.start_date.to_string());
            out["frequency"] = json!(order.frequency.as_str());
            if let Some(end) = order.end_date {
                out["endDate"] = json!(end.to_string());
            }
            if let Some(rule) = order.execution_rule {
                out["executionRule"] = json!(rule.as_str());
            }
            if let Some(day) = order.day_of_execution {
                out["dayOfExecution"] = json!(day.to_string());
            }
        }
    }
    out
}

/// 202 to a cancellation that needs the PSU's authorisation: the OAuth link.
pub(super) fn cancellation_accepted(payment: &Payment, issuer: &str, self_link: &str) -> Response {
    let body = json!({
        "transactionStatus": payment.status.as_str(),
        "_links": {
            "scaOAuth": {"href": format!("{issuer}/.well-known/oauth-authorization-server")},
            "self": {"href": self_link},
            "status": {"href": format!("{self_link}/status")},
        },
    });
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    response
        .headers_mut()
        .insert("aspsp-sca-approach", HeaderValue::from_static("OAUTH"));
    response
}
