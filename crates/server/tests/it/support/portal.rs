//! The Developer Portal's users: developers on the JSON API, operators at
//! the admin pages.

use reqwest::StatusCode;

use super::{Browser, TestServer};

/// A client of the portal's JSON API, with a session token once logged in.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn new(server: &TestServer) -> Self {
        Self {
            http: server.client(),
            base: server.url("/portal/api/v1"),
            token: None,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `POST /sessions` for `email` with `password`: the status and the session.
    pub async fn log_in(&self, email: &str, password: &str) -> (StatusCode, serde_json::Value) {
        let login = serde_json::json!({"email": email, "password": password});
        self.call(reqwest::Method::POST, "/sessions", Some(login))
            .await
    }

    /// Signs up, verifies and logs in `email`.
    pub async fn developer(server: &TestServer, email: &str) -> Self {
        use reqwest::Method as M;
        use serde_json::json;
        let mut api = Self::new(server);
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Developer"});
        assert_eq!(
            api.call(M::POST, "/signup", Some(body)).await.0,
            StatusCode::ACCEPTED
        );
        let token = token_from_mail(server, email).await;
        assert_eq!(
            api.call(M::POST, "/verify", Some(json!({"token": token})))
                .await
                .0,
            StatusCode::OK
        );
        let (status, session) = api.log_in(email, PASSWORD).await;
        assert_eq!(status, StatusCode::CREATED);
        api.token = Some(session["token"].as_str().unwrap().to_owned());
        api
    }

    /// An organisation holding `roles` with one sandbox application subscribed
    /// to `products`; returns the application id, consumer key and secret.
    pub async fn sandbox_app(&self, roles: &[&str], products: &[&str]) -> (String, String, String) {
        use reqwest::Method as M;
        use serde_json::json;
        let org = json!({"legal_name": "Metered TPP GmbH", "country": "DE", "roles": roles, "competent_authority": "BaFin", "authorisation_number": "123"});
        let (status, org) = self.call(M::POST, "/organisations", Some(org)).await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        let app = json!({"name": "Metered App", "redirect_uris": ["https://app.example/cb"], "security_profile": "basic", "environment": "sandbox", "products": products});
        let path = format!(
            "/organisations/{}/applications",
            org["id"].as_str().unwrap()
        );
        let (status, app) = self.call(M::POST, &path, Some(app)).await;
        assert_eq!(status, StatusCode::CREATED, "{app}");
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        (
            text(&app["id"]),
            text(&app["credentials"]["client_id"]),
            text(&app["credentials"]["client_secret"]),
        )
    }
}

pub const PASSWORD: &str = "correct horse battery staple 42";

pub async fn token_from_mail(server: &TestServer, email: &str) -> String {
    use fintechapi_domain::portal::{Email, PortalRepository};
    let mails = server
        .db
        .store()
        .await
        .mails_to(&email.parse::<Email>().unwrap())
        .await
        .unwrap();
    let text = &mails.last().unwrap().body_text;
    let at = text.find("token=").unwrap() + "token=".len();
    text[at..].split_whitespace().next().unwrap().to_owned()
}

pub const OPERATOR_PASSWORD: &str = "operator passphrase 2026!";

pub async fn user(
    server: &TestServer,
    email: &str,
    kind: fintechapi_domain::portal::UserKind,
) -> fintechapi_domain::ids::UserId {
    let store = server.db.store().await;
    let id = fintechapi_domain::ids::UserId::random();
    let now = fintechapi_domain::Clock::now(&fintechapi_domain::SystemClock);
    fintechapi_domain::portal::PortalRepository::create_user(
        &store,
        fintechapi_domain::portal::NewUser {
            id,
            email: email.parse().unwrap(),
            display_name: format!("{kind} user"),
            kind,
            password: fintechapi_domain::password::PasswordHash::create(OPERATOR_PASSWORD).unwrap(),
            email_verified_at: Some(now),
            created_at: now,
        },
    )
    .await
    .unwrap();
    id
}

pub async fn operator(server: &TestServer) -> Browser {
    user(
        server,
        "ops@bank.example",
        fintechapi_domain::portal::UserKind::Admin,
    )
    .await;
    let mut b = Browser::new(server);
    let csrf = b.get("/admin/login").await.csrf();
    let done = b
        .submit(
            "/admin/login",
            &[
                ("email", "ops@bank.example"),
                ("password", OPERATOR_PASSWORD),
            ],
            &csrf,
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin"));
    b
}

/// `org`'s production application "Live App" for `products`, registered by
/// `who`: its subscriptions wait for an operator's decision.
pub async fn live_app(
    registry: &fintechapi_registry::Registry<fintechapi_storage::Store>,
    who: &fintechapi_registry::Actor,
    org: &fintechapi_domain::registry::Organisation,
    products: Vec<fintechapi_domain::registry::ApiProduct>,
) -> (
    fintechapi_domain::registry::Application,
    fintechapi_registry::IssuedCredential,
) {
    use fintechapi_domain::registry::{Environment, SecurityProfile};
    let app = fintechapi_registry::NewApplication {
        name: "Live App".into(),
        description: String::new(),
        redirect_uris: vec!["https://live.example/cb".into()],
        security_profile: SecurityProfile::Basic,
        jwks: None,
        jwks_uri: None,
        tls_subject_dn: None,
        require_signed_request_object: false,
        environment: Environment::Production,
        products,
    };
    registry
        .create_application(who, org, app, false)
        .await
        .unwrap()
}
