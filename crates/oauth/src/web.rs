//! The OAuth endpoints over HTTP: form bodies in, RFC 6749 JSON out, every
//! call by an authenticated client metered and throttled by its plan; failed
//! client authentications throttled per address and client_id.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_domain::usage::{MeteredApi, UsageRepository};
use fintechapi_metering::{Admission, Meter, Metered, record_usage};
use fintechapi_registry::AuthenticatedClient;

use crate::error::{ErrorCode, OAuthError};
use crate::policy::ClientAuthMethod;
use crate::server::{AsRepo, AuthorizationServer, PresentedClient, PushedRequest, Sender};
use crate::throttle::{ClientAuthThrottle, claimed_client_id};

/// The storage the authorization server runs on.
pub trait OAuthStore: AsRepo + UsageRepository + 'static {}
impl<T> OAuthStore for T where T: AsRepo + UsageRepository + 'static {}

pub struct OAuthService<R> {
    pub server: AuthorizationServer<R>,
    pub meter: Arc<Meter<R>>,
    /// Failed client authentications per address and client_id.
    pub client_auth: ClientAuthThrottle,
}

pub fn router<R: OAuthStore>(service: Arc<OAuthService<R>>) -> Router {
    let meter = service.meter.clone();
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::<R>),
        )
        .route("/oauth2/jwks", get(jwks::<R>))
        .route("/oauth2/par", post(par::<R>))
        .route("/oauth2/token", post(token::<R>))
        .route("/oauth2/introspect", post(introspect::<R>))
        .route("/oauth2/revoke", post(revoke::<R>))
        .with_state(service.clone())
        .layer(middleware::from_fn_with_state(meter, record_usage::<R>))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

async fn metadata<R: OAuthStore>(State(service): State<Arc<OAuthService<R>>>) -> Response {
    let mut response = Json(service.server.metadata()).into_response();
    // Public and stable: clients may cache it briefly.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn jwks<R: OAuthStore>(State(service): State<Arc<OAuthService<R>>>) -> Response {
    match service.server.jwks().await {
        Ok(keys) => {
            let mut response = Json(keys).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// OAuth requests carry about a dozen parameters; a few dozen is plenty.
const MAX_PARAMS: usize = 40;
/// A client assertion, a DPoP-bound PAR and its `authorization_details` fit
/// well within this; anything larger is refused before it is parsed.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A form body as name/value pairs; RFC 6749 §3.2 forbids repeated parameters.
/// Read before the client is authenticated, so it costs linear time at most:
/// the body is capped, and so is the number of parameters.
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let too_large =
            || OAuthError::too_large(format!("the body is larger than {MAX_FORM_BYTES} bytes"));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_FORM_BYTES) {
            // Read to the end, unparsed (the server's body limit and read timeout
            // bound it): a client still sending would miss an earlier answer.
            let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
            return Err(too_large());
        }
        // The router caps the body at MAX_FORM_BYTES (DefaultBodyLimit), answering 413.
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                OAuthError::invalid_request(format!(
                    "the body could not be read: {}",
                    e.body_text()
                ))
            }
        })?;
        Self::parse(&body)
    }
}

impl Params {
    fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if pairs.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!(
                    "more than {MAX_PARAMS} parameters"
                )));
            }
            // At most MAX_PARAMS earlier names: bounded work per parameter.
            if pairs.iter().any(|(earlier, _)| *earlier == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name:?} is repeated"
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name:?} is missing")))
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
async fn dpop_key<R: OAuthStore>(
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
async fn sender<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
) -> Result<Sender, OAuthError> {
    Ok(Sender {
        dpop_jkt: dpop_key(service, headers, "/oauth2/token").await?,
        certificate_x5t: certificate.map(ClientCertificate::thumbprint),
    })
}

/// Every answer of the token and PAR endpoints carries a fresh DPoP nonce.
fn with_nonce<R: OAuthStore>(service: &OAuthService<R>, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&service.server.dpop_nonce()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(text.replace('&', "%26").replace('=', "%3D").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// A client admitted under its plan: what the handlers act for, and the
/// plan's state that every answer reports.
struct Admitted {
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
    params: Params,
    certificate: Option<&ClientCertificate>,
) -> Result<(Params, Admitted), Response> {
    let presented =
        presented_client(headers, &params, certificate).map_err(IntoResponse::into_response)?;
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
    let metered = |throttled| Metered {
        application_id: client.application.id,
        api: MeteredApi::Oauth,
        throttled,
    };
    let plan = service.meter.plans().in_force(
        client.application.assigned_plan.as_deref(),
        client.best_plan(),
    );
    match service
        .meter
        .admit(client.application.id, MeteredApi::Oauth, plan)
        .await
    {
        Ok(admission) if admission.admitted() => Ok((params, Admitted { client, admission })),
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

fn tagged(mut response: Response, metered: Metered) -> Response {
    response.extensions_mut().insert(metered);
    response
}

fn metered_ok(admitted: &Admitted, result: Result<Response, OAuthError>) -> Response {
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

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    params: Params,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    let (params, client) =
        match admitted_client(&service, &headers, peer, params, certificate.as_ref()).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
    let result = async {
        match params.require("grant_type")? {
            "client_credentials" => {
                let sender = sender(&service, &headers, certificate.as_ref()).await?;
                let issued = service
                    .server
                    .client_credentials(&client, params.get("scope"), &sender)
                    .await?;
                Ok(no_store(Json(issued).into_response()))
            }
            "authorization_code" => {
                let sender = sender(&service, &headers, certificate.as_ref()).await?;
                let issued = service
                    .server
                    .exchange_code(
                        &client,
                        params.require("code")?,
                        params.get("redirect_uri"),
                        params.get("code_verifier"),
                        &sender,
                    )
                    .await?;
                Ok(no_store(Json(issued).into_response()))
            }
            "refresh_token" => {
                let sender = sender(&service, &headers, certificate.as_ref()).await?;
                let issued = service
                    .server
                    .refresh(&client, params.require("refresh_token")?, &sender)
                    .await?;
                Ok(no_store(Json(issued).into_response()))
            }
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {other:?} is not supported; this server offers \
                     authorization_code, refresh_token and client_credentials"
                ),
            )),
        }
    }
    .await;
    with_nonce(&service, metered_ok(&client, result))
}

/// RFC 9126: the client pushes its authorization request and gets a `request_uri`.
async fn par<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    params: Params,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    let (params, client) =
        match admitted_client(&service, &headers, peer, params, certificate.as_ref()).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
    let result = async {
        if params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request(
                "request_uri must not be sent to the PAR endpoint",
            ));
        }
        // RFC 9101 §6.3: a request object this server does not process is
        // refused, never silently dropped with the parameters it may carry.
        if params.get("request").is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported; send the parameters in the form",
            ));
        }
        let request = PushedRequest {
            response_type: params.require("response_type")?.to_owned(),
            redirect_uri: params.require("redirect_uri")?.to_owned(),
            scope: params.get("scope").map(str::to_owned),
            authorization_details: params.get("authorization_details").map(str::to_owned),
            state: params.get("state").map(str::to_owned),
            code_challenge: params.get("code_challenge").map(str::to_owned),
            code_challenge_method: params.get("code_challenge_method").map(str::to_owned),
            dpop_jkt: params.get("dpop_jkt").map(str::to_owned),
        };
        let dpop = dpop_key(&service, &headers, "/oauth2/par").await?;
        let (request_uri, expires_in) = service.server.push(&client, request, dpop).await?;
        let body = serde_json::json!({"request_uri": request_uri, "expires_in": expires_in});
        Ok(no_store(
            (axum::http::StatusCode::CREATED, Json(body)).into_response(),
        ))
    }
    .await;
    with_nonce(&service, metered_ok(&client, result))
}

async fn introspect<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    params: Params,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    let (params, client) =
        match admitted_client(&service, &headers, peer, params, certificate.as_ref()).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
    let result = async {
        let token = params.require("token")?;
        let answer = service.server.introspect(&client, token).await?;
        let wants_jwt = headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("application/token-introspection+jwt"));
        if wants_jwt {
            // RFC 9701: signed, for resource servers that must prove what they were told.
            let jwt = service
                .server
                .signed_introspection(&client, &answer)
                .await?;
            return Ok(no_store(
                (
                    [(header::CONTENT_TYPE, "application/token-introspection+jwt")],
                    jwt,
                )
                    .into_response(),
            ));
        }
        Ok(no_store(Json(answer).into_response()))
    }
    .await;
    metered_ok(&client, result)
}

async fn revoke<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    params: Params,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    let (params, client) =
        match admitted_client(&service, &headers, peer, params, certificate.as_ref()).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
    let result = async {
        let token = params.require("token")?;
        match params.get("token_type_hint") {
            None | Some("access_token" | "refresh_token") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedTokenType,
                    format!("token_type_hint {other:?} is not a token type of this server"),
                ));
            }
        }
        service.server.revoke(&client, token).await?;
        Ok(no_store(axum::http::StatusCode::OK.into_response()))
    }
    .await;
    metered_ok(&client, result)
}

/// The parameters of a form request as the endpoints read them: the entry
/// of the fuzz target for form bodies, built only by `cargo fuzz`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub async fn form_params(
    request: axum::extract::Request,
) -> Result<Vec<(String, String)>, OAuthError> {
    Params::from_request(request, &())
        .await
        .map(|params| params.0)
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

    #[test]
    fn a_form_is_read_once_and_repeats_are_refused() {
        let params = Params::parse(b"grant_type=client_credentials&scope=a+b").unwrap();
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
        assert_eq!(params.get("scope"), Some("a b"));
        let e = Params::parse(b"scope=a&grant_type=x&scope=b")
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("\"scope\" is repeated"), "{e}");
    }

    #[test]
    fn a_form_with_too_many_parameters_is_refused_without_reading_it_all() {
        let fine: String = (0..MAX_PARAMS).map(|i| format!("p{i}=v&")).collect();
        assert!(Params::parse(fine.as_bytes()).is_ok());
        let huge: String = (0..125_000).map(|i| format!("p{i}=&")).collect();
        let started = std::time::Instant::now();
        let e = Params::parse(huge.as_bytes()).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("more than 40 parameters"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
    }
}
