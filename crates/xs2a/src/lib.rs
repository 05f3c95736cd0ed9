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
//! - [`error`]: `tppMessages` bodies.
//! - `approach`: which SCA approach an initiation gets, its links; reads after a Redirect authorisation.
//! - `consents`: `POST|GET|DELETE /v1/consents…`.
//! - `accounts`: `GET /v1/accounts…` (list, details, balances) and the consent checks of every read.
//! - `transactions`: `GET /v1/accounts/{id}/transactions…`: keyset pages with sealed cursors, `deltaList`.
//! - `card_accounts`: `GET /v1/card-accounts…` (named by masked PAN); their
//!   transaction reports page like accounts' (`transactions`).
//! - `payments`: `POST|GET|DELETE /v1/payments/{product}…` (single payments).
//! - [`pain001`]: the pain.001.001.03 XML body of the `pain.001-…` products.
//! - `authorisations`: the authorisation sub-resources (each PAR is one; implicit start only).
//! - `funds`: `POST /v1/funds-confirmations`; signing baskets answer `SERVICE_INVALID`.

mod accounts;
mod approach;
mod authorisations;
mod card_accounts;
mod consents;
pub mod error;
mod funds;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
pub mod pain001;
mod payments;
mod transactions;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use fintechapi_domain::consent::DeltaReportRepository;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_domain::usage::MeteredApi;
use fintechapi_ledger::Ledger;
use fintechapi_metering::{Admission, Metered, record_usage};
use fintechapi_oauth::server::DpopFailure;
use fintechapi_oauth::{AccessGrant, OAuthService};
use uuid::Uuid;

pub use error::Xs2aError;

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

/// The storage XS2A runs on: what the authorization server needs, the ledger's,
/// and the marks of delta reports.
pub trait Xs2aStore: fintechapi_oauth::web::OAuthStore + DeltaReportRepository {}
impl<T: fintechapi_oauth::web::OAuthStore + DeltaReportRepository> Xs2aStore for T {}

pub fn router<R: Xs2aStore>(service: Arc<Xs2aService<R>>) -> Router {
    let meter = service.oauth.meter.clone();
    Router::new()
        .route("/v1/consents", axum::routing::post(consents::create::<R>))
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
            axum::routing::any(funds::signing_baskets),
        )
        .route(
            "/v1/signing-baskets/{*rest}",
            axum::routing::any(funds::signing_baskets),
        )
        .route("/v1/accounts", get(accounts::list::<R>))
        .route("/v1/accounts/{account_id}", get(accounts::details::<R>))
        .route(
            "/v1/accounts/{account_id}/balances",
            get(accounts::balances::<R>),
        )
        .route(
            "/v1/accounts/{account_id}/transactions",
            get(transactions::list::<R>),
        )
        .route(
            "/v1/accounts/{account_id}/transactions/{transaction_id}",
            get(transactions::details::<R>),
        )
        .route("/v1/card-accounts", get(card_accounts::list::<R>))
        .route(
            "/v1/card-accounts/{account_id}",
            get(card_accounts::details::<R>),
        )
        .route(
            "/v1/card-accounts/{account_id}/balances",
            get(card_accounts::balances::<R>),
        )
        .route(
            "/v1/card-accounts/{account_id}/transactions",
            get(card_accounts::transactions::<R>),
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
        .layer(middleware::from_fn_with_state(meter, record_usage::<R>))
}

/// An identified, admitted caller of one product.
pub(crate) struct Caller {
    pub grant: AccessGrant,
    pub request_id: Uuid,
    api: MeteredApi,
    /// The plan's state once admitted, reported on every answer.
    admission: Option<Admission>,
}

impl Caller {
    /// Attributes the answer to the caller's application and echoes the request id.
    pub fn answer(&self, result: Result<Response, Xs2aError>) -> Response {
        let mut response = result.unwrap_or_else(IntoResponse::into_response);
        response.extensions_mut().insert(Metered {
            application_id: self.grant.application_id,
            api: self.api,
            throttled: false,
        });
        self.echo(response)
    }

    fn echo(&self, mut response: Response) -> Response {
        if let Some(admission) = &self.admission {
            admission.write_headers(response.headers_mut());
        }
        if let Ok(value) = HeaderValue::from_str(&self.request_id.to_string()) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}

/// Method and path of the request, for DPoP's `htm` and `htu`.
pub(crate) struct RequestLine {
    pub method: Method,
    pub path: String,
    /// Thumbprint of the connection's verified client certificate (mutual TLS).
    pub certificate_x5t: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestLine {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            certificate_x5t: parts
                .extensions
                .get::<ClientCertificate>()
                .map(ClientCertificate::thumbprint),
        })
    }
}

/// A 401 with an RFC 9449 `DPoP` challenge (and a fresh nonce when asked to use one).
fn dpop_refusal(error: &str, text: &str, nonce: Option<String>) -> Response {
    let mut response = Xs2aError::token_invalid(text).into_response();
    let challenge = format!(
        "DPoP error=\"{error}\", error_description=\"{}\", algs=\"ES256 PS256 EdDSA\"",
        text.replace('"', "'")
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(nonce) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        headers.insert("dpop-nonce", nonce);
    }
    response
}

pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl<R: Xs2aStore> Xs2aService<R> {
    /// RFC 9449 §7: a DPoP-bound token only with the DPoP scheme and a fresh
    /// proof by its key over this request and this token; a bearer token only
    /// with the Bearer scheme.
    async fn check_binding(
        &self,
        headers: &HeaderMap,
        line: &RequestLine,
        token: &str,
        dpop_scheme: bool,
        grant: &AccessGrant,
    ) -> Result<(), Response> {
        let server = &self.oauth.server;
        // RFC 8705 §3: a certificate-bound token only over a connection with that certificate.
        if let Some(bound) = &grant.mtls_x5t
            && line.certificate_x5t.as_ref() != Some(bound)
        {
            return Err(Xs2aError::token_invalid(
                "this access token is bound to a client certificate that this connection did not present",
            )
            .into_response());
        }
        match (&grant.dpop_jkt, dpop_scheme) {
            (None, false) => Ok(()),
            (None, true) => Err(dpop_refusal(
                "invalid_token",
                "this access token is not DPoP-bound; send it with the Bearer scheme",
                None,
            )),
            (Some(_), false) => Err(dpop_refusal(
                "invalid_token",
                "this access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof",
                None,
            )),
            (Some(bound), true) => {
                let mut proofs = headers.get_all("dpop").iter();
                let proof = match (proofs.next(), proofs.next()) {
                    (Some(p), None) => p.to_str().unwrap_or_default(),
                    _ => {
                        return Err(dpop_refusal(
                            "invalid_dpop_proof",
                            "send exactly one DPoP proof header",
                            None,
                        ));
                    }
                };
                match server
                    .check_dpop(proof, line.method.as_str(), &line.path, Some(token))
                    .await
                {
                    Ok(jkt) if &jkt == bound => Ok(()),
                    Ok(_) => Err(dpop_refusal(
                        "invalid_dpop_proof",
                        "the DPoP proof is signed by another key than the token is bound to",
                        None,
                    )),
                    Err(DpopFailure::UseNonce) => Err(dpop_refusal(
                        "use_dpop_nonce",
                        "send a DPoP proof with the nonce from the DPoP-Nonce header",
                        Some(server.dpop_nonce()),
                    )),
                    Err(DpopFailure::Invalid(text)) => {
                        Err(dpop_refusal("invalid_dpop_proof", &text, None))
                    }
                }
            }
        }
    }

    /// TPP identification and plan admission for a call to `product`.
    pub(crate) async fn caller(
        &self,
        headers: &HeaderMap,
        line: &RequestLine,
        product: ApiProduct,
    ) -> Result<Caller, Response> {
        let request_id = match header_text(headers, "x-request-id") {
            None => {
                return Err(Xs2aError::format("the X-Request-ID header is missing")
                    .at("X-Request-ID")
                    .into_response());
            }
            Some(text) => Uuid::try_parse(text).map_err(|_| {
                Xs2aError::format("X-Request-ID must be a UUID")
                    .at("X-Request-ID")
                    .into_response()
            })?,
        };
        let authorization = header_text(headers, header::AUTHORIZATION.as_str())
            .and_then(|v| v.split_once(' '))
            .map(|(scheme, token)| (scheme.to_ascii_lowercase(), token.trim()));
        let (dpop_scheme, token) = match &authorization {
            Some((scheme, token)) if scheme == "bearer" => (false, *token),
            Some((scheme, token)) if scheme == "dpop" => (true, *token),
            _ => {
                return Err(Xs2aError::token_invalid(
                    "an access token is required: Authorization: Bearer <token> or DPoP <token>",
                )
                .into_response());
            }
        };
        let grant = match self.oauth.server.access_grant(token).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return Err(Xs2aError::token_invalid(
                    "the access token is invalid, expired or revoked, or its application is suspended",
                )
                .into_response());
            }
            Err(e) => return Err(Xs2aError::from(e).into_response()),
        };
        self.check_binding(headers, line, token, dpop_scheme, &grant)
            .await?;
        let api = MeteredApi::from(product);
        let mut caller = Caller {
            grant,
            request_id,
            api,
            admission: None,
        };
        let Some(plan) = caller.grant.plan_for(product) else {
            let refused = Xs2aError::new(
                StatusCode::FORBIDDEN,
                "SERVICE_BLOCKED",
                format!(
                    "the application has no approved {} subscription within its organisation's PSD2 roles",
                    product.title()
                ),
            );
            return Err(caller.answer(Err(refused)));
        };
        let plan = self
            .oauth
            .meter
            .plans()
            .in_force(caller.grant.assigned_plan.as_deref(), plan);
        match self
            .oauth
            .meter
            .admit(caller.grant.application_id, api, plan)
            .await
        {
            Ok(admission) if admission.admitted() => {
                caller.admission = Some(admission);
                Ok(caller)
            }
            Ok(admission) => {
                let mut response = Xs2aError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ACCESS_EXCEEDED",
                    format!(
                        "over the {} plan's limit of {}",
                        admission.plan.name, admission.plan
                    ),
                )
                .into_response();
                admission.write_headers(response.headers_mut());
                response.extensions_mut().insert(Metered {
                    application_id: caller.grant.application_id,
                    api,
                    throttled: true,
                });
                Err(caller.echo(response))
            }
            Err(e) => Err(caller.answer(Err(e.into()))),
        }
    }
}
