//! The admin console over HTTPS, on both stores: approvals with mail,
//! suspension, audit trail and sandbox PSU management; operators only.

use std::sync::Arc;

use crate::support::{
    Browser, OPERATOR_PASSWORD as PASSWORD, TestServer, config_for, live_app, operator, user,
};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::portal::{Email, PortalRepository, UserKind};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::registry::{ApiProduct, Psd2Role, Psd2Roles, Status, SubscriptionStatus};
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_registry::{Actor, NewOrganisation};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

async fn only_operators_reach_the_console_and_they_decide_production_subscriptions(db: TestDb) {
    let config = config_for(&db);
    let server = TestServer::start_with(db, config.clone()).await;
    let developer = user(&server, "dev@tpp.example", UserKind::Developer).await;

    // Not logged in, or logged in as a developer: no console.
    let mut anon = Browser::new(&server);
    assert_eq!(
        anon.get("/admin").await.location.as_deref(),
        Some("/admin/login")
    );
    let login_page = anon.get("/admin/login").await;
    assert!(
        login_page
            .body
            .contains("FinTechAPI Demo Bank <span>Admin console</span>")
            && !login_page.body.contains("<span>Developer Portal</span>"),
        "the operators' login has the console's own header, under the default brand: {}",
        login_page.body
    );
    assert!(
        !login_page.body.contains("href=\"/admin/psus\""),
        "no console links before login"
    );
    let csrf = login_page.csrf();
    let dev_login = anon
        .submit(
            "/admin/login",
            &[("email", "dev@tpp.example"), ("password", PASSWORD)],
            &csrf,
        )
        .await;
    assert_eq!(
        dev_login.status,
        StatusCode::UNAUTHORIZED,
        "a developer is not an operator"
    );

    // A developer's production app waits for a decision.
    let registry =
        fintechapi_server::app::registry(&config, server.db.store().await, Arc::new(SystemClock))
            .unwrap();
    let who = Actor("dev@tpp.example".into());
    let roles = Psd2Roles::default()
        .with(Psd2Role::Aisp)
        .with(Psd2Role::Pisp);
    let org = registry
        .create_organisation(
            &who,
            Some(developer),
            NewOrganisation {
                legal_name: "Prod <i>TPP</i> AG".into(),
                country: "AT".into(),
                roles,
                competent_authority: "FMA".into(),
                authorisation_number: "FMA-4711".into(),
            },
        )
        .await
        .unwrap();
    let (app, issued) = live_app(
        &registry,
        &who,
        &org,
        vec![ApiProduct::Ais, ApiProduct::Pis],
    )
    .await;

    let mut ops = operator(&server).await;
    let overview = ops.get("/admin").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(
        overview.body.contains("FMA-4711"),
        "the operator sees the authorisation data"
    );
    assert!(
        overview.body.contains("Prod &#60;i&#62;TPP&#60;/i&#62; AG")
            || overview.body.contains("Prod &lt;i&gt;"),
        "escaped"
    );
    assert!(!overview.body.contains("<i>TPP</i>"));
    let csrf = overview.csrf();
    let subs = server
        .db
        .store()
        .await
        .subscriptions_of(app.id)
        .await
        .unwrap();
    let (ais, pis) = (
        subs.iter().find(|s| s.product == ApiProduct::Ais).unwrap(),
        subs.iter().find(|s| s.product == ApiProduct::Pis).unwrap(),
    );

    let decision_on = |id| format!("/admin/subscriptions/{id}/decision");
    let no_reason = ops
        .submit(
            &decision_on(pis.id),
            &[("decision", "reject"), ("reason", " ")],
            &csrf,
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(no_reason.body.contains("needs a reason"));
    let rejected = ops
        .submit(
            &decision_on(pis.id),
            &[
                ("decision", "reject"),
                ("reason", "PISP licence not yet passported"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER);
    let approved = ops
        .submit(&decision_on(ais.id), &[("decision", "approve")], &csrf)
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    let again = ops
        .submit(
            &decision_on(ais.id),
            &[("decision", "reject"), ("reason", "x")],
            &csrf,
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a decision is final");

    let store = server.db.store().await;
    let subs = store.subscriptions_of(app.id).await.unwrap();
    let status = |p| subs.iter().find(|s| s.product == p).unwrap().clone();
    assert_eq!(status(ApiProduct::Ais).status, SubscriptionStatus::Approved);
    assert_eq!(status(ApiProduct::Pis).status, SubscriptionStatus::Rejected);
    assert_eq!(
        status(ApiProduct::Pis).reason.as_deref(),
        Some("PISP licence not yet passported")
    );
    let mails = store
        .mails_to(&"dev@tpp.example".parse::<Email>().unwrap())
        .await
        .unwrap();
    assert!(mails.iter().any(
        |m| m.subject == "Subscription rejected by FinTechAPI Demo Bank"
            && m.body_text.contains("PISP licence not yet passported")
    ));
    assert!(
        mails
            .iter()
            .any(|m| m.subject == "Subscription approved by FinTechAPI Demo Bank")
    );

    // Suspension takes effect on the next authentication.
    assert!(
        registry
            .authenticate(&issued.consumer_key, issued.secret().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    let app_status = format!("/admin/apps/{}/status", app.id);
    let suspended = ops
        .submit(&app_status, &[("status", "suspended")], &csrf)
        .await;
    assert_eq!(suspended.status, StatusCode::SEE_OTHER);
    assert!(
        registry
            .authenticate(&issued.consumer_key, issued.secret().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    ops.submit(&app_status, &[("status", "active")], &csrf)
        .await;
    ops.submit(
        &format!("/admin/orgs/{}/status", org.id),
        &[("status", "suspended")],
        &csrf,
    )
    .await;
    assert_eq!(
        store.organisation(org.id).await.unwrap().unwrap().status,
        Status::Suspended
    );
    assert!(
        registry
            .authenticate(&issued.consumer_key, issued.secret().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Every change is in the audit trail, with who did it.
    let audit = ops.get("/admin/audit").await;
    for action in [
        "subscription.reject",
        "subscription.approve",
        "application.suspend",
        "application.unsuspend",
        "organisation.suspend",
    ] {
        assert!(
            audit.body.contains(action),
            "{action} missing from the audit trail"
        );
    }
    assert!(audit.body.contains("admin:ops@bank.example"));
    // Targets by name (the id in the tooltip), times to the minute, marked up
    // for the viewer's zone.
    assert!(
        audit
            .body
            .contains(&format!(r#"<span title="{}">Live App</span>"#, app.id)),
        "{}",
        audit.body
    );
    assert!(
        audit.body.contains("Prod &#60;i&#62;TPP&#60;/i&#62; AG")
            || audit.body.contains("Prod &lt;i&gt;")
    );
    let (_, stamp) = audit.body.split_once(r#"<time datetime=""#).unwrap();
    let (machine, rest) = stamp.split_once(r#"">"#).unwrap();
    let (shown, _) = rest.split_once("</time>").unwrap();
    assert_eq!(
        (machine.len(), machine.ends_with('Z')),
        (20, true),
        "{machine}"
    );
    assert_eq!(
        (shown.len(), shown.ends_with(" UTC")),
        (20, true),
        "{shown}"
    );
    assert_eq!(machine[..10], shown[..10]);

    // Forged posts change nothing.
    let forged = ops
        .post(
            &format!("/admin/orgs/{}/status", org.id),
            &[("status", "active"), ("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        store.organisation(org.id).await.unwrap().unwrap().status,
        Status::Suspended
    );
    server.stop().await;
}
both_stores!(only_operators_reach_the_console_and_they_decide_production_subscriptions);

async fn operators_create_sandbox_psus_with_funded_accounts_and_reset_their_password(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut ops = operator(&server).await;
    let page = ops.get("/admin/psus").await;
    let csrf = page.csrf();
    let bad = ops
        .submit(
            "/admin/psus",
            &[
                ("login", "bad login!"),
                ("display_name", ""),
                ("password", "short"),
                ("opening_balance", "12.345"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    for field in [
        "login-error",
        "display_name-error",
        "password-error",
        "opening_balance-error",
    ] {
        assert!(bad.body.contains(field), "{field} not shown");
    }
    let ok = ops
        .submit(
            "/admin/psus",
            &[
                ("login", "dora"),
                ("display_name", "Dora Sandbox"),
                ("password", "dora sandbox passphrase 1"),
                ("opening_balance", "250.50"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("PSU dora created"));
    let store = server.db.store().await;
    let (psu, hash) = store.psu_by_login("dora").await.unwrap().unwrap();
    assert!(hash.verify("dora sandbox passphrase 1"));
    let accounts = store.accounts_of_psu(psu.id).await.unwrap();
    assert_eq!(accounts[0].balances.booked, 25_050);
    assert!(store.audit().await.unwrap().is_consistent());
    let taken = ops
        .submit(
            "/admin/psus",
            &[
                ("login", "dora"),
                ("display_name", "Dora 2"),
                ("password", "dora sandbox passphrase 2"),
                ("opening_balance", "0"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.body.contains("already taken"));

    let reset = ops
        .submit(
            &format!("/admin/psus/{}/password", psu.id),
            &[("password", "a new sandbox passphrase 9")],
            &csrf,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let (_, hash) = store.psu_by_login("dora").await.unwrap().unwrap();
    assert!(hash.verify("a new sandbox passphrase 9"));

    // Failed logins blocked the credential for good; an operator lifts the block.
    for _ in 0..5 {
        store
            .begin_psu_attempt(psu.id, SystemClock.now())
            .await
            .unwrap();
    }
    assert!(
        store
            .block_psu(psu.id, SystemClock.now(), 3, None)
            .await
            .unwrap()
            .is_none(),
        "not after 3 blocks in a row: there were none"
    );
    assert!(
        store
            .block_psu(psu.id, SystemClock.now(), 0, None)
            .await
            .unwrap()
            .unwrap()
            .is_blocked_for_good()
    );
    assert!(
        store
            .psu_by_login("dora")
            .await
            .unwrap()
            .unwrap()
            .0
            .is_blocked(SystemClock.now())
    );
    let page = ops.get("/admin/psus").await;
    assert!(page.body.contains("Unblock dora"), "{}", page.body);
    let forged = ops
        .post(
            &format!("/admin/psus/{}/unblock", psu.id),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        store
            .psu_by_login("dora")
            .await
            .unwrap()
            .unwrap()
            .0
            .is_blocked(SystemClock.now()),
        "nothing changed"
    );
    let unblocked = ops
        .submit(&format!("/admin/psus/{}/unblock", psu.id), &[], &csrf)
        .await;
    assert_eq!(unblocked.status, StatusCode::OK);
    assert!(unblocked.body.contains("dora can log in again"));
    let (psu_now, _) = store.psu_by_login("dora").await.unwrap().unwrap();
    assert!(!psu_now.is_blocked(SystemClock.now()));
    assert_eq!(psu_now.failed_logins, 0);

    // Another funded account for the same PSU.
    let accounts = format!("/admin/psus/{}/accounts", psu.id);
    let bad = ops
        .submit(&accounts, &[("opening_balance", "-1")], &csrf)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let opened = ops
        .submit(&accounts, &[("opening_balance", "75.00")], &csrf)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let accounts = store.accounts_of_psu(psu.id).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().any(|a| a.balances.booked == 7_500));
    assert!(store.audit().await.unwrap().is_consistent());
    let audit = ops.get("/admin/audit").await;
    assert!(audit.body.contains("psu.unblock") && audit.body.contains("psu.open_account"));
    server.stop().await;
}
both_stores!(operators_create_sandbox_psus_with_funded_accounts_and_reset_their_password);

/// The TOTP seed an enrolment page shows.
fn shown_seed(page: &crate::support::Page) -> (String, fintechapi_domain::otp::Seed) {
    let tag = r#"<code id="totp-seed">"#;
    let at = page.body.find(tag).unwrap() + tag.len();
    let text = page.body[at..at + page.body[at..].find("</code>").unwrap()].to_owned();
    let seed = fintechapi_domain::otp::Seed::from_base32(&text).unwrap();
    (text, seed)
}

async fn in_production_an_operator_without_a_second_factor_reaches_only_its_enrolment(db: TestDb) {
    let clock = Arc::new(fintechapi_domain::ManualClock::new(
        time::macros::datetime!(2026-11-25 10:00:00 UTC),
    ));
    let config = crate::support::production_config(&db, clock.now());
    let server = TestServer::start_with_clock(db, config, clock.clone()).await;
    let mut b = operator(&server).await;

    // Every page and form of the console sends them to enrol, before it acts.
    for path in ["/admin", "/admin/psus", "/admin/audit"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/admin/security"), "{path}");
    }
    let enrol = b.get("/admin/security").await;
    assert_eq!(enrol.status, StatusCode::OK);
    assert!(
        enrol.body.contains("must use two-factor login"),
        "{}",
        enrol.body
    );
    let csrf = enrol.csrf();
    let audited = || server.db.count_rows("audit_log");
    let before = audited().await;
    let post = b
        .submit(
            "/admin/psus",
            &[
                ("login", "mallory"),
                ("display_name", "Mallory"),
                ("password", PASSWORD),
                ("opening_balance", "100.00"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(post.location.as_deref(), Some("/admin/security"));
    assert_eq!(audited().await, before, "nothing done");

    // Enrolment with the portal's flow opens the console; it cannot be turned off.
    let (seed_text, seed) = shown_seed(&enrol);
    let code = |at| seed.code_at(at).unwrap();
    let wrong = b
        .submit(
            "/admin/security/totp",
            &[
                ("action", "enable"),
                ("seed", &seed_text),
                ("code", "000000"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        b.get("/admin").await.location.as_deref(),
        Some("/admin/security")
    );
    let on = b
        .submit(
            "/admin/security/totp",
            &[
                ("action", "enable"),
                ("seed", &seed_text),
                ("code", &code(clock.now())),
            ],
            &csrf,
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert!(on.body.contains("Two-factor login is on"), "{}", on.body);
    let console = b.get("/admin").await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(!console.body.contains("has no second factor"));
    clock.advance(time::Duration::seconds(30));
    let off = b
        .submit(
            "/admin/security/totp",
            &[("action", "disable"), ("code", &code(clock.now()))],
            &csrf,
        )
        .await;
    assert_eq!(off.status, StatusCode::BAD_REQUEST);
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);

    // The next login asks for the code before the console opens.
    assert_eq!(
        b.submit("/admin/logout", &[], &csrf)
            .await
            .location
            .as_deref(),
        Some("/admin/login")
    );
    let mut c = Browser::new(&server);
    let csrf = c.get("/admin/login").await.csrf();
    let step1 = c
        .submit(
            "/admin/login",
            &[("email", "ops@bank.example"), ("password", PASSWORD)],
            &csrf,
        )
        .await;
    assert_eq!(step1.location.as_deref(), Some("/portal/login/code"));
    assert_eq!(
        c.get("/admin").await.location.as_deref(),
        Some("/admin/login")
    );
    clock.advance(time::Duration::seconds(30));
    let done = c
        .submit("/portal/login/code", &[("code", &code(clock.now()))], &csrf)
        .await;
    done.assert_location("/admin");
    assert_eq!(c.get("/admin").await.status, StatusCode::OK);
    server.stop().await;
}
both_stores!(in_production_an_operator_without_a_second_factor_reaches_only_its_enrolment);

async fn an_operator_without_a_second_factor_may_leave_before_enrolling(db: TestDb) {
    let clock = Arc::new(fintechapi_domain::ManualClock::new(
        time::macros::datetime!(2026-11-25 10:00:00 UTC),
    ));
    let config = crate::support::production_config(&db, clock.now());
    let server = TestServer::start_with_clock(db, config, clock).await;
    let mut b = operator(&server).await;
    let csrf = b.get("/admin/security").await.csrf();
    let out = b.submit("/admin/logout", &[], &csrf).await;
    assert_eq!(out.location.as_deref(), Some("/admin/login"));
    assert_eq!(
        b.get("/admin/security").await.location.as_deref(),
        Some("/admin/login")
    );
    server.stop().await;
}
both_stores!(an_operator_without_a_second_factor_may_leave_before_enrolling);

async fn in_development_the_second_factor_stays_optional_with_a_warning(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut b = operator(&server).await;
    let console = b.get("/admin").await;
    assert_eq!(console.status, StatusCode::OK);
    assert!(
        console
            .body
            .contains("Your operator account has no second factor"),
        "{}",
        console.body
    );
    let psus = b.get("/admin/psus").await;
    assert_eq!(psus.status, StatusCode::OK);
    assert!(psus.body.contains(r#"href="/admin/security""#));
    let enrol = b.get("/admin/security").await;
    assert!(!enrol.body.contains("must use two-factor login"));
    assert!(enrol.body.contains(r#"action="/admin/security/totp""#));
    server.stop().await;
}
both_stores!(in_development_the_second_factor_stays_optional_with_a_warning);
