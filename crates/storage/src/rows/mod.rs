//! Row shapes shared by both backends and their conversion into domain types,
//! one file per context. A row that no longer satisfies a domain invariant is
//! reported as corrupt.

use fintechapi_domain::StoreError;

#[macro_use]
mod ledger;
mod card;
#[macro_use]
mod psu;
mod consent;
mod lead;
mod oauth;
mod payment;
mod portal;
mod registry;
mod usage;

pub(crate) use card::*;
pub(crate) use consent::*;
pub(crate) use lead::*;
pub(crate) use ledger::*;
pub(crate) use oauth::*;
pub(crate) use payment::*;
pub(crate) use portal::*;
pub(crate) use psu::*;
pub(crate) use registry::*;
pub(crate) use usage::*;

pub(crate) fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::corrupt(format!("stored {what} {text:?} does not parse")))
}

pub(crate) fn parse_opt<T: std::str::FromStr>(
    what: &str,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse(what, &t)).transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(format!("cannot encode: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("stored {what} does not parse: {e}")))
}
