//! Developer accounts against real stores, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::sync::Arc;

use fintechapi_domain::ids::UserId;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{NewUser, PortalRepository, UserKind};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::{Clock, ManualClock};
use fintechapi_testkit::{TestDb, both_stores};
use time::macros::datetime;

async fn expired_sessions_and_tokens_are_pruned_and_live_ones_kept(db: TestDb) {
    let store = db.store().await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)));
    let pepper = Pepper::from_bytes(&[42; 32]).unwrap();
    let settings =
        fintechapi_portal::accounts::AccountSettings::new("https://localhost:8443".into());
    let passwords = std::sync::Arc::new(fintechapi_web::passwords::PasswordPool::new().unwrap());
    let accounts = fintechapi_portal::accounts::Accounts::new(
        store.clone(),
        pepper,
        clock.clone(),
        settings,
        passwords,
    );
    let verified = |email: &str| NewUser {
        id: UserId::random(),
        email: email.parse().unwrap(),
        display_name: "D".into(),
        kind: UserKind::Developer,
        password: PasswordHash::create("correct horse battery staple 42").unwrap(),
        email_verified_at: Some(clock.now()),
        created_at: clock.now(),
    };
    store
        .create_user(verified("idle@tpp.example"))
        .await
        .unwrap();
    store
        .create_user(verified("busy@tpp.example"))
        .await
        .unwrap();
    let login = |email: &'static str| {
        accounts.log_in(
            email,
            "correct horse battery staple 42",
            UserKind::Developer,
            None,
        )
    };
    let idle = match login("idle@tpp.example").await.unwrap() {
        fintechapi_portal::accounts::LoginOutcome::Session(s) => s,
        _ => panic!(),
    };
    clock.advance(time::Duration::minutes(20));
    let busy = match login("busy@tpp.example").await.unwrap() {
        fintechapi_portal::accounts::LoginOutcome::Session(s) => s,
        _ => panic!(),
    };
    clock.advance(time::Duration::minutes(15));
    assert_eq!(
        accounts.prune().await.unwrap(),
        1,
        "only the idle session goes"
    );
    assert!(
        accounts
            .session(busy.cookie.expose())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        accounts
            .session(idle.cookie.expose())
            .await
            .unwrap()
            .is_none()
    );
}
both_stores!(expired_sessions_and_tokens_are_pruned_and_live_ones_kept);
