//! The initiation body: JSON, a pain.001 document, or (periodic pain.001)
//! a multipart body of the document and the standing order; checked into a
//! [`PaymentRequest`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart};
use axum::http::{StatusCode, header};
use fintechapi_domain::Currency;
use fintechapi_domain::date::parse_iso_date;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::money::Money;
use fintechapi_domain::payment::{
    Bulk, BulkEntry, Execution, ExecutionRule, Frequency, PaymentService, PaymentStatus,
    StandingOrder,
};
use serde_json::{Map, Value};
use time::Date;

use crate::Xs2aError;
use crate::error::MessageCode;
use crate::pain001::{self, PathProduct};

/// How far ahead a payment may be dated.
const LATEST_EXECUTION: time::Duration = time::Duration::days(366);

/// A validated payment request.
pub(crate) struct PaymentRequest {
    pub(crate) debtor: Iban,
    pub(crate) creditor: Iban,
    pub(crate) creditor_name: String,
    pub(crate) amount: Money,
    pub(crate) remittance: Option<String>,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) execution: Execution,
    pub(crate) bulk: Option<Bulk>,
}

/// Most transfers one bulk payment may hold.
const MAX_BULK_ENTRIES: usize = pain001::MAX_TRANSFERS;

/// The creditor side of a credit transfer: amount, payee, remittance.
struct CreditTransfer {
    amount: Money,
    creditor: Iban,
    creditor_name: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
}

fn credit_transfer(body: &Map<String, Value>) -> Result<CreditTransfer, Xs2aError> {
    let instructed = body
        .get("instructedAmount")
        .and_then(Value::as_object)
        .ok_or_else(|| Xs2aError::format("instructedAmount is required").at("instructedAmount"))?;
    let currency_code = instructed
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if currency_code != "EUR" {
        let known = currency_code.parse::<Currency>().is_ok();
        return Err(Xs2aError::format(if known {
            format!("{currency_code} payments are not offered; accounts here hold EUR")
        } else {
            format!("{currency_code:?} is not an ISO 4217 currency code")
        })
        .at("instructedAmount.currency"));
    }
    let amount_text = instructed
        .get("amount")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Xs2aError::format("amount must be a decimal string, e.g. \"123.45\"")
                .at("instructedAmount.amount")
        })?;
    let amount = Money::parse_decimal(amount_text, Currency::EUR)
        .map_err(|e| Xs2aError::format(e.to_string()).at("instructedAmount.amount"))?;
    if !amount.is_positive() {
        return Err(
            Xs2aError::format("amount must be greater than zero").at("instructedAmount.amount")
        );
    }
    Ok(CreditTransfer {
        amount,
        creditor: iban_of(body, "creditorAccount")?,
        creditor_name: text_field(body, "creditorName", 70)?
            .ok_or_else(|| Xs2aError::format("creditorName is required").at("creditorName"))?,
        remittance: text_field(body, "remittanceInformationUnstructured", 140)?,
        end_to_end_id: text_field(body, "endToEndIdentification", 35)?,
    })
}

/// A bulk payment's summary row: the total, payable in one go or per transfer.
fn bulk_request(
    debtor: Iban,
    batch_booking: bool,
    execution: Execution,
    transfers: Vec<CreditTransfer>,
    path: &str,
) -> Result<PaymentRequest, Xs2aError> {
    if transfers.is_empty() || transfers.len() > MAX_BULK_ENTRIES {
        return Err(Xs2aError::format(format!(
            "a bulk payment holds 1 to {MAX_BULK_ENTRIES} transfers"
        ))
        .at(path.to_owned()));
    }
    let total = transfers
        .iter()
        .try_fold(0_i64, |sum, t| sum.checked_add(t.amount.minor()))
        .map(|minor| Money::from_minor(minor, Currency::EUR))
        .ok_or_else(|| Xs2aError::format("the total is too large").at(path.to_owned()))?;
    let count = transfers.len();
    Ok(PaymentRequest {
        creditor: debtor.clone(),
        debtor,
        creditor_name: format!("{count} payees"),
        amount: total,
        remittance: None,
        end_to_end_id: None,
        execution,
        bulk: Some(Bulk {
            batch_booking,
            entries: transfers
                .into_iter()
                .map(|t| BulkEntry {
                    creditor_iban: t.creditor,
                    creditor_name: t.creditor_name,
                    amount: t.amount,
                    remittance: t.remittance,
                    end_to_end_id: t.end_to_end_id,
                    status: PaymentStatus::Received,
                    transaction_id: None,
                    reason: None,
                })
                .collect(),
        }),
    })
}

/// Now, or on a (checked) future date.
fn once(date: Option<Date>, today: Date) -> Execution {
    match date {
        Some(date) if date > today => Execution::OnDate(date),
        _ => Execution::Immediate,
    }
}

fn iso_date(body: &Map<String, Value>, name: &str) -> Result<Option<Date>, Xs2aError> {
    body.get(name)
        .map(|value| {
            value.as_str().and_then(parse_iso_date).ok_or_else(|| {
                Xs2aError::format(format!("{name} must be an ISO date (YYYY-MM-DD)"))
                    .at(name.to_owned())
            })
        })
        .transpose()
}

/// A date the bank can still execute: not past, at most a year ahead.
fn executable(date: Date, today: Date, name: &str) -> Result<Date, Xs2aError> {
    let invalid =
        |text: &str| Xs2aError::new(MessageCode::ExecutionDateInvalid, text).at(name.to_owned());
    if date < today {
        return Err(invalid(&format!("{name} lies in the past")));
    }
    if today
        .checked_add(LATEST_EXECUTION)
        .is_some_and(|latest| date > latest)
    {
        return Err(invalid(&format!("{name} lies more than a year ahead")));
    }
    Ok(date)
}

/// `startDate`, `endDate`, `frequency`, `executionRule`, `dayOfExecution`.
pub(crate) fn standing_order(
    body: &Map<String, Value>,
    today: Date,
) -> Result<StandingOrder, Xs2aError> {
    let start_date = iso_date(body, "startDate")?
        .ok_or_else(|| Xs2aError::format("startDate is required").at("startDate"))?;
    let start_date = executable(start_date, today, "startDate")?;
    let end_date = iso_date(body, "endDate")?;
    if end_date.is_some_and(|end| end < start_date) {
        return Err(Xs2aError::format("endDate lies before startDate").at("endDate"));
    }
    let frequency = body
        .get("frequency")
        .and_then(Value::as_str)
        .ok_or_else(|| Xs2aError::format("frequency is required").at("frequency"))?
        .parse::<Frequency>()
        .map_err(|_| {
            Xs2aError::format(
                "frequency must be one of Daily, Weekly, EveryTwoWeeks, Monthly, EveryTwoMonths, \
                 Quarterly, SemiAnnual, Annual",
            )
            .at("frequency")
        })?;
    if frequency == Frequency::MonthlyVariable {
        return Err(Xs2aError::format(
            "MonthlyVariable (monthsOfExecution) is not offered; use a fixed frequency",
        )
        .at("frequency"));
    }
    let execution_rule = body
        .get("executionRule")
        .map(|rule| {
            rule.as_str()
                .and_then(|r| r.parse::<ExecutionRule>().ok())
                .ok_or_else(|| {
                    Xs2aError::format("executionRule must be following or preceding")
                        .at("executionRule")
                })
        })
        .transpose()?;
    let day_of_execution = body
        .get("dayOfExecution")
        .map(|day| {
            day.as_str()
                .filter(|d| (1..=2).contains(&d.len()))
                .and_then(|d| d.parse::<u8>().ok())
                .filter(|d| (1..=31).contains(d))
                .ok_or_else(|| {
                    Xs2aError::format("dayOfExecution must be a day of the month, \"1\" to \"31\"")
                        .at("dayOfExecution")
                })
        })
        .transpose()?;
    let order = StandingOrder {
        start_date,
        end_date,
        frequency,
        execution_rule,
        day_of_execution,
    };
    if order.first().is_none() {
        return Err(
            Xs2aError::format("no execution date falls between startDate and endDate")
                .at("endDate"),
        );
    }
    Ok(order)
}

fn text_field(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<String>, Xs2aError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        // No control characters: they print nowhere, and PostgreSQL refuses NUL.
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= max
                && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(Xs2aError::format(format!(
            "{name} must be a text of 1 to {max} printable characters"
        ))
        .at(name.to_owned())),
    }
}

fn iban_of(body: &Map<String, Value>, name: &str) -> Result<Iban, Xs2aError> {
    let reference = body
        .get(name)
        .and_then(Value::as_object)
        .ok_or_else(|| Xs2aError::format(format!("{name} is required")).at(name.to_owned()))?;
    if let Some(currency) = reference.get("currency")
        && currency.as_str() != Some("EUR")
    {
        return Err(
            Xs2aError::format("this ASPSP holds EUR accounts only").at(format!("{name}.currency"))
        );
    }
    reference
        .get("iban")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Xs2aError::format("this ASPSP references accounts by iban").at(format!("{name}.iban"))
        })?
        .parse::<Iban>()
        .map_err(|e| Xs2aError::format(e.to_string()).at(format!("{name}.iban")))
}

impl PaymentRequest {
    pub(crate) fn parse(
        bytes: &[u8],
        service: PaymentService,
        today: Date,
    ) -> Result<Self, Xs2aError> {
        let body: Value = serde_json::from_slice(bytes)
            .map_err(|e| Xs2aError::format(format!("the body is not valid JSON: {e}")))?;
        let body = body
            .as_object()
            .ok_or_else(|| Xs2aError::format("the body must be a JSON object"))?;
        let debtor = iban_of(body, "debtorAccount")?;
        let requested = iso_date(body, "requestedExecutionDate")?
            .map(|date| executable(date, today, "requestedExecutionDate"))
            .transpose()?;
        if service == PaymentService::Bulk {
            let batch_booking = match body.get("batchBookingPreferred") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(
                        Xs2aError::format("batchBookingPreferred must be true or false")
                            .at("batchBookingPreferred"),
                    );
                }
            };
            let entries = body
                .get("payments")
                .and_then(Value::as_array)
                .ok_or_else(|| Xs2aError::format("payments must be an array").at("payments"))?;
            if entries.len() > MAX_BULK_ENTRIES {
                return Err(Xs2aError::format(format!(
                    "a bulk payment holds 1 to {MAX_BULK_ENTRIES} transfers"
                ))
                .at("payments"));
            }
            let transfers = entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let under = |e: Xs2aError| {
                        let path = e.path.clone().map_or_else(
                            || format!("payments[{i}]"),
                            |p| format!("payments[{i}].{p}"),
                        );
                        e.at(path)
                    };
                    entry
                        .as_object()
                        .ok_or_else(|| under(Xs2aError::format("each payment must be an object")))
                        .and_then(|entry| credit_transfer(entry).map_err(under))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return bulk_request(
                debtor,
                batch_booking,
                once(requested, today),
                transfers,
                "payments",
            );
        }
        let transfer = credit_transfer(body)?;
        let execution = match (service, requested) {
            (PaymentService::Periodic, Some(_)) => {
                return Err(Xs2aError::format(
                    "a periodic payment has startDate, not requestedExecutionDate",
                )
                .at("requestedExecutionDate"));
            }
            (PaymentService::Periodic, None) => Execution::Periodic(standing_order(body, today)?),
            (_, Some(date)) if date > today => Execution::OnDate(date),
            _ => Execution::Immediate,
        };
        Ok(Self {
            execution,
            debtor,
            creditor: transfer.creditor,
            creditor_name: transfer.creditor_name,
            amount: transfer.amount,
            remittance: transfer.remittance,
            end_to_end_id: transfer.end_to_end_id,
            bulk: None,
        })
    }

    /// A pain.001 document as a single payment (exactly one transaction) or
    /// a bulk payment (its transactions; `BtchBookg` is batch booking).
    pub(crate) fn from_pain001(
        bytes: &[u8],
        service: PaymentService,
        today: Date,
    ) -> Result<Self, Xs2aError> {
        // XML 1.0 allows no control characters but tab and line breaks (and
        // PostgreSQL keeps no NUL in the stored document).
        if bytes
            .iter()
            .any(|b| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        {
            return Err(Xs2aError::format(
                "the document holds a control character XML does not allow",
            )
            .at("Document"));
        }
        let document = pain001::parse(bytes)?;
        if service == PaymentService::Bulk {
            let date = executable(
                document.requested_execution_date,
                today,
                "PmtInf/ReqdExctnDt",
            )?;
            let transfers = document
                .transactions
                .into_iter()
                .map(|t| CreditTransfer {
                    amount: t.amount,
                    creditor: t.creditor_iban,
                    creditor_name: t.creditor_name,
                    remittance: t.remittance,
                    end_to_end_id: Some(t.end_to_end_id),
                })
                .collect();
            return bulk_request(
                document.debtor_iban,
                document.batch_booking.unwrap_or(false),
                once(Some(date), today),
                transfers,
                "PmtInf/CdtTrfTxInf",
            );
        }
        let count = document.transactions.len();
        let [transfer] = <[_; 1]>::try_from(document.transactions).map_err(|_| {
            Xs2aError::format(format!(
                "a single payment holds exactly one CdtTrfTxInf; this document holds {count} (bulk payments take several)"
            ))
            .at("PmtInf/CdtTrfTxInf")
        })?;
        let date = executable(
            document.requested_execution_date,
            today,
            "PmtInf/ReqdExctnDt",
        )?;
        Ok(Self {
            execution: if date > today {
                Execution::OnDate(date)
            } else {
                Execution::Immediate
            },
            debtor: document.debtor_iban,
            creditor: transfer.creditor_iban,
            creditor_name: transfer.creditor_name,
            amount: transfer.amount,
            remittance: transfer.remittance,
            end_to_end_id: Some(transfer.end_to_end_id),
            bulk: None,
        })
    }
}

fn is_multipart(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The two parts of a periodic pain.001 initiation: `xml_sct` and
/// `json_standingorderType`, each once, nothing else.
pub(crate) async fn periodic_parts(
    content_type: &str,
    body: Bytes,
) -> Result<(Bytes, Bytes), Xs2aError> {
    let malformed = |text: String| Xs2aError::format(text).at("multipart/form-data");
    let request = axum::http::Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(body))
        .map_err(|e| malformed(e.to_string()))?;
    let mut parts = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(e.body_text()))?;
    let (mut xml, mut order) = (None, None);
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|e| malformed(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "xml_sct" => &mut xml,
            "json_standingorderType" => &mut order,
            other => return Err(malformed(format!("unexpected part {other:?}"))),
        };
        if slot.is_some() {
            return Err(malformed(format!("the part {name} comes twice")));
        }
        *slot = Some(field.bytes().await.map_err(|e| malformed(e.body_text()))?);
    }
    match (xml, order) {
        (Some(xml), Some(order)) => Ok((xml, order)),
        (None, _) => Err(Xs2aError::format("the part xml_sct is missing").at("xml_sct")),
        (_, None) => Err(
            Xs2aError::format("the part json_standingorderType is missing")
                .at("json_standingorderType"),
        ),
    }
}

/// What an initiation's body is, by product and `Content-Type`.
pub(super) enum BodyKind<'a> {
    Json,
    Pain001,
    /// A periodic pain.001 initiation: the document and the standing order.
    Multipart {
        content_type: &'a str,
    },
}

/// A checked initiation and what idempotency compares: the body, or a
/// multipart body's parts (a retry usually comes with another boundary).
pub(super) struct Initiation {
    pub request: PaymentRequest,
    /// The pain.001 document, or the JSON body.
    pub document: Bytes,
    pub compared: Bytes,
}

impl<'a> BodyKind<'a> {
    /// The spec answers another body type with 415 (it has no message code
    /// for 415; FORMAT_ERROR's text says what the product takes).
    pub(super) fn of(
        kind: PaymentService,
        product: &PathProduct,
        content_type: Option<&'a str>,
    ) -> Result<Self, Xs2aError> {
        let unsupported = |text: &str| {
            Xs2aError::new(MessageCode::FormatError, text)
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        };
        if product.pain001 && kind == PaymentService::Periodic {
            return match content_type {
                Some(content_type) if is_multipart(Some(content_type)) => {
                    Ok(Self::Multipart { content_type })
                }
                _ => Err(unsupported(
                    "periodic pain.001 products take multipart/form-data with the parts xml_sct \
                     (the pain.001 document) and json_standingorderType (the standing order)",
                )),
            };
        }
        if !product.takes(content_type) {
            return Err(unsupported(if product.pain001 {
                "pain.001 products take an ISO 20022 pain.001.001.03 document as application/xml"
            } else {
                "this product takes JSON; send pain.001 XML to the pain.001- products"
            }));
        }
        Ok(if product.pain001 {
            Self::Pain001
        } else {
            Self::Json
        })
    }

    pub(super) async fn read(
        self,
        body: Bytes,
        kind: PaymentService,
        today: Date,
    ) -> Result<Initiation, Xs2aError> {
        let request = match self {
            Self::Multipart { content_type } => {
                let (xml, order) = periodic_parts(content_type, body).await?;
                let compared = [xml.as_ref(), b"\n", order.as_ref()].concat();
                let mut request = PaymentRequest::from_pain001(&xml, kind, today)?;
                let order: Value = serde_json::from_slice(&order).map_err(|e| {
                    Xs2aError::format(format!("json_standingorderType is not valid JSON: {e}"))
                        .at("json_standingorderType")
                })?;
                let order = order.as_object().ok_or_else(|| {
                    Xs2aError::format("json_standingorderType must be a JSON object")
                        .at("json_standingorderType")
                })?;
                request.execution = Execution::Periodic(standing_order(order, today)?);
                return Ok(Initiation {
                    request,
                    document: xml,
                    compared: Bytes::from(compared),
                });
            }
            Self::Pain001 => PaymentRequest::from_pain001(&body, kind, today)?,
            Self::Json => PaymentRequest::parse(&body, kind, today)?,
        };
        Ok(Initiation {
            request,
            document: body.clone(),
            compared: body,
        })
    }
}
