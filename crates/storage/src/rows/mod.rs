//! Row shapes shared by both backends and their conversion into domain types,
//! one file per context. A row that no longer satisfies a domain invariant is
//! reported as corrupt.

use fintechapi_domain::StoreError;

#[macro_use]
mod ledger;
mod basket;
mod card;
#[macro_use]
mod psu;
mod consent;
mod lead;
mod notification;
mod oauth;
mod payment;
mod portal;
mod registry;
mod usage;

pub(crate) use basket::*;
pub(crate) use card::*;
pub(crate) use consent::*;
pub(crate) use lead::*;
pub(crate) use ledger::*;
pub(crate) use notification::*;
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

#[cfg(test)]
mod tests {
    use fintechapi_domain::ids::AccountId;
    use sqlx::{Connection, PgConnection, SqliteConnection};

    /// On one store: `id` is bound as text (`$kind` says the bound type),
    /// read back from its text (`$read`), and a text that is no id is refused
    /// (`$garbage`).
    macro_rules! assert_id_round_trip {
        (
            $conn:expr,
            $id:expr,
            kind: $kind:literal,
            read: $read:literal,
            garbage: $garbage:literal
        ) => {{
            let (kind, text): (String, String) = sqlx::query_as($kind)
                .bind($id)
                .fetch_one(&mut $conn)
                .await
                .unwrap();
            assert_eq!((kind.as_str(), text), ("text", $id.to_string()));
            let read: AccountId = sqlx::query_scalar($read)
                .bind($id.to_string())
                .fetch_one(&mut $conn)
                .await
                .unwrap();
            assert_eq!(read, $id);
            let garbage = sqlx::query_scalar::<_, AccountId>($garbage)
                .fetch_one(&mut $conn)
                .await;
            assert!(garbage.is_err());
        }};
    }

    /// Ids are bound and read as the hyphenated text their TEXT columns have
    /// always held, so typed binding needs no data migration; a stored value
    /// that is no id is refused when read.
    #[tokio::test]
    async fn ids_are_bound_and_read_as_their_text_on_both_stores() {
        let id = AccountId::random();
        let mut sqlite = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        assert_id_round_trip!(
            sqlite,
            id,
            kind: "SELECT typeof($1), $1",
            read: "SELECT $1",
            garbage: "SELECT 'not-an-id'"
        );

        let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
            return;
        };
        let mut pg = PgConnection::connect(&url).await.unwrap();
        assert_id_round_trip!(
            pg,
            id,
            kind: "SELECT pg_typeof($1)::text, $1",
            read: "SELECT $1::text",
            garbage: "SELECT 'not-an-id'::text"
        );
    }
}
