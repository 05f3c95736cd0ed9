//! Consumer keys and secrets: rotation, suspension, the cache of client
//! authentication, and secrets kept nowhere in clear.

use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::Status;
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};

use crate::fixture::{actor, aisp, fixture};

async fn a_rotated_secret_works_during_the_grace_period_then_not_at_all(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Rotate GmbH", aisp()).await;
    let (app, old) = f.sandbox_ais_app(&org).await;
    let new = f.registry.rotate_secret(&actor(), app.id).await.unwrap();
    assert_ne!(new.consumer_key, old.consumer_key);
    let (old_secret, new_secret) = (old.secret().unwrap(), new.secret().unwrap());
    f.clock.advance(time::Duration::hours(23));
    assert!(f.authenticates(&old.consumer_key, old_secret).await);
    assert!(f.authenticates(&new.consumer_key, new_secret).await);
    // Served from the cache now, and the clock still ends the grace period.
    f.clock.advance(time::Duration::hours(2));
    assert!(!f.authenticates(&old.consumer_key, old_secret).await);
    assert!(f.authenticates(&new.consumer_key, new_secret).await);

    // Revocation works at once.
    let live = f
        .registry
        .repo()
        .credential_by_key(&new.consumer_key)
        .await
        .unwrap()
        .unwrap();
    f.registry.revoke(&actor(), live.id).await.unwrap();
    assert!(!f.authenticates(&new.consumer_key, new_secret).await);
}
both_stores!(a_rotated_secret_works_during_the_grace_period_then_not_at_all);

async fn a_suspended_application_or_organisation_stops_authenticating(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Suspend GmbH", aisp()).await;
    let (app, issued) = f.sandbox_ais_app(&org).await;
    let login = || f.authenticates(&issued.consumer_key, issued.secret().unwrap());
    f.set_application_status(app.id, Status::Suspended).await;
    assert!(!login().await);
    f.set_application_status(app.id, Status::Active).await;
    assert!(login().await);
    f.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    assert!(!login().await);
    let trail = f.registry.repo().audit_trail(10).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "application.suspend"));
}
both_stores!(a_suspended_application_or_organisation_stops_authenticating);

async fn made_up_client_ids_are_not_cached_and_known_ones_stay_cached(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Flood GmbH", aisp()).await;
    let (_, issued) = f.sandbox_ais_app(&org).await;
    let secret = issued.secret().unwrap();
    assert!(f.authenticates(&issued.consumer_key, secret).await);
    assert_eq!(f.cache.len(), 1);
    for i in 0..500 {
        let key = format!("ck_made_up_{i}");
        assert!(!f.authenticates(&key, "cs_guess").await);
        assert!(f.registry.identify(&key).await.unwrap().is_none());
    }
    assert_eq!(f.cache.len(), 1, "unknown keys grew the cache");
    // A wrong secret for a known key is refused from the cache as well.
    assert!(!f.authenticates(&issued.consumer_key, "cs_wrong").await);
    assert!(f.authenticates(&issued.consumer_key, secret).await);
}
both_stores!(made_up_client_ids_are_not_cached_and_known_ones_stay_cached);

async fn the_secret_is_stored_nowhere(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Secret GmbH", aisp()).await;
    let (app, issued) = f.sandbox_ais_app(&org).await;
    let rotated = f.registry.rotate_secret(&actor(), app.id).await.unwrap();
    let secrets = [
        issued.secret().unwrap().to_owned(),
        rotated.secret().unwrap().to_owned(),
    ];
    let store = db.store().await;
    let dump = dump_text(&db, &store).await;
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a consumer secret is stored in clear"
        );
        assert!(
            !dump.contains(&secret[3..]),
            "a consumer secret is stored in clear"
        );
    }
    assert!(dump.contains(&issued.consumer_key), "the dump is real");
}
both_stores!(the_secret_is_stored_nowhere);

/// Every text column of the portal's tables, concatenated.
async fn dump_text(db: &TestDb, _store: &Store) -> String {
    let tables = [
        "users",
        "sessions",
        "one_time_tokens",
        "organisations",
        "applications",
        "subscriptions",
        "credentials",
        "outbox",
        "audit_log",
    ];
    let mut out = String::new();
    match db.database_url() {
        Some(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for table in tables {
                let sql = format!("SELECT CAST(t AS TEXT) FROM {table} t");
                for row in sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                {
                    out.push_str(&row);
                }
            }
        }
        None => {
            out = String::from_utf8_lossy(&std::fs::read(db.sqlite_path()).unwrap()).into_owned();
            let wal = db.sqlite_path().with_extension("db-wal");
            if let Ok(bytes) = std::fs::read(wal) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}
