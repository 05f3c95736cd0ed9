//! Plan limits across nodes: two servers on one PostgreSQL database and one
//! Redis admit one plan's burst between them, not one each; without Redis
//! each node admits its own. With Redis configured but away, a node keeps
//! serving with its own limiter and says so in `/readyz` and `/metrics`.

use std::time::Instant;

use crate::support::xs2a::{Answer, cli_app};
use crate::support::{Browser, Node, TestServer, config_for, json_of};
use fintechapi_server::config::{Config, PlanConfig};
use fintechapi_testkit::{Backend, TestDb, both_stores};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;

/// The sandbox plan made slow to refill (one call a second after a burst of
/// 20), so a burst's outcome does not depend on how fast the machine is.
const BURST: usize = 20;

fn config(db: &TestDb, redis_url: Option<&str>) -> Config {
    let mut config = config_for(db);
    config.plans.insert(
        "sandbox".into(),
        PlanConfig {
            per_second: Some(1),
            burst: Some(u32::try_from(BURST).unwrap()),
            per_day: Some(100_000),
        },
    );
    config.redis.url = redis_url.map(str::to_owned);
    // A fresh namespace per run; a loaded test machine gets more than 50 ms.
    config.redis.key_prefix = format!("test-{}:", uuid::Uuid::new_v4());
    config.redis.timeout_ms = 1000;
    // Operators read the detail of /readyz and /metrics on their own listener.
    config.metrics.listen = Some("127.0.0.1:0".into());
    config
}

/// A path on the node's private operators' listener.
fn private(server: &TestServer, path: &str) -> String {
    format!("http://{}{path}", server.metrics_addr.unwrap())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two nodes of one deployment sharing the test Redis: the server and a second node.
async fn two_nodes_on_redis(db: TestDb) -> (TestServer, Node) {
    let shared = config(&db, Some(&redis_url()));
    let b = Node::start(shared.clone()).await;
    (TestServer::start_with(db, shared).await, b)
}

/// Sends `n` requests in rounds of two, one to each node at the same moment:
/// the nodes race each other on the shared count in every round, and neither
/// can take the whole burst merely by answering its first calls sooner.
async fn burst(
    client: &reqwest::Client,
    bases: [&str; 2],
    n: usize,
    request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> Vec<(usize, Answer)> {
    let call = |node: usize| {
        let sent = request(client, bases[node]).send();
        async move { (node, Answer::of(sent.await.unwrap()).await) }
    };
    let mut answers = vec![];
    for _ in 0..n / 2 {
        let (a, b) = tokio::join!(call(0), call(1));
        answers.extend([a, b]);
    }
    answers
}

fn admitted_per_node(answers: &[(usize, Answer)]) -> [usize; 2] {
    let mut per_node = [0, 0];
    for (node, a) in answers {
        assert!(!a.status.is_server_error(), "{}", a.body);
        if a.status != StatusCode::TOO_MANY_REQUESTS {
            per_node[*node] += 1;
        }
    }
    per_node
}

/// A burst of token requests and of XS2A reads over two nodes; returns the
/// calls admitted per node for each, and the seconds the bursts took.
async fn two_node_bursts(
    base_a: &str,
    base_b: &str,
    key: &str,
    secret: &str,
    client: &reqwest::Client,
) -> ([usize; 2], [usize; 2], u64) {
    let started = Instant::now();
    let token_calls = burst(client, [base_a, base_b], 2 * BURST, |c, base| {
        c.post(format!("{base}/oauth2/token"))
            .basic_auth(key, Some(secret))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    let oauth = admitted_per_node(&token_calls);
    let token = token_calls
        .iter()
        .find_map(|(_, a)| a.body["access_token"].as_str())
        .unwrap()
        .to_owned();
    for (_, a) in &token_calls {
        assert!(
            a.headers["ratelimit-policy"]
                .to_str()
                .unwrap()
                .starts_with("\"default\";q=1;w=1"),
            "{:?}",
            a.headers
        );
        assert!(a.headers.contains_key("ratelimit"));
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(a.body["error"], "slow_down");
            assert!(
                a.headers[RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
        }
    }
    let reads = burst(client, [base_a, base_b], 2 * BURST, |c, base| {
        c.get(format!("{base}/v1/accounts"))
            .bearer_auth(&token)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
    })
    .await;
    let ais = admitted_per_node(&reads);
    for (_, a) in &reads {
        assert!(
            a.headers.contains_key("ratelimit-policy"),
            "{:?}",
            a.headers
        );
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(a.body["tppMessages"][0]["code"], "ACCESS_EXCEEDED");
            assert!(a.headers.contains_key(RETRY_AFTER));
            assert!(
                a.headers["ratelimit"]
                    .to_str()
                    .unwrap()
                    .starts_with("\"default\";r=0;")
            );
        }
    }
    (oauth, ais, started.elapsed().as_secs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_redis_admit_one_plan_rate_not_two() {
    let db = TestDb::create(Backend::Postgres).await;
    let (_, key, secret) = cli_app(&db, "ais");

    // Shared through Redis.
    let (a, b) = two_nodes_on_redis(db).await;
    let client = a.client();
    let ready = json_of(reqwest::Client::new().get(private(&a, "/readyz"))).await;
    assert_eq!(
        ready["limits"],
        "redis",
        "Redis must be reachable at {}",
        redis_url()
    );
    let (oauth, ais, secs) =
        two_node_bursts(&a.base_url, &b.base_url, &key, &secret, &client).await;
    println!(
        "with Redis: token endpoint admitted {oauth:?} (node A, node B) of {} in a burst; /v1/accounts {ais:?}; {secs} s",
        2 * BURST
    );
    // One burst between the two nodes, plus what refilled (1/s) while the bursts ran.
    let slack = usize::try_from(secs).unwrap() + 1;
    for admitted in [oauth, ais] {
        let total = admitted[0] + admitted[1];
        assert!(total >= BURST && total <= BURST + slack, "{admitted:?}");
        assert!(
            admitted[0] > 0 && admitted[1] > 0,
            "both nodes took calls: {admitted:?}"
        );
    }
    b.stop().await;

    // Without Redis, as before: each node admits a burst of its own.
    let alone = config(&a.db, None);
    let c = Node::start(alone.clone()).await;
    let d = Node::start(alone).await;
    let (oauth, ais, secs) =
        two_node_bursts(&c.base_url, &d.base_url, &key, &secret, &client).await;
    println!(
        "without Redis: token endpoint admitted {oauth:?} of {} in a burst; /v1/accounts {ais:?}; {secs} s",
        2 * BURST
    );
    for admitted in [oauth, ais] {
        assert!(admitted[0] + admitted[1] >= 2 * BURST - 2, "{admitted:?}");
    }
    c.stop().await;
    d.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_redis_send_one_recipient_its_hourly_mails_not_twice_as_many() {
    let db = TestDb::create(Backend::Postgres).await;
    let (a, b) = two_nodes_on_redis(db).await;
    crate::support::Api::developer(&a, "owner@tpp.example").await;
    // Reset requests alternate between the nodes; each node alone would
    // allow the recipient 3 mails an hour.
    for base in [&a.base_url, &b.base_url].repeat(3) {
        let mut browser = Browser::new(&a).at(base);
        let csrf = browser.get("/portal/reset").await.csrf();
        let page = browser
            .submit("/portal/reset", &[("email", "owner@tpp.example")], &csrf)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("If an account uses this address"));
    }
    let mails =
        a.db.raw_strings("SELECT subject FROM outbox WHERE recipient = 'owner@tpp.example'")
            .await;
    // The sign-up mail and two resets: 3 between both nodes.
    assert_eq!(mails.len(), 3, "{mails:?}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_redis_count_one_clients_failed_authentications_together() {
    let db = TestDb::create(Backend::Postgres).await;
    let (a, b) = two_nodes_on_redis(db).await;
    let (_, key, secret) = cli_app(&a.db, "ais");
    let client = a.client();
    let token = |base: &str, secret: &str| {
        client
            .post(format!("{base}/oauth2/token"))
            .basic_auth(&key, Some(secret.to_owned()))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // Ten wrong secrets between the nodes, the client_id's limit; each node
    // alone has seen five.
    for base in [&a.base_url, &b.base_url].repeat(5) {
        let resp = token(base, "wrong").await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = token(&a.base_url, "wrong").await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key(RETRY_AFTER));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "slow_down", "{body}");
    // Node A now holds the client before checking even the right secret.
    let resp = token(&a.base_url, &secret).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_away_a_node_serves_limits_alone_and_says_so() {
    let db = TestDb::create(Backend::Postgres).await;
    let (_, key, secret) = cli_app(&db, "ais");
    // Nothing listens on port 1.
    let closed = config(&db, Some("redis://127.0.0.1:1"));
    let server = TestServer::start_with(db, closed).await;
    let client = server.client();
    let ready = reqwest::get(private(&server, "/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "the node stays in service");
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["limits"], "degraded");
    let metrics = reqwest::get(private(&server, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fintechapi_limits_backend_degraded 1"),
        "{metrics}"
    );

    let started = Instant::now();
    let answers = burst(
        &client,
        [&server.base_url, &server.base_url],
        2 * BURST,
        |c, base| {
            c.post(format!("{base}/oauth2/token"))
                .basic_auth(&key, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
        },
    )
    .await;
    let admitted = admitted_per_node(&answers);
    let total = admitted[0] + admitted[1];
    let slack = usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    assert!(
        total >= BURST && total <= BURST + slack,
        "the local limiter holds: {admitted:?}"
    );
    server.stop().await;
}

async fn an_operator_assigns_a_plan_and_the_next_calls_follow_it(db: TestDb) {
    let (app_id, key, secret) = cli_app(&db, "ais");
    let mut config = config_for(&db);
    config.plans.insert(
        "tight".into(),
        PlanConfig {
            per_second: Some(1),
            burst: Some(2),
            per_day: None,
        },
    );
    let server = TestServer::start_with(db, config).await;
    let client = server.client();
    let token = || async {
        let resp = client
            .post(server.url("/oauth2/token"))
            .basic_auth(&key, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        (resp.status(), resp.headers().clone())
    };

    let mut ops = crate::support::operator(&server).await;
    let overview = ops.get("/admin").await;
    assert!(
        overview.body.contains(
            r#"<option value="tight">tight: 1 requests per second (bursts of 2)</option>"#
        ),
        "{}",
        overview.body
    );
    let csrf = overview.csrf();
    let path = format!("/admin/apps/{app_id}/plan");
    assert_eq!(
        ops.post(&path, &[("plan", "tight"), ("csrf", "forged")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ops.submit(&path, &[("plan", "platinum")], &csrf)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        token().await.1["ratelimit-policy"],
        "\"default\";q=25;w=1, \"daily\";q=10000;w=86400",
        "the sandbox tier until an operator decides"
    );

    assert_eq!(
        ops.submit(&path, &[("plan", "tight")], &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        ops.get("/admin")
            .await
            .body
            .contains(r#"<option value="tight" selected>"#)
    );
    let answers = [token().await, token().await, token().await];
    assert_eq!(
        answers.each_ref().map(|a| a.0),
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(answers[0].1["ratelimit-policy"], "\"default\";q=1;w=1");
    assert_eq!(answers[0].1["ratelimit"], "\"default\";r=1;t=1");
    assert_eq!(answers[2].1["ratelimit"], "\"default\";r=0;t=1");
    assert_eq!(answers[2].1[RETRY_AFTER], "1");

    // For benchmarks: no limit, and no limit announced.
    assert_eq!(
        ops.submit(&path, &[("plan", "unlimited")], &csrf)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    for _ in 0..30 {
        let (status, headers) = token().await;
        assert_eq!(status, StatusCode::OK);
        assert!(!headers.contains_key("ratelimit-policy"));
    }
    let audit = ops.get("/admin/audit").await;
    assert!(
        audit.body.contains("application.plan") && audit.body.contains("tight -&gt; unlimited")
            || audit.body.contains("tight -&#62; unlimited"),
        "{}",
        audit.body
    );
    server.stop().await;
}
both_stores!(an_operator_assigns_a_plan_and_the_next_calls_follow_it);
