//! The Berlin Group NextGenPSD2 XS2A API under `/v1`: account-information
//! consents, account and card account reads, and single payments, on the
//! embedded ledger, authorised with the OAuth SCA approach or, when the TPP
//! prefers it, the Redirect approach.
//!
//! Every call identifies the TPP (RTS Art. 34): a live access token of an
//! active application with an approved subscription to the product within
//! its organisation's PSD2 roles, checked on the call itself, so a revoked
//! token, a suspended application or a revoked consent stop the next call.
//!
//! - `caller`: the `Ais`/`Pis`/`Piis` extractors that identify and admit the caller.
//! - [`error`]: `tppMessages` bodies and the [`MessageCode`]s with their statuses.
//! - `body`: `Serialize` pieces several answer bodies share.
//! - `idempotency`: `create_or_replay` under an `X-Request-ID`.
//! - `approach`: which SCA approach an initiation gets, its links; reads after a Redirect authorisation.
//! - `consents`: `POST|GET|DELETE /v1/consents…`.
//! - `accounts`: `GET /v1/accounts…` (list, details, balances) and the consent checks of every read.
//! - `transactions`: `GET /v1/accounts/{id}/transactions…`: keyset pages with sealed cursors, `deltaList`.
//! - `statements`: an account's transaction report as a camt.052/camt.053 or MT940 document, by `Accept`.
//! - `card_accounts`: `GET /v1/card-accounts…` (named by masked PAN); their
//!   transaction reports page like accounts' (`transactions`).
//! - `granted`: what account and card-account reads share: the list, details
//!   and balances handlers, the granted resource, the opening of a report.
//! - `payments`: `POST|GET|DELETE /v1/{service}/{product}…` (single, periodic and
//!   bulk payments; the initiation body, the answers and cancellation by concern).
//! - [`pain001`]: the pain.001.001.03 XML body of the `pain.001-…` products.
//! - `authorisations`: the authorisation sub-resources (each PAR is one; an explicit start with the Redirect approach).
//! - `funds`: `POST /v1/funds-confirmations`.
//! - `baskets`: `POST|GET|DELETE /v1/signing-baskets…`: payments and consents under one SCA (Redirect approach).
//! - `notifications`: `TPP-Notification-URI` on initiations, checked and stored with the resource.
//! - `profile`: `GET /aspsp-profile`, what this ASPSP offers and refuses, from the rules that enforce it.

mod accounts;
mod approach;
mod authorisations;
mod baskets;
mod body;
mod caller;
mod card_accounts;
mod consents;
pub mod error;
mod funds;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
mod granted;
mod idempotency;
mod notifications;
pub mod pain001;
mod payments;
mod profile;
mod statements;
mod transactions;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fintechapi_domain::basket::BasketRepository;
use fintechapi_domain::card::{CardAccount, CardRepository};
use fintechapi_domain::consent::{ConsentRepository, DeltaReportRepository};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::notification::NotificationRepository;
use fintechapi_domain::oauth::AuthorizationRepository;
use fintechapi_domain::payment::{PaymentRepository, PaymentService};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::secret::Pepper;
use fintechapi_ledger::Ledger;
use fintechapi_metering::record_usage;
use fintechapi_oauth::OAuthService;
use time::OffsetDateTime;

pub(crate) use caller::Caller;

pub use error::{MessageCode, Xs2aError};
pub use profile::{AspspProfile, REFUSED_OPERATIONS, RefusedOperation};

#[derive(Debug, Clone)]
pub struct Xs2aSettings {
    /// The longest `validUntil` granted, counted from today.
    pub max_consent_days: u16,
}

impl Default for Xs2aSettings {
    fn default() -> Self {
        Self {
            max_consent_days: 90,
        }
    }
}

pub struct Xs2aService<R> {
    pub oauth: Arc<OAuthService<R>>,
    pub ledger: Ledger<R>,
    pub settings: Xs2aSettings,
}

/// The ports XS2A reads and writes through, and the authorization server's clock and pepper.
impl<R: Xs2aStore> Xs2aService<R> {
    pub(crate) fn consents(&self) -> &impl ConsentRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn baskets(&self) -> &impl BasketRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn delta_marks(&self) -> &impl DeltaReportRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn payments(&self) -> &impl PaymentRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn accounts(&self) -> &impl LedgerRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn cards(&self) -> &impl CardRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn authorizations(&self) -> &impl AuthorizationRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn notifications(&self) -> &impl NotificationRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn psus(&self) -> &impl PsuRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn applications(&self) -> &impl PortalRepository {
        self.oauth.server.repo()
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.oauth.server.now()
    }

    pub(crate) fn pepper(&self) -> &Pepper {
        self.oauth.server.pepper()
    }
}

/// The storage XS2A runs on: what the authorization server needs, the ledger's,
/// and the marks of delta reports.
pub trait Xs2aStore:
    fintechapi_oauth::web::OAuthStore
    + PsuRepository
    + LedgerRepository
    + CardRepository
    + DeltaReportRepository
    + NotificationRepository
{
}
impl<T> Xs2aStore for T where
    T: fintechapi_oauth::web::OAuthStore
        + PsuRepository
        + LedgerRepository
        + CardRepository
        + DeltaReportRepository
        + NotificationRepository
{
}

pub fn router<R: Xs2aStore>(service: Arc<Xs2aService<R>>) -> Router {
    let meter = service.oauth.meter.clone();
    let profile = profile::document(&service.settings);
    Router::new()
        .route("/v1/consents", axum::routing::post(consents::initiate::<R>))
        .route(
            "/v1/consents/{consent_id}",
            get(consents::read::<R>).delete(consents::delete::<R>),
        )
        .route(
            "/v1/consents/{consent_id}/status",
            get(consents::status::<R>),
        )
        .route(
            "/v1/consents/{consent_id}/authorisations",
            get(authorisations::consent_list::<R>).post(authorisations::consent_start::<R>),
        )
        .route(
            "/v1/consents/{consent_id}/authorisations/{authorisation_id}",
            get(authorisations::consent_status::<R>).put(authorisations::update),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}/authorisations",
            get(authorisations::payment_list::<R>).post(authorisations::payment_start::<R>),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}/authorisations/{authorisation_id}",
            get(authorisations::payment_status::<R>).put(authorisations::update),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}/cancellation-authorisations",
            get(authorisations::cancellation_list::<R>).post(authorisations::cancellation_start),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}/cancellation-authorisations/{authorisation_id}",
            get(authorisations::cancellation_status::<R>).put(authorisations::update),
        )
        .route(
            "/v1/funds-confirmations",
            axum::routing::post(funds::confirm::<R>),
        )
        .route(
            "/v1/signing-baskets",
            axum::routing::post(baskets::create::<R>),
        )
        .route(
            "/v1/signing-baskets/{basket_id}",
            get(baskets::read::<R>).delete(baskets::delete::<R>),
        )
        .route(
            "/v1/signing-baskets/{basket_id}/status",
            get(baskets::status::<R>),
        )
        .route(
            "/v1/signing-baskets/{basket_id}/authorisations",
            get(authorisations::basket_list::<R>).post(authorisations::basket_start::<R>),
        )
        .route(
            "/v1/signing-baskets/{basket_id}/authorisations/{authorisation_id}",
            get(authorisations::basket_status::<R>).put(authorisations::update),
        )
        .route("/v1/accounts", get(granted::list::<Account, R>))
        .route("/v1/accounts/{account_id}", get(granted::details::<Account, R>))
        .route(
            "/v1/accounts/{account_id}/balances",
            get(granted::balances::<Account, R>),
        )
        .route(
            "/v1/accounts/{account_id}/transactions",
            get(statements::transactions::<R>),
        )
        .route(
            "/v1/accounts/{account_id}/transactions/{transaction_id}",
            get(transactions::details::<R>),
        )
        .route("/v1/card-accounts", get(granted::list::<CardAccount, R>))
        .route(
            "/v1/card-accounts/{account_id}",
            get(granted::details::<CardAccount, R>),
        )
        .route(
            "/v1/card-accounts/{account_id}/balances",
            get(granted::balances::<CardAccount, R>),
        )
        .route(
            "/v1/card-accounts/{account_id}/transactions",
            get(granted::transactions::<CardAccount, R>),
        )
        .route(
            "/v1/{payment_service}/{payment_product}",
            axum::routing::post(payments::initiate::<R>),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}",
            get(payments::read::<R>).delete(payments::cancel::<R>),
        )
        .route(
            "/v1/{payment_service}/{payment_product}/{payment_id}/status",
            get(payments::status::<R>),
        )
        .with_state(service)
        .route_layer(fintechapi_web::hook::check(request_checks))
        // Public and outside `/v1`: no X-Request-ID, no token.
        .route(
            profile::PATH,
            get(move || std::future::ready(profile.clone())),
        )
        .layer(record_usage(meter))
}

/// `PSU-IP-Address`: absent, or an IP address (spec: `format: ipv4`; IPv6
/// PSUs exist, so either family), 400 `FORMAT_ERROR` otherwise.
pub(crate) fn psu_ip_address(headers: &HeaderMap) -> Result<Option<IpAddr>, Xs2aError> {
    let Some(value) = headers.get("psu-ip-address") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<IpAddr>().ok())
        .map(Some)
        .ok_or_else(|| {
            Xs2aError::format("PSU-IP-Address must be an IP address").at("PSU-IP-Address")
        })
}

/// What `Accept` must admit on every `/v1` call: JSON, except for the
/// information of a pain.001 payment, which is its pain.001 document, a
/// payment's status, which is also a pain.002 report (`application/xml`),
/// and an account's transaction report, which is also a camt.052/camt.053
/// document (`application/xml`) or an MT940 statement (`text/plain`). A card
/// account's report and everything else asked only in another type is 406
/// `REQUESTED_FORMATS_INVALID`.
fn acceptable(req: &Request) -> Result<(), Xs2aError> {
    let (method, path) = (req.method(), req.uri().path());
    if is_pain001_document(method, path) {
        require_accepted(req.headers(), "application/xml")
    } else if statements::is_account_report(method, path) {
        statements::negotiate(req.headers()).map(|_| ())
    } else {
        require_accepted(req.headers(), profile::ANSWER_MEDIA_TYPES[0]).or_else(|refused| {
            // A payment's status is also a pain.002 report.
            if *method == Method::GET && path.ends_with("/status") && is_payment_path(path) {
                require_accepted(req.headers(), "application/xml")
            } else {
                Err(refused)
            }
        })
    }
}

/// What every `/v1` route checks before its handler: the TPP's
/// `X-Request-ID` first (also on the routes that take no `Caller`), then an
/// answer type it accepts.
fn request_checks(req: &Request) -> Option<Response> {
    caller::tpp_request_id(req.headers())
        .and_then(|_| acceptable(req))
        .err()
        .map(IntoResponse::into_response)
}

/// `/v1/{payment-service}/…`.
fn is_payment_path(path: &str) -> bool {
    path.strip_prefix("/v1/")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|service| service.parse::<PaymentService>().is_ok())
}

/// `GET /v1/{payment-service}/pain.001-{product}/{paymentId}`.
fn is_pain001_document(method: &Method, path: &str) -> bool {
    // Asked on every call: no allocation, and the common case ends at the prefix.
    if *method != Method::GET || !path.contains(pain001::PRODUCT_PREFIX) {
        return false;
    }
    let mut segments = path.split('/');
    matches!(
        (segments.next(), segments.next(), segments.next(), segments.next(), segments.next(), segments.next()),
        (Some(""), Some("v1"), Some(service), Some(product), Some(_), None)
            if service.parse::<PaymentService>().is_ok() && product.starts_with(pain001::PRODUCT_PREFIX)
    )
}

/// No `Accept`, `*/*`, `type/*` and `media` itself are served; `q=0` refuses.
fn require_accepted(headers: &HeaderMap, media: &str) -> Result<(), Xs2aError> {
    match quality(headers, media) {
        Some(_) => Ok(()),
        None => Err(Xs2aError::new(
            MessageCode::RequestedFormatsInvalid,
            format!("this resource is answered in {media} only"),
        )
        .at("Accept")),
    }
}

/// The weight `Accept` gives `media`: that of its most specific range
/// (`media` itself, then `type/*`, then `*/*`; RFC 9110 §12.5.1), 1 without
/// `Accept`, None when no range admits it or the most specific says `q=0`.
pub(crate) fn quality(headers: &HeaderMap, media: &str) -> Option<f32> {
    let family = media.split('/').next().unwrap_or_default();
    let mut ranges = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|range| !range.is_empty())
        .peekable();
    if ranges.peek().is_none() {
        return Some(1.0);
    }
    // (specificity, q) of the most specific range naming `media`.
    let mut best: Option<(u8, f32)> = None;
    for range in ranges {
        let mut parts = range.split(';').map(str::trim);
        let asked = parts.next().unwrap_or_default();
        let specificity = if asked.eq_ignore_ascii_case(media) {
            2
        } else if asked
            .strip_suffix("/*")
            .is_some_and(|f| f.eq_ignore_ascii_case(family))
        {
            1
        } else if asked == "*/*" {
            0
        } else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(1.0));
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map(|(_, q)| q).filter(|q| *q > 0.0)
}

pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::ACCEPT,
            value.parse().unwrap_or_else(|_| panic!("{value}")),
        );
        headers
    }

    #[test]
    fn only_a_pain001_payments_information_is_a_document() {
        let read = "/v1/payments/pain.001-sepa-credit-transfers/6b3c";
        assert!(is_pain001_document(&Method::GET, read));
        assert!(!is_pain001_document(&Method::DELETE, read));
        assert!(!is_pain001_document(
            &Method::GET,
            &format!("{read}/status")
        ));
        assert!(!is_pain001_document(
            &Method::GET,
            "/v1/payments/sepa-credit-transfers/6b3c"
        ));
        assert!(!is_pain001_document(
            &Method::GET,
            "/v1/accounts/pain.001-x/transactions"
        ));
    }

    #[test]
    fn accept_admits_the_media_type_its_family_or_anything_unless_q_is_zero() {
        let json = "application/json";
        assert!(require_accepted(&HeaderMap::new(), json).is_ok());
        for admitted in [
            "*/*",
            "application/*",
            "Application/JSON",
            "text/html, application/json;q=0.5",
        ] {
            assert!(
                require_accepted(&accept(admitted), json).is_ok(),
                "{admitted}"
            );
        }
        for refused in [
            "application/xml",
            "text/*",
            "application/json;q=0",
            "text/plain",
        ] {
            let e = require_accepted(&accept(refused), json).err();
            assert_eq!(
                e.map(|e| e.code),
                Some(MessageCode::RequestedFormatsInvalid),
                "{refused}"
            );
        }
        assert!(require_accepted(&accept("application/xml"), "application/xml").is_ok());
    }

    #[test]
    fn the_most_specific_range_weighs_a_media_type() {
        let json = "application/json";
        assert_eq!(quality(&accept("*/*, application/json;q=0"), json), None);
        assert_eq!(
            quality(&accept("application/*;q=0, application/json;q=0.3"), json),
            Some(0.3)
        );
        assert_eq!(
            quality(&accept("application/*;q=0.4, */*;q=0.9"), json),
            Some(0.4)
        );
        assert_eq!(quality(&accept("text/plain"), json), None);
        assert_eq!(quality(&HeaderMap::new(), json), Some(1.0));
    }
}
