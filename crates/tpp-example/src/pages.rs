//! The app's pages. Each handler: find the browser's session, call the bank,
//! render or redirect. A failed call shows the bank's own message
//! ([`Refusal`]).

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bank::{Pkce, random_text};
use crate::chart::balance_chart;
use crate::{App, Connected, MAX_SESSIONS, Pending, Purpose, Session};

impl Connected {
    fn new(consent: String, tokens: crate::bank::Tokens) -> Self {
        let lives = std::time::Duration::from_secs(tokens.expires_in);
        Self {
            consent,
            tokens,
            expires: std::time::Instant::now() + lives,
        }
    }
}

/// The connected consent and a live access token for it: one about to
/// expire is refreshed first (the refresh token is replaced each time).
async fn connected(app: &App, headers: &HeaderMap) -> Result<(String, String), Refusal> {
    let current = app.with_session(headers, |s| s.consent.clone()).flatten();
    let current = current.ok_or(Refusal::NoSession)?;
    let soon = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let fresh = match (&current.tokens.refresh_token, current.expires <= soon) {
        (Some(refresh), true) => {
            let renewed = Connected::new(current.consent.clone(), app.bank.refresh(refresh).await?);
            app.with_session(headers, |s| s.consent = Some(renewed.clone()));
            renewed
        }
        _ => current,
    };
    Ok((fresh.consent, fresh.tokens.access_token))
}

const COOKIE: &str = "tpp_session";

/// The browser's session id, from its cookie.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl App {
    /// Runs `f` on the browser's session, if it has one.
    fn with_session<T>(&self, headers: &HeaderMap, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let id = session_id(headers)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get_mut(&id).map(f)
    }

    /// A new session for a browser that has none: its id.
    fn open_session(&self) -> Result<String, Refusal> {
        let Ok(id) = random_text() else {
            return Err(anyhow::anyhow!("no randomness").into());
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            return Err(Refusal::TooManySessions);
        }
        sessions.insert(id.clone(), Session::default());
        Ok(id)
    }
}

/// `response` with the cookie of the session `id`.
fn with_session_cookie(mut response: Response, id: &str) -> Response {
    if let Ok(cookie) =
        HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The address of the customer in front of the browser: the bank wants it
/// on calls made while the customer is present.
fn psu_ip(peer: SocketAddr) -> String {
    peer.ip().to_string()
}

#[derive(Default, Template, WebTemplate)]
#[template(path = "home.html")]
struct Home {
    connected: bool,
    payments: Vec<(String, bool)>,
    notice: Option<String>,
}

impl Home {
    /// The start page of a session; its notice is shown once.
    fn of(session: &mut Session) -> Self {
        Self {
            connected: session.consent.is_some(),
            payments: session
                .payments
                .iter()
                .map(|(id, token)| (id.clone(), token.is_some()))
                .collect(),
            notice: session.notice.take(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct Message {
    title: String,
    text: String,
}

fn failed(error: anyhow::Error) -> Response {
    tracing::warn!(error = %error, "a call to the bank failed");
    let page = Message {
        title: "The bank said no".into(),
        text: error.to_string(),
    };
    (StatusCode::BAD_GATEWAY, page).into_response()
}

/// Why a page is not shown: the browser has no session here (back to the
/// start page), none can be opened, or a call to the bank failed.
pub enum Refusal {
    NoSession,
    TooManySessions,
    Bank(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(error: anyhow::Error) -> Self {
        Refusal::Bank(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoSession => Redirect::to("/").into_response(),
            Refusal::TooManySessions => {
                (StatusCode::SERVICE_UNAVAILABLE, "too many sessions").into_response()
            }
            Refusal::Bank(error) => failed(error),
        }
    }
}

pub type Page = Result<Response, Refusal>;

pub async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Page {
    if let Some(page) = app.with_session(&headers, Home::of) {
        return Ok(page.into_response());
    }
    let id = app.open_session()?;
    Ok(with_session_cookie(Home::default().into_response(), &id))
}

/// Sends the browser to the bank for `purpose`, remembering what comes back.
async fn to_the_bank(app: &App, headers: &HeaderMap, scope: &str, purpose: Purpose) -> Page {
    let (Ok(pkce), Ok(state)) = (Pkce::new(), random_text()) else {
        return Err(anyhow::anyhow!("no randomness").into());
    };
    let url = app.bank.push(scope, &pkce, &state).await?;
    let pending = Pending {
        verifier: pkce.verifier,
        state,
        purpose,
    };
    app.with_session(headers, |s| s.pending = Some(pending))
        .ok_or(Refusal::NoSession)?;
    Ok(Redirect::to(&url).into_response())
}

/// Connect accounts: a consent, then the customer's approval at the bank.
pub async fn connect(State(app): State<Arc<App>>, headers: HeaderMap) -> Page {
    #[allow(clippy::disallowed_methods)] // the platform's clock seam is not the TPP's
    let valid_until = (time::OffsetDateTime::now_utc() + time::Duration::days(89)).date();
    let token = app.bank.client_token("ais").await?;
    let id = app
        .bank
        .create_consent(&token, &valid_until.to_string())
        .await?;
    to_the_bank(&app, &headers, &format!("AIS:{id}"), Purpose::Consent(id)).await
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Session {
    /// Keeps the tokens of an authorization the customer approved for
    /// `purpose`: the page to show next.
    fn approved(&mut self, purpose: Purpose, tokens: crate::bank::Tokens) -> String {
        match purpose {
            Purpose::Consent(consent) => {
                self.consent = Some(Connected::new(consent, tokens));
                "/accounts".to_owned()
            }
            Purpose::Payment(id) => {
                let next = format!("/payments/{id}");
                if let Some(entry) = self.payments.iter_mut().find(|(p, _)| *p == id) {
                    entry.1 = Some(tokens.access_token);
                }
                next
            }
        }
    }
}

/// The bank sends the browser back here with a code (or an error).
pub async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Page {
    let pending = app.with_session(&headers, |s| s.pending.take()).flatten();
    let pending = pending.ok_or(Refusal::NoSession)?;
    if back.state.as_deref() != Some(pending.state.as_str()) {
        let page = Message {
            title: "Unexpected answer".into(),
            text: "This answer does not belong to the request this browser made.".into(),
        };
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let Some(code) = back.code else {
        let why = back.error_description.or(back.error).unwrap_or_default();
        app.with_session(&headers, |s| {
            s.notice = Some(format!("Not approved at the bank: {why}"))
        });
        return Ok(Redirect::to("/").into_response());
    };
    let tokens = app.bank.exchange(&code, &pending.verifier).await?;
    let next = app.with_session(&headers, |s| s.approved(pending.purpose, tokens));
    Ok(Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response())
}

/// A field of the bank's JSON as text ("" when absent).
fn field<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(value, |v, key| &v[*key])
        .as_str()
        .unwrap_or_default()
}

/// "12.50 EUR"
fn money(amount: &Value) -> String {
    format!(
        "{} {}",
        field(amount, &["amount"]),
        field(amount, &["currency"])
    )
}

struct AccountRow {
    id: String,
    name: String,
    iban: String,
    balance: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts.html")]
struct Accounts {
    accounts: Vec<AccountRow>,
}

fn account_row(account: &Value) -> AccountRow {
    AccountRow {
        id: field(account, &["resourceId"]).to_owned(),
        name: field(account, &["name"]).to_owned(),
        iban: field(account, &["iban"]).to_owned(),
        balance: account["balances"]
            .get(0)
            .map(|b| money(&b["balanceAmount"]))
            .unwrap_or_default(),
    }
}

pub async fn accounts(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Page {
    let (consent, token) = connected(&app, &headers).await?;
    let answer = app.bank.accounts(&token, &consent, &psu_ip(peer)).await?;
    let accounts = answer["accounts"]
        .as_array()
        .map(|list| list.iter().map(account_row).collect())
        .unwrap_or_default();
    Ok(Accounts { accounts }.into_response())
}

struct TransactionRow {
    date: String,
    who: String,
    reference: String,
    amount: String,
}

fn transaction_row(t: &Value) -> TransactionRow {
    let creditor = field(t, &["creditorName"]);
    TransactionRow {
        date: field(t, &["bookingDate"]).to_owned(),
        who: if creditor.is_empty() {
            field(t, &["debtorName"])
        } else {
            creditor
        }
        .to_owned(),
        reference: field(t, &["remittanceInformationUnstructured"]).to_owned(),
        amount: field(t, &["transactionAmount", "amount"]).to_owned(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct Account {
    iban: String,
    /// (balance type, amount)
    balances: Vec<(String, String)>,
    transactions: Vec<TransactionRow>,
    chart: String,
}

impl Account {
    /// The page of the bank's transaction report `answer`.
    fn of(answer: &Value) -> Self {
        let transactions = answer["transactions"]["booked"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let balances = answer["balances"].as_array().cloned().unwrap_or_default();
        Self {
            iban: field(answer, &["account", "iban"]).to_owned(),
            chart: balance_chart(&balances, &transactions),
            balances: balances
                .iter()
                .map(|b| {
                    (
                        field(b, &["balanceType"]).to_owned(),
                        money(&b["balanceAmount"]),
                    )
                })
                .collect(),
            transactions: transactions.iter().map(transaction_row).collect(),
        }
    }
}

pub async fn account(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let (consent, token) = connected(&app, &headers).await?;
    let peer = psu_ip(peer);
    let answer = app.bank.transactions(&token, &consent, &id, &peer).await?;
    Ok(Account::of(&answer).into_response())
}

#[derive(Deserialize)]
pub struct PaymentForm {
    from_iban: String,
    amount: String,
    creditor_name: String,
    creditor_iban: String,
    reference: String,
}

impl PaymentForm {
    /// The payment initiation's body.
    fn payment(&self) -> Value {
        json!({
            "instructedAmount": {"currency": "EUR", "amount": self.amount.trim()},
            "debtorAccount": {"iban": self.from_iban.replace(' ', "")},
            "creditorName": self.creditor_name.trim(),
            "creditorAccount": {"iban": self.creditor_iban.replace(' ', "")},
            "remittanceInformationUnstructured": self.reference.trim(),
        })
    }
}

/// A payment: initiated with the app's token, authorised by the customer at the bank.
pub async fn pay(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PaymentForm>,
) -> Page {
    let token = app.bank.client_token("pis").await?;
    let peer = psu_ip(peer);
    let id = app
        .bank
        .initiate_payment(&token, &form.payment(), &peer)
        .await?;
    app.with_session(&headers, |s| s.payments.push((id.clone(), None)))
        .ok_or(Refusal::NoSession)?;
    to_the_bank(&app, &headers, &format!("PIS:{id}"), Purpose::Payment(id)).await
}

#[derive(Template, WebTemplate)]
#[template(path = "payment.html")]
struct Payment {
    id: String,
    status: String,
    meaning: &'static str,
}

/// ISO 20022 statuses a payment passes through, in words.
fn meaning(status: &str) -> &'static str {
    match status {
        "RCVD" => "received by the bank, waiting for the customer's approval",
        "ACTC" | "ACCP" | "ACWC" => "approved by the customer, being executed",
        "ACSP" | "ACFC" => "accepted for settlement",
        "ACSC" => "executed: the money left the account",
        "PDNG" | "PATC" => "pending",
        "RJCT" => "rejected",
        "CANC" => "cancelled",
        _ => "see the Berlin Group transactionStatus codes",
    }
}

pub async fn payment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    // The payment's own token once authorised, the app's before.
    let token = app.with_session(&headers, |s| {
        s.payments
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, t)| t.clone())
    });
    let token = match token.flatten().ok_or(Refusal::NoSession)? {
        Some(token) => token,
        None => app.bank.client_token("pis").await?,
    };
    let status = app.bank.payment_status(&token, &id).await?;
    let page = Payment {
        meaning: meaning(&status),
        id,
        status,
    };
    Ok(page.into_response())
}

/// Withdraws the consent at the bank and forgets its token.
pub async fn withdraw(State(app): State<Arc<App>>, headers: HeaderMap) -> Page {
    let connected = app.with_session(&headers, |s| s.consent.take()).flatten();
    let connected = connected.ok_or(Refusal::NoSession)?;
    let token = app.bank.client_token("ais").await?;
    app.bank.delete_consent(&token, &connected.consent).await?;
    app.with_session(&headers, |s| {
        s.notice = Some("The consent is withdrawn; the bank no longer answers for it.".into())
    });
    Ok(Redirect::to("/").into_response())
}
