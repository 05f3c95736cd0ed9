//! Multilevel SCA for consents: a consent whose granted accounts include a
//! joint account is `partiallyAuthorised` until every joint holder of each
//! has approved it (`domain` `holders::approval_of_all`); the last approval
//! makes it `valid` through one conditional update, so racing last
//! approvals authorise it once.

use axum::http::StatusCode;
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentStatus};
use fintechapi_domain::holders::{AccountHolder, Approval, approval_of_all};
use fintechapi_domain::ids::PsuId;

use crate::error::BankError;
use crate::service::{BankService, BankStore};

/// The holders of each account the grants name.
pub(crate) async fn holders_of<R: BankStore>(
    service: &BankService<R>,
    grants: &[AccountGrant],
) -> Result<Vec<Vec<AccountHolder>>, StoreError> {
    let repo = service.oauth.server.repo();
    let mut holders = Vec::with_capacity(grants.len());
    for grant in grants {
        holders.push(repo.account_holders(grant.account).await?);
    }
    Ok(holders)
}

/// `psu` approves `consent` on `grants` (the accounts they chose on a
/// `received` consent, or the ones fixed by the first holder's approval).
/// Ok when the approval counted; the error page when the consent was decided
/// meanwhile or the PSU holds a joint account of it not.
pub(crate) async fn authorise<R: BankStore>(
    service: &BankService<R>,
    consent: &Consent,
    psu: PsuId,
    grants: Vec<AccountGrant>,
) -> Result<(), BankError> {
    let server = &service.oauth.server;
    let (repo, now) = (server.repo(), server.now());
    let mut holders = holders_of(service, &grants).await?;
    if consent.status == ConsentStatus::Received {
        let alone = match approval_of_all(&holders, psu, &[]) {
            Approval::NotAHolder => return Err(not_a_holder()),
            Approval::Complete => ConsentStatus::Valid,
            Approval::Awaiting(_) => ConsentStatus::PartiallyAuthorised,
        };
        if repo
            .authorise_consent(consent.id, psu, grants, alone, now)
            .await?
        {
            if alone == ConsentStatus::Valid {
                return Ok(());
            }
        } else {
            // Another holder's approval fixed the accounts first: this one
            // counts towards theirs if it is still partially authorised.
            let now_stored = repo.consent(consent.id).await?;
            match now_stored {
                Some(c) if c.status == ConsentStatus::PartiallyAuthorised => {
                    holders = holders_of(service, &c.grants).await?;
                }
                _ => return Err(already_decided()),
            }
        }
    } else if consent.status != ConsentStatus::PartiallyAuthorised {
        return Err(already_decided());
    }
    if approval_of_all(&holders, psu, &[]) == Approval::NotAHolder {
        return Err(not_a_holder());
    }
    let approved = repo.approve_consent(consent.id, psu, now).await?;
    if approval_of_all(&holders, psu, &approved) != Approval::Complete {
        return Ok(());
    }
    let from = [ConsentStatus::PartiallyAuthorised];
    if !server
        .set_consent_status(consent.id, &from, ConsentStatus::Valid, now)
        .await?
    {
        return Err(already_decided());
    }
    Ok(())
}

pub(crate) fn not_a_holder() -> BankError {
    BankError::page(
        StatusCode::FORBIDDEN,
        "This consent covers a joint account you do not hold; only its holders can approve \
         or decline it.",
    )
}

fn already_decided() -> BankError {
    BankError::page(
        StatusCode::CONFLICT,
        "This consent was already decided or withdrawn by the app.",
    )
}
