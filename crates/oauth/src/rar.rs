//! Rich Authorization Requests (RFC 9396) for the Berlin Group resources: an
//! `authorization_details` array naming exactly one consent or payment, as an
//! alternative to the `AIS:<id>` / `PIS:<id>` scope. The details travel with
//! the grant into the token response and introspection.

use serde_json::Value;

use crate::error::{ErrorCode, OAuthError};
use crate::server::ScopedResource;

/// The types this server understands.
pub const TYPES: [&str; 2] = ["account_information", "payment_initiation"];

fn invalid(text: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidAuthorizationDetails, text)
}

/// The resource the details name, and the details as stored (compact JSON).
pub fn parse(text: &str) -> Result<(ScopedResource, String), OAuthError> {
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
    let resource = match detail["type"].as_str() {
        Some("account_information") => ScopedResource::Consent(
            id("consentId")?
                .parse()
                .map_err(|_| invalid("consentId is not a consent id of this ASPSP"))?,
        ),
        Some("payment_initiation") => ScopedResource::Payment(
            id("paymentId")?
                .parse()
                .map_err(|_| invalid("paymentId is not a payment id of this ASPSP"))?,
        ),
        Some("funds_confirmation") => {
            return Err(invalid(
                "funds_confirmation needs a PIIS consent, which this ASPSP does not offer yet; \
                 funds confirmations use a client-credentials token",
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "type {other:?} is not supported; use account_information or payment_initiation"
            )));
        }
        None => return Err(invalid("every authorization detail needs a type")),
    };
    Ok((resource, value.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_consent_or_payment_per_request() {
        let consent = "00000000-0000-4000-8000-000000000001";
        let (resource, stored) = parse(&format!(
            r#"[{{"type":"account_information","consentId":"{consent}"}}]"#
        ))
        .unwrap();
        assert_eq!(resource, ScopedResource::Consent(consent.parse().unwrap()));
        assert!(stored.contains("account_information"));
        for bad in [
            "{}",
            "[]",
            r#"[{"type":"account_information"}]"#,
            r#"[{"type":"account_information","consentId":"x"}]"#,
            r#"[{"type":"funds_confirmation"}]"#,
            r#"[{"type":"other"}]"#,
            r#"[{"type":"payment_initiation","paymentId":"00000000-0000-4000-8000-000000000001"},{"type":"account_information"}]"#,
        ] {
            let e = parse(bad).err().unwrap();
            assert_eq!(e.code, ErrorCode::InvalidAuthorizationDetails, "{bad}");
        }
    }
}
