//! Rich Authorization Requests (RFC 9396) for the Berlin Group resources: an
//! `authorization_details` array naming exactly one consent or payment, as an
//! alternative to the `AIS:<id>` / `PIS:<id>` / `PIIS:<id>` scope, or asking
//! for a funds-confirmation (PIIS) consent on one account, which the pushed
//! request creates. The details travel with the grant into the token response
//! and introspection.

use fintechapi_domain::date::parse_iso_date;
use fintechapi_domain::iban::Iban;
use serde_json::Value;
use time::Date;

use crate::error::{ErrorCode, OAuthError};
use crate::server::ScopedResource;

/// The types this server understands.
pub const TYPES: [&str; 3] = [
    "account_information",
    "payment_initiation",
    "funds_confirmation",
];

/// What the details ask to authorize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A consent or payment the TPP created on the XS2A API.
    Existing(ScopedResource),
    /// A new funds-confirmation consent on `iban`, until `valid_until` when given.
    FundsConfirmation {
        iban: Iban,
        valid_until: Option<Date>,
    },
}

fn invalid(text: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidAuthorizationDetails, text)
}

/// What the details name, and the details (compact JSON, to be stored).
pub fn parse(text: &str) -> Result<(Requested, Value), OAuthError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| invalid("authorization_details must be a JSON array"))?;
    let [detail] = value.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(invalid(
            "authorization_details must hold exactly one object: the consent or payment to authorize",
        ));
    };
    let id = |field: &str| {
        detail[field]
            .as_str()
            .ok_or_else(|| invalid(format!("{field} is required for this type")))
    };
    let requested = match detail["type"].as_str() {
        Some("account_information") => Requested::Existing(ScopedResource::Consent(
            id("consentId")?
                .parse()
                .map_err(|_| invalid("consentId is not a consent id of this ASPSP"))?,
        )),
        Some("payment_initiation") => Requested::Existing(ScopedResource::Payment(
            id("paymentId")?
                .parse()
                .map_err(|_| invalid("paymentId is not a payment id of this ASPSP"))?,
        )),
        Some("funds_confirmation") => match detail.get("consentId") {
            Some(consent) => Requested::Existing(ScopedResource::FundsConsent(
                consent
                    .as_str()
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| invalid("consentId is not a consent id of this ASPSP"))?,
            )),
            None => funds_confirmation(detail)?,
        },
        Some(other) => {
            return Err(invalid(format!(
                "type {other:?} is not supported; use one of {}",
                TYPES.join(", ")
            )));
        }
        None => return Err(invalid("every authorization detail needs a type")),
    };
    Ok((requested, value))
}

fn funds_confirmation(detail: &Value) -> Result<Requested, OAuthError> {
    let iban = detail["account"]["iban"]
        .as_str()
        .ok_or_else(|| {
            invalid("funds_confirmation needs account.iban (or the consentId of an earlier one)")
        })?
        .parse::<Iban>()
        .map_err(|e| invalid(format!("account.iban: {e}")))?;
    if let Some(currency) = detail["account"].get("currency")
        && currency.as_str() != Some("EUR")
    {
        return Err(invalid(
            "account.currency: this ASPSP holds EUR accounts only",
        ));
    }
    let valid_until = match detail.get("validUntil") {
        None => None,
        Some(date) => Some(
            date.as_str()
                .and_then(parse_iso_date)
                .ok_or_else(|| invalid("validUntil must be an ISO date (YYYY-MM-DD)"))?,
        ),
    };
    Ok(Requested::FundsConfirmation { iban, valid_until })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_consent_or_payment_per_request() {
        let consent = "00000000-0000-4000-8000-000000000001";
        let (requested, stored) = parse(&format!(
            r#"[{{"type":"account_information","consentId":"{consent}"}}]"#
        ))
        .unwrap();
        assert_eq!(
            requested,
            Requested::Existing(ScopedResource::Consent(consent.parse().unwrap()))
        );
        assert_eq!(stored[0]["type"], "account_information");
        let (funds, _) = parse(
            r#"[{"type":"funds_confirmation","account":{"iban":"DE02120300000000202051"},"validUntil":"2027-01-31"}]"#,
        )
        .unwrap();
        assert!(matches!(
            funds,
            Requested::FundsConfirmation { valid_until: Some(d), .. } if d.to_string() == "2027-01-31"
        ));
        for bad in [
            "{}",
            "[]",
            r#"[{"type":"account_information"}]"#,
            r#"[{"type":"account_information","consentId":"x"}]"#,
            r#"[{"type":"funds_confirmation"}]"#,
            r#"[{"type":"funds_confirmation","account":{"iban":"DE00123"}}]"#,
            r#"[{"type":"funds_confirmation","account":{"iban":"DE02120300000000202051","currency":"USD"}}]"#,
            r#"[{"type":"funds_confirmation","account":{"iban":"DE02120300000000202051"},"validUntil":"soon"}]"#,
            r#"[{"type":"funds_confirmation","consentId":"x"}]"#,
            r#"[{"type":"other"}]"#,
            r#"[{"type":"payment_initiation","paymentId":"00000000-0000-4000-8000-000000000001"},{"type":"account_information"}]"#,
        ] {
            let e = parse(bad).err().unwrap();
            assert_eq!(e.code, ErrorCode::InvalidAuthorizationDetails, "{bad}");
        }
    }
}
