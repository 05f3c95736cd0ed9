//! A TPP on the XS2A API: a `basic` sandbox application made by `fintechapi
//! admin app create`, its calls with the headers the spec requires, and the
//! PSU's approval at the bank's pages with the sandbox code.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::TestDb;

use super::{
    Browser, Page, TestServer, cli_app, log_in, open, param, redirect_params, second_factor,
};

pub const REDIRECT: &str = "https://acme.example/cb";
const VERIFIER: &str = "a-pkce-code-verifier-of-fifty-characters-0123456789";

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

impl Answer {
    /// The first `tppMessages` entry as (code, path).
    pub fn tpp_message(&self) -> (Option<&str>, Option<&str>) {
        let message = &self.body["tppMessages"][0];
        (message["code"].as_str(), message["path"].as_str())
    }
}

pub struct Tpp {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
    pub secret: String,
}

impl Tpp {
    pub fn new(server: &TestServer, db: &TestDb, products: &str) -> Self {
        let (_, key, secret) = cli_app(db, products);
        Self {
            http: server.client(),
            base: server.base_url.clone(),
            key,
            secret,
        }
    }

    async fn form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.key, Some(&self.secret))
            .form(form)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    pub async fn client_token(&self) -> String {
        let a = self
            .form("/oauth2/token", &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A call with a fresh X-Request-ID.
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

    /// A call with the given X-Request-ID. It waits out the sandbox plan's
    /// rate limit (429 with Retry-After) as a TPP would, so a test sees every
    /// other answer, `frequencyPerDay`'s 429 among them.
    pub async fn call_as(
        &self,
        request_id: &str,
        method: Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(token)
                .header("x-request-id", request_id);
            for (k, v) in headers {
                req = req.header(*k, *v);
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
                None => return answer(resp).await,
            }
        }
    }

    /// A recurring consent for `access`, still to be authorised.
    pub async fn consent(&self, token: &str, access: Value) -> String {
        let body = json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
        let a = self
            .call(Method::POST, "/v1/consents", token, &[], Some(&body))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["consentId"].as_str().unwrap().to_owned()
    }

    /// The PSU approves `consent` at the bank's pages; the TPP's access token.
    pub async fn authorise(
        &self,
        server: &TestServer,
        consent: &str,
        login: &str,
        password: &str,
    ) -> String {
        let (psu, screen) = self.at_bank(server, consent, login, password).await;
        self.approve(psu, &screen, &[]).await
    }

    /// The PSU signs in at the bank's pages for `consent`: the consent screen.
    pub async fn at_bank(
        &self,
        server: &TestServer,
        consent: &str,
        login: &str,
        password: &str,
    ) -> (Browser, Page) {
        let challenge = pkce_s256(VERIFIER);
        let scope = format!("AIS:{consent}");
        let par = self
            .form(
                "/oauth2/par",
                &[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", &scope),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(par.status, StatusCode::CREATED, "{}", par.body);
        let mut psu = Browser::new(server);
        open(
            &mut psu,
            &self.key,
            par.body["request_uri"].as_str().unwrap(),
        )
        .await;
        log_in(&mut psu, login, password).await;
        second_factor(&mut psu, "123456").await;
        let screen = psu.get("/bank/consent").await;
        assert_eq!(screen.status, StatusCode::OK, "{}", screen.body);
        (psu, screen)
    }

    /// The PSU approves on the consent screen, ticking the accounts `chosen`
    /// where the bank offers a choice; the TPP's access token.
    pub async fn approve(&self, mut psu: Browser, screen: &Page, chosen: &[&str]) -> String {
        let csrf = screen.csrf();
        let mut form = vec![("decision", "approve"), ("csrf", csrf.as_str())];
        form.extend(chosen.iter().map(|id| ("account", *id)));
        let approved = psu.post("/bank/consent", &form).await;
        let location = approved.location.unwrap();
        let params = redirect_params(&location, REDIRECT);
        let code = param(&params, "code").unwrap();
        let tokens = self
            .form(
                "/oauth2/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
        tokens.body["access_token"].as_str().unwrap().to_owned()
    }
}
