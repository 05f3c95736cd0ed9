//! The consent request body (`access`, `recurringIndicator`, `validUntil`,
//! `frequencyPerDay`, `combinedServiceIndicator`), checked into a
//! [`ConsentRequest`]; every problem names its path.

use fintechapi_domain::card::MaskedPan;
use fintechapi_domain::consent::{AccountReference, ConsentAccess, RequestedAccount};
use fintechapi_domain::date::parse_iso_date;
use fintechapi_domain::iban::Iban;
use serde_json::{Map, Value};
use time::Date;

use crate::Xs2aError;
use crate::error::MessageCode;

/// Parses and checks a consent request body; every problem names its path.
pub(crate) struct ConsentRequest {
    pub access: ConsentAccess,
    pub recurring: bool,
    pub valid_until: Date,
    pub frequency_per_day: u32,
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a Value, Xs2aError> {
    body.get(name)
        .ok_or_else(|| Xs2aError::format(format!("{name} is required")).at(name.to_owned()))
}

/// An account reference names a payment account by `iban` or a card account
/// by `maskedPan` or `pan`; a `pan` is masked at once and never kept or echoed.
/// More than a PSU holds; it also bounds the merging of the three lists below.
const MAX_ACCOUNT_REFERENCES: usize = 100;

fn account_refs(
    access: &Map<String, Value>,
    name: &str,
) -> Result<Vec<AccountReference>, Xs2aError> {
    let Some(value) = access.get(name) else {
        return Ok(vec![]);
    };
    let path = format!("access.{name}");
    let list = value
        .as_array()
        .ok_or_else(|| Xs2aError::format(format!("{path} must be an array")).at(path.clone()))?;
    if list.len() > MAX_ACCOUNT_REFERENCES {
        return Err(Xs2aError::format(format!(
            "{path} holds at most {MAX_ACCOUNT_REFERENCES} account references"
        ))
        .at(path));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{path}[{i}]");
            let object = item.as_object().ok_or_else(|| {
                Xs2aError::format("an account reference must be an object").at(at.clone())
            })?;
            if let Some(currency) = object.get("currency")
                && currency.as_str() != Some("EUR")
            {
                return Err(Xs2aError::format("this ASPSP holds EUR accounts only")
                    .at(format!("{at}.currency")));
            }
            let text = |key: &str| object.get(key).and_then(Value::as_str);
            match (text("iban"), text("maskedPan"), text("pan")) {
                (Some(iban), None, None) => iban
                    .parse::<Iban>()
                    .map(AccountReference::Iban)
                    .map_err(|e| Xs2aError::format(e.to_string()).at(format!("{at}.iban"))),
                (None, Some(masked), None) => masked
                    .parse::<MaskedPan>()
                    .map(AccountReference::MaskedPan)
                    .map_err(|e| Xs2aError::format(e.to_string()).at(format!("{at}.maskedPan"))),
                (None, None, Some(pan)) => MaskedPan::of_pan(pan)
                    .map(AccountReference::MaskedPan)
                    .map_err(|e| Xs2aError::format(e.to_string()).at(format!("{at}.pan"))),
                _ => Err(Xs2aError::format(
                    "an account reference holds exactly one of iban (payment accounts), maskedPan or pan (card accounts)",
                )
                .at(at)),
            }
        })
        .collect()
}

fn all_accounts_value(access: &Map<String, Value>, name: &str) -> Result<bool, Xs2aError> {
    match access.get(name) {
        None => Ok(false),
        Some(Value::String(s)) if s == "allAccounts" || s == "allAccountsWithOwnerName" => Ok(true),
        Some(_) => Err(Xs2aError::format(format!(
            "access.{name} must be allAccounts or allAccountsWithOwnerName"
        ))
        .at(format!("access.{name}"))),
    }
}

/// The members of `access` this ASPSP grants (no `additionalInformation`,
/// no `restrictedTo`); the ASPSP profile lists them.
pub(crate) const ACCESS_KINDS: [&str; 6] = [
    "accounts",
    "balances",
    "transactions",
    "availableAccounts",
    "availableAccountsWithBalance",
    "allPsd2",
];

/// The highest `frequencyPerDay` a recurring consent may ask for.
pub(crate) const MAX_FREQUENCY_PER_DAY: u64 = 100;

fn parse_access(value: &Value) -> Result<ConsentAccess, Xs2aError> {
    let access = value
        .as_object()
        .ok_or_else(|| Xs2aError::format("access must be an object").at("access"))?;
    for key in access.keys() {
        if !ACCESS_KINDS.contains(&key.as_str()) {
            return Err(Xs2aError::new(
                MessageCode::ServiceInvalid,
                format!("access.{key} is not offered by this ASPSP"),
            )
            .at(format!("access.{key}")));
        }
    }
    let all_psd2 = all_accounts_value(access, "allPsd2")?;
    let available = all_accounts_value(access, "availableAccounts")?;
    let available_with_balance = all_accounts_value(access, "availableAccountsWithBalance")?;
    let accounts = account_refs(access, "accounts")?;
    let balances = account_refs(access, "balances")?;
    let transactions = account_refs(access, "transactions")?;
    let lists = access.contains_key("accounts")
        || access.contains_key("balances")
        || access.contains_key("transactions");
    let kinds = [all_psd2, available || available_with_balance, lists];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(Xs2aError::format(
            "access must hold exactly one of: account lists, availableAccounts(WithBalance), allPsd2",
        )
        .at("access"));
    }
    if all_psd2 {
        return Ok(ConsentAccess::AllPsd2);
    }
    if available || available_with_balance {
        return Ok(ConsentAccess::AvailableAccounts {
            with_balance: available_with_balance,
        });
    }
    if accounts.is_empty() && balances.is_empty() && transactions.is_empty() {
        // Empty arrays: the PSU chooses on the bank's page (bank-offered consent).
        return Ok(ConsentAccess::BankOffered {
            balances: access.contains_key("balances"),
            transactions: access.contains_key("transactions"),
        });
    }
    // Balances and transactions imply access to the account itself.
    let mut requested: Vec<RequestedAccount> = Vec::new();
    for reference in accounts.iter().chain(&balances).chain(&transactions) {
        if !requested.iter().any(|r| &r.reference == reference) {
            requested.push(RequestedAccount {
                reference: reference.clone(),
                balances: balances.contains(reference),
                transactions: transactions.contains(reference),
            });
        }
    }
    Ok(ConsentAccess::Dedicated(requested))
}

impl ConsentRequest {
    pub(crate) fn parse(bytes: &[u8], today: Date, max_days: u16) -> Result<Self, Xs2aError> {
        let body: Value = serde_json::from_slice(bytes)
            .map_err(|e| Xs2aError::format(format!("the body is not valid JSON: {e}")))?;
        let body = body
            .as_object()
            .ok_or_else(|| Xs2aError::format("the body must be a JSON object"))?;
        let access = parse_access(field(body, "access")?)?;
        let recurring = field(body, "recurringIndicator")?
            .as_bool()
            .ok_or_else(|| {
                Xs2aError::format("recurringIndicator must be a boolean").at("recurringIndicator")
            })?;
        let until_text = field(body, "validUntil")?
            .as_str()
            .ok_or_else(|| Xs2aError::format("validUntil must be an ISO date").at("validUntil"))?;
        let requested_until = parse_iso_date(until_text).ok_or_else(|| {
            Xs2aError::format("validUntil must be an ISO date (YYYY-MM-DD)").at("validUntil")
        })?;
        if requested_until < today {
            return Err(
                Xs2aError::new(MessageCode::PeriodInvalid, "validUntil lies in the past")
                    .at("validUntil"),
            );
        }
        // Capped: the response of GET /v1/consents/{id} tells the TPP the date granted.
        let cap = today + time::Duration::days(i64::from(max_days));
        let valid_until = requested_until.min(cap);
        let frequency = field(body, "frequencyPerDay")?
            .as_u64()
            .filter(|f| (1..=MAX_FREQUENCY_PER_DAY).contains(f))
            .ok_or_else(|| {
                Xs2aError::format(format!(
                    "frequencyPerDay must be an integer from 1 to {MAX_FREQUENCY_PER_DAY}"
                ))
                .at("frequencyPerDay")
            })?;
        if !recurring && frequency != 1 {
            return Err(Xs2aError::format(
                "a one-off consent (recurringIndicator false) has frequencyPerDay 1",
            )
            .at("frequencyPerDay"));
        }
        // Required by the spec's `consents` schema.
        let combined = field(body, "combinedServiceIndicator")?
            .as_bool()
            .ok_or_else(|| {
                Xs2aError::format("combinedServiceIndicator must be a boolean")
                    .at("combinedServiceIndicator")
            })?;
        if combined {
            return Err(Xs2aError::new(
                MessageCode::SessionsNotSupported,
                "combined AIS and PIS sessions are not offered",
            )
            .at("combinedServiceIndicator"));
        }
        Ok(Self {
            access,
            recurring,
            valid_until,
            frequency_per_day: u32::try_from(frequency).unwrap_or(1),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    use serde_json::json;

    use crate::consents::AccessBody;

    fn parse(body: Value) -> Result<ConsentRequest, Xs2aError> {
        ConsentRequest::parse(body.to_string().as_bytes(), date!(2026 - 11 - 25), 90)
    }

    const IBAN: &str = "DE02120300000000202051";

    #[test]
    fn dedicated_accounts_merge_their_lists_and_validity_is_capped() {
        let ok = parse(
            json!({"access": {"accounts": [{"iban": IBAN}], "balances": [{"iban": IBAN}]},
            "recurringIndicator": true, "validUntil": "2027-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        )
        .unwrap();
        assert_eq!(ok.valid_until, date!(2027 - 02 - 23));
        let ConsentAccess::Dedicated(list) = ok.access else {
            panic!()
        };
        assert_eq!(list.len(), 1);
        assert!(list[0].balances && !list[0].transactions);
    }

    #[test]
    fn each_account_list_holds_a_bounded_number_of_references() {
        let body = |n: usize| {
            json!({"access": {"transactions": vec![json!({"iban": IBAN}); n]},
            "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false})
        };
        assert!(parse(body(MAX_ACCOUNT_REFERENCES)).is_ok());
        let e = parse(body(MAX_ACCOUNT_REFERENCES + 1)).err().unwrap();
        assert_eq!(
            (e.code.as_str(), e.path.as_deref()),
            ("FORMAT_ERROR", Some("access.transactions"))
        );
    }

    #[test]
    fn valid_until_is_exactly_an_iso_date() {
        for until in ["+2027-01-01", "2027-1-1", "27-01-01", "2027-02-30"] {
            let e = parse(
                json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true,
                "validUntil": until, "frequencyPerDay": 4, "combinedServiceIndicator": false}),
            )
            .err()
            .unwrap();
            assert_eq!(
                (e.code.as_str(), e.path.as_deref()),
                ("FORMAT_ERROR", Some("validUntil")),
                "{until}"
            );
        }
    }

    #[test]
    fn bad_bodies_name_the_offending_path() {
        let cases = [
            (
                json!({"access": {"accounts": [{"iban": "DE00"}]}, "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "FORMAT_ERROR",
                "access.accounts[0].iban",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2020-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "PERIOD_INVALID",
                "validUntil",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": false, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "FORMAT_ERROR",
                "frequencyPerDay",
            ),
            (
                json!({"access": {"accounts": [{"iban": IBAN, "currency": "USD"}]}, "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "FORMAT_ERROR",
                "access.accounts[0].currency",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts", "accounts": []}, "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "FORMAT_ERROR",
                "access",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": true}),
                "SESSIONS_NOT_SUPPORTED",
                "combinedServiceIndicator",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts"}, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
                "FORMAT_ERROR",
                "recurringIndicator",
            ),
            (
                json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4}),
                "FORMAT_ERROR",
                "combinedServiceIndicator",
            ),
        ];
        for (body, code, path) in cases {
            let e = parse(body.clone()).err().unwrap();
            assert_eq!(
                (e.code.as_str(), e.path.as_deref()),
                (code, Some(path)),
                "{body}"
            );
        }
        assert!(ConsentRequest::parse(b"{", date!(2026 - 11 - 25), 90).is_err());
    }

    #[test]
    fn cards_are_named_by_masked_pan_and_a_full_pan_is_masked_at_once() {
        let ok = parse(json!({"access": {
                "accounts": [{"iban": IBAN}, {"maskedPan": "525412xxxxxx3241"}],
                "transactions": [{"pan": "5254121234563241"}]},
            "recurringIndicator": true, "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}))
        .unwrap();
        let ConsentAccess::Dedicated(list) = &ok.access else {
            panic!("{:?}", ok.access)
        };
        let card = AccountReference::MaskedPan("525412******3241".parse().unwrap());
        assert_eq!(list.len(), 2, "the pan and the masked PAN name one card");
        assert_eq!(list[1].reference, card);
        assert!(list[1].transactions && !list[1].balances);
        let shown = serde_json::to_string(&AccessBody::from(&ok.access)).unwrap();
        assert!(
            shown.contains(r#"{"maskedPan":"525412******3241"}"#),
            "{shown}"
        );
        assert!(!shown.contains("5254121234563241"));

        let bad_pan = "5254121234563242";
        let cases = [
            (json!({"pan": bad_pan}), "access.accounts[0].pan"),
            (
                json!({"maskedPan": "5254121234563241"}),
                "access.accounts[0].maskedPan",
            ),
            (
                json!({"iban": IBAN, "maskedPan": "525412******3241"}),
                "access.accounts[0]",
            ),
            (json!({"bban": "1234"}), "access.accounts[0]"),
        ];
        for (reference, path) in cases {
            let body = json!({"access": {"accounts": [reference]}, "recurringIndicator": true,
                "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false});
            let e = parse(body).err().unwrap();
            assert_eq!(
                (e.code.as_str(), e.path.as_deref()),
                ("FORMAT_ERROR", Some(path))
            );
            assert!(!e.text.contains(bad_pan), "{}", e.text);
        }
    }

    #[test]
    fn empty_lists_ask_the_psu_to_choose() {
        let r = parse(
            json!({"access": {"accounts": [], "balances": []}, "recurringIndicator": true,
            "validUntil": "2027-01-01", "frequencyPerDay": 4, "combinedServiceIndicator": false}),
        )
        .unwrap();
        assert_eq!(
            r.access,
            ConsentAccess::BankOffered {
                balances: true,
                transactions: false
            }
        );
    }
}
