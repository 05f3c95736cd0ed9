//! The group commit's token batches, written each store's own way (SQLite's
//! writer connection, PostgreSQL's column arrays), read back through the
//! pool exactly as written, stored whole or not at all, and pruned by their
//! expiry like any other.

use fintechapi_domain::ids::{ApplicationId, OrganisationId};
use fintechapi_domain::oauth::{TokenKind, TokenRecord, TokenRepository};
use fintechapi_domain::secret::KeyedHash;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::scratch_pg::ScratchPg;
use crate::store::Pool;
use crate::{Store, StoreOptions};

const ORGANISATION: &str = "INSERT INTO organisations (id, legal_name, country, roles, \
     competent_authority, authorisation_number, status, created_at) \
     VALUES ($1, 'Writer Ltd', 'DE', 'PSP_AI', 'BAFIN', 'W-1', 'active', $2)";
const APPLICATION: &str = "INSERT INTO applications (id, organisation_id, name, description, \
     redirect_uris, security_profile, environment, status, created_at) \
     VALUES ($1, $2, 'writer', '', 'https://tpp.example/cb', 'basic', 'sandbox', 'active', $3)";

fn issued_at() -> OffsetDateTime {
    // To the microsecond, all that PostgreSQL keeps of a time.
    OffsetDateTime::from_unix_timestamp_nanos(1_764_900_000_123_456_000).expect("a time in range")
}

fn token(hash: &str, kind: TokenKind, application_id: ApplicationId) -> TokenRecord {
    TokenRecord {
        hash: KeyedHash::from_stored(hash.into()),
        kind,
        application_id,
        client_id: "ck_writer".into(),
        scope: "ais pis".into(),
        authorization_id: None,
        authorization_details: None,
        dpop_jkt: None,
        mtls_x5t: None,
        issued_at: issued_at(),
        expires_at: issued_at() + Duration::minutes(5),
        revoked_at: None,
    }
}

/// The organisation and application rows on either store's pool.
macro_rules! insert_application {
    ($pool:expr, $organisation:expr, $application:expr) => {{
        sqlx::query(ORGANISATION)
            .bind($organisation)
            .bind(issued_at())
            .execute($pool)
            .await
            .unwrap();
        sqlx::query(APPLICATION)
            .bind($application)
            .bind($organisation)
            .bind(issued_at())
            .execute($pool)
            .await
            .unwrap();
    }};
}

/// An application for the tokens' foreign key.
async fn application(store: &Store) -> ApplicationId {
    let (organisation, application) = (OrganisationId::random(), ApplicationId::random());
    match &store.pool {
        Pool::Sqlite(sqlite) => insert_application!(&sqlite.0, organisation, application),
        Pool::Postgres(postgres) => insert_application!(&postgres.0, organisation, application),
    }
    application
}

async fn batches_round_trip(store: &Store) {
    store.migrate().await.unwrap();
    let application = application(store).await;
    let access = token("k_access", TokenKind::Access, application);
    let refresh = TokenRecord {
        dpop_jkt: Some("jkt-thumbprint".into()),
        mtls_x5t: Some("x5t-thumbprint".into()),
        authorization_details: Some(r#"[{"type":"consent"}]"#.into()),
        revoked_at: Some(issued_at() + Duration::seconds(1)),
        expires_at: issued_at() + Duration::days(90),
        ..token("k_refresh", TokenKind::Refresh, application)
    };
    store
        .insert_tokens(&[access.clone(), refresh.clone()])
        .await
        .unwrap();
    for written in [&access, &refresh] {
        assert_eq!(
            store.token_by_hash(&written.hash).await.unwrap().as_ref(),
            Some(written)
        );
    }

    // The second token's key is taken: neither is stored.
    let fresh = token("k_fresh", TokenKind::Access, application);
    assert!(
        store
            .insert_tokens(&[fresh.clone(), access.clone()])
            .await
            .is_err()
    );
    assert_eq!(store.token_by_hash(&fresh.hash).await.unwrap(), None);
    // A failed batch leaves the way open for the next.
    store
        .insert_tokens(std::slice::from_ref(&fresh))
        .await
        .unwrap();
    assert_eq!(
        store.token_by_hash(&fresh.hash).await.unwrap(),
        Some(fresh.clone())
    );

    // Expired by the store's comparison of stored times: the two access
    // tokens, not the refresh token.
    let after_access = access.expires_at + Duration::seconds(1);
    assert_eq!(store.prune_tokens(after_access, 100).await.unwrap(), 2);
    assert_eq!(store.token_by_hash(&access.hash).await.unwrap(), None);
    assert_eq!(
        store.token_by_hash(&refresh.hash).await.unwrap(),
        Some(refresh)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_batches_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("writer.db"), &StoreOptions::default())
        .await
        .unwrap();
    let Pool::Sqlite(sqlite) = &store.pool else {
        panic!("a SQLite file opened another store");
    };
    assert!(
        sqlite.3.is_some(),
        "a file-backed store writes tokens apart"
    );
    batches_round_trip(&store).await;
    // Stored as the text sqlx binds (RFC 3339), which the prune compares
    // with: another form that sqlx also decodes would compare wrongly.
    let stored: (String, String, String) = sqlx::query_as(
        "SELECT issued_at, expires_at, revoked_at FROM oauth_tokens WHERE token_hash = 'k_refresh'",
    )
    .fetch_one(&sqlite.0)
    .await
    .unwrap();
    let rfc3339 = |at: OffsetDateTime| at.format(&Rfc3339).unwrap();
    assert_eq!(
        stored,
        (
            rfc3339(issued_at()),
            rfc3339(issued_at() + Duration::days(90)),
            rfc3339(issued_at() + Duration::seconds(1))
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_batches_round_trip_on_postgres() {
    let scratch = ScratchPg::create().await;
    let store = Store::connect(&scratch.url, &StoreOptions::default())
        .await
        .unwrap();
    batches_round_trip(&store).await;
    // The batches ran on a connection of their own, not the pool's (which
    // tests each connection it takes back with a round trip): the last one
    // left it open for the next; the failed one before it closed its own.
    let Pool::Postgres(postgres) = &store.pool else {
        panic!("a PostgreSQL URL opened another store");
    };
    assert_eq!(postgres.2.open(), 1);
    drop(store);
    scratch.drop_database().await;
}

/// A grant's tokens are found through the index that leaves out the
/// client-credentials tokens, not by a scan.
#[tokio::test]
async fn a_grants_tokens_are_found_by_the_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("plan.db"), &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let Pool::Sqlite(sqlite) = &store.pool else {
        panic!("a SQLite file opened another store");
    };
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN UPDATE oauth_tokens SET revoked_at = $2 \
         WHERE authorization_id = $1 AND revoked_at IS NULL",
    )
    .bind("an-authorization")
    .bind("2026-12-05T00:00:00Z")
    .fetch_all(&sqlite.0)
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|(.., detail)| detail.contains("USING INDEX oauth_tokens_by_authorization")),
        "{plan:?}"
    );
}
