//! The parser against the spec's example and one refusal per rule.

use super::*;
use fintechapi_domain::Currency;
use fintechapi_domain::money::{Money, MoneyError};
use fintechapi_domain::payment::PaymentProduct;

/// The spec's example, with a valid creditor IBAN, two cents, a debtor agent and an entity.
const VALID: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>MIPI-123456789RI-123456789</MsgId>
      <CreDtTm>2017-02-14T20:23:34.000Z</CreDtTm>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>123.45</CtrlSum>
      <InitgPty><Nm>PaymentInitiator</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>BIPI-123456789RI-123456789</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <BtchBookg>false</BtchBookg>
      <NbOfTxs>1</NbOfTxs>
      <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>
      <ReqdExctnDt>2017-02-15</ReqdExctnDt>
      <Dbtr><Nm>PSU Name</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>DE87200500001234567890</IBAN></Id><Ccy>EUR</Ccy></DbtrAcct>
      <DbtrAgt><FinInstnId><BIC>FTAPDEFFXXX</BIC></FinInstnId></DbtrAgt>
      <ChrgBr>SLEV</ChrgBr>
      <CdtTrfTxInf>
        <PmtId><EndToEndId>RI-123456789</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">123.45</InstdAmt></Amt>
        <Cdtr><Nm>M&#252;ller &amp; S&#246;hne</Nm></Cdtr>
        <CdtrAcct><Id><IBAN> DE02120300000000202051 </IBAN></Id></CdtrAcct>
        <RmtInf><Ustrd><![CDATA[Ref <Merchant-123456>]]></Ustrd></RmtInf>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>"#;

const SECOND: &str = r#"<CdtTrfTxInf>
        <PmtId><EndToEndId>E2E-2</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">0.55</InstdAmt></Amt>
        <Cdtr><Nm>Second</Nm></Cdtr>
        <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
      </CdtTrfTxInf>
    </PmtInf>"#;

/// The valid document with `from` replaced by `to` (which must be there).
fn changed(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} is not in the document");
    VALID.replacen(from, to, 1)
}

fn refused(document: &str) -> Pain001Error {
    parse(document.as_bytes()).expect_err("the document must be refused")
}

fn assert_refused(document: &str, path: &str, problem: Problem) {
    assert_eq!(
        refused(document),
        Pain001Error {
            path: path.to_owned(),
            problem
        }
    );
}

#[test]
fn the_specs_single_transfer_parses_into_domain_types() {
    let read = parse(VALID.as_bytes()).unwrap();
    assert_eq!(read.message_id, "MIPI-123456789RI-123456789");
    assert_eq!(read.batch_booking, Some(false));
    assert_eq!(
        read.requested_execution_date,
        time::macros::date!(2017 - 02 - 15)
    );
    assert_eq!(read.debtor_name, "PSU Name");
    assert_eq!(read.debtor_iban.as_str(), "DE87200500001234567890");
    assert_eq!(read.debtor_agent.as_deref(), Some("FTAPDEFFXXX"));
    assert_eq!(
        read.transactions,
        [CreditTransfer {
            end_to_end_id: "RI-123456789".to_owned(),
            amount: Money::from_minor(12345, Currency::EUR),
            creditor_name: "Müller & Söhne".to_owned(),
            creditor_iban: "DE02120300000000202051".parse().unwrap(),
            remittance: Some("Ref <Merchant-123456>".to_owned()),
        }]
    );
}

#[test]
fn a_prefixed_namespace_whole_euros_and_several_transfers_are_read() {
    let prefixed = VALID
        .replace("<Document xmlns=", "<p:Document xmlns:p=")
        .replace("</Document>", "</p:Document>")
        .replace('<', "<p:")
        .replace("<p:/", "</p:")
        .replace("<p:?xml", "<?xml")
        .replace("<p:![CDATA", "<![CDATA")
        .replace("<p:p:", "<p:")
        .replace("</p:p:", "</p:")
        .replace("Ref <p:Merchant", "Ref <Merchant");
    assert_eq!(
        parse(prefixed.as_bytes()).unwrap(),
        parse(VALID.as_bytes()).unwrap()
    );

    let two = changed("</PmtInf>", SECOND)
        .replacen("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>", 2)
        .replace("<CtrlSum>123.45</CtrlSum>", "<CtrlSum>124.0000</CtrlSum>");
    let read = parse(two.as_bytes()).unwrap();
    let amounts: Vec<_> = read.transactions.iter().map(|t| t.amount.minor()).collect();
    assert_eq!(amounts, [12345, 55]);

    let whole = changed(">123.45</InstdAmt>", ">123</InstdAmt>")
        .replace("<CtrlSum>123.45</CtrlSum>", "<CtrlSum>123</CtrlSum>");
    assert_eq!(
        parse(whole.as_bytes()).unwrap().transactions[0]
            .amount
            .minor(),
        12300
    );
}

#[test]
fn another_namespace_or_none_is_refused() {
    assert_refused(
        &VALID.replace("pain.001.001.03", "pain.001.001.09"),
        "Document",
        Problem::Namespace("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09".to_owned()),
    );
    assert_refused(
        &changed(
            r#" xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03""#,
            "",
        ),
        "Document",
        Problem::NoNamespace,
    );
    assert_refused(
        &changed("<Dbtr>", r#"<Dbtr xmlns="urn:example:other">"#),
        "PmtInf/Dbtr",
        Problem::Namespace("urn:example:other".to_owned()),
    );
}

#[test]
fn malformed_xml_is_refused_with_where_it_broke() {
    let e = refused(&changed("</MsgId>", "</Msgid>"));
    assert_eq!(e.path, "GrpHdr/MsgId");
    assert!(matches!(e.problem, Problem::Malformed { .. }), "{e}");
    let cut = &VALID[..VALID.find("<PmtInf>").unwrap()];
    assert!(matches!(refused(cut).problem, Problem::Malformed { .. }));
    assert!(matches!(refused("").problem, Problem::Missing));
    assert!(matches!(
        refused(&format!("junk{VALID}")).problem,
        Problem::Malformed { .. }
    ));
    assert_refused(
        &format!("{VALID}<Document xmlns=\"{NAMESPACE}\"/>"),
        "Document",
        Problem::Unexpected {
            expected: "Document",
        },
    );
    let e = refused(&changed("<Cd>SEPA</Cd>", "<Cd>SEPA & more</Cd>"));
    assert_eq!(e.path, "PmtInf/PmtTpInf/SvcLvl/Cd");
    assert!(matches!(e.problem, Problem::Malformed { .. }), "{e}");
}

#[test]
fn a_character_reference_to_a_control_character_is_refused() {
    // Found by the pain001 fuzz target: `&#2;` put a control character in a name.
    for reference in ["&#2;", "&#x1F;", "&#27;"] {
        let error = refused(&changed("PSU Name", &format!("PSU{reference}Name")));
        assert_eq!(error.path, "PmtInf/Dbtr/Nm");
        assert!(
            matches!(error.problem, Problem::Malformed { .. }),
            "{error:?}"
        );
    }
    // Tab and line breaks are XML characters.
    let debtor = parse(changed("PSU Name", "PSU&#9;Name").as_bytes())
        .unwrap()
        .debtor_name;
    assert_eq!(debtor, "PSU\tName");
}

#[test]
fn a_doctype_or_an_undeclared_entity_is_refused() {
    let laughs = VALID.replacen(
        "<Document",
        "<!DOCTYPE Document [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>\n<Document",
        1,
    );
    assert_refused(&laughs, "Document", Problem::Doctype);
    assert_refused(
        &changed("PSU Name", "&lol2;"),
        "PmtInf/Dbtr/Nm",
        Problem::UndefinedEntity("lol2".to_owned()),
    );
    let external = VALID.replacen(
        "<Document",
        "<!DOCTYPE Document SYSTEM \"file:///etc/passwd\">\n<Document",
        1,
    );
    assert_refused(&external, "Document", Problem::Doctype);
}

#[test]
fn only_utf8_is_read() {
    let mut latin1 = changed("PSU Name", "PSU N\u{e4}me").into_bytes();
    let at = latin1.windows(2).position(|w| w == "ä".as_bytes()).unwrap();
    latin1.splice(at..at + 2, [0xE4]);
    assert_eq!(parse(&latin1).unwrap_err().problem, Problem::NotUtf8);
    assert_refused(
        &changed("UTF-8", "ISO-8859-1"),
        "Document",
        Problem::NotUtf8,
    );
    let with_bom = format!("\u{feff}{VALID}");
    assert_eq!(parse(with_bom.as_bytes()), parse(VALID.as_bytes()));
}

#[test]
fn a_missing_iban_is_named_by_its_path() {
    assert_refused(
        &changed(
            "<DbtrAcct><Id><IBAN>DE87200500001234567890</IBAN></Id>",
            "<DbtrAcct><Id><Othr><Id>123</Id></Othr></Id>",
        ),
        "PmtInf/DbtrAcct/Id/IBAN",
        Problem::Missing,
    );
    assert_refused(
        &changed(
            "<CdtrAcct><Id><IBAN> DE02120300000000202051 </IBAN></Id></CdtrAcct>",
            "",
        ),
        "PmtInf/CdtTrfTxInf[1]/CdtrAcct/Id/IBAN",
        Problem::Missing,
    );
    assert_refused(
        &changed(" DE02120300000000202051 ", ""),
        "PmtInf/CdtTrfTxInf[1]/CdtrAcct/Id/IBAN",
        Problem::Empty,
    );
}

#[test]
fn an_invalid_iban_is_refused_in_the_transfer_it_is_in() {
    let e = refused(&changed("DE87200500001234567890", "DE88200500001234567890"));
    assert_eq!(e.path, "PmtInf/DbtrAcct/Id/IBAN");
    assert!(matches!(e.problem, Problem::Iban(_)), "{e}");
    let two = changed(
        "</PmtInf>",
        &SECOND.replace("DE89370400440532013000", "DE00123"),
    )
    .replacen("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>", 2);
    let e = refused(&two);
    assert_eq!(e.path, "PmtInf/CdtTrfTxInf[2]/CdtrAcct/Id/IBAN");
    assert!(matches!(e.problem, Problem::Iban(_)), "{e}");
}

#[test]
fn only_euros_are_taken() {
    let at = "PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt/@Ccy";
    assert_refused(
        &changed(r#"Ccy="EUR""#, r#"Ccy="USD""#),
        at,
        Problem::CurrencyNotOffered("USD".to_owned()),
    );
    assert_refused(
        &changed(r#"Ccy="EUR""#, r#"Ccy="EU""#),
        at,
        Problem::UnknownCurrency("EU".to_owned()),
    );
    assert_refused(&changed(r#" Ccy="EUR""#, ""), at, Problem::Missing);
    assert_refused(
        &changed("<Ccy>EUR</Ccy>", "<Ccy>CHF</Ccy>"),
        "PmtInf/DbtrAcct/Ccy",
        Problem::CurrencyNotOffered("CHF".to_owned()),
    );
}

#[test]
fn amounts_have_at_most_two_decimals_and_are_positive() {
    let at = "PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt";
    let e = refused(&changed(">123.45</InstdAmt>", ">123.456</InstdAmt>"));
    assert_eq!(e.path, at);
    assert!(
        matches!(e.problem, Problem::Amount(MoneyError::TooPrecise { .. })),
        "{e}"
    );
    let e = refused(&changed(">123.45</InstdAmt>", ">1e3</InstdAmt>"));
    assert!(
        matches!(e.problem, Problem::Amount(MoneyError::Malformed(_))),
        "{e}"
    );
    assert_refused(
        &changed(">123.45</InstdAmt>", ">0.00</InstdAmt>"),
        at,
        Problem::NotPositive,
    );
}

#[test]
fn number_of_transactions_and_control_sum_must_match_the_transfers() {
    assert_refused(
        &changed(
            "<NbOfTxs>1</NbOfTxs>\n      <CtrlSum>",
            "<NbOfTxs>2</NbOfTxs>\n      <CtrlSum>",
        ),
        "GrpHdr/NbOfTxs",
        Problem::NumberOfTransactions {
            stated: "2".to_owned(),
            counted: 1,
        },
    );
    assert_refused(
        &changed("<CtrlSum>123.45</CtrlSum>", "<CtrlSum>123.46</CtrlSum>"),
        "GrpHdr/CtrlSum",
        Problem::ControlSum {
            stated: "123.46".to_owned(),
            summed: "123.45".to_owned(),
        },
    );
    assert_refused(
        &changed("<CtrlSum>123.45</CtrlSum>", "<CtrlSum>123.4501</CtrlSum>"),
        "GrpHdr/CtrlSum",
        Problem::ControlSum {
            stated: "123.4501".to_owned(),
            summed: "123.45".to_owned(),
        },
    );
    let two = changed("</PmtInf>", SECOND)
        .replace("<CtrlSum>123.45</CtrlSum>", "<CtrlSum>124.00</CtrlSum>");
    assert_refused(
        &two.replacen("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>", 1),
        "PmtInf/NbOfTxs",
        Problem::NumberOfTransactions {
            stated: "1".to_owned(),
            counted: 2,
        },
    );
    assert_refused(
        &changed(
            "<NbOfTxs>1</NbOfTxs>\n      <CtrlSum>",
            "<NbOfTxs>one</NbOfTxs>\n      <CtrlSum>",
        ),
        "GrpHdr/NbOfTxs",
        Problem::NumberOfTransactions {
            stated: "one".to_owned(),
            counted: 1,
        },
    );
}

#[test]
fn texts_longer_than_the_schema_allows_are_refused() {
    let name = |n: usize| "N".repeat(n);
    let ok = changed(">M&#252;ller &amp; S&#246;hne<", &format!(">{}<", name(70)));
    assert_eq!(
        parse(ok.as_bytes()).unwrap().transactions[0].creditor_name,
        name(70)
    );
    assert_refused(
        &changed(">M&#252;ller &amp; S&#246;hne<", &format!(">{}<", name(71))),
        "PmtInf/CdtTrfTxInf[1]/Cdtr/Nm",
        Problem::TooLong {
            max: 70,
            length: 71,
        },
    );
    assert_refused(
        &changed("PSU Name", &"ü".repeat(71)),
        "PmtInf/Dbtr/Nm",
        Problem::TooLong {
            max: 70,
            length: 71,
        },
    );
    assert_refused(
        &changed("<![CDATA[Ref <Merchant-123456>]]>", &name(141)),
        "PmtInf/CdtTrfTxInf[1]/RmtInf/Ustrd",
        Problem::TooLong {
            max: 140,
            length: 141,
        },
    );
    assert_refused(
        &changed(">RI-123456789<", &format!(">{}<", name(36))),
        "PmtInf/CdtTrfTxInf[1]/PmtId/EndToEndId",
        Problem::TooLong {
            max: 35,
            length: 36,
        },
    );
    assert_refused(
        &changed("MIPI-123456789RI-123456789", &name(36)),
        "GrpHdr/MsgId",
        Problem::TooLong {
            max: 35,
            length: 36,
        },
    );
}

#[test]
fn header_and_payment_information_fields_are_checked() {
    let cases = [
        (
            "<MsgId>MIPI-123456789RI-123456789</MsgId>",
            "",
            "GrpHdr/MsgId",
            Problem::Missing,
        ),
        (
            "2017-02-14T20:23:34.000Z",
            "14.02.2017",
            "GrpHdr/CreDtTm",
            Problem::DateTime("14.02.2017".to_owned()),
        ),
        (
            "<PmtMtd>TRF</PmtMtd>",
            "<PmtMtd>CHK</PmtMtd>",
            "PmtInf/PmtMtd",
            Problem::PaymentMethod("CHK".to_owned()),
        ),
        (
            "<PmtMtd>TRF</PmtMtd>",
            "",
            "PmtInf/PmtMtd",
            Problem::Missing,
        ),
        (
            "<BtchBookg>false</BtchBookg>",
            "<BtchBookg>no</BtchBookg>",
            "PmtInf/BtchBookg",
            Problem::Boolean("no".to_owned()),
        ),
        (
            "2017-02-15",
            "2017-02-30",
            "PmtInf/ReqdExctnDt",
            Problem::Date("2017-02-30".to_owned()),
        ),
        (
            "<Dbtr><Nm>PSU Name</Nm></Dbtr>",
            "",
            "PmtInf/Dbtr/Nm",
            Problem::Missing,
        ),
        (
            "FTAPDEFFXXX",
            "ftapdeff",
            "PmtInf/DbtrAgt/FinInstnId/BIC",
            Problem::Bic("ftapdeff".to_owned()),
        ),
        (
            "<PmtId><EndToEndId>RI-123456789</EndToEndId></PmtId>",
            "",
            "PmtInf/CdtTrfTxInf[1]/PmtId/EndToEndId",
            Problem::Missing,
        ),
        (
            "<Amt><InstdAmt Ccy=\"EUR\">123.45</InstdAmt></Amt>",
            "",
            "PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt",
            Problem::Missing,
        ),
        (
            "<MsgId>MIPI-123456789RI-123456789</MsgId>",
            "<MsgId>A</MsgId><MsgId>B</MsgId>",
            "GrpHdr/MsgId",
            Problem::Repeated,
        ),
        (
            "<Ustrd>",
            "<Ustrd>one</Ustrd><Ustrd>",
            "PmtInf/CdtTrfTxInf[1]/RmtInf/Ustrd",
            Problem::Repeated,
        ),
        (
            "<Dbtr><Nm>PSU Name</Nm></Dbtr>",
            "<Dbtr><Nm>PSU <b>Name</b></Nm></Dbtr>",
            "PmtInf/Dbtr/Nm",
            Problem::TextOnly,
        ),
    ];
    for (from, to, path, problem) in cases {
        assert_refused(&changed(from, to), path, problem);
    }
}

#[test]
fn what_the_bank_does_not_take_is_refused_not_dropped() {
    let second_info = changed("</CstmrCdtTrfInitn>", "<PmtInf/></CstmrCdtTrfInitn>");
    let e = refused(&second_info);
    assert_eq!(e.path, "PmtInf[2]");
    assert!(matches!(e.problem, Problem::NotOffered(_)));
    let structured = changed(
        "<Ustrd>",
        "<Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd><Ustrd>",
    );
    let e = refused(&structured);
    assert_eq!(e.path, "PmtInf/CdtTrfTxInf[1]/RmtInf/Strd");
    assert!(matches!(e.problem, Problem::NotOffered(_)));
    let deep = changed("<Cd>SEPA</Cd>", &"<X>".repeat(40));
    assert_eq!(refused(&deep).problem, Problem::TooDeep);
}

#[test]
fn an_error_becomes_a_format_error_with_its_path() {
    let e = Xs2aError::from(refused(&changed(
        ">123.45</InstdAmt>",
        ">123.456</InstdAmt>",
    )));
    assert_eq!((e.status.as_u16(), e.code.as_str()), (400, "FORMAT_ERROR"));
    assert_eq!(
        e.path.as_deref(),
        Some("PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt")
    );
    assert!(
        e.text.starts_with(
            "PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt: amount \"123.456\" has more than 2 decimal places"
        ),
        "{}",
        e.text
    );
}

#[test]
fn the_pain001_products_take_xml_and_the_others_json() {
    let xml: PathProduct = "pain.001-instant-sepa-credit-transfers".parse().unwrap();
    assert_eq!(
        (xml.product, xml.pain001),
        (PaymentProduct::InstantSepaCreditTransfers, true)
    );
    let json: PathProduct = "target-2-payments".parse().unwrap();
    assert_eq!(
        (json.product, json.pain001),
        (PaymentProduct::Target2Payments, false)
    );
    assert_eq!(xml.to_string(), "pain.001-instant-sepa-credit-transfers");
    assert_eq!(json.to_string(), "target-2-payments");
    assert!("pain.001-sepa-express".parse::<PathProduct>().is_err());
    assert!(
        "pain.002-sepa-credit-transfers"
            .parse::<PathProduct>()
            .is_err()
    );
    assert!(xml.takes(Some("application/xml; charset=utf-8")) && xml.takes(Some("Text/XML")));
    assert!(!xml.takes(Some("application/json")) && !xml.takes(None));
    assert!(json.takes(Some("application/json")) && json.takes(None));
    assert!(!json.takes(Some("application/xml")));
}

#[test]
fn a_document_with_more_transfers_than_a_bulk_payment_holds_is_refused_at_the_first_too_many() {
    let transfer = SECOND.trim_end_matches("</PmtInf>");
    let many = |n: usize| changed("</PmtInf>", &format!("{}</PmtInf>", transfer.repeat(n)));
    // The document's own counts are wrong, so a refusal for them proves the cap let it through.
    assert!(matches!(
        refused(&many(MAX_TRANSFERS - 1)).problem,
        Problem::NumberOfTransactions { .. }
    ));
    assert_refused(
        &many(20_000),
        &format!("PmtInf/CdtTrfTxInf[{}]", MAX_TRANSFERS + 1),
        Problem::TooManyTransfers,
    );
}
