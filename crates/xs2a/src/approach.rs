//! The SCA approach of an initiation (`POST /v1/consents`, `POST
//! /v1/{payment-service}/{payment-product}`): OAuth unless the TPP prefers
//! Redirect (`TPP-Redirect-Preferred: true` with a registered
//! `TPP-Redirect-URI`) or Decoupled (`TPP-Decoupled-Preferred: true`, or
//! `TPP-Redirect-Preferred: false`, with a `PSU-ID`); embedded SCA is
//! refused. And what a Redirect or Decoupled authorisation of a consent gives
//! instead of a PSU token: account reads with the application's
//! client-credentials token and `Consent-ID`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::basket::BasketRepository;
use fintechapi_domain::ids::{AuthorizationId, ConsentId, PsuId};
use fintechapi_domain::oauth::AuthorizationRepository;
use fintechapi_domain::oauth::{AuthorizationStage, ScaApproach};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_oauth::ScopedResource;
use fintechapi_oauth::redirect::{RedirectTarget, StartError, UnregisteredUri};
use fintechapi_oauth::server::SCA_EXEMPTION;
use serde::Serialize;

use crate::body::Href;
use crate::error::MessageCode;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text};

/// `ASPSP-SCA-Approach` of the OAuth and Redirect approaches: the spec subsumes OAuth under REDIRECT.
pub(crate) const REDIRECT: &str = "REDIRECT";

/// `ASPSP-SCA-Approach` of the Decoupled approach.
pub(crate) const DECOUPLED: &str = "DECOUPLED";

/// What a Decoupled answer asks the TPP to tell the PSU (`psuMessage`, at
/// most 500 characters).
pub(crate) const DECOUPLED_MESSAGE: &str = "Please open your online banking: the request is \
     waiting under Pending approvals. Check it and approve or decline it there with your \
     second factor.";

/// The `psuMessage` of a Decoupled authorisation nobody answered in time.
pub(crate) const DECOUPLED_EXPIRED: &str = "The request was not answered in online banking in \
     time and has lapsed. Nothing was approved; you may start it again.";

/// The longest `PSU-ID` looked up (the bank's login names are far shorter).
const PSU_ID_MAX: usize = 140;

/// The approach an initiation is authorised with.
pub(crate) enum Approach {
    OAuth,
    /// `explicit`: the TPP starts the authorisation itself
    /// (`TPP-Explicit-Authorisation-Preferred: true`), so the initiation only
    /// links where to start it.
    Redirect {
        target: RedirectTarget,
        explicit: bool,
    },
    /// For the PSU `PSU-ID` names (None: it names nobody, which the answer
    /// never shows), who decides in online banking.
    Decoupled {
        psu: Option<PsuId>,
        explicit: bool,
    },
}

/// A boolean header: absent, `true` or `false` (any case).
fn flag(headers: &HeaderMap, name: &str, shown: &str) -> Result<Option<bool>, Xs2aError> {
    match header_text(headers, name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(Xs2aError::format(format!("{shown} must be true or false")).at(shown)),
    }
}

fn embedded_not_offered(shown: &str) -> Xs2aError {
    Xs2aError::new(
        MessageCode::ServiceInvalid,
        "embedded SCA is not offered; this ASPSP authorises with the OAuth, the Redirect or the \
         Decoupled SCA approach",
    )
    .at(shown)
}

/// The PSU the required `PSU-ID` names, if any: the same answer either way.
async fn named_psu<R: Xs2aStore>(
    service: &Xs2aService<R>,
    headers: &HeaderMap,
) -> Result<Option<PsuId>, Xs2aError> {
    let Some(login) = header_text(headers, "psu-id") else {
        return Err(Xs2aError::format(
            "PSU-ID is required for the Decoupled SCA approach: the PSU's login at this ASPSP",
        )
        .at("PSU-ID"));
    };
    if login.chars().count() > PSU_ID_MAX {
        return Err(
            Xs2aError::format(format!("PSU-ID is longer than {PSU_ID_MAX} characters"))
                .at("PSU-ID"),
        );
    }
    Ok(service
        .psus()
        .psu_by_login(login)
        .await?
        .map(|(psu, _)| psu.id))
}

impl Approach {
    /// The approach of a payment that needs several authorisations
    /// (multilevel SCA): the spec wants each started explicitly, so the
    /// initiation only links `startAuthorisation`. OAuth stays as it is:
    /// each holder's authorisation is a pushed request of its own.
    pub(crate) fn explicitly(self) -> Self {
        match self {
            Self::Redirect { target, .. } => Self::Redirect {
                target,
                explicit: true,
            },
            Self::Decoupled { psu, .. } => Self::Decoupled {
                psu,
                explicit: true,
            },
            oauth => oauth,
        }
    }

    /// The approach of an explicit start: the authorisation starts now.
    pub(crate) fn started_now(self) -> Self {
        match self {
            Self::Redirect { target, .. } => Self::Redirect {
                target,
                explicit: false,
            },
            Self::Decoupled { psu, .. } => Self::Decoupled {
                psu,
                explicit: false,
            },
            oauth => oauth,
        }
    }

    /// The approach the TPP's headers ask for. `TPP-Decoupled-Preferred:
    /// true`, or `TPP-Redirect-Preferred: false` (embedded or decoupled),
    /// asks for Decoupled, which needs `PSU-ID`; both false asks for embedded
    /// SCA, refused rather than ignored. With both preferences true the spec
    /// leaves the choice to the ASPSP: Redirect.
    pub(crate) async fn requested<R: Xs2aStore>(
        service: &Xs2aService<R>,
        caller: &Caller,
        headers: &HeaderMap,
    ) -> Result<Self, Xs2aError> {
        let redirect = flag(headers, "tpp-redirect-preferred", "TPP-Redirect-Preferred")?;
        let decoupled = flag(
            headers,
            "tpp-decoupled-preferred",
            "TPP-Decoupled-Preferred",
        )?;
        let explicit = || {
            let name = "tpp-explicit-authorisation-preferred";
            flag(headers, name, "TPP-Explicit-Authorisation-Preferred").map(|f| f.unwrap_or(false))
        };
        match (redirect, decoupled) {
            (Some(true), _) => Ok(Self::Redirect {
                target: redirect_target(service, caller, headers).await?,
                explicit: explicit()?,
            }),
            (Some(false), Some(false)) => Err(embedded_not_offered("TPP-Decoupled-Preferred")),
            (Some(false), _) | (None, Some(true)) => Ok(Self::Decoupled {
                psu: named_psu(service, headers).await?,
                explicit: explicit()?,
            }),
            (None, _) => Ok(Self::OAuth),
        }
    }

    /// The SCA part of the 201 answer for `resource` (its own link is
    /// `self_link`): OAuth names the authorization server; Redirect and
    /// Decoupled start a new authorisation while the resource still awaits
    /// one (`awaiting`) and link its `scaStatus`, Redirect also the bank's
    /// page for it, Decoupled a `psuMessage` instead. A repeated initiation
    /// (same X-Request-ID) thus gets a fresh link: the first one's token was
    /// kept only as a hash.
    pub(crate) async fn answer<R: Xs2aStore>(
        self,
        service: &Xs2aService<R>,
        caller: &Caller,
        resource: ScopedResource,
        awaiting: bool,
        self_link: &str,
    ) -> Result<ScaAnswer, Xs2aError> {
        let server = &service.oauth.server;
        let mut links = Links::default();
        let (approach, explicit, start) = match self {
            Self::OAuth => {
                links.sca_oauth = Some(oauth_metadata(&server.settings().issuer));
                // The spec's values are EMBEDDED, DECOUPLED and REDIRECT; "the
                // OAuth SCA approach will be subsumed by REDIRECT" (ASPSP-SCA-Approach).
                return Ok(ScaAnswer::new(REDIRECT, links));
            }
            Self::Redirect { target, explicit } => (REDIRECT, explicit, Start::Redirect(target)),
            Self::Decoupled { psu, explicit } => (DECOUPLED, explicit, Start::Decoupled(psu)),
        };
        if !awaiting {
            return Ok(ScaAnswer::new(approach, links));
        }
        if explicit {
            links.start_authorisation = Some(Href::to(format!("{self_link}/authorisations")));
            return Ok(ScaAnswer::new(approach, links));
        }
        let (application, client_id) = (caller.grant.application_id, &caller.grant.client_id);
        let (authorisation, psu_message) = match start {
            Start::Redirect(target) => {
                let started = server
                    .start_redirect(application, client_id, resource, target)
                    .await
                    .map_err(not_started)?;
                links.sca_redirect = Some(Href::to(started.link));
                (started.authorisation, None)
            }
            Start::Decoupled(psu) => {
                let started = server
                    .start_decoupled(application, client_id, resource, psu)
                    .await
                    .map_err(not_started)?;
                (started, Some(DECOUPLED_MESSAGE))
            }
        };
        links.sca_status = Some(Href::to(format!(
            "{self_link}/authorisations/{authorisation}"
        )));
        Ok(ScaAnswer {
            approach,
            links,
            sca_status: Some(AuthorizationStage::Pushed.sca_status()),
            authorisation: Some(authorisation),
            psu_message,
        })
    }
}

/// What starting an authorisation needs: where the PSU returns (Redirect),
/// or who answers (Decoupled).
enum Start {
    Redirect(RedirectTarget),
    Decoupled(Option<PsuId>),
}

fn not_started(e: StartError) -> Xs2aError {
    match e {
        StartError::Store(e) => Xs2aError::from(e),
        StartError::Randomness => Xs2aError::new(
            MessageCode::ServiceUnavailable,
            "the ASPSP cannot start an authorisation now; retry later",
        ),
    }
}

/// `TPP-Redirect-URI` (required) and `TPP-Nok-Redirect-URI`, each one of the
/// application's registered redirect URIs.
async fn redirect_target<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<RedirectTarget, Xs2aError> {
    let Some(ok) = header_text(headers, "tpp-redirect-uri") else {
        return Err(Xs2aError::format(
            "TPP-Redirect-URI is required when TPP-Redirect-Preferred is true",
        )
        .at("TPP-Redirect-URI"));
    };
    let application = service
        .applications()
        .application(caller.grant.application_id)
        .await?
        .ok_or_else(|| Xs2aError::token_invalid("the token's application no longer exists"))?;
    let nok = header_text(headers, "tpp-nok-redirect-uri");
    RedirectTarget::registered(&application, ok, nok).map_err(|e| {
        let at = match e {
            UnregisteredUri::Ok => "TPP-Redirect-URI",
            UnregisteredUri::Nok => "TPP-Nok-Redirect-URI",
        };
        Xs2aError::format(e.to_string()).at(at)
    })
}

/// The `_links` of an answer; absent links are left out.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Links {
    #[serde(rename = "scaOAuth", skip_serializing_if = "Option::is_none")]
    pub sca_oauth: Option<Href>,
    #[serde(rename = "scaRedirect", skip_serializing_if = "Option::is_none")]
    pub sca_redirect: Option<Href>,
    #[serde(rename = "scaStatus", skip_serializing_if = "Option::is_none")]
    pub sca_status: Option<Href>,
    #[serde(rename = "startAuthorisation", skip_serializing_if = "Option::is_none")]
    pub start_authorisation: Option<Href>,
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub own: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Href>,
}

impl Links {
    /// `self` and `status` of the resource at `self_link`.
    pub(crate) fn resource(self_link: &str) -> Self {
        Self {
            own: Some(Href::to(self_link)),
            status: Some(Href::to(format!("{self_link}/status"))),
            ..Self::default()
        }
    }
}

/// The authorization server's metadata, where an OAuth authorisation starts.
pub(crate) fn oauth_metadata(issuer: &str) -> Href {
    Href::to(format!("{issuer}/.well-known/oauth-authorization-server"))
}

/// What an initiation's answer says about SCA.
pub(crate) struct ScaAnswer {
    /// `ASPSP-SCA-Approach`.
    approach: &'static str,
    links: Links,
    /// Of the authorisation just started.
    pub(crate) sca_status: Option<&'static str>,
    /// The authorisation just started (Redirect, Decoupled).
    pub(crate) authorisation: Option<AuthorizationId>,
    /// What the TPP should tell the PSU (Decoupled).
    pub(crate) psu_message: Option<&'static str>,
}

impl ScaAnswer {
    /// An answer that starts no authorisation.
    fn new(approach: &'static str, links: Links) -> Self {
        Self {
            approach,
            links,
            sca_status: None,
            authorisation: None,
            psu_message: None,
        }
    }

    /// The answer's `_links`: `own` with the SCA links added.
    pub(crate) fn links(&self, own: Links) -> Links {
        Links {
            sca_oauth: self.links.sca_oauth.clone(),
            sca_redirect: self.links.sca_redirect.clone(),
            sca_status: self.links.sca_status.clone(),
            start_authorisation: self.links.start_authorisation.clone(),
            ..own
        }
    }

    /// 201 to an initiation: `body`, `Location` the new resource at
    /// `self_link`, and `ASPSP-SCA-Approach`.
    pub(crate) fn created(&self, self_link: &str, body: impl Serialize) -> Response {
        let mut response = (StatusCode::CREATED, Json(body)).into_response();
        if let Ok(location) = HeaderValue::from_str(self_link) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        self.mark(response)
    }

    /// Sets `ASPSP-SCA-Approach` on the answer.
    pub(crate) fn mark(&self, mut response: Response) -> Response {
        response.headers_mut().insert(
            "aspsp-sca-approach",
            HeaderValue::from_static(self.approach),
        );
        response
    }
}

/// Redirect and Decoupled approaches: the consent a client-credentials token
/// (covering account information) names with `Consent-ID`, when its own
/// application authorised that consent by Redirect or Decoupled, for 180
/// days after that SCA at most (RTS Art. 10a, as refresh tokens in the OAuth
/// approach); there is no PSU token in those approaches. Any other token without a bound consent is
/// refused as before.
pub(crate) async fn redirect_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<ConsentId, Xs2aError> {
    let refused = || {
        Xs2aError::new(
            MessageCode::ConsentInvalid,
            "this token is not bound to a consent: obtain one with the authorization code flow, \
             or read a consent authorised with the Redirect approach with the application's \
             client-credentials token and Consent-ID (or Decoupled)",
        )
    };
    // Only client-credentials tokens carry products; PSU tokens name one resource.
    if !caller.grant.scope_products.contains(&ApiProduct::Ais) {
        return Err(refused());
    }
    let Some(id) = header_text(headers, "consent-id").and_then(|h| h.parse::<ConsentId>().ok())
    else {
        return Err(refused());
    };
    // An approved Redirect or Decoupled authorisation is never touched
    // again: its last activity is the PSU's approval. A consent in a signing
    // basket is authorised by the basket's.
    let application = caller.grant.application_id;
    let authorizations = service.authorizations();
    let mut started = authorizations
        .authorizations_for_scope(application, &ScopedResource::Consent(id).scope())
        .await?;
    if let Some(basket) = service.baskets().basket_of(&id.to_string()).await? {
        let scope = ScopedResource::Basket(basket).scope();
        started.extend(
            authorizations
                .authorizations_for_scope(application, &scope)
                .await?,
        );
    }
    let approved_at = started
        .iter()
        .find(|a| {
            a.flow.approach() != ScaApproach::OAuth && a.stage == AuthorizationStage::Approved
        })
        .map(|a| a.last_activity_at)
        .ok_or_else(refused)?;
    if service.now() - approved_at > SCA_EXEMPTION {
        return Err(Xs2aError::new(
            MessageCode::ConsentExpired,
            "the PSU authenticated more than 180 days ago (RTS Art. 10a): a new consent needs a new SCA",
        ));
    }
    Ok(id)
}
