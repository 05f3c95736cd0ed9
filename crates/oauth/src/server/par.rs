//! Pushed authorization requests (RFC 9126): the request checked (registered
//! redirect URI, PKCE S256, one resource by `scope` or RFC 9396
//! `authorization_details`, which may create a funds-confirmation consent,
//! with or without OpenID Connect's `openid`, or `openid` alone; the response
//! mode) and stored under a short-lived `request_uri`.

use fintechapi_domain::consent::{Consent, ConsentAccess, ConsentCreation, ConsentStatus};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{ApplicationId, AuthorizationId, BasketId, ConsentId};
use fintechapi_domain::oauth::{
    Authorization, AuthorizationFlow, AuthorizationStage, OPENID, OpenIdRequest, ResponseMode,
};
use fintechapi_domain::payment::PaymentStatus;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::secret::KeyedHash;
use fintechapi_registry::AuthenticatedClient;
use time::{Date, Duration, OffsetDateTime};

use super::base::{AsRepo, AuthorizationServer, client_id_of, fresh_random};
use super::scope::ScopedResource;
use crate::error::{ErrorCode, OAuthError};
use crate::rar::Requested;

/// FAPI 2.0 clients may send a `state` of more than 1,000 characters; the
/// bound keeps a stored authorization small.
pub const MAX_STATE_LEN: usize = 4096;
/// A nonce is a random value the client keeps; this bounds what is stored.
const MAX_NONCE_LEN: usize = 512;

const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// RFC 9126 §2.2: short-lived, single use.
const REQUEST_URI_TTL: Duration = Duration::seconds(60);

/// A new authorization of `scope` for the application's client, pushed and
/// waiting for the browser: an OAuth request (PAR) or a Redirect-approach
/// link, opened by what `request_uri_hash` hashes until `request_expires_at`.
pub(crate) fn pushed(
    application_id: ApplicationId,
    client_id: String,
    flow: AuthorizationFlow,
    scope: ScopedResource,
    request_uri_hash: KeyedHash,
    request_expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Authorization {
    Authorization {
        id: AuthorizationId::random(),
        application_id,
        client_id,
        flow,
        scope,
        request_uri_hash,
        request_expires_at,
        session_hash: None,
        stage: AuthorizationStage::Pushed,
        psu_id: None,
        authenticated_at: None,
        code_hash: None,
        code_expires_at: None,
        created_at: now,
        last_activity_at: now,
    }
}

/// A validated pushed authorization request.
#[derive(Debug, Clone)]
pub struct PushedRequest {
    pub response_type: String,
    pub redirect_uri: String,
    pub scope: Option<String>,
    /// RFC 9396: a JSON array naming the resource instead of `scope`.
    pub authorization_details: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// RFC 9449 §10: the key the code will be redeemed with (`dpop_jkt`, or a proof at PAR).
    pub dpop_jkt: Option<String>,
    /// OpenID Connect: echoed in the ID token.
    pub nonce: Option<String>,
    /// `query` (the default) or `jwt` (JARM).
    pub response_mode: Option<String>,
}

/// `openid` taken out of a scope: whether it was there, and the other values.
fn without_openid(scope: Option<&str>) -> (bool, Option<String>) {
    let values: Vec<&str> = scope
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
        .collect();
    let rest: Vec<&str> = values.iter().copied().filter(|v| *v != OPENID).collect();
    (
        rest.len() < values.len(),
        (!rest.is_empty()).then(|| rest.join(" ")),
    )
}

/// JARM §2.3: `jwt` is `query.jwt` for the code response type.
fn response_mode(mode: Option<&str>) -> Result<ResponseMode, OAuthError> {
    match mode {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("jwt" | "query.jwt") => Ok(ResponseMode::Jwt),
        Some(other) => Err(OAuthError::invalid_request(format!(
            "response_mode {other:?} is not supported; use query or jwt"
        ))),
    }
}

/// The stored details name the consent a funds-confirmation request made,
/// so the TPP learns its id from the token response (for `Consent-ID`).
fn with_consent_id(mut details: serde_json::Value, resource: ScopedResource) -> String {
    if let ScopedResource::FundsConsent(id) = resource
        && let Some(detail) = details.get_mut(0).and_then(|d| d.as_object_mut())
    {
        detail.insert("consentId".into(), id.to_string().into());
    }
    details.to_string()
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// RFC 9126: validates and stores an authorization request; returns the
    /// `request_uri` and its lifetime in seconds.
    pub async fn push(
        &self,
        client: &AuthenticatedClient,
        request: PushedRequest,
        dpop: Option<String>,
    ) -> Result<(String, i64), OAuthError> {
        let dpop_jkt = match (request.dpop_jkt.clone(), dpop) {
            (Some(param), Some(proof)) if param != proof => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt differs from the key of the DPoP proof",
                ));
            }
            (param, proof) => param.or(proof),
        };
        if request.response_type != "code" {
            return Err(OAuthError::invalid_request(
                "response_type must be code (the only response type offered)",
            ));
        }
        let redirect_uri = client
            .application
            .redirect_uris
            .iter()
            .find(|u| u.as_str() == request.redirect_uri)
            .cloned()
            .ok_or_else(|| {
                OAuthError::invalid_request(
                    "redirect_uri is not registered for this client (exact match required)",
                )
            })?;
        let challenge = s256_challenge(
            request.code_challenge,
            request.code_challenge_method.as_deref(),
        )?;
        if request
            .state
            .as_ref()
            .is_some_and(|s| s.len() > MAX_STATE_LEN)
        {
            return Err(OAuthError::invalid_request(format!(
                "state is longer than {MAX_STATE_LEN} characters"
            )));
        }
        if request
            .nonce
            .as_ref()
            .is_some_and(|n| n.len() > MAX_NONCE_LEN)
        {
            return Err(OAuthError::invalid_request(format!(
                "nonce is longer than {MAX_NONCE_LEN} characters"
            )));
        }
        let response_mode = response_mode(request.response_mode.as_deref())?;
        let (openid, scope) = without_openid(request.scope.as_deref());
        let (resource, details) = match (openid, &scope, &request.authorization_details) {
            // OpenID Connect alone: the PSU signs in and shares who they are.
            (true, None, None) => (ScopedResource::Identity, None),
            _ => {
                self.requested(
                    client,
                    scope.as_deref(),
                    request.authorization_details.as_deref(),
                )
                .await?
            }
        };
        let resource = self.pushable(client, resource).await?;
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", fresh_random()?);
        let now = self.clock.now();
        let flow = AuthorizationFlow::OAuth {
            redirect_uri,
            state: request.state,
            code_challenge: challenge,
            dpop_jkt,
            authorization_details: details,
            openid: openid.then_some(OpenIdRequest {
                nonce: request.nonce,
            }),
            response_mode,
        };
        self.tokens
            .insert_authorization(pushed(
                client.application.id,
                client_id_of(client),
                flow,
                resource,
                self.pepper.hash(&request_uri),
                now + REQUEST_URI_TTL,
                now,
            ))
            .await?;
        Ok((request_uri, REQUEST_URI_TTL.whole_seconds()))
    }

    /// The one resource the request names, by `scope` or by
    /// `authorization_details` (which may create a funds-confirmation
    /// consent); the details are kept as stored with the authorization.
    async fn requested(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
        details: Option<&str>,
    ) -> Result<(ScopedResource, Option<String>), OAuthError> {
        Ok(match (scope, details) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "send either scope or authorization_details, not both",
                ));
            }
            (None, None) => {
                return Err(OAuthError::invalid_request(
                    "name the resource to authorize with scope or authorization_details",
                ));
            }
            (Some(scope), None) => {
                let resource = ScopedResource::parse(scope).ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidScope,
                        "scope must name one resource to authorize: AIS:<consentId>, \
                         PIS:<paymentId> or PIIS:<consentId>",
                    )
                })?;
                (resource, None)
            }
            (None, Some(text)) => {
                let (requested, details) = crate::rar::parse(text)?;
                let resource = match requested {
                    Requested::Existing(resource) => resource,
                    Requested::FundsConfirmation { iban, valid_until } => {
                        self.funds_consent(client, iban, valid_until).await?
                    }
                };
                (resource, Some(with_consent_id(details, resource)))
            }
        })
    }

    /// A named resource this client may push: its own, still awaiting the
    /// PSU, under an approved subscription (any client may ask for identity
    /// alone). `PIS:<id>` of an authorised scheduled payment whose
    /// cancellation was requested becomes the cancellation's authorisation.
    async fn pushable(
        &self,
        client: &AuthenticatedClient,
        mut resource: ScopedResource,
    ) -> Result<ScopedResource, OAuthError> {
        match resource {
            ScopedResource::Identity => {}
            ScopedResource::Basket(id) => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!(
                        "signing basket {id} is authorised with the Redirect approach \
                         (its scaRedirect link), not with a pushed request"
                    ),
                ));
            }
            ScopedResource::Consent(id) | ScopedResource::FundsConsent(id) => {
                let funds = matches!(resource, ScopedResource::FundsConsent(_));
                let (product, title) = if funds {
                    (ApiProduct::Piis, "Funds Confirmation")
                } else {
                    (ApiProduct::Ais, "Account Information")
                };
                if client.plan_for(product).is_none() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("the application has no approved {title} subscription"),
                    ));
                }
                let consent = self.tokens.consent(id).await?;
                match consent {
                    Some(c)
                        if c.application_id == client.application.id
                            && c.funds_account().is_some() == funds =>
                    {
                        // partiallyAuthorised: the next joint holder's.
                        if !matches!(
                            c.status,
                            ConsentStatus::Received | ConsentStatus::PartiallyAuthorised
                        ) {
                            return Err(OAuthError::new(
                                ErrorCode::InvalidScope,
                                format!("consent {id} is {}, not received", c.status),
                            ));
                        }
                    }
                    _ => {
                        return Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            format!("consent {id} is unknown to this client"),
                        ));
                    }
                }
            }
            ScopedResource::Payment(id) | ScopedResource::PaymentCancellation(id) => {
                if client.plan_for(ApiProduct::Pis).is_none() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "the application has no approved Payment Initiation subscription",
                    ));
                }
                match self.tokens.payment(id).await? {
                    Some(p) if p.application_id == client.application.id => {
                        // PIS:<id> of an authorised scheduled payment the TPP
                        // asked to cancel is the cancellation's authorisation.
                        let cancelling = p.status == PaymentStatus::AcceptedCustomerProfile
                            && p.cancellation_requested_at.is_some();
                        let expected = if cancelling {
                            ScopedResource::PaymentCancellation(id)
                        } else {
                            ScopedResource::Payment(id)
                        };
                        if !p.status.awaits_authorisation() && !cancelling
                            || resource != expected
                                && !matches!(resource, ScopedResource::Payment(_))
                        {
                            return Err(OAuthError::new(
                                ErrorCode::InvalidScope,
                                format!(
                                    "payment {id} is {}: neither RCVD, PATC nor a scheduled payment \
                                     whose cancellation was requested",
                                    p.status
                                ),
                            ));
                        }
                        resource = expected;
                    }
                    _ => {
                        return Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            format!("payment {id} is unknown to this client"),
                        ));
                    }
                }
            }
        }
        if let ScopedResource::Consent(id) | ScopedResource::FundsConsent(id) = resource
            && let Some(basket) = self.tokens.basket_of(&id.to_string()).await?
        {
            return Err(in_basket(basket));
        }
        if let ScopedResource::Payment(id) = resource
            && let Some(basket) = self.tokens.basket_of(&id.to_string()).await?
        {
            return Err(in_basket(basket));
        }
        Ok(resource)
    }

    /// A funds-confirmation consent made from a pushed request (this API's
    /// spec has no endpoint that creates one): received until the PSU decides
    /// on the consent screen.
    async fn funds_consent(
        &self,
        client: &AuthenticatedClient,
        iban: Iban,
        valid_until: Option<Date>,
    ) -> Result<ScopedResource, OAuthError> {
        let refused = |text: String| OAuthError::new(ErrorCode::InvalidAuthorizationDetails, text);
        if client.plan_for(ApiProduct::Piis).is_none() {
            return Err(refused(
                "the application has no approved Funds Confirmation subscription".into(),
            ));
        }
        let now = self.clock.now();
        let today = now.date();
        let longest = today
            .checked_add(Duration::days(i64::from(self.settings.max_consent_days)))
            .unwrap_or(today);
        let valid_until = match valid_until {
            Some(date) if date < today => {
                return Err(refused("validUntil lies in the past".into()));
            }
            Some(date) => date.min(longest),
            None => longest,
        };
        let id = ConsentId::random();
        let created = self
            .tokens
            .create_consent(Consent {
                id,
                application_id: client.application.id,
                status: ConsentStatus::Received,
                access: ConsentAccess::FundsConfirmation { iban },
                recurring: true,
                valid_until,
                frequency_per_day: 1,
                psu_id: None,
                grants: Vec::new(),
                request_id: format!("par:{id}"),
                request_hash: self.pepper.hash(&format!("par:{id}")).as_str().to_owned(),
                created_at: now,
                status_changed_at: now,
            })
            .await?;
        match created {
            ConsentCreation::Created => Ok(ScopedResource::FundsConsent(id)),
            // A fresh id cannot collide; should it, the TPP simply retries.
            ConsentCreation::Existing(_) => Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the funds-confirmation consent could not be created; retry",
            )),
        }
    }
}

/// RFC 7636 with FAPI 2.0: only an S256 challenge, 43 BASE64URL characters.
fn s256_challenge(challenge: Option<String>, method: Option<&str>) -> Result<String, OAuthError> {
    match (challenge, method) {
        (None, _) => Err(OAuthError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        )),
        (Some(_), Some("plain") | None) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256; plain PKCE is not accepted",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(OAuthError::invalid_request(format!(
            "code_challenge_method {m:?} is not supported; use S256"
        ))),
        (Some(c), _) if c.len() != 43 || !c.bytes().all(is_base64url) => {
            Err(OAuthError::invalid_request(
                "code_challenge must be the 43-character BASE64URL SHA-256 of the verifier",
            ))
        }
        (Some(c), _) => Ok(c),
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A resource in a signing basket is authorised with the basket only, so it
/// can never be authorised twice.
fn in_basket(basket: BasketId) -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidScope,
        format!("the resource belongs to signing basket {basket}: authorise the basket instead"),
    )
}
