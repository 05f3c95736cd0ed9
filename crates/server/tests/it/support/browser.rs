//! A tiny browser, and the PSU's way through the bank's pages.

use std::collections::HashMap;

use fintechapi_domain::psu::PsuRepository;
use reqwest::StatusCode;

use super::TestServer;

/// A tiny browser: keeps cookies, never follows redirects.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// Asserts a 303 to `to`.
    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(
            (self.status, self.location.as_deref()),
            (StatusCode::SEE_OTHER, Some(to)),
            "{}",
            self.body
        );
    }

    /// Asserts that the page sends the browser on to `to`.
    #[track_caller]
    pub fn assert_location(&self, to: &str) {
        assert_eq!(self.location.as_deref(), Some(to), "{}", self.body);
    }

    /// Asserts that the page shows each of `texts`.
    #[track_caller]
    pub fn assert_shows(&self, texts: &[&str]) {
        for text in texts {
            assert!(
                self.body.contains(text),
                "{text} is not shown: {}",
                self.body
            );
        }
    }

    /// Whether the page shows `account`'s IBAN as printed for people.
    pub fn shows_iban(&self, account: &fintechapi_domain::ledger::Account) -> bool {
        let iban = account.iban.as_ref().expect("a customer account");
        self.body.contains(&iban.to_print_format())
    }

    /// The value of the first `name="csrf"` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self::with(server, fintechapi_testkit::https_client(&server.ca))
    }

    /// A browser whose connections come from `address` (any of 127/8 reaches
    /// the test server), to tell client addresses apart.
    pub fn from_address(server: &TestServer, address: std::net::IpAddr) -> Self {
        let client = fintechapi_testkit::https_client(&server.ca).local_address(address);
        Self::with(server, client)
    }

    fn with(server: &TestServer, client: reqwest::ClientBuilder) -> Self {
        let http = client
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: server.base_url.clone(),
            cookies: HashMap::new(),
        }
    }

    /// This browser pointed at another node of the same deployment.
    pub fn at(mut self, base_url: &str) -> Self {
        base_url.clone_into(&mut self.base);
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            assert!(
                attrs.contains("Secure")
                    && attrs.contains("HttpOnly")
                    && attrs.contains("SameSite"),
                "weak cookie: {set}"
            );
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
        }
    }

    /// Logs a verified developer in through the login form.
    pub async fn log_in(&mut self, email: &str, password: &str) {
        let csrf = self.get("/portal/login").await.csrf();
        let done = self
            .post(
                "/portal/login",
                &[("email", email), ("password", password), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(resp).await
    }

    /// Posts `fields` with the form's CSRF token `csrf`.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)], csrf: &str) -> Page {
        let mut form = fields.to_vec();
        form.push(("csrf", csrf));
        self.post(path, &form).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.finish(resp).await
    }
}

/// The authorization endpoint for a pushed request.
pub fn authorize_link(client_id: &str, request_uri: &str) -> String {
    format!(
        "/oauth2/authorize?client_id={client_id}&request_uri={}",
        urlencode(request_uri)
    )
}

/// The PSU side: from the authorization endpoint to the bank's login page.
pub async fn open(b: &mut Browser, client_id: &str, request_uri: &str) {
    let start = b.get(&authorize_link(client_id, request_uri)).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    assert_eq!(start.location.as_deref(), Some("/bank/login"));
}

/// The sandbox's second-factor code.
pub const SANDBOX_CODE: &str = "123456";

impl Browser {
    /// The PSU's way through the bank for an authorization `link` (the
    /// authorization endpoint with a pushed request, or a `scaRedirect` link,
    /// absolute or not): login, the sandbox's second factor, and the consent
    /// or payment screen it ends on, each step checked.
    pub async fn authorise(&mut self, link: &str, login: &str, password: &str) -> Page {
        let link = link.strip_prefix(&self.base).unwrap_or(link).to_owned();
        let opened = self.get(&link).await;
        opened.assert_redirect("/bank/login");
        let ok = log_in(self, login, password).await;
        ok.assert_redirect("/bank/sca");
        let ok = second_factor(self, SANDBOX_CODE).await;
        ok.assert_redirect("/bank/consent");
        let screen = self.get("/bank/consent").await;
        assert_eq!(screen.status, StatusCode::OK, "{}", screen.body);
        screen
    }

    /// The PSU's `decision` ("approve" or "deny") on the consent or payment
    /// `screen`: the bank's answer.
    pub async fn decide(&mut self, screen: &Page, decision: &str) -> Page {
        self.post(
            "/bank/consent",
            &[("decision", decision), ("csrf", &screen.csrf())],
        )
        .await
    }

    /// Opens online banking and signs in with `login`'s password: the answer
    /// (the second factor's page on success).
    pub async fn online_login(&mut self, login: &str, password: &str) -> Page {
        let form = self.get("/bank/online").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        self.post(
            "/bank/online/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &form.csrf()),
            ],
        )
        .await
    }

    /// Withdraws `consent` in online banking with the token of `page`: the answer.
    pub async fn withdraw_consent(&mut self, consent: &str, page: &Page) -> Page {
        let path = format!("/bank/online/consents/{consent}/revoke");
        self.submit(&path, &[], &page.csrf()).await
    }

    /// Answers online banking's second-factor page with `code`: the answer.
    pub async fn online_second_factor(&mut self, code: &str) -> Page {
        let page = self.get("/bank/online/sca").await;
        self.post(
            "/bank/online/sca",
            &[("code", code), ("csrf", &page.csrf())],
        )
        .await
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub async fn log_in(b: &mut Browser, login: &str, password: &str) -> Page {
    let csrf = b.get("/bank/login").await.csrf();
    b.post(
        "/bank/login",
        &[("login", login), ("password", password), ("csrf", &csrf)],
    )
    .await
}

pub async fn second_factor(b: &mut Browser, code: &str) -> Page {
    let page = b.get("/bank/sca").await;
    assert!(
        page.body.contains("Sandbox:"),
        "the sandbox code is labelled: {}",
        page.body
    );
    b.post("/bank/sca", &[("code", code), ("csrf", &page.csrf())])
        .await
}

/// The query parameters of the redirect back to the TPP.
pub fn redirect_params(location: &str, redirect: &str) -> Vec<(String, String)> {
    assert!(location.starts_with(&format!("{redirect}?")), "{location}");
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Enrols `login`'s authenticator app through the admin console; its seed.
pub async fn enrol_authenticator(server: &TestServer, login: &str) -> fintechapi_domain::otp::Seed {
    let mut ops = super::operator(server).await;
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    let csrf = ops.get("/admin/psus").await.csrf();
    let page = ops
        .submit(&format!("/admin/psus/{}/totp", psu.id), &[], &csrf)
        .await;
    let at = page.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    fintechapi_domain::otp::Seed::from_base32(
        &page.body[at..at + page.body[at..].find('<').unwrap()],
    )
    .unwrap()
}

/// The 8-digit dynamic-linking challenge a bank page shows.
pub fn challenge_on(page: &str) -> String {
    let at = page
        .find(r#"id="challenge">"#)
        .expect("a challenge on the page")
        + r#"id="challenge">"#.len();
    page[at..at + 8].to_owned()
}
