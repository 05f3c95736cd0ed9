//! Account information under a valid consent: the checks every account read
//! makes, and the payment account's side of the reads (`granted` holds their
//! handlers; the transaction bodies live in `transactions`).

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentStatus, GrantedResource};
use fintechapi_domain::ids::{AccountId, PsuId};
use fintechapi_domain::ledger::Account;
use fintechapi_domain::ledger::LedgerRepository;
use serde::Serialize;

use crate::body::{AccountReference, Balance, Href};
use crate::error::MessageCode;
use crate::granted::{Granted, ReportRead, Shown};
use crate::transactions::{ReportLinks, account_report};
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text, psu_ip_address};

/// The consent the caller's token is bound to (or, Redirect approach, the
/// client's token names with `Consent-ID`), checked for this call: the
/// `Consent-ID` header is there (400 without it, whatever the token) and
/// matches, the consent is valid today, a one-off consent is used up by this
/// read, and an access without the PSU (no `PSU-IP-Address`) is within
/// `frequencyPerDay`.
pub(crate) async fn live_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<Consent, Xs2aError> {
    let Some(header) = header_text(headers, "consent-id") else {
        return Err(Xs2aError::format("the Consent-ID header is missing").at("Consent-ID"));
    };
    // Checked before it can exempt the read from the daily count.
    let psu_present = psu_ip_address(headers)?.is_some();
    let bound = match caller.grant.consent {
        Some(bound) => bound,
        None => crate::approach::redirect_consent(service, caller, headers).await?,
    };
    if header != bound.to_string() {
        return Err(Xs2aError::consent_invalid(
            "Consent-ID is not the consent this token was granted for",
        )
        .at("Consent-ID"));
    }
    let consent = service
        .oauth
        .server
        .consent(bound)
        .await?
        .ok_or_else(|| Xs2aError::consent_unknown().at("Consent-ID"))?;
    let now = service.now();
    let today = now.date();
    in_force(&consent, today)?;
    if !consent.recurring {
        // `recurringIndicator: false` is "for one access to the account data":
        // the first read that reaches here is that access, whether the PSU is
        // present or not; the consent is `expired` from then on. One
        // conditional update, so of two concurrent reads one gets it.
        let used = service
            .oauth
            .server
            .set_consent_status(
                consent.id,
                &[ConsentStatus::Valid],
                ConsentStatus::Expired,
                now,
            )
            .await?;
        return if used { Ok(consent) } else { Err(used_up()) };
    }
    if !psu_present
        && !service
            .consents()
            .count_unattended_access(consent.id, today, consent.frequency_per_day)
            .await?
    {
        return Err(Xs2aError::new(
            MessageCode::AccessExceeded,
            format!(
                "the consent allows {} accesses a day without the PSU; send PSU-IP-Address when the PSU is present",
                consent.frequency_per_day
            ),
        ));
    }
    Ok(consent)
}

fn used_up() -> Xs2aError {
    Xs2aError::new(
        MessageCode::ConsentExpired,
        "the one-off consent (recurringIndicator false) was used by an earlier read",
    )
}

/// A consent that can be used today: valid, not expired (401 otherwise).
pub(crate) fn in_force(consent: &Consent, today: time::Date) -> Result<(), Xs2aError> {
    match consent.status_on(today) {
        ConsentStatus::Valid => Ok(()),
        ConsentStatus::Expired if !consent.recurring && today <= consent.valid_until => {
            Err(used_up())
        }
        ConsentStatus::Expired => Err(Xs2aError::new(
            MessageCode::ConsentExpired,
            "the consent expired (validUntil)",
        )),
        other => Err(Xs2aError::consent_invalid(format!(
            "the consent is {other}"
        ))),
    }
}

impl Granted for Account {
    const NOUN: &'static str = "account";
    const RESOURCE: GrantedResource = GrantedResource::Account;
    const REPORT_BALANCES_NOT_COVERED: &'static str =
        "withBalance asks for balances, which the consent does not cover";

    fn id(&self) -> AccountId {
        self.id
    }

    fn grant_for(consent: &Consent, id: AccountId) -> Option<&AccountGrant> {
        consent.grant_for(id)
    }

    /// Every grant, as before: a card account's grant matches none of the
    /// PSU's payment accounts, but counts for `withBalance`.
    fn listed(consent: &Consent) -> Vec<&AccountGrant> {
        consent.grants.iter().collect()
    }

    fn report_links(href: Href) -> ReportLinks {
        ReportLinks {
            account: Some(href),
            ..ReportLinks::default()
        }
    }

    fn path(id: AccountId) -> String {
        format!("/v1/accounts/{id}")
    }

    async fn load<R: Xs2aStore>(
        service: &Xs2aService<R>,
        id: AccountId,
    ) -> Result<Option<Self>, StoreError> {
        service.accounts().account(id).await
    }

    async fn held<R: Xs2aStore>(
        service: &Xs2aService<R>,
        psu: PsuId,
    ) -> Result<Vec<Self>, StoreError> {
        service.accounts().accounts_of_psu(psu).await
    }

    async fn balances<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
    ) -> Result<Vec<Balance>, StoreError> {
        let balances = service.ledger.balances(self).await?;
        Ok(balances.iter().map(Balance::of_account).collect())
    }

    async fn load_with_balances<R: Xs2aStore>(
        service: &Xs2aService<R>,
        id: AccountId,
    ) -> Result<Option<(Self, Vec<Balance>)>, StoreError> {
        let found = service.ledger.account_balances(id).await?;
        Ok(found.map(|(account, balances)| {
            let balances = balances.iter().map(Balance::of_account).collect();
            (account, balances)
        }))
    }

    fn list_answer(shown: Vec<Shown<Self>>) -> Response {
        let accounts = shown.into_iter().map(AccountDetails::new).collect();
        Json(AccountList { accounts }).into_response()
    }

    fn details_answer(shown: Shown<Self>) -> Response {
        let account = AccountDetails::new(shown);
        Json(OneAccount { account }).into_response()
    }

    fn balances_answer(&self, balances: Vec<Balance>) -> Response {
        let account = AccountReference::from(self);
        Json(AccountBalances { account, balances }).into_response()
    }

    async fn report_answer<R: Xs2aStore>(
        read: &ReportRead<Self>,
        _: &Xs2aService<R>,
    ) -> Result<Response, Xs2aError> {
        Ok(account_report(read))
    }
}

/// An account as the consent shows it, with its balances when asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountDetails {
    #[serde(rename = "_links")]
    links: AccountLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Vec<Balance>>,
    bic: String,
    cash_account_type: String,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iban: Option<String>,
    name: String,
    owner_name: String,
    product: String,
    resource_id: String,
    status: &'static str,
}

/// The reports the consent grants on an account (or card account).
#[derive(Serialize)]
pub(crate) struct AccountLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions: Option<Href>,
}

impl AccountLinks {
    /// The links under `base` (the resource's path) that `grant` allows.
    pub(crate) fn granted(base: &str, grant: &AccountGrant) -> Self {
        Self {
            balances: grant.balances.then(|| Href::to(format!("{base}/balances"))),
            transactions: grant
                .transactions
                .then(|| Href::to(format!("{base}/transactions"))),
        }
    }
}

impl AccountDetails {
    fn new(shown: Shown<Account>) -> Self {
        let account = &shown.resource;
        Self {
            links: AccountLinks::granted(&Account::path(account.id), &shown.grant),
            balances: shown.balances,
            bic: account.bic.clone(),
            cash_account_type: account.cash_account_type.clone(),
            currency: account.currency.code(),
            iban: account.iban.as_ref().map(|i| i.as_str().to_owned()),
            name: account.name.clone(),
            owner_name: account.owner_name.clone(),
            product: account.product.clone(),
            resource_id: account.id.to_string(),
            status: account.status.as_str(),
        }
    }
}

#[derive(Serialize)]
struct AccountList {
    accounts: Vec<AccountDetails>,
}

#[derive(Serialize)]
struct OneAccount {
    account: AccountDetails,
}

/// `GET /v1/accounts/{id}/balances`.
#[derive(Serialize)]
struct AccountBalances {
    account: AccountReference,
    balances: Vec<Balance>,
}
