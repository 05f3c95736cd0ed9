//! The bank's APIs as a TPP calls them: OAuth 2.0 (client credentials, PAR
//! with PKCE, the code exchange) and the Berlin Group XS2A API.

use std::path::Path;

use anyhow::{Context, bail};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Bank {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
}

/// What the token endpoint answers after the customer approved.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// A PKCE pair (RFC 7636): the verifier stays here, the challenge goes to the bank.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

/// 32 random bytes, base64url: for PKCE verifiers, `state` values, session ids.
pub fn random_text() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Pkce {
    pub fn new() -> anyhow::Result<Self> {
        let verifier = random_text()?;
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

impl Bank {
    pub fn new(
        base: &str,
        ca: Option<&Path>,
        client_id: String,
        client_secret: String,
        redirect_uri: String,
    ) -> anyhow::Result<Self> {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            // Trust exactly the bank's CA (the sandbox's development CA).
            http = http.tls_certs_only([reqwest::Certificate::from_pem(&pem)?]);
        }
        Ok(Self {
            http: http.build()?,
            base: base.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            redirect_uri,
        })
    }

    /// Where the customer's browser goes to approve a pushed request.
    pub fn authorize_url(&self, request_uri: &str) -> anyhow::Result<String> {
        let mut url = reqwest::Url::parse(&format!("{}/oauth2/authorize", self.base))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("request_uri", request_uri);
        Ok(url.into())
    }

    /// An OAuth endpoint, authenticated with the consumer key and secret.
    async fn oauth(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await?;
        answer(response, &[StatusCode::OK, StatusCode::CREATED]).await
    }

    /// A token for the application itself (creating consents and payments).
    pub async fn client_token(&self, scope: &str) -> anyhow::Result<String> {
        let answer = self
            .oauth(
                "/oauth2/token",
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await?;
        text(&answer, "access_token")
    }

    /// PAR (RFC 9126): the request goes to the bank directly; the browser
    /// carries only the returned `request_uri`.
    pub async fn push(&self, scope: &str, pkce: &Pkce, state: &str) -> anyhow::Result<String> {
        let answer = self
            .oauth(
                "/oauth2/par",
                &[
                    ("response_type", "code"),
                    ("redirect_uri", &self.redirect_uri),
                    ("scope", scope),
                    ("state", state),
                    ("code_challenge", &pkce.challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await?;
        self.authorize_url(&text(&answer, "request_uri")?)
    }

    /// A new access token (and the next refresh token: each works once).
    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<Tokens> {
        let answer = self
            .oauth(
                "/oauth2/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> anyhow::Result<Tokens> {
        let answer = self
            .oauth(
                "/oauth2/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    /// One XS2A call: every call names itself with a fresh `X-Request-ID`.
    async fn xs2a(
        &self,
        method: Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("x-request-id", uuid::Uuid::new_v4().to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let ok = [StatusCode::OK, StatusCode::CREATED, StatusCode::NO_CONTENT];
        answer(request.send().await?, &ok).await
    }

    /// An account-information consent for every account the customer picks at the bank.
    pub async fn create_consent(&self, token: &str, valid_until: &str) -> anyhow::Result<String> {
        let body = json!({
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": true,
            "validUntil": valid_until,
            "frequencyPerDay": 4,
            "combinedServiceIndicator": false,
        });
        let answer = self
            .xs2a(Method::POST, "/v1/consents", token, &[], Some(body))
            .await?;
        text(&answer, "consentId")
    }

    pub async fn delete_consent(&self, token: &str, consent: &str) -> anyhow::Result<()> {
        let path = format!("/v1/consents/{consent}");
        self.xs2a(Method::DELETE, &path, token, &[], None).await?;
        Ok(())
    }

    /// The accounts the consent covers, with their balances.
    pub async fn accounts(
        &self,
        token: &str,
        consent: &str,
        psu_ip: &str,
    ) -> anyhow::Result<Value> {
        let headers = [("consent-id", consent), ("psu-ip-address", psu_ip)];
        self.xs2a(
            Method::GET,
            "/v1/accounts?withBalance=true",
            token,
            &headers,
            None,
        )
        .await
    }

    /// An account's booked transactions with its balances.
    pub async fn transactions(
        &self,
        token: &str,
        consent: &str,
        account: &str,
        psu_ip: &str,
    ) -> anyhow::Result<Value> {
        let headers = [("consent-id", consent), ("psu-ip-address", psu_ip)];
        let path =
            format!("/v1/accounts/{account}/transactions?bookingStatus=booked&withBalance=true");
        self.xs2a(Method::GET, &path, token, &headers, None).await
    }

    /// A SEPA credit transfer; the customer authorises it at the bank.
    pub async fn initiate_payment(
        &self,
        token: &str,
        payment: &Value,
        psu_ip: &str,
    ) -> anyhow::Result<String> {
        let answer = self
            .xs2a(
                Method::POST,
                "/v1/payments/sepa-credit-transfers",
                token,
                &[("psu-ip-address", psu_ip)],
                Some(payment.clone()),
            )
            .await?;
        text(&answer, "paymentId")
    }

    pub async fn payment_status(&self, token: &str, payment: &str) -> anyhow::Result<String> {
        let path = format!("/v1/payments/sepa-credit-transfers/{payment}/status");
        let answer = self.xs2a(Method::GET, &path, token, &[], None).await?;
        text(&answer, "transactionStatus")
    }
}

/// The JSON answer, or an error carrying the bank's own message.
async fn answer(response: reqwest::Response, ok: &[StatusCode]) -> anyhow::Result<Value> {
    let status = response.status();
    let body = response.text().await?;
    if !ok.contains(&status) {
        let detail: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        let message = detail["tppMessages"][0]["text"]
            .as_str()
            .or(detail["error_description"].as_str())
            .map_or_else(|| detail.to_string(), str::to_owned);
        bail!("the bank answered {status}: {message}");
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&body)?)
}

fn text(answer: &Value, field: &str) -> anyhow::Result<String> {
    answer[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the bank's answer has no {field}"))
}
