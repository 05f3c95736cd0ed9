//! The token hot path: access tokens are checked from each node's cache, yet
//! a revocation stops the very next call (on another node, PostgreSQL, as
//! soon as the database's announcement arrives); token writes are committed
//! in batches, and each request is answered only once its batch is durable.

use std::sync::Arc;

use crate::support::xs2a::{Answer, Tpp, cli_app};
use crate::support::{Node, TestServer, config_for, within_a_second};
use fintechapi_testkit::{Backend, TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::Value;

/// An XS2A read with `token` at `base` and no `Consent-ID`: the first
/// `tppMessages` code. A live token passes the token check and is then
/// refused for the missing header, `FORMAT_ERROR`; a dead one `TOKEN_INVALID`.
async fn read_code(client: &reqwest::Client, base: &str, token: &str) -> String {
    let resp = client
        .get(format!("{base}/v1/accounts"))
        .bearer_auth(token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    body["tppMessages"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const LIVE: &str = "FORMAT_ERROR";

/// RFC 7009 revocation of the client's own `token`.
async fn revoke(tpp: &Tpp, token: &str) {
    let revoked = tpp.form("/oauth2/revoke", &[("token", token)]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
}

async fn a_revoked_token_is_refused_on_the_next_call_though_it_was_cached(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let client = server.client();
    let token = tpp.client_token().await;
    let other = tpp.client_token().await;
    // The second read of each is served from the node's cache.
    for t in [&token, &token, &other, &other] {
        assert_eq!(read_code(&client, &server.base_url, t).await, LIVE);
    }
    revoke(&tpp, &token).await;
    assert_eq!(
        read_code(&client, &server.base_url, &token).await,
        "TOKEN_INVALID"
    );
    assert_eq!(
        read_code(&client, &server.base_url, &other).await,
        LIVE,
        "the application's other token still works"
    );
    server.stop().await;
}
both_stores!(a_revoked_token_is_refused_on_the_next_call_though_it_was_cached);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_node_is_refused_by_the_other_within_a_second() {
    let db = TestDb::create(Backend::Postgres).await;
    let (_, key, secret) = cli_app(&db, "ais");
    let config = config_for(&db);
    let b = Node::start(config.clone()).await;
    let a = TestServer::start_with(db, config).await;
    let tpp = Tpp::with_credentials(&a, key, secret);
    let client = a.client();
    let token = tpp.client_token().await;
    // Node B checks the token, from its cache after the first read.
    for _ in 0..3 {
        assert_eq!(read_code(&client, &b.base_url, &token).await, LIVE);
    }
    revoke(&tpp, &token).await;
    assert_eq!(
        read_code(&client, &a.base_url, &token).await,
        "TOKEN_INVALID",
        "node A at once"
    );
    within_a_second("node B refuses the token revoked on node A", || async {
        let code = read_code(&client, &b.base_url, &token).await;
        (code != "TOKEN_INVALID").then(|| format!("node B answers {code}"))
    })
    .await;
    b.stop().await;
    a.stop().await;
}

/// Within the sandbox plan's burst.
const CONCURRENT: usize = 20;

/// `n` client-credentials token requests at once.
async fn at_once(tpp: &Arc<Tpp>, n: usize) -> Vec<Answer> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        let tpp = tpp.clone();
        requests.spawn(async move {
            tpp.form("/oauth2/token", &[("grant_type", "client_credentials")])
                .await
        });
    }
    requests.join_all().await
}

async fn concurrent_token_requests_all_succeed_and_are_all_stored(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Arc::new(Tpp::new(&server, &server.db, "ais"));
    let before = server.db.count_rows("oauth_tokens").await;
    let answers = at_once(&tpp, CONCURRENT).await;
    let mut tokens: Vec<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            a.body["access_token"].as_str().unwrap().to_owned()
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), CONCURRENT);
    // Each answered token was committed before its answer.
    assert_eq!(
        server.db.count_rows("oauth_tokens").await,
        before + CONCURRENT
    );
    let client = server.client();
    for token in &tokens {
        assert_eq!(read_code(&client, &server.base_url, token).await, LIVE);
    }
    server.stop().await;
}
both_stores!(concurrent_token_requests_all_succeed_and_are_all_stored);

async fn a_failed_token_write_answers_temporarily_unavailable(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Arc::new(Tpp::new(&server, &server.db, "ais"));
    // The database refuses every new token.
    let refuse = match server.db.backend() {
        Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_tokens BEFORE INSERT ON oauth_tokens \
             BEGIN SELECT RAISE(ABORT, 'induced failure'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_tokens() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'induced failure'; END $$",
            "CREATE TRIGGER refuse_tokens BEFORE INSERT ON oauth_tokens \
             FOR EACH ROW EXECUTE FUNCTION refuse_tokens()",
        ],
    };
    for sql in refuse {
        server.db.raw_strings(sql).await;
    }
    for refused in at_once(&tpp, 3).await {
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            refused.body
        );
        assert_eq!(
            refused.body["error"], "temporarily_unavailable",
            "{}",
            refused.body
        );
        assert!(refused.body.get("access_token").is_none());
    }
    assert_eq!(server.db.count_rows("oauth_tokens").await, 0);
    // Once the database takes writes again, so does the token endpoint.
    let allow = match server.db.backend() {
        Backend::Sqlite => "DROP TRIGGER refuse_tokens",
        Backend::Postgres => "DROP TRIGGER refuse_tokens ON oauth_tokens",
    };
    server.db.raw_strings(allow).await;
    let token = tpp.client_token().await;
    assert_eq!(
        read_code(&server.client(), &server.base_url, &token).await,
        LIVE
    );
    server.stop().await;
}
both_stores!(a_failed_token_write_answers_temporarily_unavailable);
