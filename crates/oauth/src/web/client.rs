//! Who calls an endpoint: the client's credentials as presented (Basic,
//! body, assertion or certificate), its DPoP proof, its authentication
//! (throttled per address and client_id) and admission under its plan; the
//! `ClientCall` extractor that does all of it, its rejection the answer.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::registry::Plan;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_domain::usage::MeteredApi;
use fintechapi_metering::{Admission, Metered};
use fintechapi_registry::AuthenticatedClient;

use super::params::Params;
use super::{OAuthService, OAuthStore};
use crate::error::{ErrorCode, OAuthError};
use crate::policy::ClientAuthMethod;
use crate::server::{PresentedClient, Sender};
use crate::throttle::claimed_client_id;

/// A call by an authenticated client admitted under its plan: its form, its
/// headers and the connection's certificate. Rejected with the answer: a
/// malformed form, failed authentication or the plan's limit.
pub(super) struct ClientCall {
    pub(super) params: Params,
    pub(super) headers: HeaderMap,
    pub(super) certificate: Option<ClientCertificate>,
    pub(super) client: Admitted,
}

impl<R: OAuthStore> FromRequest<Arc<OAuthService<R>>> for ClientCall {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<OAuthService<R>>,
    ) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, service)
            .await
            .map_err(IntoResponse::into_response)?;
        let certificate = parts.extensions.get::<ClientCertificate>().cloned();
        let headers = parts.headers.clone();
        let params = Params::from_request(Request::from_parts(parts, body), service)
            .await
            .map_err(IntoResponse::into_response)?;
        let client =
            admitted_client(service, &headers, peer, &params, certificate.as_ref()).await?;
        Ok(Self {
            params,
            headers,
            certificate,
            client,
        })
    }
}

/// RFC 6749 §2.3.1: `Basic` with form-urlencoded id and secret, or both in the body.
fn presented_client(
    headers: &HeaderMap,
    params: &Params,
    certificate: Option<&ClientCertificate>,
) -> Result<PresentedClient, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .map(|value| {
            let value = value.to_str().ok().and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
            });
            let malformed = || OAuthError {
                basic_challenge: true,
                ..OAuthError::new(
                    ErrorCode::InvalidClient,
                    "malformed Basic authorization header",
                )
            };
            let decoded = value
                .and_then(|v| STANDARD.decode(v).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(malformed)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
            Ok::<_, OAuthError>((form_decode(id), form_decode(secret)))
        })
        .transpose()?;
    let in_body = params.get("client_secret");
    let assertion = match (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) {
        (Some(JWT_BEARER), Some(a)) => Some(a),
        (None, None) => None,
        (Some(JWT_BEARER), None) => {
            return Err(OAuthError::invalid_request("client_assertion is missing"));
        }
        _ => {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
    };
    let ways = usize::from(basic.is_some())
        + usize::from(in_body.is_some())
        + usize::from(assertion.is_some());
    if ways > 1 {
        return Err(OAuthError::invalid_request(
            "the client authenticated in more than one way; use exactly one method",
        ));
    }
    if let Some(assertion) = assertion {
        return Ok(PresentedClient::Assertion {
            client_id: params.get("client_id").map(str::to_owned),
            assertion: assertion.to_owned(),
        });
    }
    match (basic, in_body) {
        (Some((client_id, secret)), _) => {
            if params.get("client_id").is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic header",
                ));
            }
            Ok(PresentedClient::Secret {
                client_id,
                secret,
                method: ClientAuthMethod::ClientSecretBasic,
            })
        }
        (None, Some(secret)) => Ok(PresentedClient::Secret {
            client_id: params.require("client_id")?.to_owned(),
            secret: secret.to_owned(),
            method: ClientAuthMethod::ClientSecretPost,
        }),
        (None, None) => match (params.get("client_id"), certificate) {
            // RFC 8705 §2.1: the client_id and the certificate of this connection.
            (Some(client_id), Some(certificate)) => Ok(PresentedClient::Certificate {
                client_id: client_id.to_owned(),
                certificate: certificate.clone(),
            }),
            _ => Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication is required (client_secret_basic, client_secret_post, \
                 private_key_jwt or tls_client_auth)",
            )),
        },
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The DPoP proof of a request to `path`, if one was sent; its key's thumbprint.
pub(super) async fn dpop_key<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Option<String>, OAuthError> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "send exactly one DPoP header",
        ));
    }
    let proof = proof
        .to_str()
        .map_err(|_| OAuthError::new(ErrorCode::InvalidDpopProof, "the DPoP header is not text"))?;
    Ok(Some(
        service.server.check_dpop(proof, "POST", path, None).await?,
    ))
}

/// How the client proves possession at the token endpoint: a DPoP proof,
/// and the mutual-TLS certificate of the connection.
pub(super) async fn sender<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
) -> Result<Sender, OAuthError> {
    Ok(Sender {
        dpop_jkt: dpop_key(service, headers, "/oauth2/token").await?,
        certificate_x5t: certificate.map(ClientCertificate::thumbprint),
    })
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(text.replace('&', "%26").replace('=', "%3D").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// A client admitted under its plan: what the handlers act for, and the
/// plan's state that every answer reports.
pub(super) struct Admitted {
    client: AuthenticatedClient,
    admission: Admission,
}

impl std::ops::Deref for Admitted {
    type Target = AuthenticatedClient;
    fn deref(&self) -> &AuthenticatedClient {
        &self.client
    }
}

/// Parses the form, authenticates the caller and admits it under its plan;
/// every answer from here on is attributed to its application. An address or
/// client_id held after failed authentications is refused before the check.
async fn admitted_client<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    peer: SocketAddr,
    params: &Params,
    certificate: Option<&ClientCertificate>,
) -> Result<Admitted, Response> {
    let presented =
        presented_client(headers, params, certificate).map_err(IntoResponse::into_response)?;
    let claimed = claimed_client_id(&presented);
    let throttle = &service.client_auth;
    throttle
        .check(peer.ip(), claimed.as_deref())
        .map_err(IntoResponse::into_response)?;
    let client = match service.server.authenticate_client(&presented).await {
        Ok(client) => client,
        Err(e) if e.code == ErrorCode::InvalidClient => {
            let held = throttle.failed(peer.ip(), claimed.as_deref()).await.err();
            return Err(held.unwrap_or(e).into_response());
        }
        Err(e) => return Err(e.into_response()),
    };
    let admission = admission(
        service,
        client.application.id,
        client.application.assigned_plan.as_deref(),
        client.best_plan(),
    )
    .await?;
    Ok(Admitted { client, admission })
}

/// The application admitted under its plan in force (the operator's, else
/// its best tier); refused, the answer: 429 `slow_down` with the plan's headers.
pub(super) async fn admission<R: OAuthStore>(
    service: &OAuthService<R>,
    application_id: ApplicationId,
    assigned_plan: Option<&str>,
    best_plan: Plan,
) -> Result<Admission, Response> {
    let metered = |throttled| Metered {
        application_id,
        api: MeteredApi::Oauth,
        throttled,
    };
    let plan = service.meter.plans().in_force(assigned_plan, best_plan);
    match service
        .meter
        .admit(application_id, MeteredApi::Oauth, plan)
        .await
    {
        Ok(admission) if admission.admitted() => Ok(admission),
        Ok(admission) => {
            let error = OAuthError {
                retry_after: Some(admission.retry_after()),
                ..OAuthError::new(
                    ErrorCode::SlowDown,
                    format!(
                        "over the {} plan's limit of {}",
                        admission.plan.name, admission.plan
                    ),
                )
            };
            let mut response = error.into_response();
            admission.write_headers(response.headers_mut());
            Err(tagged(response, metered(true)))
        }
        Err(e) => Err(tagged(OAuthError::from(e).into_response(), metered(false))),
    }
}

pub(super) fn tagged(mut response: Response, metered: Metered) -> Response {
    response.extensions_mut().insert(metered);
    response
}

pub(super) fn metered_ok(admitted: &Admitted, result: Result<Response, OAuthError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    admitted.admission.write_headers(response.headers_mut());
    tagged(
        response,
        Metered {
            application_id: admitted.client.application.id,
            api: MeteredApi::Oauth,
            throttled: false,
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%2Bb+c"), "a+b c");
        assert_eq!(form_decode("x&y=z"), "x&y=z");
    }
}
