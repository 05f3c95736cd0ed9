//! Scopes: the products a client-credentials token covers (`ais pis piis`),
//! and the one resource a PSU authorizes (`AIS:<consentId>`, …).

use fintechapi_domain::registry::ApiProduct;

use crate::error::{ErrorCode, OAuthError};

pub use fintechapi_domain::oauth::ScopedResource;

/// The products a scope names, each once; an unknown value is refused.
pub(super) fn parse_scope(scope: &str) -> Result<Vec<ApiProduct>, OAuthError> {
    let mut products = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        let product = ApiProduct::ALL
            .iter()
            .copied()
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
