//! Checks of single values: XSD lengths and formats, the currency, and the
//! group totals against the transfers.

use fintechapi_domain::Currency;
use fintechapi_domain::date::parse_iso_date;
use fintechapi_domain::money::{Money, MoneyError};
use time::macros::format_description;
use time::{Date, PrimitiveDateTime, UtcOffset};

use super::{CreditTransfer, Problem};

/// Sets a value once; a second occurrence of the element is an error.
pub(super) fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), Problem> {
    match slot {
        Some(_) => Err(Problem::Repeated),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// XSD `MaxNText` (1 to `max` characters; the caller trims and refuses empty text).
pub(super) fn bounded(text: String, max: usize) -> Result<String, Problem> {
    let length = text.chars().count();
    if length > max {
        Err(Problem::TooLong { max, length })
    } else {
        Ok(text)
    }
}

pub(super) fn euro(code: &str) -> Result<(), Problem> {
    match code {
        "EUR" => Ok(()),
        known if known.parse::<Currency>().is_ok() => {
            Err(Problem::CurrencyNotOffered(known.to_owned()))
        }
        unknown => Err(Problem::UnknownCurrency(unknown.to_owned())),
    }
}

pub(super) fn iso_date(text: &str) -> Result<Date, Problem> {
    parse_iso_date(text).ok_or_else(|| Problem::Date(text.to_owned()))
}

/// XSD `dateTime`: local time with an optional `Z` or `±hh:mm` zone.
pub(super) fn iso_date_time(text: &str) -> Result<(), Problem> {
    let local = text.strip_suffix('Z').or_else(|| {
        let (local, zone) = text.split_at_checked(text.len().checked_sub(6)?)?;
        UtcOffset::parse(
            zone,
            format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .ok()
        .map(|_| local)
    });
    let local = local.unwrap_or(text);
    // The date part exactly as `YYYY-MM-DD`: `[year]` alone also takes a sign.
    if local.get(..10).and_then(parse_iso_date).is_none() {
        return Err(Problem::DateTime(text.to_owned()));
    }
    PrimitiveDateTime::parse(
        local,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
        ),
    )
    .map(|_| ())
    .map_err(|_| Problem::DateTime(text.to_owned()))
}

/// ISO 9362: bank (4 letters), country (2 letters), location (2), optional branch (3).
pub(super) fn bic(text: &str) -> Result<String, Problem> {
    let b = text.as_bytes();
    let valid = (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if valid {
        Ok(text.to_owned())
    } else {
        Err(Problem::Bic(text.to_owned()))
    }
}

pub(super) fn boolean(text: &str) -> Result<bool, Problem> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(Problem::Boolean(other.to_owned())),
    }
}

/// `NbOfTxs` (XSD `Max15NumericText`) against the transfers read.
pub(super) fn count_matches(stated: &str, transfers: &[CreditTransfer]) -> Result<(), Problem> {
    let digits = stated.len() <= 15 && stated.bytes().all(|b| b.is_ascii_digit());
    if digits && stated.parse::<usize>().ok() == Some(transfers.len()) {
        Ok(())
    } else {
        Err(Problem::NumberOfTransactions {
            stated: stated.to_owned(),
            counted: transfers.len(),
        })
    }
}

/// `CtrlSum` (a decimal with up to 17 places) against the sum of the amounts.
pub(super) fn control_sum_matches(
    stated: &str,
    transfers: &[CreditTransfer],
) -> Result<(), Problem> {
    let summed = transfers
        .iter()
        .try_fold(0_i64, |sum, t| sum.checked_add(t.amount.minor()));
    // Zeros after the cents change nothing: "12.300" is 12.30.
    let trimmed = match stated.split_once('.') {
        Some((whole, fraction)) => match fraction.trim_end_matches('0') {
            "" => whole.to_owned(),
            fraction => format!("{whole}.{fraction}"),
        },
        None => stated.to_owned(),
    };
    match (Money::parse_decimal(&trimmed, Currency::EUR), summed) {
        (Ok(sum), Some(summed)) if sum.minor() == summed => Ok(()),
        (Err(MoneyError::Malformed(_)), _) => {
            Err(Problem::Amount(MoneyError::Malformed(stated.to_owned())))
        }
        (_, summed) => Err(Problem::ControlSum {
            stated: stated.to_owned(),
            summed: summed.map_or_else(
                || "more than an amount can hold".to_owned(),
                |s| Money::from_minor(s, Currency::EUR).to_decimal_string(),
            ),
        }),
    }
}
