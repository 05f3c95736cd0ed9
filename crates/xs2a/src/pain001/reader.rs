//! The streaming read: quick-xml events, the open elements as a path, and
//! what the bank reads at each path.

use fintechapi_domain::Currency;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::money::Money;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use time::Date;

use super::values::{
    bic, boolean, bounded, control_sum_matches, count_matches, euro, iso_date, iso_date_time, once,
};
use super::{
    CreditTransfer, CreditTransferInitiation, MAX_TRANSFERS, NAMESPACE, Pain001Error, Problem,
};

/// pain.001 is at most eight levels deep; deeper input is not a pain.001.
const MAX_DEPTH: usize = 32;

/// Parses and checks a pain.001.001.03 document.
pub fn parse(body: &[u8]) -> Result<CreditTransferInitiation, Pain001Error> {
    let text = std::str::from_utf8(body).map_err(|_| Pain001Error {
        path: "Document".to_owned(),
        problem: Problem::NotUtf8,
    })?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_comments = true;
    let mut parser = Parser::default();
    loop {
        let position = reader.buffer_position();
        let (namespace, event) = match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(ns), event)) => (Ok(Some(ns.0.to_owned())), event),
            Ok((ResolveResult::Unbound, event)) => (Ok(None), event),
            Ok((ResolveResult::Unknown(prefix), event)) => (Err(prefix), event),
            Err(e) => {
                return Err(parser.fail(Problem::Malformed {
                    offset: reader.error_position(),
                    detail: e.to_string(),
                }));
            }
        };
        match event {
            Event::Decl(decl) => {
                if let Some(encoding) = decl.encoding()
                    && !encoding.is_ok_and(|e| e.eq_ignore_ascii_case("UTF-8"))
                {
                    return Err(parser.fail(Problem::NotUtf8));
                }
            }
            Event::DocType(_) => return Err(parser.fail(Problem::Doctype)),
            Event::Start(ref start) | Event::Empty(ref start) => {
                let namespace = namespace.map_err(|prefix| {
                    parser.fail(Problem::Malformed {
                        offset: position,
                        detail: format!("the prefix {prefix:?} is not declared"),
                    })
                })?;
                parser.start(start, namespace.as_deref(), position)?;
                if matches!(event, Event::Empty(_)) {
                    parser.end()?;
                }
            }
            Event::End(_) => parser.end()?,
            Event::Text(text) => parser.text(&text.xml10_content(), position)?,
            Event::CData(data) => parser.text(&data.xml10_content(), position)?,
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    // XML 1.0's Char: no C0 control but tab and line breaks, written or referenced.
                    Ok(Some(c)) if c < ' ' && !matches!(c, '\t' | '\n' | '\r') => {
                        return Err(parser.fail(Problem::Malformed {
                            offset: position,
                            detail: format!(
                                "U+{:04X} is a character XML does not allow",
                                u32::from(c)
                            ),
                        }));
                    }
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_xml_entity(&reference) {
                        Some(text) => text.to_owned(),
                        None => {
                            return Err(
                                parser.fail(Problem::UndefinedEntity(reference.to_string()))
                            );
                        }
                    },
                    Err(e) => {
                        return Err(parser.fail(Problem::Malformed {
                            offset: position,
                            detail: e.to_string(),
                        }));
                    }
                };
                parser.text(&resolved, position)?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return parser.finish(position),
        }
    }
}

/// Where the reader is and what it has read so far.
#[derive(Default)]
struct Parser {
    /// Local names of the open elements, from `Document` down.
    open: Vec<String>,
    /// The text of the open element, when it is one the bank reads.
    text: Option<String>,
    /// `Ccy` of the open `InstdAmt`.
    currency: Option<String>,
    root_seen: bool,
    message_seen: bool,
    header_seen: bool,
    header: Header,
    info_seen: bool,
    info: Info,
    transfer: Transfer,
    transfers: Vec<CreditTransfer>,
    /// The whole message, once `CstmrCdtTrfInitn` is closed.
    read: Option<CreditTransferInitiation>,
}

#[derive(Default)]
struct Header {
    message_id: Option<String>,
    created: Option<String>,
    count: Option<String>,
    control_sum: Option<String>,
}

#[derive(Default)]
struct Info {
    method: Option<String>,
    batch_booking: Option<bool>,
    count: Option<String>,
    control_sum: Option<String>,
    date: Option<Date>,
    debtor_name: Option<String>,
    debtor_iban: Option<Iban>,
    debtor_agent: Option<String>,
}

#[derive(Default)]
struct Transfer {
    end_to_end_id: Option<String>,
    amount: Option<Money>,
    creditor_name: Option<String>,
    creditor_iban: Option<Iban>,
    remittance: Option<String>,
}

/// The elements whose text the bank reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    MessageId,
    Created,
    HeaderCount,
    HeaderControlSum,
    Method,
    BatchBooking,
    InfoCount,
    InfoControlSum,
    Date,
    DebtorName,
    DebtorIban,
    DebtorAgent,
    AccountCurrency,
    EndToEndId,
    Amount,
    CreditorName,
    CreditorIban,
    Remittance,
}

/// The leaf at a path below `CstmrCdtTrfInitn`.
fn leaf(path: &[&str]) -> Option<Leaf> {
    Some(match path {
        ["GrpHdr", "MsgId"] => Leaf::MessageId,
        ["GrpHdr", "CreDtTm"] => Leaf::Created,
        ["GrpHdr", "NbOfTxs"] => Leaf::HeaderCount,
        ["GrpHdr", "CtrlSum"] => Leaf::HeaderControlSum,
        ["PmtInf", "PmtMtd"] => Leaf::Method,
        ["PmtInf", "BtchBookg"] => Leaf::BatchBooking,
        ["PmtInf", "NbOfTxs"] => Leaf::InfoCount,
        ["PmtInf", "CtrlSum"] => Leaf::InfoControlSum,
        ["PmtInf", "ReqdExctnDt"] => Leaf::Date,
        ["PmtInf", "Dbtr", "Nm"] => Leaf::DebtorName,
        ["PmtInf", "DbtrAcct", "Id", "IBAN"] => Leaf::DebtorIban,
        ["PmtInf", "DbtrAgt", "FinInstnId", "BIC"] => Leaf::DebtorAgent,
        ["PmtInf", "DbtrAcct", "Ccy"] | ["PmtInf", "CdtTrfTxInf", "CdtrAcct", "Ccy"] => {
            Leaf::AccountCurrency
        }
        ["PmtInf", "CdtTrfTxInf", "PmtId", "EndToEndId"] => Leaf::EndToEndId,
        ["PmtInf", "CdtTrfTxInf", "Amt", "InstdAmt"] => Leaf::Amount,
        ["PmtInf", "CdtTrfTxInf", "Cdtr", "Nm"] => Leaf::CreditorName,
        ["PmtInf", "CdtTrfTxInf", "CdtrAcct", "Id", "IBAN"] => Leaf::CreditorIban,
        ["PmtInf", "CdtTrfTxInf", "RmtInf", "Ustrd"] => Leaf::Remittance,
        _ => return None,
    })
}

/// What a start or end tag is, by its path.
enum Place {
    Header,
    Info,
    Transfer,
    Leaf(Leaf),
    /// `RmtInf/Strd`, which the bank does not take.
    Structured,
    Other,
}

fn place(path: &[&str]) -> Place {
    match path {
        ["GrpHdr"] => Place::Header,
        ["PmtInf"] => Place::Info,
        ["PmtInf", "CdtTrfTxInf"] => Place::Transfer,
        ["PmtInf", "CdtTrfTxInf", "RmtInf", "Strd"] => Place::Structured,
        path => leaf(path).map_or(Place::Other, Place::Leaf),
    }
}

/// A path below `CstmrCdtTrfInitn`, with the transfer's position:
/// `PmtInf/CdtTrfTxInf[2]/Cdtr/Nm`. The two outer elements name themselves.
fn display_path(names: &[String], transfer: usize) -> String {
    let below = match names {
        [] => return "Document".to_owned(),
        [_] | [_, _] => return names.join("/"),
        [_, _, below @ ..] => below,
    };
    below
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if i == 1 && name == "CdtTrfTxInf" {
                format!("{name}[{transfer}]")
            } else {
                name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Parser {
    fn place(&self) -> Place {
        let names: Vec<&str> = self.open.iter().skip(2).map(String::as_str).collect();
        place(&names)
    }

    /// An error at the open element, or at `below` it.
    fn fail_below(&self, below: &[&str], problem: Problem) -> Pain001Error {
        let mut names = self.open.clone();
        names.extend(below.iter().map(|n| (*n).to_owned()));
        Pain001Error {
            path: display_path(&names, self.transfers.len() + 1),
            problem,
        }
    }

    fn fail(&self, problem: Problem) -> Pain001Error {
        self.fail_below(&[], problem)
    }

    fn start(
        &mut self,
        start: &BytesStart<'_>,
        namespace: Option<&str>,
        position: u64,
    ) -> Result<(), Pain001Error> {
        if self.text.is_some() {
            return Err(self.fail(Problem::TextOnly));
        }
        self.open.push(start.local_name().into_inner().to_owned());
        if self.open.len() > MAX_DEPTH {
            return Err(self.fail(Problem::TooDeep));
        }
        match namespace {
            Some(NAMESPACE) => {}
            Some(other) => return Err(self.fail(Problem::Namespace(other.to_owned()))),
            None => return Err(self.fail(Problem::NoNamespace)),
        }
        match self.open.as_slice() {
            [root] => {
                if std::mem::replace(&mut self.root_seen, true) || root != "Document" {
                    return Err(self.fail(Problem::Unexpected {
                        expected: "Document",
                    }));
                }
                return Ok(());
            }
            [_, message] => {
                if std::mem::replace(&mut self.message_seen, true) || message != "CstmrCdtTrfInitn"
                {
                    return Err(self.fail(Problem::Unexpected {
                        expected: "CstmrCdtTrfInitn",
                    }));
                }
                return Ok(());
            }
            _ => {}
        }
        match self.place() {
            Place::Header => {
                if std::mem::replace(&mut self.header_seen, true) {
                    return Err(self.fail(Problem::Repeated));
                }
            }
            Place::Info => {
                if std::mem::replace(&mut self.info_seen, true) {
                    return Err(Pain001Error {
                        path: "PmtInf[2]".to_owned(),
                        problem: Problem::NotOffered(
                            "one PmtInf per document: one debtor account and execution date",
                        ),
                    });
                }
            }
            Place::Transfer => self.transfer = Transfer::default(),
            Place::Leaf(leaf) => {
                if leaf == Leaf::Amount {
                    self.currency = self.currency_of(start, position)?;
                }
                self.text = Some(String::new());
            }
            Place::Structured => {
                return Err(self.fail(Problem::NotOffered(
                    "structured remittance information is not offered; send it as Ustrd",
                )));
            }
            Place::Other => {}
        }
        Ok(())
    }

    fn currency_of(
        &self,
        start: &BytesStart<'_>,
        position: u64,
    ) -> Result<Option<String>, Pain001Error> {
        for attribute in start.attributes() {
            let malformed = |detail: String| {
                self.fail(Problem::Malformed {
                    offset: position,
                    detail,
                })
            };
            let attribute = attribute.map_err(|e| malformed(e.to_string()))?;
            if attribute.key.0 == "Ccy" {
                let value = attribute
                    .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_xml_entity)
                    .map_err(|e| malformed(e.to_string()))?;
                return Ok(Some(value.trim().to_owned()));
            }
        }
        Ok(None)
    }

    fn text(&mut self, text: &str, position: u64) -> Result<(), Pain001Error> {
        if let Some(open) = &mut self.text {
            open.push_str(text);
        } else if self.open.is_empty() && !text.trim().is_empty() {
            return Err(self.fail(Problem::Malformed {
                offset: position,
                detail: "text outside the root element".to_owned(),
            }));
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), Pain001Error> {
        match self.open.len() {
            2 => self.end_message()?,
            0 | 1 => {}
            _ => match self.place() {
                Place::Header => self.end_header()?,
                Place::Info => self.end_info()?,
                Place::Transfer => self.end_transfer()?,
                Place::Leaf(Leaf::Amount) => self.end_amount()?,
                Place::Leaf(leaf) => {
                    let text = self.text.take().unwrap_or_default();
                    self.read_leaf(leaf, text.trim().to_owned())
                        .map_err(|problem| self.fail(problem))?;
                }
                Place::Structured | Place::Other => {}
            },
        }
        self.open.pop();
        Ok(())
    }

    fn read_leaf(&mut self, leaf: Leaf, text: String) -> Result<(), Problem> {
        if text.is_empty() {
            return Err(Problem::Empty);
        }
        let (header, info, transfer) = (&mut self.header, &mut self.info, &mut self.transfer);
        match leaf {
            Leaf::MessageId => once(&mut header.message_id, bounded(text, 35)?),
            Leaf::Created => {
                iso_date_time(&text)?;
                once(&mut header.created, text)
            }
            Leaf::HeaderCount => once(&mut header.count, text),
            Leaf::HeaderControlSum => once(&mut header.control_sum, text),
            Leaf::Method if text == "TRF" => once(&mut info.method, text),
            Leaf::Method => Err(Problem::PaymentMethod(text)),
            Leaf::BatchBooking => once(&mut info.batch_booking, boolean(&text)?),
            Leaf::InfoCount => once(&mut info.count, text),
            Leaf::InfoControlSum => once(&mut info.control_sum, text),
            Leaf::Date => once(&mut info.date, iso_date(&text)?),
            Leaf::DebtorName => once(&mut info.debtor_name, bounded(text, 70)?),
            Leaf::DebtorIban => once(&mut info.debtor_iban, text.parse()?),
            Leaf::DebtorAgent => once(&mut info.debtor_agent, bic(&text)?),
            Leaf::AccountCurrency => euro(&text),
            Leaf::EndToEndId => once(&mut transfer.end_to_end_id, bounded(text, 35)?),
            Leaf::CreditorName => once(&mut transfer.creditor_name, bounded(text, 70)?),
            Leaf::CreditorIban => once(&mut transfer.creditor_iban, text.parse()?),
            Leaf::Remittance => once(&mut transfer.remittance, bounded(text, 140)?),
            // Read with its currency attribute by `end_amount`.
            Leaf::Amount => Ok(()),
        }
    }

    fn end_amount(&mut self) -> Result<(), Pain001Error> {
        let text = self.text.take().unwrap_or_default();
        let code = self
            .currency
            .take()
            .ok_or_else(|| self.fail_below(&["@Ccy"], Problem::Missing))?;
        euro(&code).map_err(|problem| self.fail_below(&["@Ccy"], problem))?;
        let amount = Money::parse_decimal(text.trim(), Currency::EUR)
            .map_err(|e| self.fail(Problem::Amount(e)))?;
        if !amount.is_positive() {
            return Err(self.fail(Problem::NotPositive));
        }
        once(&mut self.transfer.amount, amount).map_err(|problem| self.fail(problem))
    }

    fn end_transfer(&mut self) -> Result<(), Pain001Error> {
        if self.transfers.len() == MAX_TRANSFERS {
            return Err(self.fail(Problem::TooManyTransfers));
        }
        let t = std::mem::take(&mut self.transfer);
        let missing = |below: &[&str]| self.fail_below(below, Problem::Missing);
        let transfer = CreditTransfer {
            end_to_end_id: t
                .end_to_end_id
                .ok_or_else(|| missing(&["PmtId", "EndToEndId"]))?,
            amount: t.amount.ok_or_else(|| missing(&["Amt", "InstdAmt"]))?,
            creditor_name: t.creditor_name.ok_or_else(|| missing(&["Cdtr", "Nm"]))?,
            creditor_iban: t
                .creditor_iban
                .ok_or_else(|| missing(&["CdtrAcct", "Id", "IBAN"]))?,
            remittance: t.remittance,
        };
        self.transfers.push(transfer);
        Ok(())
    }

    fn end_info(&self) -> Result<(), Pain001Error> {
        let info = &self.info;
        let missing = |below: &[&str]| self.fail_below(below, Problem::Missing);
        info.method.as_ref().ok_or_else(|| missing(&["PmtMtd"]))?;
        info.date.ok_or_else(|| missing(&["ReqdExctnDt"]))?;
        info.debtor_name
            .as_ref()
            .ok_or_else(|| missing(&["Dbtr", "Nm"]))?;
        info.debtor_iban
            .as_ref()
            .ok_or_else(|| missing(&["DbtrAcct", "Id", "IBAN"]))?;
        if self.transfers.is_empty() {
            return Err(missing(&["CdtTrfTxInf"]));
        }
        if let Some(count) = &info.count {
            count_matches(count, &self.transfers)
                .map_err(|problem| self.fail_below(&["NbOfTxs"], problem))?;
        }
        if let Some(sum) = &info.control_sum {
            control_sum_matches(sum, &self.transfers)
                .map_err(|problem| self.fail_below(&["CtrlSum"], problem))?;
        }
        Ok(())
    }

    fn end_header(&self) -> Result<(), Pain001Error> {
        let header = &self.header;
        let missing = |below: &[&str]| self.fail_below(below, Problem::Missing);
        header
            .message_id
            .as_ref()
            .ok_or_else(|| missing(&["MsgId"]))?;
        header
            .created
            .as_ref()
            .ok_or_else(|| missing(&["CreDtTm"]))?;
        header.count.as_ref().ok_or_else(|| missing(&["NbOfTxs"]))?;
        Ok(())
    }

    /// Checks the group's totals and takes the message.
    fn end_message(&mut self) -> Result<(), Pain001Error> {
        let missing = |below: &[&str]| self.fail_below(below, Problem::Missing);
        if !self.header_seen {
            return Err(missing(&["GrpHdr"]));
        }
        if !self.info_seen {
            return Err(missing(&["PmtInf"]));
        }
        let (header, info) = (&self.header, &self.info);
        // `end_header` and `end_info` have checked that these are present.
        let (Some(message_id), Some(count), Some(date), Some(debtor_name), Some(debtor_iban)) = (
            &header.message_id,
            &header.count,
            info.date,
            &info.debtor_name,
            &info.debtor_iban,
        ) else {
            return Err(missing(&[]));
        };
        count_matches(count, &self.transfers)
            .map_err(|problem| self.fail_below(&["GrpHdr", "NbOfTxs"], problem))?;
        if let Some(sum) = &header.control_sum {
            control_sum_matches(sum, &self.transfers)
                .map_err(|problem| self.fail_below(&["GrpHdr", "CtrlSum"], problem))?;
        }
        self.read = Some(CreditTransferInitiation {
            message_id: message_id.clone(),
            batch_booking: info.batch_booking,
            requested_execution_date: date,
            debtor_name: debtor_name.clone(),
            debtor_iban: debtor_iban.clone(),
            debtor_agent: info.debtor_agent.clone(),
            transactions: std::mem::take(&mut self.transfers),
        });
        Ok(())
    }

    fn finish(self, position: u64) -> Result<CreditTransferInitiation, Pain001Error> {
        if !self.open.is_empty() {
            return Err(self.fail(Problem::Malformed {
                offset: position,
                detail: "the document ends before this element is closed".to_owned(),
            }));
        }
        match self.read {
            Some(read) => Ok(read),
            None if self.root_seen => Err(Pain001Error {
                path: "Document/CstmrCdtTrfInitn".to_owned(),
                problem: Problem::Missing,
            }),
            None => Err(self.fail(Problem::Missing)),
        }
    }
}
