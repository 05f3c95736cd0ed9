//! PSU (bank customer) queries.

use fintechapi_domain::StoreError;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::psu::{NewPsu, Psu, PsuError};
use sqlx::Pool;

use super::Db;
use crate::error::{is_unique_violation, store};
use crate::rows::PsuRow;

pub(crate) async fn create(pool: &Pool<Db>, psu: NewPsu) -> Result<Psu, PsuError> {
    let inserted = sqlx::query(
        "INSERT INTO psus (id, login, display_name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(psu.id.to_string())
    .bind(&psu.login)
    .bind(&psu.display_name)
    .bind(psu.password.as_phc())
    .bind(psu.created_at)
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(Psu {
            id: psu.id,
            login: psu.login,
            display_name: psu.display_name,
            created_at: psu.created_at,
        }),
        Err(e) if is_unique_violation(&e, "login") => Err(PsuError::LoginTaken(psu.login)),
        Err(e) => Err(store(e).into()),
    }
}

pub(crate) async fn by_login(
    pool: &Pool<Db>,
    login: &str,
) -> Result<Option<(Psu, PasswordHash)>, StoreError> {
    let row = sqlx::query_as::<_, PsuRow>(
        "SELECT id, login, display_name, password_hash, created_at FROM psus WHERE login = $1",
    )
    .bind(login)
    .fetch_optional(pool)
    .await
    .map_err(store)?;
    row.map(|r| Ok((r.psu()?, PasswordHash::from_phc(r.password_hash))))
        .transpose()
}

pub(crate) async fn list(pool: &Pool<Db>) -> Result<Vec<Psu>, StoreError> {
    sqlx::query_as::<_, PsuRow>(
        "SELECT id, login, display_name, password_hash, created_at FROM psus ORDER BY login",
    )
    .fetch_all(pool)
    .await
    .map_err(store)?
    .iter()
    .map(PsuRow::psu)
    .collect()
}

pub(crate) async fn set_password(
    pool: &Pool<Db>,
    id: fintechapi_domain::ids::PsuId,
    password: PasswordHash,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE psus SET password_hash = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(password.as_phc().to_owned())
        .execute(pool)
        .await
        .map_err(store)?;
    Ok(())
}
