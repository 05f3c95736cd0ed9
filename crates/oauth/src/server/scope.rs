//! Scopes: the products a client-credentials token covers (`ais pis piis`),
//! and the one resource a PSU authorizes (`AIS:<consentId>`, …).

use fintechapi_domain::ids::{ConsentId, PaymentId};
use fintechapi_domain::registry::ApiProduct;

use crate::error::{ErrorCode, OAuthError};

/// A resource a PSU authorizes, named by the scope (`AIS:<consentId>`,
/// `PIS:<paymentId>`, `PIIS:<consentId>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopedResource {
    Consent(ConsentId),
    Payment(PaymentId),
    /// A funds-confirmation (PIIS) consent.
    FundsConsent(ConsentId),
    /// The PSU's confirmation that an authorised scheduled payment the TPP
    /// asked to cancel is cancelled.
    PaymentCancellation(PaymentId),
}

impl ScopedResource {
    pub fn parse(scope: &str) -> Option<Self> {
        let (kind, id) = scope.split_once(':')?;
        match kind {
            "AIS" => id.parse().ok().map(ScopedResource::Consent),
            "PIS" => id.parse().ok().map(ScopedResource::Payment),
            "PIIS" => id.parse().ok().map(ScopedResource::FundsConsent),
            "PIS-CANCEL" => id.parse().ok().map(ScopedResource::PaymentCancellation),
            _ => None,
        }
    }

    pub fn scope(&self) -> String {
        match self {
            ScopedResource::Consent(id) => format!("AIS:{id}"),
            ScopedResource::Payment(id) => format!("PIS:{id}"),
            ScopedResource::FundsConsent(id) => format!("PIIS:{id}"),
            ScopedResource::PaymentCancellation(id) => format!("PIS-CANCEL:{id}"),
        }
    }
}

/// The products a scope names, each once; an unknown value is refused.
pub(super) fn parse_scope(scope: &str) -> Result<Vec<ApiProduct>, OAuthError> {
    let mut products = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        let product = ApiProduct::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("unknown scope value {value:?}; this server knows ais, pis and piis"),
                )
            })?;
        if !products.contains(&product) {
            products.push(product);
        }
    }
    Ok(products)
}

pub(super) fn format_scope(products: &[ApiProduct]) -> String {
    products
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
