//! Crash test, on both stores: payments are initiated and authorised through
//! the real binary while it is killed with SIGKILL at random moments and
//! restarted. Every acknowledged payment (the PSU got the redirect back) is
//! executed exactly once, a payment left authorised by a crash is settled after
//! the restart, and `fintechapi ledger verify` passes.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::xs2a::cli_app;
use crate::support::{SANDBOX_CODE, serve, store_args};
use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::{TestDb, both_stores};
use serde_json::{Value, json};

const VERIFIER: &str = "a-crash-test-pkce-code-verifier-with-enough-characters";

/// The server under test, restarted on a new port after each kill.
struct Node {
    db_args: Vec<String>,
    child: Option<Child>,
    base: String,
    http: reqwest::Client,
}

impl Node {
    fn start(db: &TestDb) -> Self {
        let mut node = Self {
            db_args: store_args(db),
            child: None,
            base: String::new(),
            http: reqwest::Client::new(),
        };
        node.ensure_running(db);
        node
    }

    fn ensure_running(&mut self, db: &TestDb) {
        if let Some(child) = &mut self.child
            && child.try_wait().unwrap().is_none()
        {
            return;
        }
        let (child, port) = serve(&self.db_args);
        self.child = Some(child);
        self.base = format!("https://localhost:{port}");
        self.http = fintechapi_testkit::https_client(&db.data_dir().join("tls").join("dev-ca.pem"))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

// The TPP and PSU steps below are fallible on purpose, rather than the shared
// `Tpp` and `Browser::authorise`, which panic on a failed step: here a step may
// meet a server this test just killed, which ends the attempt, not the test.

/// What a payment attempt reached before it ended or the server died.
#[derive(Default)]
struct Attempt {
    payment: Option<String>,
    acknowledged: bool,
}

fn csrf(page: &str) -> Result<String, String> {
    let at = page.find(r#"name="csrf" value=""#).ok_or("no form")? + r#"name="csrf" value=""#.len();
    Ok(page[at..at + page[at..].find('"').ok_or("bad form")?].to_owned())
}

/// Sends a request and reads its JSON answer; a dead server is an error, not a panic.
async fn json_of(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

/// A payment initiated on the XS2A API (RCVD); its id.
async fn initiate(
    node: &Node,
    key: &str,
    secret: &str,
    debtor: &str,
    cents: u32,
) -> Result<String, String> {
    let (http, base) = (&node.http, &node.base);
    let token = json_of(
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(key, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await?;
    let token = token["access_token"].as_str().ok_or("no token")?.to_owned();
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": format!("1.{cents:02}")}, "debtorAccount": {"iban": debtor}, "creditorName": "Crash Test Payee", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let created = json_of(
        http.post(format!("{base}/v1/payments/instant-sepa-credit-transfers"))
            .bearer_auth(&token)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .header("psu-ip-address", "192.0.2.9")
            .json(&body),
    )
    .await?;
    Ok(created["paymentId"]
        .as_str()
        .ok_or("no payment")?
        .to_owned())
}

/// The `name=value` of the session cookie a response sets, if it sets one.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// One payment from initiation to the PSU's approval; any transport error ends it.
async fn pay(
    node: &Node,
    key: &str,
    secret: &str,
    debtor: &str,
    cents: u32,
    attempt: &mut Attempt,
) -> Result<(), String> {
    let (http, base) = (&node.http, &node.base);
    let e = |e: reqwest::Error| e.to_string();
    let payment = initiate(node, key, secret, debtor, cents).await?;
    attempt.payment = Some(payment.clone());
    let scope = format!("PIS:{payment}");
    let par = json_of(
        http.post(format!("{base}/oauth2/par"))
            .basic_auth(key, Some(secret))
            .form(&[
                ("response_type", "code"),
                ("redirect_uri", "https://acme.example/cb"),
                ("scope", &scope),
                ("code_challenge", &pkce_s256(VERIFIER)),
                ("code_challenge_method", "S256"),
            ]),
    )
    .await?;
    let request_uri = par["request_uri"].as_str().ok_or("no request_uri")?;
    let start = http
        .get(format!(
            "{base}/oauth2/authorize?client_id={key}&request_uri={}",
            crate::support::urlencode(request_uri)
        ))
        .send()
        .await
        .map_err(e)?;
    let mut cookie = session_cookie(&start).ok_or("no session")?;
    let get = |path: &str, cookie: &str| {
        http.get(format!("{base}{path}"))
            .header("cookie", cookie)
            .send()
    };
    let post = |path: &str, cookie: &str, form: Vec<(&str, String)>| {
        http.post(format!("{base}{path}"))
            .header("cookie", cookie)
            .form(&form)
            .send()
    };
    let page = get("/bank/login", &cookie)
        .await
        .map_err(e)?
        .text()
        .await
        .map_err(e)?;
    let logged_in = post(
        "/bank/login",
        &cookie,
        vec![
            ("login", "alice".into()),
            ("password", "alice-demo-2026".into()),
            ("csrf", csrf(&page)?),
        ],
    )
    .await
    .map_err(e)?;
    // The session gets a new id at each privilege change.
    cookie = session_cookie(&logged_in).unwrap_or(cookie);
    let page = get("/bank/sca", &cookie)
        .await
        .map_err(e)?
        .text()
        .await
        .map_err(e)?;
    let second = post(
        "/bank/sca",
        &cookie,
        vec![("code", SANDBOX_CODE.into()), ("csrf", csrf(&page)?)],
    )
    .await
    .map_err(e)?;
    cookie = session_cookie(&second).unwrap_or(cookie);
    let page = get("/bank/consent", &cookie)
        .await
        .map_err(e)?
        .text()
        .await
        .map_err(e)?;
    let approved = post(
        "/bank/consent",
        &cookie,
        vec![("decision", "approve".into()), ("csrf", csrf(&page)?)],
    )
    .await
    .map_err(e)?;
    let location = approved
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    attempt.acknowledged =
        approved.status() == reqwest::StatusCode::SEE_OTHER && location.contains("code=");
    Ok(())
}

async fn statuses(db: &TestDb) -> Vec<(String, String)> {
    db.raw_strings("SELECT id || ' ' || status FROM payments")
        .await
        .iter()
        .map(|row| {
            let (id, status) = row.split_once(' ').unwrap();
            (id.to_owned(), status.to_owned())
        })
        .collect()
}

async fn postings_of(db: &TestDb, payment: &str) -> usize {
    db.raw_strings(&format!(
        "SELECT id FROM ledger_transactions WHERE idempotency_key = 'payment:{payment}'"
    ))
    .await
    .len()
}

/// Waits until no payment is left authorised but unsettled.
async fn settled(db: &TestDb) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while statuses(db).await.iter().any(|(_, s)| s == "ACTC") {
        assert!(
            Instant::now() < deadline,
            "authorised payments were not settled after the restart"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn acknowledged_payments_execute_exactly_once_across_sigkill_and_restart(db: TestDb) {
    let mut node = Node::start(&db); // seeds the demo bank
    let (_, key, secret) = cli_app(&db, "pis");
    let debtor = db
        .raw_strings(
            "SELECT a.iban FROM accounts a JOIN psus p ON p.id = a.psu_id \
             WHERE p.login = 'alice' AND a.iban IS NOT NULL ORDER BY a.iban LIMIT 1",
        )
        .await
        .remove(0);

    // A fixed pseudo-random schedule, so a failure can be replayed.
    let mut seed: u64 = 0x5eed_2026;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u32
    };
    let (mut acknowledged, mut kills) = (Vec::new(), 0);
    for i in 0..12_u32 {
        node.ensure_running(&db);
        let mut attempt = Attempt::default();
        if i % 2 == 1 {
            // Kill the server somewhere inside this payment's flow.
            let pid = node.child.as_ref().unwrap().id();
            let delay = Duration::from_millis(u64::from(next() % 250));
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            });
            kills += 1;
        }
        let _ = pay(&node, &key, &secret, &debtor, i, &mut attempt).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if attempt.acknowledged {
            acknowledged.push(attempt.payment.unwrap());
        }
    }
    assert!(
        kills > 0 && !acknowledged.is_empty(),
        "the workload both crashed and completed payments"
    );

    // A crash right after the PSU authorised, before the posting: ACTC in the database.
    node.ensure_running(&db);
    let stranded = initiate(&node, &key, &secret, &debtor, 99).await.unwrap();
    let alice = db
        .raw_strings("SELECT id FROM psus WHERE login = 'alice'")
        .await
        .remove(0);
    node.kill();
    db.raw_strings(&format!(
        "UPDATE payments SET status = 'ACTC', psu_id = '{alice}', \
         status_changed_at = '2000-01-01T00:00:00Z' WHERE id = '{stranded}'"
    ))
    .await;

    node.ensure_running(&db);
    settled(&db).await;
    for id in &acknowledged {
        let status = statuses(&db)
            .await
            .into_iter()
            .find(|(p, _)| p == id)
            .unwrap()
            .1;
        assert_eq!(status, "ACSC", "acknowledged payment {id}");
    }
    for (id, status) in statuses(&db).await {
        let expected = usize::from(status == "ACSC");
        assert_eq!(
            postings_of(&db, &id).await,
            expected,
            "payment {id} in {status}"
        );
    }
    let stranded_status = statuses(&db)
        .await
        .into_iter()
        .find(|(p, _)| *p == stranded)
        .unwrap()
        .1;
    assert_eq!(
        (stranded_status.as_str(), postings_of(&db, &stranded).await),
        ("ACSC", 1),
        "the stranded payment was settled once"
    );
    node.kill();
    crate::support::fintechapi(&db, &["ledger", "verify"]);
}
both_stores!(acknowledged_payments_execute_exactly_once_across_sigkill_and_restart);
