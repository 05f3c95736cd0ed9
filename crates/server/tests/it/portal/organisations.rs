//! Organisations: forms that need the session's token from the same origin,
//! and members invited by mail whose roles limit what they do.

use crate::support::{Browser, Page, TestServer};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

use super::{PASSWORD, developer, link_in_last_mail, organisation};

async fn forms_without_a_valid_token_or_from_another_origin_are_refused_and_change_nothing(
    db: TestDb,
) {
    let server = TestServer::start(db).await;
    let mut b = developer(&server, "eve@tpp.example").await;
    let csrf = b.get("/portal/dashboard").await.csrf();

    let missing = b
        .post("/portal/orgs/new", &organisation("No Token GmbH"))
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let mut wrong = organisation("Wrong Token GmbH");
    wrong.push(("csrf", "not-the-token"));
    assert_eq!(
        b.post("/portal/orgs/new", &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    let mut right = organisation("Cross Site GmbH");
    right.push(("csrf", &csrf));
    let cross = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.body.contains("another site"));
    let fetch = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(fetch.status, StatusCode::FORBIDDEN);
    let null_origin = b
        .post_with("/portal/orgs/new", &right, &[("origin", "null")])
        .await;
    assert_eq!(
        null_origin.status,
        StatusCode::FORBIDDEN,
        "an opaque origin alone is not trusted"
    );

    let store = server.db.store().await;
    for name in ["No Token GmbH", "Wrong Token GmbH", "Cross Site GmbH"] {
        assert!(
            store.organisation_by_name(name).await.unwrap().is_none(),
            "{name} was created"
        );
    }
    // A browser's opaque origin on a same-origin post, with the token, works.
    let mut null_ok = organisation("Null Origin GmbH");
    null_ok.push(("csrf", &csrf));
    let null_same = b
        .post_with(
            "/portal/orgs/new",
            &null_ok,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(
        null_same.status,
        StatusCode::SEE_OTHER,
        "{}",
        null_same.body
    );
    // Same-origin with the token works.
    let ok = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[
                ("origin", &server.base_url),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);

    // Login and sign-up forms need their pre-session token too.
    let mut anon = Browser::new(&server);
    let login = anon
        .post(
            "/portal/login",
            &[("email", "eve@tpp.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    server.stop().await;
}
both_stores!(forms_without_a_valid_token_or_from_another_origin_are_refused_and_change_nothing);

/// The owner invites `email` as a viewer of the organisation at `org_path`: the answer.
async fn invite(owner: &mut Browser, org_path: &str, csrf: &str, email: &str) -> Page {
    owner
        .submit(
            &format!("{org_path}/invitations"),
            &[("email", email), ("role", "viewer")],
            csrf,
        )
        .await
}

async fn owners_invite_members_by_mail_and_roles_limit_what_members_do(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut owner = developer(&server, "owner@tpp.example").await;
    let csrf = owner.get("/portal/dashboard").await.csrf();
    let mut team = organisation("Team GmbH");
    team.push(("csrf", &csrf));
    let org = owner.post("/portal/orgs/new", &team).await;
    let org_path = org.location.unwrap();

    let bad = invite(&mut owner, &org_path, &csrf, "not-an-address").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains(r#"id="invite-email-error""#));
    assert!(
        bad.body.contains(r#"value="not-an-address""#),
        "typed value kept"
    );
    let sent = invite(&mut owner, &org_path, &csrf, "viewer@tpp.example").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let link = link_in_last_mail(&server, "viewer@tpp.example").await;

    // Someone else cannot use it.
    let mut other = developer(&server, "other@tpp.example").await;
    let form = other.get(&link).await;
    let token = link.split("token=").nth(1).unwrap();
    let refused = other
        .submit(
            "/portal/invitations/accept",
            &[("token", token)],
            &form.csrf(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let mut viewer = developer(&server, "viewer@tpp.example").await;
    let form = viewer.get(&link).await;
    assert!(form.body.contains("Accept invitation"));
    let joined = viewer
        .submit(
            "/portal/invitations/accept",
            &[("token", token)],
            &form.csrf(),
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    assert_eq!(joined.location.as_deref(), Some(org_path.as_str()));
    assert_eq!(
        viewer
            .submit(
                "/portal/invitations/accept",
                &[("token", token)],
                &form.csrf()
            )
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "used once"
    );
    let page = viewer.get(&org_path).await;
    assert!(page.body.contains("Team GmbH"));
    assert_eq!(
        viewer.get(&format!("{org_path}/apps/new")).await.status,
        StatusCode::FORBIDDEN,
        "viewers do not change apps"
    );

    // The owner removes the viewer; the organisation disappears for them.
    let owner_page = owner.get(&org_path).await;
    assert!(owner_page.body.contains("viewer@tpp.example"));
    let store = server.db.store().await;
    let org_id: fintechapi_domain::ids::OrganisationId =
        org_path.rsplit('/').next().unwrap().parse().unwrap();
    let members = store.members_of(org_id).await.unwrap();
    let viewer_id = members
        .iter()
        .find(|(u, _)| u.email.as_str() == "viewer@tpp.example")
        .unwrap()
        .0
        .id;
    let owner_id = members
        .iter()
        .find(|(u, _)| u.email.as_str() == "owner@tpp.example")
        .unwrap()
        .0
        .id;
    let removed = owner
        .submit(
            &format!("{org_path}/members/{viewer_id}/remove"),
            &[],
            &csrf,
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(viewer.get(&org_path).await.status, StatusCode::NOT_FOUND);
    let last_owner = owner
        .submit(&format!("{org_path}/members/{owner_id}/remove"), &[], &csrf)
        .await;
    assert_eq!(
        last_owner.status,
        StatusCode::BAD_REQUEST,
        "the last owner stays"
    );
    server.stop().await;
}
both_stores!(owners_invite_members_by_mail_and_roles_limit_what_members_do);
