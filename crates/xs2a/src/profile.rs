//! The ASPSP profile at `GET /aspsp-profile`: what this bank's XS2A API
//! offers and what it refuses, as JSON a TPP can read before it integrates.
//! Every value comes from the constant or setting that enforces it (the
//! consent parser's limits, the products the path parser knows, the report's
//! page sizes), so the document cannot say one thing while the API does
//! another; an integration test tries each claim against the running server.

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use fintechapi_domain::basket::MAX_BASKET_ENTRIES;
use fintechapi_domain::notification::{MAX_NOTIFICATION_URI_LEN, NotificationContent};
use fintechapi_domain::payment::{PaymentProduct, PaymentService};
use fintechapi_oauth::decoupled::DECOUPLED_TTL;
use serde::Serialize;

use crate::Xs2aSettings;
use crate::approach::{DECOUPLED, REDIRECT};
use crate::consents::{ACCESS_KINDS, MAX_FREQUENCY_PER_DAY};
use crate::pain001::PathProduct;
use crate::statements::{
    CAMT_REPORT, CAMT_STATEMENT, CAMT_STATEMENT_WHEN, MAX_DOCUMENT_ENTRIES, REPORT_MEDIA_TYPES,
};
use crate::transactions::{BookingStatus, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

pub(crate) const PATH: &str = "/aspsp-profile";

/// The media types every answer is given in (`lib.rs::acceptable`), but
/// for the documents some resources are also answered as.
pub(crate) const ANSWER_MEDIA_TYPES: [&str; 1] = ["application/json"];

/// An operation of the Berlin Group file this ASPSP answers with
/// `SERVICE_INVALID` (the router sends it to a `not_offered` handler).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedOperation {
    pub operation_id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

const fn refused(
    operation_id: &'static str,
    method: &'static str,
    path: &'static str,
) -> RefusedOperation {
    RefusedOperation {
        operation_id,
        method,
        path,
    }
}

/// PSU data updates, which only embedded SCA sends; and an explicit start of
/// a cancellation authorisation (it starts with a pushed request).
pub const REFUSED_OPERATIONS: [RefusedOperation; 5] = [
    refused(
        "updateSigningBasketPsuData",
        "PUT",
        "/v1/signing-baskets/{basketId}/authorisations/{authorisationId}",
    ),
    refused(
        "updateConsentsPsuData",
        "PUT",
        "/v1/consents/{consentId}/authorisations/{authorisationId}",
    ),
    refused(
        "updatePaymentPsuData",
        "PUT",
        "/v1/{payment-service}/{payment-product}/{paymentId}/authorisations/{authorisationId}",
    ),
    refused(
        "updatePaymentCancellationPsuData",
        "PUT",
        "/v1/{payment-service}/{payment-product}/{paymentId}/cancellation-authorisations/{authorisationId}",
    ),
    refused(
        "startPaymentInitiationCancellationAuthorisation",
        "POST",
        "/v1/{payment-service}/{payment-product}/{paymentId}/cancellation-authorisations",
    ),
];

/// What a signing basket takes and how it is authorised.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SigningBasketProfile {
    /// Payments and consents together; more is 400 `FORMAT_ERROR`.
    max_entries: usize,
    /// The Redirect approach only (`TPP-Redirect-Preferred: true`).
    sca_approaches: [&'static str; 1],
    /// `TPP-Explicit-Authorisation-Preferred: true` links `startAuthorisation`.
    explicit_start: bool,
    decoupled: &'static str,
    /// `TPP-Notification-URI` is not honoured on a basket.
    notifications: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AspspProfile {
    specification: &'static str,
    sca: ScaProfile,
    ais: AisProfile,
    pis: PisProfile,
    piis: PiisProfile,
    /// Signing baskets (`/v1/signing-baskets`): payments and consents under one SCA.
    signing_baskets: bool,
    signing_basket: SigningBasketProfile,
    /// A payment drawn on an account with joint holders, or a consent
    /// covering one, needs each joint holder's own authorisation (one
    /// sub-resource each, started by the TPP after the first): `PATC`, or
    /// `partiallyAuthorised`, until the last one.
    multilevel_sca: bool,
    /// What multilevel SCA applies to.
    multilevel_sca_covers: [&'static str; 2],
    /// Resource status notifications (`TPP-Notification-URI`).
    notifications: NotificationsProfile,
    /// What `Accept` may ask for; anything else is 406 `REQUESTED_FORMATS_INVALID`
    /// (an account's transaction report also answers `ais.transactionReportMediaTypes`).
    answer_media_types: [&'static str; 1],
    /// RFC 8414 metadata of the authorization server (PAR, token, DPoP, mTLS).
    authorization_server_metadata: &'static str,
    /// The specification's operations this ASPSP does not offer.
    refused_operations: [RefusedOperation; 5],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationsProfile {
    /// `ASPSP-Notification-Support: true` and `ASPSP-Notification-Content`
    /// answer an accepted `TPP-Notification-URI`.
    supported: bool,
    /// The initiations that take it (explicit authorisation starts do not).
    on: [&'static str; 2],
    uri_rule: &'static str,
    max_uri_length: usize,
    /// `TPP-Notification-Content-Preferred` constants honoured.
    content: [&'static str; 3],
    /// What is sent without `TPP-Notification-Content-Preferred`.
    default_content: String,
    /// The answer to a preference that is not `status=` with those constants, each once.
    unsupported_content: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaProfile {
    /// `ASPSP-SCA-Approach` values answered: OAuth is subsumed under REDIRECT.
    approaches: [&'static str; 2],
    /// The OAuth approach (the default): a pushed authorization request naming the resource.
    oauth: bool,
    /// The Redirect approach on `TPP-Redirect-Preferred: true` with a
    /// registered `TPP-Redirect-URI` (and `TPP-Nok-Redirect-URI`).
    redirect: bool,
    /// The PSU's credentials never pass through the TPP.
    embedded: bool,
    /// The Decoupled approach on `TPP-Decoupled-Preferred: true` (or
    /// `TPP-Redirect-Preferred: false`) with `PSU-ID`: the PSU approves in
    /// online banking under "Pending approvals"; the TPP polls `scaStatus`.
    decoupled: bool,
    /// `PSU-ID` (the PSU's login) is required for the Decoupled approach.
    decoupled_requires_psu_id: bool,
    /// Minutes the PSU has to answer a Decoupled authorisation; then its
    /// `scaStatus` is `failed`.
    decoupled_expiry_minutes: i64,
    /// `POST …/authorisations`: with the Redirect approach a new `scaRedirect`
    /// link; with OAuth the pushed request is the start.
    explicit_start_with_redirect: bool,
    /// `POST …/authorisations` with the Decoupled approach: a new
    /// authorisation awaiting the PSU.
    explicit_start_with_decoupled: bool,
    #[serde(rename = "explicitStartWithOAuth")]
    explicit_start_with_oauth: bool,
    /// `TPP-Explicit-Authorisation-Preferred: true` with the Redirect or
    /// Decoupled approach: the initiation links `startAuthorisation` instead
    /// of starting one.
    explicit_authorisation_preferred: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AisProfile {
    /// The members of `access` granted; empty account lists make a
    /// bank-offered consent (the PSU picks the accounts at the bank).
    access: [&'static str; 6],
    bank_offered_consent: bool,
    /// `validUntil` further out is granted up to this many days from today.
    max_consent_validity_days: u16,
    max_frequency_per_day: u64,
    /// `recurringIndicator: false` with `frequencyPerDay: 1`.
    one_off_consent: bool,
    combined_service_indicator: bool,
    card_accounts: bool,
    booking_status: Vec<&'static str>,
    card_account_booking_status: Vec<&'static str>,
    delta_list: bool,
    entry_reference_from: bool,
    with_balance: bool,
    default_items_per_page: u32,
    max_items_per_page: u32,
    /// Pages are linked (`first`, `next`, `previous`, `last`), not numbered.
    page_index: bool,
    /// `Accept` of `GET /v1/accounts/{account-id}/transactions`, JSON first:
    /// JSON whenever admitted, else the document weighed higher; a card
    /// account's report is JSON only.
    transaction_report_media_types: [&'static str; 3],
    transaction_documents: DocumentProfile,
}

/// An account's transaction report as one document (`application/xml`, `text/plain`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentProfile {
    /// `application/xml`: booked and pending entries, balances for `withBalance`.
    camt_report: &'static str,
    /// `application/xml` instead, when the report is final: `bookingStatus`
    /// booked without `entryReferenceFrom`, `dateTo` before today, balances
    /// granted; with its opening and closing booked balances.
    camt_statement: &'static str,
    camt_statement_when: &'static str,
    /// `text/plain`: MT940, booked entries between opening and closing
    /// balances, so under a consent that grants the account's balances.
    mt940_booking_status: [&'static str; 1],
    /// Every entry the query selects in one document, at most this many; a
    /// period holding more is 400 `PERIOD_INVALID`.
    max_entries: u32,
    /// Neither paged (`cursor`, `itemsPerPage`) nor a delta list (`deltaList`):
    /// each is 400 `PARAMETER_NOT_SUPPORTED`.
    paged: bool,
    delta_list: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PisProfile {
    services: Vec<&'static str>,
    /// JSON products and their `pain.001-` twins (pain.001.001.03 XML;
    /// periodic ones as `multipart/form-data`).
    products: Vec<String>,
    pain001_version: &'static str,
    /// A payment's status is also answered as this report when `Accept`
    /// asks for `application/xml` rather than JSON.
    status_report: &'static str,
    /// `requestedExecutionDate` in the future, and standing orders.
    future_dated: bool,
    /// `DELETE` of a payment: before authorisation at once, after it with the PSU's confirmation.
    cancellation: bool,
    /// `batchBookingPreferred` on bulk payments.
    batch_booking: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PiisProfile {
    funds_confirmation: bool,
    /// Only under the account holder's funds-confirmation consent.
    consent_required: bool,
}

impl AspspProfile {
    pub fn of(settings: &Xs2aSettings) -> Self {
        Self {
            specification: "Berlin Group NextGenPSD2 XS2A Framework 1.3.12",
            sca: ScaProfile {
                approaches: [REDIRECT, DECOUPLED],
                oauth: true,
                redirect: true,
                embedded: false,
                decoupled: true,
                decoupled_requires_psu_id: true,
                decoupled_expiry_minutes: DECOUPLED_TTL.whole_minutes(),
                explicit_start_with_redirect: true,
                explicit_start_with_decoupled: true,
                explicit_start_with_oauth: false,
                explicit_authorisation_preferred: true,
            },
            ais: AisProfile {
                access: ACCESS_KINDS,
                bank_offered_consent: true,
                max_consent_validity_days: settings.max_consent_days,
                max_frequency_per_day: MAX_FREQUENCY_PER_DAY,
                one_off_consent: true,
                combined_service_indicator: false,
                card_accounts: true,
                booking_status: BookingStatus::ALL.iter().map(|s| s.as_str()).collect(),
                card_account_booking_status: BookingStatus::ALL
                    .iter()
                    .filter(|s| s.for_cards())
                    .map(|s| s.as_str())
                    .collect(),
                delta_list: true,
                entry_reference_from: true,
                with_balance: true,
                default_items_per_page: DEFAULT_PAGE_SIZE,
                max_items_per_page: MAX_PAGE_SIZE,
                page_index: false,
                transaction_report_media_types: REPORT_MEDIA_TYPES,
                transaction_documents: DocumentProfile {
                    camt_report: CAMT_REPORT,
                    camt_statement: CAMT_STATEMENT,
                    camt_statement_when: CAMT_STATEMENT_WHEN,
                    mt940_booking_status: [BookingStatus::Booked.as_str()],
                    max_entries: MAX_DOCUMENT_ENTRIES,
                    paged: false,
                    delta_list: false,
                },
            },
            pis: PisProfile {
                services: PaymentService::ALL.iter().map(|s| s.as_str()).collect(),
                products: [false, true]
                    .into_iter()
                    .flat_map(|pain001| {
                        PaymentProduct::ALL
                            .iter()
                            .map(move |&product| PathProduct { product, pain001 }.to_string())
                    })
                    .collect(),
                pain001_version: "pain.001.001.03",
                status_report: "pain.002.001.03",
                future_dated: true,
                cancellation: true,
                batch_booking: true,
            },
            piis: PiisProfile {
                funds_confirmation: true,
                consent_required: true,
            },
            signing_baskets: true,
            signing_basket: SigningBasketProfile {
                max_entries: MAX_BASKET_ENTRIES,
                sca_approaches: [REDIRECT],
                explicit_start: true,
                decoupled: "not offered for signing baskets: 400 SERVICE_INVALID",
                notifications: false,
            },
            multilevel_sca: true,
            multilevel_sca_covers: ["payments", "consents"],
            notifications: NotificationsProfile {
                supported: true,
                on: [
                    "POST /v1/consents",
                    "POST /v1/{payment-service}/{payment-product}",
                ],
                uri_rule: "https, on the host of one of the application's registered redirect \
                    URIs or a subdomain of it; otherwise 400 FORMAT_ERROR",
                max_uri_length: MAX_NOTIFICATION_URI_LEN,
                content: ["SCA", "PROCESS", "LAST"],
                default_content: NotificationContent::DEFAULT.header_value(),
                unsupported_content: "ASPSP-Notification-Support: false, and no notification",
            },
            answer_media_types: ANSWER_MEDIA_TYPES,
            authorization_server_metadata: "/.well-known/oauth-authorization-server",
            refused_operations: REFUSED_OPERATIONS,
        }
    }
}

/// The answer of `GET /aspsp-profile`, serialised once at start.
pub(crate) fn document(
    settings: &Xs2aSettings,
) -> ([(axum::http::HeaderName, &'static str); 1], Bytes) {
    // A struct of strings, numbers and booleans always serialises.
    let body = serde_json::to_vec(&AspspProfile::of(settings)).unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_names_every_product_in_both_body_formats() {
        let profile =
            serde_json::to_value(AspspProfile::of(&Xs2aSettings::default())).unwrap_or_default();
        let products = profile["pis"]["products"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(products.len(), 2 * PaymentProduct::ALL.len());
        assert!(products.contains(&"pain.001-sepa-credit-transfers".into()));
        assert_eq!(profile["ais"]["maxConsentValidityDays"], 90);
        assert_eq!(
            profile["ais"]["cardAccountBookingStatus"],
            serde_json::json!(["booked", "pending", "both"])
        );
    }
}
