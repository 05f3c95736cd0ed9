//! Who calls (RTS Art. 34): the `X-Request-ID`, the access token's grant
//! (live, application and organisation active), its DPoP or certificate
//! binding, the product within the organisation's roles and the plan's
//! admission, checked before a handler runs. Handlers take [`Ais`], [`Pis`] or
//! [`Piis`]; a refusal is the answer, as `tppMessages`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_domain::usage::MeteredApi;
use fintechapi_metering::{Admission, Metered};
use fintechapi_oauth::AccessGrant;
use fintechapi_oauth::server::DpopFailure;
use uuid::Uuid;

use crate::error::MessageCode;
use crate::{Xs2aError, Xs2aService, Xs2aStore, header_text};

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
        let mut text = Uuid::encode_buffer();
        let request_id = self.request_id.hyphenated().encode_lower(&mut text);
        if let Ok(value) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}

/// The TPP's `X-Request-ID`: required on every XS2A call, a UUID (spec:
/// `format: uuid`). Only the TPP's header counts; the server's own request id
/// for the logs is never written into the headers.
pub(crate) fn tpp_request_id(headers: &HeaderMap) -> Result<Uuid, Xs2aError> {
    let Some(text) = header_text(headers, "x-request-id") else {
        return Err(Xs2aError::format("the X-Request-ID header is missing").at("X-Request-ID"));
    };
    Uuid::try_parse(text)
        .map_err(|_| Xs2aError::format("X-Request-ID must be a UUID").at("X-Request-ID"))
}

/// Method and path of the request, for DPoP's `htm` and `htu`.
struct RequestLine {
    pub method: Method,
    pub path: String,
    /// Thumbprint of the connection's verified client certificate (mutual TLS).
    pub certificate_x5t: Option<String>,
}

impl RequestLine {
    fn of(parts: &Parts) -> Self {
        Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            certificate_x5t: parts
                .extensions
                .get::<ClientCertificate>()
                .map(ClientCertificate::thumbprint),
        }
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
                    Err(DpopFailure::Busy(wait)) => {
                        let mut busy = Xs2aError::new(
                            MessageCode::ServiceUnavailable,
                            "too many signature checks at once; retry shortly",
                        )
                        .into_response();
                        busy.headers_mut().insert(
                            header::RETRY_AFTER,
                            HeaderValue::from(wait.as_secs().max(1)),
                        );
                        Err(busy)
                    }
                }
            }
        }
    }

    /// TPP identification and plan admission for a call to `product`.
    pub(crate) async fn caller(
        &self,
        parts: &Parts,
        product: ApiProduct,
    ) -> Result<Caller, Response> {
        self.caller_of(parts, product, &[]).await
    }

    /// TPP identification and plan admission for a call that `first` or any
    /// of `others` serves (a signing basket: payments, consents): admitted
    /// and metered under the first one the application subscribed to.
    pub(crate) async fn caller_of(
        &self,
        parts: &Parts,
        first: ApiProduct,
        others: &[ApiProduct],
    ) -> Result<Caller, Response> {
        let products: Vec<ApiProduct> = std::iter::once(first)
            .chain(others.iter().copied())
            .collect();
        let headers = &parts.headers;
        let line = &RequestLine::of(parts);
        let request_id = tpp_request_id(headers).map_err(IntoResponse::into_response)?;
        let authorization = header_text(headers, header::AUTHORIZATION.as_str())
            .and_then(|v| v.split_once(' '))
            .map(|(scheme, token)| (scheme.to_ascii_lowercase(), token.trim()));
        let (dpop_scheme, token) = match &authorization {
            Some((scheme, token)) if scheme == "bearer" => (false, *token),
            Some((scheme, token)) if scheme == "dpop" => (true, *token),
            None if !headers.contains_key(header::AUTHORIZATION) => {
                return Err(Xs2aError::no_token(
                    "an access token is required: Authorization: Bearer <token> or DPoP <token>",
                )
                .into_response());
            }
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
        let chosen = products
            .iter()
            .find_map(|&p| grant.plan_for(p).map(|plan| (p, plan)));
        let product = chosen.map_or(first, |(p, _)| p);
        let api = MeteredApi::from(product);
        let mut caller = Caller {
            grant,
            request_id,
            api,
            admission: None,
        };
        let Some((_, plan)) = chosen else {
            let titles: Vec<&str> = products.iter().map(|p| p.title()).collect();
            let refused = Xs2aError::new(
                MessageCode::ServiceBlocked,
                format!(
                    "the application has no approved {} subscription within its organisation's PSD2 roles",
                    titles.join(" or ")
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
                    MessageCode::AccessExceeded,
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

macro_rules! product_caller {
    ($(#[$doc:meta])* $name:ident, $product:expr) => {
        $(#[$doc])*
        pub(crate) struct $name(pub Caller);

        impl<R: Xs2aStore> FromRequestParts<Arc<Xs2aService<R>>> for $name {
            type Rejection = Response;

            async fn from_request_parts(
                parts: &mut Parts,
                service: &Arc<Xs2aService<R>>,
            ) -> Result<Self, Response> {
                service.caller(parts, $product).await.map(Self)
            }
        }
    };
}

product_caller!(
    /// A caller of account information.
    Ais,
    ApiProduct::Ais
);
product_caller!(
    /// A caller of payment initiation.
    Pis,
    ApiProduct::Pis
);
product_caller!(
    /// A caller of funds confirmation.
    Piis,
    ApiProduct::Piis
);

/// A caller of signing baskets: payment initiation or account information,
/// whichever the application holds (a basket may hold consents only).
pub(crate) struct Sbs(pub Caller);

impl<R: Xs2aStore> FromRequestParts<Arc<Xs2aService<R>>> for Sbs {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Xs2aService<R>>,
    ) -> Result<Self, Response> {
        service
            .caller_of(parts, ApiProduct::Pis, &[ApiProduct::Ais])
            .await
            .map(Self)
    }
}
