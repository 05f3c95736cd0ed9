//! Sandbox accounts an operator opens for test PSUs: a current account of
//! this bank under a fresh IBAN, funded from the clearing account.

use fintechapi_domain::ids::{AccountId, PsuId};
use fintechapi_domain::ledger::{Account, AccountKind, LedgerError, LedgerRepository, NewAccount};
use fintechapi_domain::{Currency, Money};

use crate::Ledger;
use crate::demo::{BANK_BIC, BANK_CODE};
use fintechapi_domain::iban::{Iban, InvalidIban};

/// The IBAN of a sandbox account: this bank's code and ten digits drawn from
/// the account's id, with valid check digits.
pub fn sandbox_iban(account: AccountId) -> Result<Iban, InvalidIban> {
    let mut first = [0_u8; 8];
    first.copy_from_slice(&account.as_uuid().as_bytes()[..8]);
    let digits = u64::from_le_bytes(first) % 10_000_000_000;
    Iban::from_bban("DE", &format!("{BANK_CODE}{digits:010}"))
}

impl<R: LedgerRepository> Ledger<R> {
    /// Opens a euro current account without overdraft for the sandbox PSU
    /// `psu`, funded with `opening` from the clearing account when positive.
    pub async fn open_sandbox_account(
        &self,
        psu: PsuId,
        owner_name: &str,
        opening: Option<Money>,
    ) -> Result<Account, LedgerError> {
        let id = AccountId::random();
        let iban = sandbox_iban(id).map_err(|_| LedgerError::InvalidAccount("no sandbox IBAN"))?;
        let account = self
            .open_account(NewAccount {
                id,
                kind: AccountKind::Customer,
                psu_id: Some(psu),
                iban: Some(iban),
                bic: BANK_BIC.to_owned(),
                currency: Currency::EUR,
                name: "Girokonto".into(),
                owner_name: owner_name.to_owned(),
                product: "Girokonto Sandbox".into(),
                cash_account_type: "CACC".into(),
                overdraft_limit: Some(0),
                created_at: self.now(),
            })
            .await?;
        if let Some(amount) = opening.filter(Money::is_positive) {
            let key = format!("sandbox-opening:{}", account.id);
            self.deposit(account.id, amount, &key, "Opening balance")
                .await?;
        }
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sandbox_iban_is_this_banks_and_follows_the_account_id() {
        let id = AccountId::random();
        let iban = sandbox_iban(id).unwrap();
        assert_eq!(iban.country(), "DE");
        assert_eq!(&iban.as_str()[4..12], BANK_CODE);
        assert_eq!(sandbox_iban(id).unwrap(), iban);
        assert_ne!(sandbox_iban(AccountId::random()).unwrap(), iban);
    }
}
