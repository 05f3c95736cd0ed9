//! The app's pages. Each handler: find the browser's session, call the bank,
//! render or redirect. A failed call shows the bank's own message.

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
async fn connected(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<(String, String)>> {
    let Some(current) = app.with_session(headers, |s| s.consent.clone()).flatten() else {
        return Ok(None);
    };
    let soon = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let fresh = match (&current.tokens.refresh_token, current.expires <= soon) {
        (Some(refresh), true) => {
            let renewed = Connected::new(current.consent.clone(), app.bank.refresh(refresh).await?);
            app.with_session(headers, |s| s.consent = Some(renewed.clone()));
            renewed
        }
        _ => current,
    };
    Ok(Some((fresh.consent, fresh.tokens.access_token)))
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
}

/// The address of the customer in front of the browser: the bank wants it
/// on calls made while the customer is present.
fn psu_ip(peer: SocketAddr) -> String {
    peer.ip().to_string()
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct Home {
    connected: bool,
    payments: Vec<(String, bool)>,
    notice: Option<String>,
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

fn no_session() -> Response {
    Redirect::to("/").into_response()
}

pub async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let shown = app.with_session(&headers, |s| Home {
        connected: s.consent.is_some(),
        payments: s
            .payments
            .iter()
            .map(|(id, token)| (id.clone(), token.is_some()))
            .collect(),
        notice: s.notice.take(),
    });
    if let Some(page) = shown {
        return page.into_response();
    }
    let Ok(id) = random_text() else {
        return failed(anyhow::anyhow!("no randomness"));
    };
    {
        let mut sessions = app.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            return (StatusCode::SERVICE_UNAVAILABLE, "too many sessions").into_response();
        }
        sessions.insert(id.clone(), Session::default());
    }
    let mut response = Home {
        connected: false,
        payments: Vec::new(),
        notice: None,
    }
    .into_response();
    if let Ok(cookie) =
        HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Sends the browser to the bank for `purpose`, remembering what comes back.
async fn to_the_bank(app: &App, headers: &HeaderMap, scope: &str, purpose: Purpose) -> Response {
    let (Ok(pkce), Ok(state)) = (Pkce::new(), random_text()) else {
        return failed(anyhow::anyhow!("no randomness"));
    };
    let url = match app.bank.push(scope, &pkce, &state).await {
        Ok(url) => url,
        Err(e) => return failed(e),
    };
    let pending = Pending {
        verifier: pkce.verifier,
        state,
        purpose,
    };
    match app.with_session(headers, |s| s.pending = Some(pending)) {
        Some(()) => Redirect::to(&url).into_response(),
        None => no_session(),
    }
}

/// Connect accounts: a consent, then the customer's approval at the bank.
pub async fn connect(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    #[allow(clippy::disallowed_methods)] // the platform's clock seam is not the TPP's
    let valid_until = (time::OffsetDateTime::now_utc() + time::Duration::days(89)).date();
    let consent = async {
        let token = app.bank.client_token("ais").await?;
        app.bank
            .create_consent(&token, &valid_until.to_string())
            .await
    };
    match consent.await {
        Ok(id) => to_the_bank(&app, &headers, &format!("AIS:{id}"), Purpose::Consent(id)).await,
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The bank sends the browser back here with a code (or an error).
pub async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Response {
    let Some(pending) = app.with_session(&headers, |s| s.pending.take()).flatten() else {
        return no_session();
    };
    if back.state.as_deref() != Some(pending.state.as_str()) {
        let page = Message {
            title: "Unexpected answer".into(),
            text: "This answer does not belong to the request this browser made.".into(),
        };
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let Some(code) = back.code else {
        let why = back.error_description.or(back.error).unwrap_or_default();
        app.with_session(&headers, |s| {
            s.notice = Some(format!("Not approved at the bank: {why}"))
        });
        return Redirect::to("/").into_response();
    };
    let tokens = match app.bank.exchange(&code, &pending.verifier).await {
        Ok(tokens) => tokens,
        Err(e) => return failed(e),
    };
    let next = app.with_session(&headers, |s| match pending.purpose {
        Purpose::Consent(consent) => {
            s.consent = Some(Connected::new(consent, tokens));
            "/accounts".to_owned()
        }
        Purpose::Payment(id) => {
            let next = format!("/payments/{id}");
            if let Some(entry) = s.payments.iter_mut().find(|(p, _)| *p == id) {
                entry.1 = Some(tokens.access_token);
            }
            next
        }
    });
    Redirect::to(&next.unwrap_or_else(|| "/".into())).into_response()
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
) -> Response {
    let (consent, token) = match connected(&app, &headers).await {
        Ok(Some(pair)) => pair,
        Ok(None) => return no_session(),
        Err(e) => return failed(e),
    };
    match app.bank.accounts(&token, &consent, &psu_ip(peer)).await {
        Ok(answer) => Accounts {
            accounts: answer["accounts"]
                .as_array()
                .map(|list| list.iter().map(account_row).collect())
                .unwrap_or_default(),
        }
        .into_response(),
        Err(e) => failed(e),
    }
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

pub async fn account(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (consent, token) = match connected(&app, &headers).await {
        Ok(Some(pair)) => pair,
        Ok(None) => return no_session(),
        Err(e) => return failed(e),
    };
    let answer = match app
        .bank
        .transactions(&token, &consent, &id, &psu_ip(peer))
        .await
    {
        Ok(answer) => answer,
        Err(e) => return failed(e),
    };
    let transactions = answer["transactions"]["booked"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let balances = answer["balances"].as_array().cloned().unwrap_or_default();
    Account {
        iban: field(&answer, &["account", "iban"]).to_owned(),
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
    .into_response()
}

#[derive(Deserialize)]
pub struct PaymentForm {
    from_iban: String,
    amount: String,
    creditor_name: String,
    creditor_iban: String,
    reference: String,
}

/// A payment: initiated with the app's token, authorised by the customer at the bank.
pub async fn pay(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PaymentForm>,
) -> Response {
    let payment = json!({
        "instructedAmount": {"currency": "EUR", "amount": form.amount.trim()},
        "debtorAccount": {"iban": form.from_iban.replace(' ', "")},
        "creditorName": form.creditor_name.trim(),
        "creditorAccount": {"iban": form.creditor_iban.replace(' ', "")},
        "remittanceInformationUnstructured": form.reference.trim(),
    });
    let initiated = async {
        let token = app.bank.client_token("pis").await?;
        app.bank
            .initiate_payment(&token, &payment, &psu_ip(peer))
            .await
    };
    let id = match initiated.await {
        Ok(id) => id,
        Err(e) => return failed(e),
    };
    if app
        .with_session(&headers, |s| s.payments.push((id.clone(), None)))
        .is_none()
    {
        return no_session();
    }
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
) -> Response {
    let Some(token) = app
        .with_session(&headers, |s| {
            s.payments
                .iter()
                .find(|(p, _)| *p == id)
                .map(|(_, t)| t.clone())
        })
        .flatten()
    else {
        return no_session();
    };
    let status = match token {
        Some(token) => app.bank.payment_status(&token, &id).await,
        None => match app.bank.client_token("pis").await {
            Ok(token) => app.bank.payment_status(&token, &id).await,
            Err(e) => Err(e),
        },
    };
    match status {
        Ok(status) => Payment {
            meaning: meaning(&status),
            id,
            status,
        }
        .into_response(),
        Err(e) => failed(e),
    }
}

/// Withdraws the consent at the bank and forgets its token.
pub async fn withdraw(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(connected) = app.with_session(&headers, |s| s.consent.take()).flatten() else {
        return no_session();
    };
    let deleted = async {
        let token = app.bank.client_token("ais").await?;
        app.bank.delete_consent(&token, &connected.consent).await
    };
    if let Err(e) = deleted.await {
        return failed(e);
    }
    app.with_session(&headers, |s| {
        s.notice = Some("The consent is withdrawn; the bank no longer answers for it.".into())
    });
    Redirect::to("/").into_response()
}
