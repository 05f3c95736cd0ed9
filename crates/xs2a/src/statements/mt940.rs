//! SWIFT MT940 (Customer Statement Message), the text of its block 4: fields
//! `:20:` `:25:` `:28C:` `:60F:`, per booked entry `:61:` and `:86:`, then
//! `:62F:`, each line ended by CR LF and the message by `-`.
//!
//! Everything is in the SWIFT X character set; what it cannot carry is
//! transliterated (`ä` → `ae`, `é` → `e`, `&` → `+`, the rest → `.`). Lines
//! keep their field's length (`:86:` 6 × 65, the `:61:` supplementary
//! details 34) and no continuation line starts with `:` or `-`, which would
//! read as a new field or the message's end.
//!
//! `:20:` is random per message; `:28C:` numbers the statement by its closing
//! date, `YYDDD` (one statement per account and day, in one sequence, `/1`,
//! since a document is never paged). In `:61:` the account owner's reference
//! is the end-to-end id when it fits (16 characters of X, no `/` at either end,
//! no `//`), `NONREF` otherwise; the bank's is the entry reference, the
//! `entryReference` of the JSON report. `:86:` carries the counterparty and
//! the remittance information as `/NAME/` `/IBAN/` `/EREF/` `/REMI/`.

use std::fmt::Write as _;

use fintechapi_domain::Money;
use fintechapi_domain::ledger::{AccountEntry, EntryStatus};
use time::Date;

use super::{Contents, DocumentError, Statement};

const FORMAT: &str = "MT940";
/// The `15d` of amounts: digits and the decimal comma.
const MAX_AMOUNT_CHARS: usize = 15;
const INFORMATION_LINES: usize = 6;
const LINE_CHARS: usize = 65;
const SUPPLEMENTARY_CHARS: usize = 34;
const REFERENCE_CHARS: usize = 16;

pub(super) fn write(
    contents: &Contents<'_>,
    Statement { opening, closing }: Statement,
) -> Result<String, DocumentError> {
    let account = contents.account;
    let currency = account.currency.code();
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let identification = match &account.iban {
        Some(iban) => iban.as_str().to_owned(),
        None => account.id.as_uuid().simple().to_string(),
    };
    let mut out = String::with_capacity(256 + contents.entries.len() * 300);
    let _ = write!(
        out,
        ":20:{}\r\n:25:{identification}\r\n:28C:{}/1\r\n:60F:{}\r\n",
        &reference[..REFERENCE_CHARS],
        statement_number(contents.to),
        balance(opening, contents.from, currency)?,
    );
    for e in contents
        .entries
        .iter()
        .filter(|e| e.status == EntryStatus::Booked)
    {
        statement_line(&mut out, e)?;
    }
    let _ = write!(
        out,
        ":62F:{}\r\n-",
        balance(closing, contents.to, currency)?
    );
    Ok(out)
}

/// `YYDDD`: the year's last two digits and the day of the year.
fn statement_number(closing: Date) -> String {
    format!(
        "{:02}{:03}",
        closing.year().rem_euclid(100),
        closing.ordinal()
    )
}

fn yymmdd(date: Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        date.year().rem_euclid(100),
        u8::from(date.month()),
        date.day()
    )
}

/// `1!a6!n3!a15d`: mark, date, currency, amount.
fn balance(money: Money, date: Date, currency: &str) -> Result<String, DocumentError> {
    let (mark, amount) = amount(money)?;
    Ok(format!("{mark}{}{currency}{amount}", yymmdd(date)))
}

/// `C` (zero included) or `D`, and the magnitude with a decimal comma, as
/// many decimals as the currency has (`25,50`; `1500,` for JPY).
fn amount(money: Money) -> Result<(&'static str, String), DocumentError> {
    let text = money.to_decimal_string();
    let (mark, magnitude) = match text.strip_prefix('-') {
        Some(magnitude) => ("D", magnitude),
        None => ("C", text.as_str()),
    };
    let written = match magnitude.contains('.') {
        true => magnitude.replace('.', ","),
        false => format!("{magnitude},"),
    };
    if written.len() > MAX_AMOUNT_CHARS {
        return Err(DocumentError::AmountTooLarge(FORMAT));
    }
    Ok((mark, written))
}

/// `:61:` and its `:86:`.
fn statement_line(out: &mut String, e: &AccountEntry) -> Result<(), DocumentError> {
    let (mark, amount) = amount(e.amount)?;
    let owner_reference = e
        .end_to_end_id
        .as_deref()
        .filter(|id| is_reference(id))
        .unwrap_or("NONREF");
    // The bank's reference is `16x`: an entry reference of more digits
    // (beyond 10^16 postings) is left out rather than cut to another one.
    let bank_reference = Some(e.entry_reference.to_string())
        .filter(|r| r.len() <= REFERENCE_CHARS)
        .map(|r| format!("//{r}"))
        .unwrap_or_default();
    let _ = write!(
        out,
        ":61:{}{:02}{:02}{mark}{amount}N{}{owner_reference}{bank_reference}\r\n",
        yymmdd(e.value_date),
        u8::from(e.booking_date.month()),
        e.booking_date.day(),
        transaction_type(&e.bank_transaction_code),
    );
    let supplementary = lines(&swift_x(&e.bank_transaction_code), SUPPLEMENTARY_CHARS, 1);
    for line in supplementary {
        let _ = write!(out, "{line}\r\n");
    }
    // The counterparty: who paid a credit, who was paid a debit.
    let party = match e.amount.minor() < 0 {
        true => &e.creditor,
        false => &e.debtor,
    };
    let mut information = String::new();
    if let Some(name) = &party.name {
        let _ = write!(information, "/NAME/{name}");
    }
    if let Some(iban) = &party.iban {
        let _ = write!(information, "/IBAN/{}", iban.as_str());
    }
    if let Some(id) = &e.end_to_end_id {
        let _ = write!(information, "/EREF/{id}");
    }
    if let Some(remittance) = &e.remittance_information {
        let _ = write!(information, "/REMI/{remittance}");
    }
    let information = lines(&swift_x(&information), LINE_CHARS, INFORMATION_LINES);
    for (n, line) in information.iter().enumerate() {
        let tag = if n == 0 { ":86:" } else { "" };
        let _ = write!(out, "{tag}{line}\r\n");
    }
    Ok(())
}

/// `N` and the SWIFT code of the ISO family: transfers `TRF`, direct
/// debits `DDT`, anything else `MSC`.
fn transaction_type(code: &str) -> &'static str {
    match code.split('-').nth(1) {
        Some("ICDT" | "RCDT") => "TRF",
        Some("IDDT" | "RDDT") => "DDT",
        _ => "MSC",
    }
}

/// A `16x` reference as SWIFT allows it.
fn is_reference(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= REFERENCE_CHARS
        && id != "NOTPROVIDED"
        && swift_x(id) == id
        && !id.starts_with('/')
        && !id.ends_with('/')
        && !id.contains("//")
        && !id.contains(' ')
}

/// `text` in at most `count` lines of `width`, the rest cut; a line that
/// would start with `:` or `-` starts with a space instead.
fn lines(text: &str, width: usize, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text.trim().chars().peekable();
    while rest.peek().is_some() && lines.len() < count {
        let mut line = String::new();
        if matches!(rest.peek(), Some(':' | '-')) {
            line.push(' ');
        }
        while line.len() < width {
            match rest.next() {
                Some(c) => line.push(c),
                None => break,
            }
        }
        lines.push(line);
    }
    lines
}

/// `text` in the SWIFT X character set: `a-z A-Z 0-9 / - ? : ( ) . , ' +`
/// and space. Letters with diacritics lose them (German umlauts become two
/// letters); `&` becomes `+`, quotes `'`, line breaks and tabs spaces, `_` `-`;
/// anything else `.`.
pub(crate) fn swift_x(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | '/'
            | '-'
            | '?'
            | ':'
            | '('
            | ')'
            | '.'
            | ','
            | '\''
            | '+'
            | ' ' => out.push(c),
            '&' => out.push('+'),
            '"' | '`' | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' => out.push('\''),
            '_' | '\u{2013}' | '\u{2014}' => out.push('-'),
            '\t' | '\r' | '\n' => out.push(' '),
            _ => out.push_str(latin(c).unwrap_or(".")),
        }
    }
    out
}

/// A Latin letter with a diacritic without it (umlauts and ligatures as two letters).
fn latin(c: char) -> Option<&'static str> {
    Some(match c {
        'ä' | 'æ' => "ae",
        'ö' | 'œ' => "oe",
        'ü' => "ue",
        'Ä' | 'Æ' => "Ae",
        'Ö' | 'Œ' => "Oe",
        'Ü' => "Ue",
        'ß' => "ss",
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'ď' | 'đ' => "d",
        'Ď' | 'Đ' => "D",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'ğ' => "g",
        'Ğ' => "G",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => "I",
        'ł' => "l",
        'Ł' => "L",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' | 'Ő' => "O",
        'ř' => "r",
        'Ř' => "R",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'Ś' | 'Š' | 'Ş' | 'Ș' => "S",
        'ť' | 'ţ' | 'ț' => "t",
        'Ť' | 'Ţ' | 'Ț' => "T",
        'ù' | 'ú' | 'û' | 'ů' | 'ű' | 'ū' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ů' | 'Ű' | 'Ū' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use fintechapi_domain::Currency;
    use fintechapi_domain::ids::TransactionId;
    use fintechapi_domain::ledger::Party;
    use time::macros::date;

    use super::*;
    use crate::statements::camt::tests::account;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn entry(reference: i64, minor: i64, end_to_end: Option<&str>) -> AccountEntry {
        AccountEntry {
            entry_reference: reference,
            transaction_id: TransactionId::random(),
            status: EntryStatus::Booked,
            amount: eur(minor),
            booking_date: date!(2026 - 11 - 25),
            value_date: date!(2026 - 11 - 26),
            debtor: Party {
                name: Some("Kaffeerösterei Hansen & Söhne KG".into()),
                iban: "DE89370400440532013000".parse().ok(),
            },
            creditor: Party {
                name: Some("Müller_Straße \"Café\"".into()),
                iban: None,
            },
            remittance_information: Some(format!("-{}", "Rechnung 42 ".repeat(40))),
            end_to_end_id: end_to_end.map(str::to_owned),
            bank_transaction_code: "PMNT-ICDT-ESCT".into(),
        }
    }

    #[test]
    fn transliteration_keeps_only_the_x_character_set() {
        assert_eq!(
            swift_x("Kaffeerösterei Hansen & Söhne: 5€ für Ærø_ÉTÉ \"x\"\n"),
            "Kaffeeroesterei Hansen + Soehne: 5. fuer Aero-ETE 'x' "
        );
        assert_eq!(swift_x("Straße ŁÓDŹ 中"), "Strasse LODZ .");
    }

    #[test]
    fn amounts_have_a_comma_a_mark_and_at_most_15_characters() {
        assert_eq!(amount(eur(-2_550)), Ok(("D", "25,50".into())));
        assert_eq!(amount(eur(0)), Ok(("C", "0,00".into())));
        let yen: Currency = "JPY".parse().unwrap_or(Currency::EUR);
        assert_eq!(
            amount(Money::from_minor(1_500, yen)),
            Ok(("C", "1500,".into()))
        );
        assert_eq!(
            amount(eur(99_999_999_999_999)),
            Ok(("C", "999999999999,99".into()))
        );
        assert_eq!(
            amount(eur(-100_000_000_000_000)),
            Err(DocumentError::AmountTooLarge("MT940"))
        );
    }

    #[test]
    fn lines_keep_their_width_and_never_start_a_field() {
        let wrapped = lines(
            &format!("{}:tail-{}", "a".repeat(65), "b".repeat(59)),
            65,
            6,
        );
        assert_eq!(wrapped[0], "a".repeat(65));
        assert!(wrapped[1].starts_with(" :tail-"), "{wrapped:?}");
        assert!(wrapped.iter().all(|l| l.len() <= 65), "{wrapped:?}");
        assert_eq!(lines(&"x".repeat(1000), 65, 6).len(), 6);
    }

    #[test]
    fn a_statement_has_every_field_in_order_within_its_lengths() {
        let account = account();
        let entries = [
            entry(41, 10_000, Some("E2E-1")),
            entry(42, -2_550, Some("E2E0123456789ABCDEF")),
            entry(43, -100, Some("a//b")),
            entry(12_345_678_901_234_567, -1, None),
        ];
        let contents = Contents {
            account: &account,
            entries: &entries,
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 11 - 30),
            balances: Vec::new(),
        };
        let statement = Statement {
            opening: eur(-5_000),
            closing: eur(-5_000 + 10_000 - 2_550 - 100 - 1),
        };
        let text = write(&contents, statement).unwrap_or_default();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0].len(), ":20:".len() + 16, "{text}");
        assert_eq!(lines[1], ":25:DE02120300000000202051");
        assert_eq!(lines[2], ":28C:26334/1");
        assert_eq!(lines[3], ":60F:D261101EUR50,00");
        assert_eq!(lines[4], ":61:2611261125C100,00NTRFE2E-1//41");
        assert_eq!(lines[5], "PMNT-ICDT-ESCT");
        assert!(
            lines[6].starts_with(":86:/NAME/Kaffeeroesterei Hansen + Soehne KG/IBAN/DE8937"),
            "{text}"
        );
        assert!(
            text.contains(":61:2611261125D25,50NTRFNONREF//42\r\n"),
            "{text}"
        );
        assert!(
            text.contains(":86:/NAME/Mueller-Strasse 'Cafe'/EREF/E2E0123456789ABCDEF/REMI/-Rech"),
            "{text}"
        );
        assert!(
            text.contains(":61:2611261125D1,00NTRFNONREF//43\r\n"),
            "{text}"
        );
        assert!(text.contains(":61:2611261125D0,01NTRFNONREF\r\n"), "{text}");
        assert!(text.ends_with(":62F:C261130EUR23,49\r\n-"), "{text}");
        assert!(text.is_ascii());
        for line in text.split("\r\n") {
            let body = line.strip_prefix(":86:").unwrap_or(line);
            assert!(body.len() <= 65, "{line}");
            assert!(swift_x(line) == line, "{line}");
        }
        let second: Vec<&str> = text
            .split(":61:")
            .nth(2)
            .map(|s| s.split("\r\n").skip(2).collect())
            .unwrap_or_default();
        let information = 1 + second[1..]
            .iter()
            .take_while(|l| !l.is_empty() && !l.starts_with(':'))
            .count();
        assert_eq!(
            information, 6,
            "the :86: of a long text is cut to 6 lines: {text}"
        );
    }
}
