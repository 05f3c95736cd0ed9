//! Entry points of the fuzz targets (`fuzz/` at the repository root): the
//! parsers of XS2A request bodies and query strings, as the handlers call
//! them, with the invariants their results must keep. Built only by
//! `cargo fuzz` (`--cfg fuzzing`).

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::Uri;
use fintechapi_domain::consent::GrantedResource;
use fintechapi_domain::payment::{Execution, PaymentService};
use fintechapi_domain::secret::Pepper;
use serde_json::Value;
use time::Date;
use time::macros::date;

use crate::Xs2aError;
use crate::consents::{AccessBody, ConsentRequest};
use crate::payments::request::{PaymentRequest, periodic_parts, standing_order};
use crate::transactions::Report;

/// The server's date in every target, so seeds with dates stay meaningful.
pub const TODAY: Date = date!(2026 - 11 - 25);
const MAX_CONSENT_DAYS: u16 = 90;

/// `POST /v1/consents`: a consent it accepts is within the caps and reads
/// back (as `GET /v1/consents/{id}` shows it) as the same access.
pub fn consent_request(body: &[u8]) -> Result<(), Xs2aError> {
    let request = ConsentRequest::parse(body, TODAY, MAX_CONSENT_DAYS)?;
    assert!(request.valid_until >= TODAY);
    assert!(request.valid_until <= TODAY + time::Duration::days(MAX_CONSENT_DAYS.into()));
    assert!((1..=100).contains(&request.frequency_per_day));
    let again = serde_json::json!({
        "access": AccessBody::from(&request.access),
        "recurringIndicator": request.recurring,
        "validUntil": request.valid_until.to_string(),
        "frequencyPerDay": request.frequency_per_day,
        "combinedServiceIndicator": false,
    });
    let reparsed = ConsentRequest::parse(again.to_string().as_bytes(), TODAY, MAX_CONSENT_DAYS)
        .unwrap_or_else(|e| panic!("an accepted consent does not parse as shown: {e:?}"));
    assert_eq!(reparsed.access, request.access);
    Ok(())
}

/// A JSON payment initiation of `service`.
pub fn payment_request(body: &[u8], service: PaymentService) -> Result<(), Xs2aError> {
    check_payment(
        &PaymentRequest::parse(body, service, TODAY)?,
        char::is_control,
    );
    Ok(())
}

/// A pain.001 payment initiation of `service` (single or bulk).
pub fn pain001_payment(body: &[u8], service: PaymentService) -> Result<(), Xs2aError> {
    check_payment(
        &PaymentRequest::from_pain001(body, service, TODAY)?,
        xml_refused,
    );
    Ok(())
}

/// A periodic pain.001 initiation: `multipart/form-data` with the document
/// and the standing order, composed as the initiation handler does.
pub async fn periodic_pain001(content_type: &str, body: Bytes) -> Result<(), Xs2aError> {
    let (xml, order) = periodic_parts(content_type, body).await?;
    let mut request = PaymentRequest::from_pain001(&xml, PaymentService::Periodic, TODAY)?;
    let order: Value =
        serde_json::from_slice(&order).map_err(|e| Xs2aError::format(e.to_string()))?;
    let order = order
        .as_object()
        .ok_or_else(|| Xs2aError::format("not an object"))?;
    request.execution = Execution::Periodic(standing_order(order, TODAY)?);
    check_payment(&request, xml_refused);
    Ok(())
}

/// The query of `GET /v1/accounts/{id}/transactions` (or a card account's),
/// and the page its `cursor` names.
pub fn transactions_query(path_and_query: &str, card: bool) -> Result<(), Xs2aError> {
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return Ok(());
    };
    let Ok(Query(query)) = Query::try_from_uri(&uri) else {
        return Err(Xs2aError::format("the query string is malformed"));
    };
    let resource = if card {
        GrantedResource::CardAccount
    } else {
        GrantedResource::Account
    };
    let report = Report::parse(query, resource)?;
    let pepper = Pepper::from_bytes(&[7; 32])
        .unwrap_or_else(|e| panic!("a 32-byte pepper is refused: {e:?}"));
    report.page(&pepper, "00000000-0000-4000-8000-000000000000")?;
    Ok(())
}

/// The characters a pain.001 document cannot carry: XML 1.0 allows no C0
/// control but tab and line breaks (it does allow DEL and C1 controls, which
/// the JSON bodies refuse with every other control character).
fn xml_refused(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// What every accepted payment keeps: a positive amount, texts within
/// their lengths and without the `refused` characters, a bulk payment's
/// total the sum of 1 to 500 transfers.
fn check_payment(request: &PaymentRequest, refused: fn(char) -> bool) {
    assert!(request.amount.is_positive());
    assert!(request.creditor_name.chars().count() <= 70 || request.bulk.is_some());
    for text in [&request.remittance, &request.end_to_end_id]
        .into_iter()
        .flatten()
    {
        assert!(!text.chars().any(refused), "{text:?}");
    }
    for iban in [&request.debtor, &request.creditor] {
        assert_eq!(iban.as_str().parse().ok().as_ref(), Some(iban));
    }
    if let Some(bulk) = &request.bulk {
        assert!((1..=500).contains(&bulk.entries.len()));
        let total: i64 = bulk.entries.iter().map(|e| e.amount.minor()).sum();
        assert_eq!(total, request.amount.minor());
        for entry in &bulk.entries {
            assert!(entry.amount.is_positive());
            assert!(!entry.creditor_name.chars().any(refused));
        }
    }
    match &request.execution {
        Execution::Immediate => {}
        Execution::OnDate(date) => assert!(*date > TODAY),
        Execution::Periodic(order) => assert!(order.first().is_some()),
    }
}
