//! Pieces of Berlin Group answer bodies that several resources share. Fields
//! are declared in the order of their JSON names, so a body reads as it did
//! when it was built as a sorted `serde_json::Value`.

use fintechapi_domain::ledger::Account;
use fintechapi_domain::money::Money;
use fintechapi_ledger::Balance as LedgerBalance;
use serde::Serialize;

/// `amount` (a decimal string in the currency's minor units) and `currency`.
#[derive(Debug, Serialize)]
pub(crate) struct Amount {
    pub amount: String,
    pub currency: &'static str,
}

impl From<Money> for Amount {
    fn from(money: Money) -> Self {
        Self {
            amount: money.to_decimal_string(),
            currency: money.currency().code(),
        }
    }
}

/// A link: `{"href": …}`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Href {
    pub href: String,
}

impl Href {
    pub fn to(href: impl Into<String>) -> Self {
        Self { href: href.into() }
    }
}

/// An account named by its IBAN.
#[derive(Debug, Serialize)]
pub(crate) struct IbanRef {
    pub iban: String,
}

/// The account a balances or transactions report is about.
#[derive(Debug, Serialize)]
pub(crate) struct AccountReference {
    pub currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
}

impl From<&Account> for AccountReference {
    fn from(account: &Account) -> Self {
        Self {
            currency: account.currency.code(),
            iban: account.iban.as_ref().map(|i| i.as_str().to_owned()),
        }
    }
}

/// One Berlin Group balance.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Balance {
    pub balance_amount: Amount,
    pub balance_type: &'static str,
    /// Card balances only: whether the amount counts the credit limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_limit_included: Option<bool>,
    pub reference_date: String,
}

impl Balance {
    /// A payment account's balance.
    pub fn of_account(b: &LedgerBalance) -> Self {
        Self {
            balance_amount: b.amount.into(),
            balance_type: b.balance_type.code(),
            credit_limit_included: None,
            reference_date: b.reference_date.to_string(),
        }
    }

    /// A card account's balance, which says whether it counts the credit limit.
    pub fn of_card(b: &LedgerBalance) -> Self {
        Self {
            credit_limit_included: Some(b.credit_limit_included),
            ..Self::of_account(b)
        }
    }
}

/// Test support: a body serialises with its keys in the order a sorted
/// `serde_json::Value` (what `json!` built before) gives them, at every level.
#[cfg(test)]
pub(crate) fn assert_sorted_like_json_value(body: &impl Serialize) {
    let direct = serde_json::to_string(body).expect("serialisable");
    let value = serde_json::to_value(body).expect("serialisable");
    assert_eq!(direct, value.to_string());
}

#[cfg(test)]
mod tests {
    use fintechapi_domain::Currency;

    use super::*;
    use crate::approach::Links;

    #[test]
    fn shared_pieces_keep_the_key_order_of_before() {
        let amount = Money::from_minor(12_345, Currency::EUR);
        assert_sorted_like_json_value(&Amount::from(amount));
        assert_sorted_like_json_value(&Balance {
            balance_amount: amount.into(),
            balance_type: "interimAvailable",
            credit_limit_included: Some(true),
            reference_date: "2026-11-25".into(),
        });
        assert_sorted_like_json_value(&AccountReference {
            currency: "EUR",
            iban: Some("DE02120300000000202051".into()),
        });
        let links = Links {
            sca_oauth: Some(Href::to("a")),
            sca_redirect: Some(Href::to("b")),
            sca_status: Some(Href::to("c")),
            ..Links::resource("/v1/consents/x")
        };
        assert_sorted_like_json_value(&links);
        assert_eq!(
            serde_json::to_value(&links).expect("serialisable"),
            serde_json::json!({"scaOAuth": {"href": "a"}, "scaRedirect": {"href": "b"},
                "scaStatus": {"href": "c"}, "self": {"href": "/v1/consents/x"},
                "status": {"href": "/v1/consents/x/status"}})
        );
        assert_eq!(
            serde_json::to_value(Amount::from(amount)).expect("serialisable"),
            serde_json::json!({"amount": "123.45", "currency": "EUR"})
        );
    }
}
