//! Members of an organisation: who may invite, who may remove, and the last
//! owner who stays.

use fintechapi_domain::Clock;
use fintechapi_domain::ids::UserId;
use fintechapi_domain::portal::{MemberRole, PortalRepository};
use fintechapi_registry::{Actor, RegistryError};
use fintechapi_testkit::{TestDb, both_stores};

use crate::fixture::{actor, aisp, create_user, fixture};

async fn only_an_owner_of_the_organisation_invites(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Invite GmbH", aisp()).await;
    let store = f.registry.repo();
    let owner = store.user(f.owner).await.unwrap().unwrap();
    let outsider = create_user(
        store,
        UserId::random(),
        "outsider@tpp.example",
        "Outsider",
        f.clock.now(),
    )
    .await;
    let invitee = "new@tpp.example".parse().unwrap();

    let refused = f
        .registry
        .invite(
            &Actor("outsider@tpp.example".into()),
            &outsider,
            &org,
            "new@tpp.example",
            "owner",
            "https://portal.example",
        )
        .await;
    assert!(
        matches!(refused, Err(RegistryError::NotOwner)),
        "{refused:?}"
    );
    assert!(
        store.mails_to(&invitee).await.unwrap().is_empty(),
        "a refused invitation sends no mail"
    );

    f.registry
        .invite(
            &actor(),
            &owner,
            &org,
            "new@tpp.example",
            "developer",
            "https://portal.example",
        )
        .await
        .unwrap();
    let mails = store.mails_to(&invitee).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .body_text
            .contains("https://portal.example/portal/invitations/accept?token=")
    );
}
both_stores!(only_an_owner_of_the_organisation_invites);

async fn only_an_owner_removes_members_and_the_last_owner_stays(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Remove GmbH", aisp()).await;
    let outsider = UserId::random();
    let refused = f
        .registry
        .remove_member(&actor(), outsider, org.id, f.owner)
        .await;
    assert!(
        matches!(refused, Err(RegistryError::NotOwner)),
        "{refused:?}"
    );
    let last = f
        .registry
        .remove_member(&actor(), f.owner, org.id, f.owner)
        .await;
    assert!(matches!(last, Err(RegistryError::Invalid(_))), "{last:?}");
    let (seen, role) = f
        .registry
        .organisation_of_member(f.owner, org.id)
        .await
        .unwrap();
    assert_eq!((seen.id, role), (org.id, MemberRole::Owner));
    let hidden = f.registry.organisation_of_member(outsider, org.id).await;
    assert!(matches!(hidden, Err(RegistryError::NotFound)), "{hidden:?}");
}
both_stores!(only_an_owner_removes_members_and_the_last_owner_stays);
