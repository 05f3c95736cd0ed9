//! Distinguished names compared as RFC 4517 `distinguishedNameMatch` and
//! RFC 5280 §7.1 ask: the same RDNs in the same order, each RDN the same set
//! of attributes, attribute types by OID, string values after RFC 4518
//! preparation (NFKC, case folded, insignificant spaces removed).
//!
//! A registered DN is an RFC 4514 string, which lists the RDNs last first
//! (`CN=tpp, O=Acme, C=DE` for the sequence C, O, CN); a certificate's
//! subject is read from its DER.

use unicode_normalization::UnicodeNormalization;
use x509_parser::asn1_rs::{Any, FromDer, Tag};
use x509_parser::x509::X509Name;

/// A distinguished name in ASN.1 order (most significant RDN first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dn(Vec<Rdn>);

/// One RDN: a set of attributes, kept sorted so that order does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rdn(Vec<Ava>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ava {
    /// The attribute type's OID, dotted.
    oid: String,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    /// A directory string, prepared for matching.
    Text(String),
    /// Any other ASN.1 value: its tag and content, matched exactly.
    Other(u32, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("the DN is empty")]
    Empty,
    #[error("an attribute has no '=' between type and value")]
    MissingEquals,
    #[error("unknown attribute type {0:?}: use a known name (CN, O, OU, C, …) or a dotted OID")]
    UnknownType(String),
    #[error("a backslash must escape a special character or two hex digits")]
    BadEscape,
    #[error("the character {0:?} must be escaped with a backslash")]
    Unescaped(char),
    #[error("a #-value must be the hex encoding of one ASN.1 value")]
    BadHexValue,
    #[error("a value is not UTF-8")]
    NotUtf8,
}

/// Attribute type names of RFC 4514 §3 and the ones certificates of TPPs carry.
const NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("COMMONNAME", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("SURNAME", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("COUNTRYNAME", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("LOCALITYNAME", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STATEORPROVINCENAME", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("STREETADDRESS", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("ORGANIZATIONNAME", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("ORGANIZATIONALUNITNAME", "2.5.4.11"),
    ("TITLE", "2.5.4.12"),
    ("BUSINESSCATEGORY", "2.5.4.15"),
    ("POSTALCODE", "2.5.4.17"),
    ("GN", "2.5.4.42"),
    ("GIVENNAME", "2.5.4.42"),
    ("ORGANIZATIONIDENTIFIER", "2.5.4.97"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("DOMAINCOMPONENT", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("USERID", "0.9.2342.19200300.100.1.1"),
    ("E", "1.2.840.113549.1.9.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
    ("JURISDICTIONC", "1.3.6.1.4.1.311.60.2.1.3"),
];

impl Dn {
    /// Parses an RFC 4514 string. Spaces around separators are tolerated;
    /// spaces that belong to a value must be escaped, as the RFC says.
    pub fn parse(text: &str) -> Result<Self, DnError> {
        if text.trim().is_empty() {
            return Err(DnError::Empty);
        }
        let mut rdns = Vec::new();
        let mut avas = Vec::new();
        let mut rest = text;
        loop {
            let (kind, after) = rest.split_once('=').ok_or(DnError::MissingEquals)?;
            let oid = oid_of(kind.trim())?;
            let (value, separator, after) = read_value(after)?;
            avas.push(Ava { oid, value });
            rest = after;
            match separator {
                Some('+') => continue,
                Some(_) => rdns.push(Rdn::new(std::mem::take(&mut avas))),
                None => {
                    rdns.push(Rdn::new(std::mem::take(&mut avas)));
                    break;
                }
            }
        }
        // RFC 4514 §2.1: the string starts with the last RDN of the sequence.
        rdns.reverse();
        Ok(Self(rdns))
    }

    /// A certificate's subject or issuer as it is encoded.
    pub fn from_x509(name: &X509Name<'_>) -> Self {
        Self(
            name.iter_rdn()
                .map(|rdn| {
                    Rdn::new(
                        rdn.iter()
                            .map(|ava| Ava {
                                oid: ava.attr_type().to_id_string(),
                                value: value_of(ava.attr_value()),
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

impl Rdn {
    fn new(mut avas: Vec<Ava>) -> Self {
        avas.sort();
        Self(avas)
    }
}

fn oid_of(kind: &str) -> Result<String, DnError> {
    let unknown = || DnError::UnknownType(kind.to_owned());
    let numeric = kind
        .strip_prefix("OID.")
        .or_else(|| kind.strip_prefix("oid."))
        .unwrap_or(kind);
    if numeric.starts_with(|c: char| c.is_ascii_digit()) {
        let arcs_ok = numeric
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
        return if arcs_ok && numeric.contains('.') {
            Ok(numeric.to_owned())
        } else {
            Err(unknown())
        };
    }
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        .map(|(_, oid)| (*oid).to_owned())
        .ok_or_else(unknown)
}

/// One attribute value up to an unescaped `,` or `+` (returned) or the end.
fn read_value(text: &str) -> Result<(Value, Option<char>, &str), DnError> {
    let start = text.trim_start_matches(' ');
    let end = value_end(start)?;
    let (raw, separator, rest) = match end {
        Some(at) => (&start[..at], start[at..].chars().next(), &start[at + 1..]),
        None => (start, None, ""),
    };
    let value = match raw.strip_prefix('#') {
        Some(hex) => hex_value(hex.trim_end_matches(' '))?,
        None => Value::Text(prepare(&unescape(raw)?)),
    };
    Ok((value, separator, rest))
}

/// Where the value starting `text` ends: the byte offset of its separator.
fn value_end(text: &str) -> Result<Option<usize>, DnError> {
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ',' | '+' => return Ok(Some(at)),
            '"' | ';' | '<' | '>' | '\0' => return Err(DnError::Unescaped(c)),
            _ => {}
        }
    }
    Ok(None)
}

/// The value's characters with escapes resolved; unescaped trailing spaces dropped.
fn unescape(raw: &str) -> Result<String, DnError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut significant = 0;
    let mut input = raw.bytes();
    while let Some(b) = input.next() {
        if b == b'\\' {
            let first = input.next().ok_or(DnError::BadEscape)?;
            if b" \"#+,;<=>\\".contains(&first) {
                bytes.push(first);
            } else {
                let second = input.next().ok_or(DnError::BadEscape)?;
                bytes.push(hex_byte(first, second).ok_or(DnError::BadEscape)?);
            }
            significant = bytes.len();
        } else {
            bytes.push(b);
            if b != b' ' {
                significant = bytes.len();
            }
        }
    }
    bytes.truncate(significant);
    String::from_utf8(bytes).map_err(|_| DnError::NotUtf8)
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    u8::try_from(digit(high)? * 16 + digit(low)?).ok()
}

/// `#` followed by the hex of a BER value (RFC 4514 §2.4), read like a certificate's.
fn hex_value(hex: &str) -> Result<Value, DnError> {
    let bytes = hex.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(2) {
        return Err(DnError::BadHexValue);
    }
    let der: Vec<u8> = bytes
        .chunks(2)
        .map(|pair| hex_byte(pair[0], pair[1]))
        .collect::<Option<_>>()
        .ok_or(DnError::BadHexValue)?;
    match Any::from_der(&der) {
        Ok(([], any)) => Ok(value_of(&any)),
        _ => Err(DnError::BadHexValue),
    }
}

/// A directory string's text, prepared; anything else as tag and bytes.
fn value_of(any: &Any<'_>) -> Value {
    let data = any.data;
    let text = match any.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        // Teletex is read as Latin-1, which is what certificates put there.
        Tag::TeletexString => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => data
            .chunks(4)
            .map(|q| {
                let mut word = [0_u8; 4];
                word[..q.len()].copy_from_slice(q);
                char::from_u32(u32::from_be_bytes(word))
            })
            .collect(),
        _ => None,
    };
    match text {
        Some(text) => Value::Text(prepare(&text)),
        None => Value::Other(any.tag().0, data.to_vec()),
    }
}

/// RFC 4518 string preparation for case-ignoring matches: NFKC, case folded,
/// control characters dropped, runs of spaces as one, none at either end.
fn prepare(text: &str) -> String {
    let folded: String = text
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_control() || c.is_whitespace())
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        Dn::parse(a).unwrap() == Dn::parse(b).unwrap()
    }

    #[test]
    fn case_and_spaces_in_values_and_around_separators_do_not_matter() {
        assert!(same(
            "CN=tpp.example,O=Acme Bank",
            "cn = TPP.Example , o=  acme   BANK"
        ));
        assert!(same("2.5.4.3=tpp,O=Acme", "CN=tpp,organizationName=Acme"));
        assert!(same("OID.2.5.4.10=Acme", "O=Acme"));
    }

    #[test]
    fn the_order_of_rdns_matters() {
        assert!(!same("CN=tpp,O=Acme", "O=Acme,CN=tpp"));
        assert!(!same("CN=a,CN=b", "CN=b,CN=a"));
    }

    #[test]
    fn escaped_commas_are_part_of_the_value() {
        let escaped = Dn::parse(r"CN=Acme\, Inc,C=DE").unwrap();
        assert_eq!(escaped.0.len(), 2);
        assert_ne!(escaped, Dn::parse("CN=Acme,CN=Inc,C=DE").unwrap());
        assert!(same(r"CN=Acme\2C Inc,C=DE", r"CN=Acme\, Inc,C=DE"));
        assert!(same(r"O=M\C3\BCller", "O=Müller"));
        assert_eq!(Dn::parse("CN=a,b"), Err(DnError::MissingEquals));
        assert_eq!(Dn::parse(r"CN=a\q"), Err(DnError::BadEscape));
        assert_eq!(Dn::parse("CN=say \"hi\""), Err(DnError::Unescaped('"')));
        assert_eq!(Dn::parse("CN=<b>"), Err(DnError::Unescaped('<')));
    }

    #[test]
    fn a_multi_valued_rdn_is_a_set_and_differs_from_two_rdns() {
        assert!(same("CN=tpp+UID=42,O=Acme", "UID=42+CN=tpp,O=Acme"));
        assert!(!same("CN=tpp+UID=42,O=Acme", "CN=tpp,UID=42,O=Acme"));
        assert!(!same("CN=tpp+UID=42", "CN=tpp"));
    }

    #[test]
    fn unknown_types_and_malformed_values_are_refused() {
        assert!(matches!(Dn::parse("XYZ=1"), Err(DnError::UnknownType(_))));
        assert!(matches!(Dn::parse("1=1"), Err(DnError::UnknownType(_))));
        assert_eq!(Dn::parse(""), Err(DnError::Empty));
        assert_eq!(Dn::parse("CN=#zz"), Err(DnError::BadHexValue));
        // #-values are BER: a UTF8String "tpp" equals the text tpp.
        assert!(same("CN=#0c03747070", "CN=TPP"));
    }

    #[test]
    fn trailing_spaces_are_insignificant_and_an_escaped_plus_separates_nothing() {
        assert!(
            same(r"CN=tpp\ ", "CN=tpp"),
            "insignificant spaces go in preparation"
        );
        assert!(!same(r"CN=t\+p", "CN=t,CN=p"));
    }

    #[test]
    fn a_certificate_subject_matches_its_rfc_4514_string_in_reverse_order() {
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc");
        dn.push(rcgen::DnType::CommonName, "tpp.example");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        let subject = Dn::from_x509(parsed.subject());
        assert_eq!(
            subject,
            Dn::parse(r"CN=TPP.example, O=acme\, inc, C=de").unwrap()
        );
        assert_ne!(
            subject,
            Dn::parse(r"C=DE, O=Acme\, Inc, CN=tpp.example").unwrap()
        );
        assert_ne!(subject, Dn::parse("CN=tpp.example, O=Acme, C=DE").unwrap());
    }
}
