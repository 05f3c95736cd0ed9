//! Money: an ISO 4217 currency and an amount in integer minor units.
//! No floating point anywhere money flows; decimal strings are parsed and
//! printed with exactly the currency's exponent.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?}: expected an ISO 4217 code such as EUR")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit and cannot be used for payments")]
    NoMinorUnit(&'static str),
    #[error("invalid amount {0:?}: expected digits with an optional decimal point")]
    Malformed(String),
    #[error("amount {amount:?} has more than {exponent} decimal places for {currency}")]
    TooPrecise {
        amount: String,
        currency: &'static str,
        exponent: u8,
    },
    #[error("amount {0:?} is too large")]
    Overflow(String),
    #[error("an amount has at most {MAX_WHOLE_DIGITS} digits before the decimal point")]
    TooManyDigits,
}

/// The Berlin Group `amountValue` pattern's integer digits (`[0-9]{1,14}`).
pub const MAX_WHOLE_DIGITS: usize = 14;

/// An ISO 4217 currency with a defined minor unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    pub const EUR: Currency = Currency {
        code: "EUR",
        exponent: 2,
    };

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of decimal places of the minor unit (2 for EUR, 0 for JPY, 3 for BHD).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let iso = iso_currency::Currency::from_code(code)
            .filter(|c| !c.is_fund() && !c.is_special())
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
        let exponent = iso
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .ok_or(MoneyError::NoMinorUnit(iso.code()))?;
        Ok(Self {
            code: iso.code(),
            exponent,
        })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount of money: signed minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// Parses a Berlin Group amount (`-?[0-9]{1,14}(\.[0-9]{1,3})?`) in `currency`.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed(text.to_owned());
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) if !f.is_empty() => (w, f),
            Some(_) => return Err(malformed()),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() > MAX_WHOLE_DIGITS {
            return Err(MoneyError::TooManyDigits);
        }
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(malformed());
        }
        let exponent = currency.exponent;
        if fraction.len() > usize::from(exponent) {
            return Err(MoneyError::TooPrecise {
                amount: text.to_owned(),
                currency: currency.code,
                exponent,
            });
        }
        let overflow = || MoneyError::Overflow(text.to_owned());
        let scale = 10_i64.pow(u32::from(exponent));
        let whole: i64 = whole.parse().map_err(|_| overflow())?;
        let mut frac: i64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| malformed())?
        };
        for _ in fraction.len()..usize::from(exponent) {
            frac *= 10;
        }
        let magnitude = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(overflow)?;
        Ok(Self {
            minor: if negative { -magnitude } else { magnitude },
            currency,
        })
    }

    /// The amount as a decimal string with exactly the currency's exponent ("12.30").
    pub fn to_decimal_string(&self) -> String {
        // Every amount of every AIS answer: digits pushed, not formatted.
        let exponent = usize::from(self.currency.exponent);
        let magnitude = self.minor.unsigned_abs();
        let mut buffer = itoa::Buffer::new();
        let digits = buffer.format(magnitude);
        let mut text = String::with_capacity(digits.len() + exponent + 3);
        if self.minor < 0 {
            text.push('-');
        }
        if exponent == 0 {
            text.push_str(digits);
            return text;
        }
        // At least one digit before the point: 5 minor units of EUR are "0.05".
        let padded = exponent + 1;
        for _ in digits.len()..padded {
            text.push('0');
        }
        text.push_str(digits);
        text.insert(text.len() - exponent, '.');
        text
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        code.parse().unwrap()
    }

    #[test]
    fn currencies_carry_their_iso_exponent() {
        assert_eq!(cur("EUR").exponent(), 2);
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("BHD").exponent(), 3);
        assert_eq!(cur("EUR"), Currency::EUR);
        assert!(matches!(
            "ABC".parse::<Currency>(),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!("XAU".parse::<Currency>().is_err());
    }

    #[test]
    fn decimal_amounts_parse_into_minor_units() {
        let eur = Currency::EUR;
        assert_eq!(Money::parse_decimal("12.3", eur).unwrap().minor(), 1230);
        assert_eq!(Money::parse_decimal("12.34", eur).unwrap().minor(), 1234);
        assert_eq!(Money::parse_decimal("0", eur).unwrap().minor(), 0);
        assert_eq!(Money::parse_decimal("-5.01", eur).unwrap().minor(), -501);
        assert_eq!(Money::parse_decimal("7", cur("JPY")).unwrap().minor(), 7);
    }

    #[test]
    fn malformed_or_too_precise_amounts_are_refused() {
        let eur = Currency::EUR;
        for bad in [
            "", ".5", "5.", "1e3", "1,00", "--1", "+1", " 1", "1.2.3", "NaN",
        ] {
            assert!(
                matches!(
                    Money::parse_decimal(bad, eur),
                    Err(MoneyError::Malformed(_))
                ),
                "{bad:?} must be refused as malformed"
            );
        }
        assert!(matches!(
            Money::parse_decimal("1.001", eur),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse_decimal("1.5", cur("JPY")),
            Err(MoneyError::TooPrecise { .. })
        ));
        // The spec's pattern: at most 14 digits before the point.
        assert_eq!(
            Money::parse_decimal("99999999999999.99", eur).map(|m| m.minor()),
            Ok(9_999_999_999_999_999)
        );
        for long in [
            "100000000000000",
            "-100000000000000.00",
            "99999999999999999999",
        ] {
            assert_eq!(
                Money::parse_decimal(long, eur),
                Err(MoneyError::TooManyDigits),
                "{long}"
            );
        }
    }

    #[test]
    fn amounts_print_with_the_currency_exponent() {
        assert_eq!(
            Money::from_minor(1230, Currency::EUR).to_decimal_string(),
            "12.30"
        );
        assert_eq!(
            Money::from_minor(-5, Currency::EUR).to_decimal_string(),
            "-0.05"
        );
        assert_eq!(Money::from_minor(5, cur("JPY")).to_decimal_string(), "5");
        assert_eq!(
            Money::from_minor(1, cur("BHD")).to_decimal_string(),
            "0.001"
        );
        assert_eq!(
            Money::from_minor(0, Currency::EUR).to_decimal_string(),
            "0.00"
        );
        assert_eq!(
            Money::from_minor(-123_456, Currency::EUR).to_decimal_string(),
            "-1234.56"
        );
        assert_eq!(
            Money::from_minor(i64::MIN, Currency::EUR).to_decimal_string(),
            "-92233720368547758.08"
        );
    }

    proptest! {
        // Within the spec's 14 integer digits in every currency (JPY: no minor unit).
        #[test]
        fn printing_then_parsing_gives_back_the_same_amount(minor in -(10_i64.pow(14))..10_i64.pow(14)) {
            for code in ["EUR", "JPY", "BHD"] {
                let money = Money::from_minor(minor, cur(code));
                let text = money.to_decimal_string();
                prop_assert_eq!(Money::parse_decimal(&text, cur(code)).unwrap(), money);
            }
        }
    }
}
