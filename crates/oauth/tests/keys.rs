//! Signing-key rotation over time, on both stores: the next key is published
//! before it signs, a retired key stays published for a day, then goes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use fintechapi_domain::oauth::SigningKeyRepository;
use fintechapi_domain::secret::Pepper;
use fintechapi_oauth::keys::{self, ROTATION};
use fintechapi_testkit::{TestDb, both_stores};
use time::Duration;
use time::macros::datetime;

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn keys_rotate_with_the_next_published_before_use_and_the_old_kept_a_day(db: TestDb) {
    let store = db.store().await;
    let pepper = Pepper::from_bytes(&[7; 32]).unwrap();
    let t0 = datetime!(2026-11-25 12:00 UTC);
    keys::ensure(&store, &pepper, t0).await.unwrap();
    keys::ensure(&store, &pepper, t0).await.unwrap(); // idempotent
    let first = kids(&keys::jwks(&store, t0).await.unwrap());
    assert_eq!(first.len(), 2, "current and next");
    let signer = |at| {
        let store = store.clone();
        let pepper = Pepper::from_bytes(&[7; 32]).unwrap();
        async move {
            let jwt = keys::sign(
                &store,
                &pepper,
                at,
                "test+jwt",
                &serde_json::json!({"a": 1}),
            )
            .await
            .unwrap();
            jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap()
        }
    };
    assert_eq!(signer(t0).await, first[0]);

    // After a rotation period the next key signs, a third is published, the first lingers a day.
    let t1 = t0 + ROTATION + Duration::hours(1);
    keys::ensure(&store, &pepper, t1).await.unwrap();
    assert_eq!(signer(t1).await, first[1]);
    let published = kids(&keys::jwks(&store, t1).await.unwrap());
    assert_eq!(published.len(), 3, "{published:?}");
    assert!(published.contains(&first[0]));
    let t2 = t1 + Duration::days(2);
    assert!(!kids(&keys::jwks(&store, t2).await.unwrap()).contains(&first[0]));
    assert_eq!(store.signing_keys(t0).await.unwrap().len(), 3);
}
both_stores!(keys_rotate_with_the_next_published_before_use_and_the_old_kept_a_day);
