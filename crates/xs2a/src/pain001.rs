//! ISO 20022 `pain.001.001.03` (CustomerCreditTransferInitiationV03): the
//! XML body of the `pain.001-…` payment products, read with quick-xml's
//! streaming reader. The server caps the body before it gets here.
//!
//! Checked: UTF-8 only, no DTD (so no entity but XML's five and character
//! references), every element in the pain.001.001.03 namespace, and what the
//! bank needs from `GrpHdr`, the one `PmtInf` and each `CdtTrfTxInf`, with the
//! XSD's lengths (EPC's 70 for names). Elements the bank does not use (e.g.
//! `InitgPty`, `PmtTpInf`, `ChrgBr`) are read over. Every error names its
//! place with a path below `CstmrCdtTrfInitn`, e.g. `PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt`.

use std::fmt;
use std::str::FromStr;

use fintechapi_domain::iban::{Iban, InvalidIban};
use fintechapi_domain::money::{Money, MoneyError};
use fintechapi_domain::payment::{Payment, PaymentFormat, PaymentProduct};
use time::Date;

use crate::Xs2aError;

mod reader;
#[cfg(test)]
mod tests;
mod values;

pub use reader::parse;

pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";

/// Most transfers one document may hold: a bulk payment's limit, checked
/// while reading so a huge document is refused as soon as it goes past it.
pub const MAX_TRANSFERS: usize = 500;

/// The path prefix of the XML payment products (`pain.001-sepa-credit-transfers`).
pub(crate) const PRODUCT_PREFIX: &str = "pain.001-";

/// A payment product as the path names it: the scheme, and whether its body
/// is a pain.001 document rather than JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathProduct {
    pub product: PaymentProduct,
    pub pain001: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment product {0:?} is not offered")]
pub struct UnknownProduct(String);

impl FromStr for PathProduct {
    type Err = UnknownProduct;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, pain001) = match text.strip_prefix(PRODUCT_PREFIX) {
            Some(scheme) => (scheme, true),
            None => (text, false),
        };
        let product = scheme
            .parse()
            .map_err(|_| UnknownProduct(text.to_owned()))?;
        Ok(Self { product, pain001 })
    }
}

impl fmt::Display for PathProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pain001 {
            f.write_str(PRODUCT_PREFIX)?;
        }
        f.write_str(self.product.as_str())
    }
}

impl PathProduct {
    /// Whether a body of `content_type` is what this product takes: pain.001
    /// as `application/xml` (or `text/xml`), JSON otherwise.
    pub fn takes(&self, content_type: Option<&str>) -> bool {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let xml = matches!(essence.as_deref(), Some("application/xml" | "text/xml"));
        xml == self.pain001
    }

    /// Where the body names the debtor's IBAN.
    pub fn debtor_iban_path(&self) -> &'static str {
        if self.pain001 {
            "PmtInf/DbtrAcct/Id/IBAN"
        } else {
            "debtorAccount.iban"
        }
    }

    /// The product `payment` was initiated on.
    pub fn of(payment: &Payment) -> Self {
        Self {
            product: payment.product,
            pain001: matches!(payment.format, PaymentFormat::Pain001 { .. }),
        }
    }

    /// How a payment initiated with `body` on this product is kept.
    pub fn format(&self, body: &[u8]) -> PaymentFormat {
        if self.pain001 {
            PaymentFormat::Pain001 {
                document: String::from_utf8_lossy(body).into_owned(),
            }
        } else {
            PaymentFormat::Json
        }
    }
}

/// A pain.001 credit transfer initiation with one payment information block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransferInitiation {
    pub message_id: String,
    pub batch_booking: Option<bool>,
    pub requested_execution_date: Date,
    pub debtor_name: String,
    pub debtor_iban: Iban,
    /// BIC of `DbtrAgt`, when given.
    pub debtor_agent: Option<String>,
    pub transactions: Vec<CreditTransfer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    pub end_to_end_id: String,
    pub amount: Money,
    pub creditor_name: String,
    pub creditor_iban: Iban,
    pub remittance: Option<String>,
}

/// What is wrong with a pain.001 document, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct Pain001Error {
    pub path: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not well-formed XML (at byte {offset}): {detail}")]
    Malformed { offset: u64, detail: String },
    #[error("the document must be encoded in UTF-8")]
    NotUtf8,
    #[error("a DOCTYPE (DTD) is not accepted in a pain.001 document")]
    Doctype,
    #[error(
        "the entity &{0}; is not defined; only &lt; &gt; &amp; &apos; &quot; and character references are"
    )]
    UndefinedEntity(String),
    #[error("the element is in no namespace; a pain.001.001.03 document's is {NAMESPACE}")]
    NoNamespace,
    #[error("the element is in namespace {0}; a pain.001.001.03 document's is {NAMESPACE}")]
    Namespace(String),
    #[error("expected <{expected}>")]
    Unexpected { expected: &'static str },
    #[error("the element holds text, not elements")]
    TextOnly,
    #[error("elements are nested deeper than a pain.001 document's")]
    TooDeep,
    #[error("a document holds at most {MAX_TRANSFERS} CdtTrfTxInf")]
    TooManyTransfers,
    #[error("this element is required")]
    Missing,
    #[error("this element may appear only once")]
    Repeated,
    #[error("must not be empty")]
    Empty,
    #[error("{length} characters are more than the {max} allowed")]
    TooLong { max: usize, length: usize },
    #[error("{0}")]
    Iban(#[from] InvalidIban),
    #[error("{0} payments are not offered; accounts here hold EUR")]
    CurrencyNotOffered(String),
    #[error("{0:?} is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("{0}")]
    Amount(#[from] MoneyError),
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("NbOfTxs says {stated} but the document holds {counted} CdtTrfTxInf")]
    NumberOfTransactions { stated: String, counted: usize },
    #[error("CtrlSum says {stated} but the amounts sum to {summed}")]
    ControlSum { stated: String, summed: String },
    #[error("{0:?} is not offered: only credit transfers (TRF)")]
    PaymentMethod(String),
    #[error("{0:?} is not a boolean (true, false, 1 or 0)")]
    Boolean(String),
    #[error("{0:?} is not an ISO date (YYYY-MM-DD)")]
    Date(String),
    #[error("{0:?} is not an ISO date and time (YYYY-MM-DDThh:mm:ss)")]
    DateTime(String),
    #[error("{0:?} is not a BIC")]
    Bic(String),
    #[error("{0}")]
    NotOffered(&'static str),
}

impl From<Pain001Error> for Xs2aError {
    fn from(e: Pain001Error) -> Self {
        let path = e.path.clone();
        Xs2aError::format(e.to_string()).at(path)
    }
}
