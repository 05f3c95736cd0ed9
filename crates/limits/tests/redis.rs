//! The Redis backend against the local server (CI starts one): limits and
//! quotas shared by several nodes, and the fallback when Redis is away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::{Clock, SystemClock};

use fintechapi_limits::{Backend, Limits, Quota, Rate, RedisSettings};

fn settings(url: &str) -> RedisSettings {
    RedisSettings {
        url: url.into(),
        // A fresh namespace per test: runs never see each other's counts.
        key_prefix: format!("test-{}:", uuid::Uuid::new_v4()),
        timeout: Duration::from_millis(500),
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two nodes on one Redis.
async fn two_nodes() -> (Limits, Limits) {
    let shared = settings(&redis_url());
    let a = Limits::with_redis(&shared, clock()).await.unwrap();
    let b = Limits::with_redis(&shared, clock()).await.unwrap();
    assert_eq!(a.backend(), Backend::Redis);
    assert!(!a.degraded(), "Redis must be reachable at {}", redis_url());
    assert!(!b.degraded());
    (a, b)
}

#[tokio::test]
async fn two_nodes_admit_one_rate_between_them() {
    let (a, b) = two_nodes().await;
    // 2 a second with a burst of 10: 10 of 30 calls made at once, whichever
    // node takes them. Half a second between tokens keeps the test exact on a
    // loaded machine.
    let rate = Rate::per_second(2, 10).unwrap();
    let mut admitted = 0;
    let mut last = None;
    for i in 0..30 {
        let node = if i % 2 == 0 { &a } else { &b };
        let d = node.admit("app:oauth", rate).await;
        admitted += u32::from(d.allowed);
        last = Some(d);
    }
    assert_eq!(admitted, 10);
    let refused = last.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert!(
        refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_millis(500)
    );
    // Half a second later one more call is allowed, on either node.
    tokio::time::sleep(Duration::from_millis(510)).await;
    assert!(b.admit("app:oauth", rate).await.allowed);
    assert!(!a.admit("app:oauth", rate).await.allowed);
    assert!(a.admit("other-app:oauth", rate).await.allowed);
}

#[tokio::test]
async fn a_daily_quota_is_exact_across_nodes() {
    let (a, b) = two_nodes().await;
    let day = SystemClock.today();
    let mut allowed = 0;
    for i in 0..12 {
        let node = if i % 3 == 0 { &a } else { &b };
        let d = node.consume_quota("app:ais:day", 7, day).await;
        if d.allowed {
            allowed += 1;
            assert_eq!(d.remaining, 7 - allowed);
        } else {
            assert!(d.retry_after > Duration::ZERO && d.retry_after <= Duration::from_secs(86_400));
        }
    }
    assert_eq!(allowed, 7);
}

#[tokio::test]
async fn a_rate_and_a_quota_count_together_from_a_known_floor() {
    let (a, _) = two_nodes().await;
    // One call a second refills: slow enough that none comes back during the test.
    let rate = Rate::new(100, Duration::from_secs(100), 100).unwrap();
    let quota = Quota {
        per_day: 10,
        day: SystemClock.today(),
        // Usage statistics already show 8 calls today.
        at_least: 8,
    };
    let mut outcomes = vec![];
    for _ in 0..4 {
        outcomes.push(a.check(Some(("r", rate)), Some(("q", &quota))).await);
    }
    assert_eq!(outcomes.iter().filter(|v| v.allowed()).count(), 2);
    let refused = outcomes[2];
    assert!(!refused.quota.unwrap().allowed);
    assert!(refused.rate.unwrap().allowed);
    // Refused calls spent nothing of the rate: 98 of 100 left, 97 after one more.
    assert_eq!(a.admit("r", rate).await.remaining, 97);
}

#[tokio::test]
async fn without_redis_a_node_limits_alone_and_says_so() {
    // Nothing listens on port 1.
    let limits = Limits::with_redis(&settings("redis://127.0.0.1:1"), clock())
        .await
        .unwrap();
    assert_eq!(limits.backend(), Backend::Redis);
    assert!(limits.degraded());
    let rate = Rate::per_second(5, 5).unwrap();
    let started = std::time::Instant::now();
    let admitted = futures_count(&limits, rate, 8).await;
    assert_eq!(admitted, 5);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "the fallback must not wait for Redis"
    );
}

async fn futures_count(limits: &Limits, rate: Rate, n: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..n {
        admitted += usize::from(limits.admit("k", rate).await.allowed);
    }
    admitted
}

#[tokio::test]
async fn an_invalid_url_is_refused() {
    assert!(
        Limits::with_redis(&settings("http://127.0.0.1:6379"), clock())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_degraded_node_returns_to_redis_by_itself() {
    let port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().port()
    };
    let limits = Limits::with_redis(&settings(&format!("redis://127.0.0.1:{port}")), clock())
        .await
        .unwrap();
    assert!(limits.degraded());
    // Redis "comes back": a relay to the real server opens on that port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let target = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while limits.degraded() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!limits.degraded(), "the node should find Redis again");
}
