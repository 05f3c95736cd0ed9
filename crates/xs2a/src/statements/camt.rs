//! camt.052.001.08 (Bank-to-Customer Account Report) and camt.053.001.08
//! (Bank-to-Customer Statement), written in the XSD's element order. Text
//! from the ledger (names, remittance information, references) is escaped,
//! stripped of what XML 1.0 cannot hold and cut to its element's length;
//! amounts are unsigned decimals in the currency's minor units with
//! `CdtDbtInd`, dates `YYYY-MM-DD`, times RFC 3339 in UTC.
//!
//! An entry carries what the JSON report shows of it, no more: its entry
//! reference (`NtryRef`), transaction id (`AcctSvcrRef`), status, dates,
//! bank transaction code, end-to-end id, counterparties and unstructured
//! remittance information. The account is named by IBAN and currency, as in
//! JSON; the owner's name is not part of a report.

use std::fmt::Write as _;

use fintechapi_domain::Money;
use fintechapi_domain::ledger::{AccountEntry, EntryStatus, Party};
use fintechapi_domain::secret::Pepper;
use quick_xml::escape::escape;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CAMT_REPORT, CAMT_STATEMENT, Contents, DocumentBalance, DocumentError, Statement};

const FORMAT: &str = "camt";
/// ActiveOrHistoricCurrencyAndAmount's `totalDigits`.
const MAX_AMOUNT_DIGITS: usize = 18;

/// The document: a camt.053 statement with `statement`'s balances, else a camt.052 report.
pub(super) fn write(
    contents: &Contents<'_>,
    statement: Option<Statement>,
    now: OffsetDateTime,
    pepper: &Pepper,
) -> Result<String, DocumentError> {
    let (message, root, block) = match statement.is_some() {
        true => (CAMT_STATEMENT, "BkToCstmrStmt", "Stmt"),
        false => (CAMT_REPORT, "BkToCstmrAcctRpt", "Rpt"),
    };
    let account = contents.account;
    // A statement of one account and period is the same statement each time
    // it is asked for: its id is a keyed hash of them. A report is of its moment.
    let id = match statement.is_some() {
        true => derived_id(
            pepper,
            &format!("{message}|{}|{}|{}", account.id, contents.from, contents.to),
        ),
        false => uuid::Uuid::new_v4().simple().to_string(),
    };
    let created = date_time(now);
    let today = now.date();
    let until = match contents.to < today {
        true => format!("{}T23:59:59Z", contents.to),
        false => created.clone(),
    };
    let mut out = String::with_capacity(1024 + contents.entries.len() * 900);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:{message}\"><{root}>\
         <GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{created}</CreDtTm>\
         <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn></GrpHdr>\
         <{block}><Id>{id}</Id><CreDtTm>{created}</CreDtTm>\
         <FrToDt><FrDtTm>{from}T00:00:00Z</FrDtTm><ToDtTm>{until}</ToDtTm></FrToDt>\
         <Acct><Id>{account_id}</Id><Ccy>{currency}</Ccy></Acct>",
        msg_id = uuid::Uuid::new_v4().simple(),
        from = contents.from,
        account_id = account_identification(contents),
        currency = account.currency.code(),
    );
    if let Some(Statement { opening, closing }) = statement {
        balance(
            &mut out,
            &DocumentBalance {
                code: "OPBD",
                amount: opening,
                date: contents.from,
            },
        )?;
        balance(
            &mut out,
            &DocumentBalance {
                code: "CLBD",
                amount: closing,
                date: contents.to,
            },
        )?;
    }
    for b in &contents.balances {
        balance(&mut out, b)?;
    }
    for e in contents.entries {
        entry(&mut out, e)?;
    }
    let _ = writeln!(out, "</{block}></{root}></Document>");
    Ok(out)
}

/// 32 letters and digits of a keyed hash of `what`: unique per input, and
/// nothing of the input can be read from it.
fn derived_id(pepper: &Pepper, what: &str) -> String {
    pepper
        .hash(what)
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect()
}

fn account_identification(contents: &Contents<'_>) -> String {
    match &contents.account.iban {
        Some(iban) => format!("<IBAN>{}</IBAN>", iban.as_str()),
        None => format!(
            "<Othr><Id>{}</Id></Othr>",
            contents.account.id.as_uuid().simple()
        ),
    }
}

fn date_time(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn balance(out: &mut String, b: &DocumentBalance) -> Result<(), DocumentError> {
    let (amount, mark) = amount(b.amount)?;
    let _ = write!(
        out,
        "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>{amount}\
         <CdtDbtInd>{mark}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>",
        code = b.code,
        date = b.date,
    );
    Ok(())
}

/// `<Amt Ccy>` of the magnitude, and `CRDT` (zero included) or `DBIT`.
fn amount(money: Money) -> Result<(String, &'static str), DocumentError> {
    let text = money.to_decimal_string();
    let (magnitude, mark) = match text.strip_prefix('-') {
        Some(magnitude) => (magnitude, "DBIT"),
        None => (text.as_str(), "CRDT"),
    };
    if magnitude.chars().filter(char::is_ascii_digit).count() > MAX_AMOUNT_DIGITS {
        return Err(DocumentError::AmountTooLarge(FORMAT));
    }
    Ok((
        format!("<Amt Ccy=\"{}\">{magnitude}</Amt>", money.currency().code()),
        mark,
    ))
}

fn entry(out: &mut String, e: &AccountEntry) -> Result<(), DocumentError> {
    let (amount, mark) = amount(e.amount)?;
    let status = match e.status {
        EntryStatus::Booked => "BOOK",
        EntryStatus::Pending => "PDNG",
    };
    let _ = write!(
        out,
        "<Ntry><NtryRef>{reference}</NtryRef>{amount}<CdtDbtInd>{mark}</CdtDbtInd>\
         <Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>{booked}</Dt></BookgDt>\
         <ValDt><Dt>{value}</Dt></ValDt><AcctSvcrRef>{transaction}</AcctSvcrRef>{code}\
         <NtryDtls><TxDtls>",
        reference = e.entry_reference,
        booked = e.booking_date,
        value = e.value_date,
        transaction = e.transaction_id.as_uuid().simple(),
        code = bank_transaction_code(&e.bank_transaction_code),
    );
    if let Some(id) = e.end_to_end_id.as_deref() {
        let _ = write!(
            out,
            "<Refs><EndToEndId>{}</EndToEndId></Refs>",
            text(id, 35)
        );
    }
    let _ = write!(out, "{amount}<CdtDbtInd>{mark}</CdtDbtInd>");
    let parties = [("Dbtr", &e.debtor), ("Cdtr", &e.creditor)];
    if parties
        .iter()
        .any(|(_, p)| p.name.is_some() || p.iban.is_some())
    {
        out.push_str("<RltdPties>");
        for (role, party) in parties {
            related_party(out, role, party);
        }
        out.push_str("</RltdPties>");
    }
    if let Some(remittance) = e.remittance_information.as_deref() {
        let _ = write!(
            out,
            "<RmtInf><Ustrd>{}</Ustrd></RmtInf>",
            text(remittance, 140)
        );
    }
    out.push_str("</TxDtls></NtryDtls></Ntry>");
    Ok(())
}

/// `Dbtr`/`DbtrAcct` or `Cdtr`/`CdtrAcct`, as far as the ledger knows them.
fn related_party(out: &mut String, role: &str, party: &Party) {
    if let Some(name) = party.name.as_deref().map(|n| text(n, 140))
        && !name.is_empty()
    {
        let _ = write!(out, "<{role}><Pty><Nm>{name}</Nm></Pty></{role}>");
    }
    if let Some(iban) = &party.iban {
        let _ = write!(
            out,
            "<{role}Acct><Id><IBAN>{}</IBAN></Id></{role}Acct>",
            iban.as_str()
        );
    }
}

/// `DOMN-FMLY-SUBF` as the ISO domain, family and sub-family codes; any
/// other code as a proprietary one.
fn bank_transaction_code(code: &str) -> String {
    let parts: Vec<&str> = code.split('-').collect();
    let iso = |p: &&str| (1..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        [domain, family, sub] if parts.iter().all(iso) => format!(
            "<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd>\
             <SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        ),
        _ => format!(
            "<BkTxCd><Prtry><Cd>{}</Cd></Prtry></BkTxCd>",
            text(code, 35)
        ),
    }
}

/// `value` as the text of an element of at most `max` characters: without
/// the characters XML 1.0 forbids, cut to length, then escaped.
fn text(value: &str, max: usize) -> String {
    let kept: String = value
        .chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .take(max)
        .collect();
    escape(kept.trim()).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use fintechapi_domain::Currency;
    use fintechapi_domain::ids::{AccountId, TransactionId};
    use fintechapi_domain::ledger::{Account, AccountBalances, AccountKind, AccountStatus};
    use time::macros::{date, datetime};

    use super::*;

    pub(crate) fn account() -> Account {
        Account {
            id: AccountId::random(),
            kind: AccountKind::Customer,
            psu_id: None,
            iban: "DE02120300000000202051".parse().ok(),
            bic: "BYLADEM1001".into(),
            currency: Currency::EUR,
            name: "Main".into(),
            owner_name: "Erika Mustermann".into(),
            product: "Girokonto".into(),
            cash_account_type: "CACC".into(),
            status: AccountStatus::Enabled,
            overdraft_limit: None,
            balances: AccountBalances::default(),
            created_at: datetime!(2026-01-01 0:00 UTC),
        }
    }

    fn entry(reference: i64, minor: i64, name: &str, remittance: &str) -> AccountEntry {
        AccountEntry {
            entry_reference: reference,
            transaction_id: TransactionId::random(),
            status: EntryStatus::Booked,
            amount: Money::from_minor(minor, Currency::EUR),
            booking_date: date!(2026 - 11 - 25),
            value_date: date!(2026 - 11 - 26),
            debtor: Party::default(),
            creditor: Party {
                name: Some(name.into()),
                iban: "DE89370400440532013000".parse().ok(),
            },
            remittance_information: Some(remittance.into()),
            end_to_end_id: Some("E2E-1".into()),
            bank_transaction_code: "PMNT-ICDT-ESCT".into(),
        }
    }

    fn pepper() -> Pepper {
        Pepper::from_bytes(&[7; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn text_is_escaped_cleaned_and_cut_to_its_length() {
        assert_eq!(
            text("Tom & Jerry <GmbH>", 140),
            "Tom &amp; Jerry &lt;GmbH&gt;"
        );
        assert_eq!(text("a\u{1}b\u{FFFF}c", 140), "abc");
        assert_eq!(text(&"ä".repeat(200), 140).chars().count(), 140);
        assert_eq!(
            text("\"quoted\" 'single'", 140),
            "&quot;quoted&quot; &apos;single&apos;"
        );
    }

    #[test]
    fn amounts_are_unsigned_with_a_credit_or_debit_mark() {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        assert_eq!(
            amount(eur(-2_550)),
            Ok(("<Amt Ccy=\"EUR\">25.50</Amt>".into(), "DBIT"))
        );
        assert_eq!(
            amount(eur(0)),
            Ok(("<Amt Ccy=\"EUR\">0.00</Amt>".into(), "CRDT"))
        );
        let yen: Currency = "JPY".parse().unwrap_or(Currency::EUR);
        assert_eq!(
            amount(Money::from_minor(1_500, yen)),
            Ok(("<Amt Ccy=\"JPY\">1500</Amt>".into(), "CRDT"))
        );
        assert_eq!(
            amount(eur(i64::MIN + 1)),
            Err(DocumentError::AmountTooLarge("camt"))
        );
    }

    #[test]
    fn a_bank_transaction_code_is_iso_when_it_has_three_parts() {
        assert!(bank_transaction_code("PMNT-ICDT-ESCT").contains("<SubFmlyCd>ESCT</SubFmlyCd>"));
        assert_eq!(
            bank_transaction_code("NTRF+116"),
            "<BkTxCd><Prtry><Cd>NTRF+116</Cd></Prtry></BkTxCd>"
        );
    }

    #[test]
    fn a_statement_has_its_balances_and_the_same_id_each_time() {
        let account = account();
        let entries = [entry(7, -2_550, "Kaffeerösterei & Co", "Rechnung <42>")];
        let contents = Contents {
            account: &account,
            entries: &entries,
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 11 - 30),
            balances: Vec::new(),
        };
        let statement = Some(Statement {
            opening: Money::from_minor(10_000, Currency::EUR),
            closing: Money::from_minor(7_450, Currency::EUR),
        });
        let now = datetime!(2026-12-05 10:00:00.5 UTC);
        let first = write(&contents, statement, now, &pepper()).unwrap_or_default();
        let again = write(&contents, statement, now, &pepper()).unwrap_or_default();
        assert!(first.contains("camt.053.001.08"), "{first}");
        assert!(
            first.contains("<CreDtTm>2026-12-05T10:00:00Z</CreDtTm>"),
            "{first}"
        );
        assert!(
            first.contains("<ToDtTm>2026-11-30T23:59:59Z</ToDtTm>"),
            "{first}"
        );
        assert!(first.contains("<Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt>"), "{first}");
        assert!(
            first.contains("<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">74.50</Amt>"),
            "{first}"
        );
        assert!(
            first.contains("<Nm>Kaffeerösterei &amp; Co</Nm>"),
            "{first}"
        );
        assert!(
            first.contains("<Ustrd>Rechnung &lt;42&gt;</Ustrd>"),
            "{first}"
        );
        assert!(
            first.contains(
                "<NtryRef>7</NtryRef><Amt Ccy=\"EUR\">25.50</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
            ),
            "{first}"
        );
        let id = |doc: &str| {
            doc.split("<Stmt><Id>")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .map(str::to_owned)
        };
        assert_eq!(id(&first), id(&again));
        assert_eq!(id(&first).map(|i| i.len()), Some(32));
        assert_ne!(first.split("<MsgId>").nth(1), again.split("<MsgId>").nth(1));
    }

    #[test]
    fn a_report_without_statement_balances_is_a_camt_052() {
        let account = account();
        let mut pending = entry(8, 1_000, "Payer", "x");
        pending.status = EntryStatus::Pending;
        let entries = [pending];
        let contents = Contents {
            account: &account,
            entries: &entries,
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 12 - 05),
            balances: vec![DocumentBalance {
                code: "ITAV",
                amount: Money::from_minor(-5, Currency::EUR),
                date: date!(2026 - 12 - 05),
            }],
        };
        let doc =
            write(&contents, None, datetime!(2026-12-05 10:00 UTC), &pepper()).unwrap_or_default();
        assert!(
            doc.contains("camt.052.001.08\"><BkToCstmrAcctRpt>"),
            "{doc}"
        );
        assert!(
            doc.contains("<ToDtTm>2026-12-05T10:00:00Z</ToDtTm>"),
            "{doc}"
        );
        assert!(doc.contains("<Cd>ITAV</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">0.05</Amt><CdtDbtInd>DBIT</CdtDbtInd>"), "{doc}");
        assert!(doc.contains("<Sts><Cd>PDNG</Cd></Sts>"), "{doc}");
        assert!(!doc.contains("OPBD"), "{doc}");
    }
}
