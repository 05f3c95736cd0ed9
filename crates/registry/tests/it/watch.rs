//! The registry watch on PostgreSQL: a node's cache hears another node's
//! changes, and forgets everything when its watch breaks.

use std::sync::Arc;

use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{RegistryChange, RegistryEvent, Status};
use fintechapi_registry::{Freshness, RegistryCache};
use fintechapi_testkit::{Backend, TestDb};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::fixture::{aisp, fixture, registry};

/// Waits (2 s at most) for the watch to report `want`, skipping other events.
async fn heard(events: &mut UnboundedReceiver<RegistryEvent>, want: RegistryEvent) {
    tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(event) = events.recv().await {
            if event == want {
                return;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the watch reports within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_another_nodes_changes_and_forgets_everything_when_its_watch_breaks() {
    let db = TestDb::create(Backend::Postgres).await;
    // Node A writes without a cache; node B serves from one kept fresh by its watch.
    let a = fixture(&db).await;
    let store = db.store().await;
    let cache = Arc::new(RegistryCache::new(Freshness::Announced, 100));
    let b = registry(store.clone(), a.clock.clone()).with_cache(cache.clone());
    let (sent, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watch = {
        let cache = cache.clone();
        tokio::spawn(async move {
            store
                .watch_registry(
                    move |event| {
                        cache.apply(event);
                        let _ = sent.send(event);
                    },
                    stopped,
                )
                .await;
        })
    };
    heard(&mut events, RegistryEvent::Connected).await;

    let org = a.org("Watch GmbH", aisp()).await;
    let (app, issued) = a.sandbox_ais_app(&org).await;
    let app_changed = RegistryEvent::Changed(RegistryChange::Application(app.id));
    // The creation's own notification (one per transaction), so that the
    // next one heard is the suspension's.
    heard(&mut events, app_changed).await;
    let login = || b.authenticate(&issued.consumer_key, issued.secret().unwrap());
    assert!(login().await.unwrap().is_some());
    assert!(b.active_products(app.id).await.unwrap().is_some());
    assert_eq!(cache.len(), 2, "both answers are cached");

    a.set_application_status(app.id, Status::Suspended).await;
    heard(&mut events, app_changed).await;
    assert!(login().await.unwrap().is_none());
    assert_eq!(b.active_products(app.id).await.unwrap(), None);
    a.set_application_status(app.id, Status::Active).await;
    heard(&mut events, app_changed).await;
    assert!(login().await.unwrap().is_some());

    // The listening connection is killed: everything cached is forgotten, and
    // nothing is cached until the watch listens again.
    let killed = db
        .raw_strings(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(killed, ["true"], "one listening connection");
    heard(&mut events, RegistryEvent::Lost).await;
    heard(&mut events, RegistryEvent::Connected).await;
    assert_eq!(cache.len(), 0);
    assert!(login().await.unwrap().is_some());
    a.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    heard(
        &mut events,
        RegistryEvent::Changed(RegistryChange::Organisation(org.id)),
    )
    .await;
    assert!(login().await.unwrap().is_none());

    let _ = stop.send(true);
    watch.await.unwrap();
}
