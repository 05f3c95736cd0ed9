//! IBANs (ISO 13616): country code, mod-97 check digits and the country's BBAN format.

use std::fmt;
use std::str::FromStr;

use iban::IbanLike;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IBAN {0:?}: wrong length, country format or check digits")]
pub struct InvalidIban(pub String);

/// A validated IBAN, held in electronic format (no spaces, upper case).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

impl Iban {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// Builds the IBAN for `country` and `bban`, computing the check digits.
    pub fn from_bban(country: &str, bban: &str) -> Result<Self, InvalidIban> {
        let invalid = || InvalidIban(format!("{country}??{bban}"));
        let remainder = mod97(&format!("{bban}{country}00")).ok_or_else(invalid)?;
        format!("{country}{:02}{bban}", 98 - remainder).parse()
    }

    /// The IBAN in groups of four, as printed for people.
    pub fn to_print_format(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// ISO 7064 MOD 97-10 over the IBAN's alphanumeric text (letters as 10..35).
fn mod97(text: &str) -> Option<u32> {
    let mut remainder = 0_u32;
    for c in text.chars() {
        let value = c.to_digit(36)?;
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    Some(remainder)
}

impl FromStr for Iban {
    type Err = InvalidIban;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed: iban::Iban = s.parse().map_err(|_| InvalidIban(s.to_owned()))?;
        Ok(Self(parsed.electronic_str().to_owned()))
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.0)
    }
}

/// As its electronic-format text, like on the wire.
impl serde::Serialize for Iban {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Iban {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_ibans_validate_and_print_in_groups() {
        let iban: Iban = "DE44 5001 0517 5407 3249 31".parse().unwrap();
        assert_eq!(iban.as_str(), "DE44500105175407324931");
        assert_eq!(iban.to_print_format(), "DE44 5001 0517 5407 3249 31");
        assert_eq!(iban.country(), "DE");
        assert!("GB82WEST12345698765432".parse::<Iban>().is_ok());
    }

    #[test]
    fn wrong_check_digits_or_formats_are_refused() {
        assert!("DE45500105175407324931".parse::<Iban>().is_err());
        assert!("DE4450010517540732493".parse::<Iban>().is_err());
        assert!("XX44500105175407324931".parse::<Iban>().is_err());
        assert!("".parse::<Iban>().is_err());
    }

    #[test]
    fn check_digits_are_computed_from_the_bban() {
        let iban = Iban::from_bban("DE", "500105175407324931").unwrap();
        assert_eq!(iban.as_str(), "DE44500105175407324931");
    }

    proptest! {
        #[test]
        fn every_generated_german_iban_is_valid(blz in 10_000_000_u32..99_999_999, acct in 0_u64..9_999_999_999) {
            let iban = Iban::from_bban("DE", &format!("{blz:08}{acct:010}")).unwrap();
            prop_assert_eq!(iban.as_str().parse::<Iban>().unwrap(), iban.clone());
            // Any single changed digit breaks the check.
            let mut bytes = iban.as_str().as_bytes().to_vec();
            bytes[10] = if bytes[10] == b'9' { b'0' } else { bytes[10] + 1 };
            prop_assert!(String::from_utf8(bytes).unwrap().parse::<Iban>().is_err());
        }
    }
}
