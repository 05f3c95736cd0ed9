//! A TPP on the XS2A API: a `basic` sandbox application made by `fintechapi
//! admin app create`, its OAuth calls (client credentials, PAR, code
//! exchange), its XS2A calls with the headers the spec requires, and the
//! PSU's approval at the bank's pages with the sandbox code.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::TestDb;

pub use super::answer::Answer;
use super::{Browser, Page, TestServer, authorize_link, fintechapi, param, redirect_params};

pub const REDIRECT: &str = "https://acme.example/cb";
/// Registered too by [`Tpp::with_nok`], on another origin: where a refusal
/// goes when the TPP asks for the Redirect approach.
pub const NOK: &str = "https://errors.acme.example/nok";
pub const VERIFIER: &str = "a-pkce-code-verifier-of-fifty-characters-0123456789";
/// The `state` every pushed request carries.
pub const STATE: &str = "st-42";

/// Runs `fintechapi admin app create … --json` for `org`'s app "Budget App"
/// with `redirect_uris`; the application id, consumer key and secret.
pub fn cli_app_of(
    db: &TestDb,
    org: &str,
    redirect_uris: &[&str],
    products: &str,
) -> (String, String, String) {
    let mut args = vec![
        "admin",
        "app",
        "create",
        "--org",
        org,
        "--name",
        "Budget App",
    ];
    for uri in redirect_uris {
        args.extend(["--redirect-uri", uri]);
    }
    args.extend(["--products", products, "--json"]);
    let out = fintechapi(db, &args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = |k: &str| json[k].as_str().unwrap().to_owned();
    (
        text("application_id"),
        text("client_id"),
        text("client_secret"),
    )
}

/// The demo bank with Acme TPP GmbH's sandbox app for `products` and a
/// client-credentials token of it.
pub async fn demo_tpp(db: TestDb, products: &str) -> (TestServer, Tpp, String) {
    let server = super::demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, products);
    let token = tpp.client_token().await;
    (server, tpp, token)
}

/// Acme TPP GmbH's sandbox app with [`REDIRECT`] registered.
pub fn cli_app(db: &TestDb, products: &str) -> (String, String, String) {
    cli_app_of(db, "Acme TPP GmbH", &[REDIRECT], products)
}

pub struct Tpp {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
    pub secret: String,
}

impl Tpp {
    /// Acme TPP GmbH with a sandbox app for `products` (e.g. `"ais,pis"`).
    pub fn new(server: &TestServer, db: &TestDb, products: &str) -> Self {
        let (_, key, secret) = cli_app(db, products);
        Self::with_credentials(server, key, secret)
    }

    /// `org`'s sandbox app with both [`REDIRECT`] and [`NOK`] registered.
    pub fn with_nok(server: &TestServer, org: &str, products: &str) -> Self {
        let (_, key, secret) = cli_app_of(&server.db, org, &[REDIRECT, NOK], products);
        Self::with_credentials(server, key, secret)
    }

    pub fn with_credentials(server: &TestServer, key: String, secret: String) -> Self {
        Self {
            http: server.client(),
            base: server.base_url.clone(),
            key,
            secret,
        }
    }

    /// A form post authenticated with the client secret (token, PAR, …).
    pub async fn form(&self, path: &str, form: &(impl serde::Serialize + ?Sized)) -> Answer {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.key, Some(&self.secret))
            .form(form)
            .send()
            .await
            .unwrap();
        Answer::of(resp).await
    }

    pub async fn client_token(&self) -> String {
        self.client_token_for(None).await
    }

    /// A client-credentials token, for `scope` when given.
    pub async fn client_token_for(&self, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|s| ("scope", s)));
        let a = self.form("/oauth2/token", &form).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["access_token"].as_str().unwrap().to_owned()
    }

    /// An XS2A call with a fresh X-Request-ID.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.call_as(&request_id, method, path, token, headers, body)
            .await
    }

    /// An XS2A POST of a JSON `body`.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Answer {
        self.call(Method::POST, path, token, headers, Some(body))
            .await
    }

    /// A bodyless XS2A GET.
    pub async fn get(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Answer {
        self.call(Method::GET, path, token, headers, None).await
    }

    /// A bodyless XS2A DELETE.
    pub async fn delete(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Answer {
        self.call(Method::DELETE, path, token, headers, None).await
    }

    /// An XS2A call with the given X-Request-ID. It waits out the sandbox
    /// plan's rate limit (429 with Retry-After) as a TPP would, so a test sees
    /// every other answer, `frequencyPerDay`'s 429 among them.
    pub async fn call_as(
        &self,
        request_id: &str,
        method: Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let mut all = vec![("authorization", format!("Bearer {token}"))];
        all.push(("x-request-id", request_id.to_owned()));
        all.extend(headers.iter().map(|(k, v)| (*k, (*v).to_owned())));
        self.send(method, path, &all, body).await
    }

    /// A call with exactly `headers` (and a JSON `body`), waiting out the
    /// sandbox plan's rate limit as [`Tpp::call_as`] does.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Answer {
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.unwrap();
            let wait = resp
                .headers()
                .get("retry-after")
                .filter(|_| resp.status() == StatusCode::TOO_MANY_REQUESTS)
                .map(|secs| secs.to_str().unwrap().parse::<u64>().unwrap());
            match wait {
                Some(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs)).await,
                None => return Answer::of(resp).await,
            }
        }
    }

    /// A POST of a non-JSON `body` (a pain.001 document, a multipart form)
    /// under `request_id`, with the PSU's address.
    pub async fn post_body(
        &self,
        path: &str,
        token: &str,
        request_id: &str,
        content_type: &str,
        body: &str,
    ) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("x-request-id", request_id)
            .header("psu-ip-address", "192.0.2.7")
            .header("content-type", content_type)
            .body(body.to_owned());
        Answer::of(req.send().await.unwrap()).await
    }

    /// `POST /v1/consents` for `access` with `headers` (the SCA preferences).
    pub async fn consent_with(
        &self,
        token: &str,
        access: Value,
        frequency: u32,
        headers: &[(&str, &str)],
    ) -> Answer {
        let body = json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": frequency, "combinedServiceIndicator": false});
        self.call(Method::POST, "/v1/consents", token, headers, Some(&body))
            .await
    }

    /// A recurring consent for `access` with the OAuth SCA approach, checked;
    /// still to be authorised.
    pub async fn consent(&self, token: &str, access: Value, frequency: u32) -> String {
        let a = self.consent_with(token, access, frequency, &[]).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["consentStatus"], "received");
        assert_eq!(a.headers["aspsp-sca-approach"], "REDIRECT");
        let id = a.body["consentId"].as_str().unwrap().to_owned();
        assert_eq!(a.headers["location"], format!("/v1/consents/{id}"));
        assert_eq!(a.body["_links"]["scaOAuth"]["href"], self.metadata_url());
        id
    }

    /// The `consentStatus` of `consent`.
    pub async fn consent_status(&self, token: &str, consent: &str) -> Value {
        let status = self
            .get(&format!("/v1/consents/{consent}/status"), token, &[])
            .await;
        status.body["consentStatus"].clone()
    }

    /// The ids of the authorisations of `resource` (a consent's or payment's path).
    pub async fn authorisation_ids(&self, resource: &str, token: &str) -> Vec<String> {
        let listed = self
            .get(&format!("{resource}/authorisations"), token, &[])
            .await;
        let ids = listed.body["authorisationIds"].as_array();
        let ids = ids.unwrap_or_else(|| panic!("authorisation ids: {}", listed.body));
        ids.iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    /// The `scaStatus` of `resource`'s first authorisation.
    pub async fn first_sca_status(&self, resource: &str, token: &str) -> Value {
        let ids = self.authorisation_ids(resource, token).await;
        let path = format!("{resource}/authorisations/{}", ids[0]);
        self.get(&path, token, &[]).await.body["scaStatus"].clone()
    }

    /// A consent asked for with the Redirect approach, checked; its id and the PSU's link.
    pub async fn redirect_consent(
        &self,
        token: &str,
        access: Value,
        frequency: u32,
        headers: &[(&str, &str)],
    ) -> (String, String) {
        let mut all = vec![
            ("tpp-redirect-preferred", "true"),
            ("tpp-redirect-uri", REDIRECT),
        ];
        all.extend_from_slice(headers);
        let a = self.consent_with(token, access, frequency, &all).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.headers["aspsp-sca-approach"], "REDIRECT");
        let id = a.body["consentId"].as_str().unwrap().to_owned();
        (id, self.sca_link(&a))
    }

    /// The path and query of `_links.scaRedirect`, which must be this bank's own page.
    pub fn sca_link(&self, a: &Answer) -> String {
        let href = a.body["_links"]["scaRedirect"]["href"].as_str().unwrap();
        let local = href.strip_prefix(&self.base).expect("the bank's own page");
        assert!(local.starts_with("/bank/redirect?token="), "{href}");
        local.to_owned()
    }

    /// The bank's OAuth metadata, as `_links.scaOAuth` names it.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.base)
    }

    /// A pushed request for `AIS:<consent>`; its `request_uri`.
    pub async fn par(&self, consent: &str) -> String {
        self.par_scope(&format!("AIS:{consent}")).await
    }

    /// A pushed request for `scope` with PKCE S256 and [`STATE`]; its `request_uri`.
    pub async fn par_scope(&self, scope: &str) -> String {
        self.par_for(("scope", scope)).await
    }

    /// A pushed request for RFC 9396 authorization `details`; its `request_uri`.
    pub async fn par_details(&self, details: &Value) -> String {
        self.par_for(("authorization_details", &details.to_string()))
            .await
    }

    /// A pushed request for `what` (its scope or authorization details) with
    /// PKCE S256 and [`STATE`]; its `request_uri`.
    async fn par_for(&self, what: (&str, &str)) -> String {
        let challenge = pkce_s256(VERIFIER);
        let a = self
            .form(
                "/oauth2/par",
                &[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    what,
                    ("state", STATE),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["expires_in"], 60);
        a.body["request_uri"].as_str().unwrap().to_owned()
    }

    /// Reads under `consent` with the access `token`.
    pub fn reader(&self, token: &str, consent: &str) -> Reader<'_> {
        Reader {
            tpp: self,
            token: token.to_owned(),
            consent: consent.to_owned(),
        }
    }

    /// A PSU's browser sent to the bank's login page by a pushed request for `scope`.
    pub async fn psu_at_login(&self, server: &TestServer, scope: &str) -> Browser {
        let mut psu = Browser::new(server);
        super::open(&mut psu, &self.key, &self.par_scope(scope).await).await;
        psu
    }

    /// Where the PSU's browser goes for a pushed request.
    pub fn link(&self, request_uri: &str) -> String {
        authorize_link(&self.key, request_uri)
    }

    /// A refresh-token grant for `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// The authorization code exchanged with the PKCE verifier.
    pub async fn exchange(&self, code: &str) -> Answer {
        self.form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }

    /// The PSU approves `consent` at the bank's pages; the TPP's access token.
    pub async fn authorise(
        &self,
        server: &TestServer,
        consent: &str,
        login: &str,
        password: &str,
    ) -> String {
        let tokens = self.tokens(server, consent, login, password).await;
        tokens.body["access_token"].as_str().unwrap().to_owned()
    }

    /// The PSU approves `consent` at the bank's pages; the token answer.
    pub async fn tokens(
        &self,
        server: &TestServer,
        consent: &str,
        login: &str,
        password: &str,
    ) -> Answer {
        let (mut psu, screen) = self.at_bank(server, consent, login, password).await;
        self.approve_for_tokens(&mut psu, &screen).await
    }

    /// The PSU opens a pushed request, authenticates and approves; the code.
    pub async fn code(
        &self,
        server: &TestServer,
        request_uri: &str,
        login: &str,
        password: &str,
    ) -> String {
        let mut psu = Browser::new(server);
        let screen = psu
            .authorise(&self.link(request_uri), login, password)
            .await;
        let approved = psu.decide(&screen, "approve").await;
        approved_code(&approved)
    }

    /// The PSU signs in at the bank's pages for `consent`: the consent screen.
    pub async fn at_bank(
        &self,
        server: &TestServer,
        consent: &str,
        login: &str,
        password: &str,
    ) -> (Browser, Page) {
        let link = self.link(&self.par(consent).await);
        let mut psu = Browser::new(server);
        let screen = psu.authorise(&link, login, password).await;
        (psu, screen)
    }

    /// The PSU approves on the consent screen, ticking the accounts `chosen`
    /// where the bank offers a choice; the TPP's access token.
    pub async fn approve(&self, mut psu: Browser, screen: &Page, chosen: &[&str]) -> String {
        let csrf = screen.csrf();
        let mut form = vec![("decision", "approve"), ("csrf", csrf.as_str())];
        form.extend(chosen.iter().map(|id| ("account", *id)));
        let approved = psu.post("/bank/consent", &form).await;
        let tokens = self.exchanged(&approved).await;
        tokens.body["access_token"].as_str().unwrap().to_owned()
    }

    /// The PSU approves on the consent or payment screen; the token answer.
    pub async fn approve_for_tokens(&self, psu: &mut Browser, screen: &Page) -> Answer {
        let approved = psu.decide(screen, "approve").await;
        self.exchanged(&approved).await
    }

    /// The code the bank sent back with exchanged, checked; the token answer.
    async fn exchanged(&self, approved: &Page) -> Answer {
        let tokens = self.exchange(&approved_code(approved)).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
        tokens
    }
}

/// Reads under one consent with its access token, the PSU present (no daily limit).
pub struct Reader<'a> {
    pub tpp: &'a Tpp,
    pub token: String,
    pub consent: String,
}

impl Reader<'_> {
    pub async fn get(&self, path: &str) -> Answer {
        self.tpp
            .get(path, &self.token, &psu_headers(&self.consent))
            .await
    }

    /// The body of a read that must succeed.
    pub async fn ok(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        a.body
    }
}

/// The headers of a call made with the PSU present: the consent and the
/// PSU's address.
pub fn psu_headers(consent: &str) -> [(&'static str, &str); 2] {
    [("consent-id", consent), ("psu-ip-address", "192.0.2.7")]
}

/// The authorization code on the bank's redirect back to [`REDIRECT`].
pub fn approved_code(approved: &Page) -> String {
    let location = approved.location.as_deref().unwrap();
    param(&redirect_params(location, REDIRECT), "code")
        .unwrap()
        .to_owned()
}
