//! The domain's parsers of values from requests: IBANs, amounts and
//! currencies, masked PANs, e-mail addresses, redirect and JWKS URIs, ids and
//! ISO dates. What one accepts, written out, parses again to the same value.
//! The first byte picks the parser.
#![no_main]

use fintechapi_domain::card::MaskedPan;
use fintechapi_domain::date::{format_iso_date, parse_iso_date};
use fintechapi_domain::ids::ConsentId;
use fintechapi_domain::portal::Email;
use fintechapi_domain::registry::{Environment, JwksUri, RedirectUri};
use fintechapi_domain::{Currency, Iban, Money};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 8 {
        0 => {
            if let Ok(iban) = text.parse::<Iban>() {
                assert_eq!(iban.as_str().parse::<Iban>().ok().as_ref(), Some(&iban));
                assert_eq!(
                    iban.to_print_format().parse::<Iban>().ok().as_ref(),
                    Some(&iban)
                );
                assert!(iban.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
        1 => {
            // "CCC amount": a currency code and a Berlin Group amount.
            let (code, amount) = text.split_at_checked(3).unwrap_or((text, ""));
            let Ok(currency) = code.parse::<Currency>() else {
                return;
            };
            assert_eq!(currency.code(), code);
            if let Ok(money) = Money::parse_decimal(amount.trim_start(), currency) {
                let written = money.to_decimal_string();
                assert_eq!(
                    Money::parse_decimal(&written, currency).ok(),
                    Some(money),
                    "{written}"
                );
            }
        }
        2 => {
            if let Ok(pan) = text.parse::<MaskedPan>() {
                assert_eq!(pan.as_str().parse::<MaskedPan>().ok().as_ref(), Some(&pan));
                assert_eq!(pan.as_str().len(), text.len());
            }
            if let Ok(masked) = MaskedPan::of_pan(text) {
                // The full PAN is never kept: only the first six and last four digits.
                assert_eq!(
                    masked
                        .as_str()
                        .matches(|c: char| c.is_ascii_digit())
                        .count(),
                    10
                );
                assert_eq!(
                    masked.as_str().parse::<MaskedPan>().ok().as_ref(),
                    Some(&masked)
                );
            }
        }
        3 => {
            if let Ok(email) = text.parse::<Email>() {
                assert_eq!(email.as_str().parse::<Email>().ok().as_ref(), Some(&email));
                assert!(!email.as_str().contains(['<', '>', '"', '\r', '\n']));
            }
        }
        4 => {
            for environment in [Environment::Sandbox, Environment::Production] {
                if let Ok(uri) = RedirectUri::parse(text, environment) {
                    assert_eq!(
                        RedirectUri::parse(uri.as_str(), environment).ok(),
                        Some(uri.clone())
                    );
                    assert!(!uri.as_str().contains(['#', '*']));
                }
            }
        }
        5 => {
            if let Ok(uri) = JwksUri::parse(text) {
                assert_eq!(uri.url().scheme(), "https");
                assert_eq!(JwksUri::parse(uri.as_str()).ok(), Some(uri));
            }
        }
        6 => {
            if let Ok(id) = text.parse::<ConsentId>() {
                assert_eq!(id.to_string().parse::<ConsentId>().ok(), Some(id));
            }
        }
        _ => {
            if let Some(date) = parse_iso_date(text) {
                assert_eq!(format_iso_date(date), text);
            }
        }
    }
});
