//! OAuth token queries. Tokens are looked up by their keyed hash.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ids::{ApplicationId, AuthorizationId};
use fintechapi_domain::oauth::AuthorizationRepository;
use fintechapi_domain::oauth::SigningKeyRepository;
use fintechapi_domain::oauth::TokenRepository;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage, SigningKey, TokenRecord};
use fintechapi_domain::secret::KeyedHash;
use sqlx::{Pool, QueryBuilder};
use time::OffsetDateTime;

use super::{Db, Read, Write};
use crate::error::store;
use crate::has_nul;
use crate::rows::{AuthorizationRow, FlowColumns, TokenRow};

/// The least pause between two batches of a prune: longer than the first
/// sleeps of SQLite's busy handler (1 to 25 ms), so a waiting writer gets in.
const PRUNE_PAUSE: std::time::Duration = std::time::Duration::from_millis(30);

impl TokenRepository for super::Store {
    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        // Each store writes a batch its own way: SQLite on the writer's own
        // connection (`sqlite_writer.rs`), PostgreSQL as column arrays
        // (`pg_tokens.rs`).
        if let Some(written) = self.insert_token_batch(tokens).await {
            return written;
        }
        // A SQLite database in memory, which only the pool's connections
        // see: the whole batch in one statement, atomic on its own.
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT INTO oauth_tokens (token_hash, kind, application_id, client_id, scope, \
             authorization_id, authorization_details, dpop_jkt, mtls_x5t, issued_at, expires_at, \
             revoked_at) ",
        );
        insert.push_values(tokens, |mut row, token| {
            row.push_bind(token.hash.as_str())
                .push_bind(token.kind.as_str())
                .push_bind(token.application_id)
                .push_bind(&token.client_id)
                .push_bind(&token.scope)
                .push_bind(token.authorization_id)
                .push_bind(&token.authorization_details)
                .push_bind(&token.dpop_jkt)
                .push_bind(&token.mtls_x5t)
                .push_bind(token.issued_at)
                .push_bind(token.expires_at)
                .push_bind(token.revoked_at);
        });
        insert.build().run(&self.0).await
    }

    async fn token_by_hash(&self, hash: &KeyedHash) -> Result<Option<TokenRecord>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, TokenRow>(
            "SELECT token_hash, kind, application_id, client_id, scope, authorization_id, \
         authorization_details, dpop_jkt, mtls_x5t, issued_at, expires_at, revoked_at \
         FROM oauth_tokens WHERE token_hash = $1",
        )
        .bind(hash.as_str())
        .optional_into(pool)
        .await
    }

    async fn revoke_token(&self, hash: &KeyedHash, at: OffsetDateTime) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash.as_str())
        .bind(at)
        .changed_one(pool)
        .await
    }

    async fn revoke_grant(
        &self,
        authorization: AuthorizationId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $2 \
         WHERE authorization_id = $1 AND revoked_at IS NULL",
        )
        .bind(authorization)
        .bind(at)
        .changed(pool)
        .await
    }

    async fn remember_jti(
        &self,
        jti_hash: &KeyedHash,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "INSERT INTO seen_jtis (jti_hash, expires_at) VALUES ($1, $2) \
         ON CONFLICT (jti_hash) DO NOTHING",
        )
        .bind(jti_hash.as_str())
        .bind(expires_at)
        .changed_one(pool)
        .await
    }

    async fn prune_tokens(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let pool = &self.0;
        // Bounded statements, each its own transaction: a backlog of millions
        // never holds SQLite's write lock, or one long PostgreSQL transaction,
        // while token requests wait to write. Between two, a pause as long as
        // the last one took: back to back, they kept the lock from SQLite's
        // waiting writers (whose busy handler sleeps between tries) for
        // hundreds of milliseconds.
        let batch = batch.max(1);
        let mut pruned = 0;
        for delete in [
            "DELETE FROM oauth_tokens WHERE token_hash IN \
             (SELECT token_hash FROM oauth_tokens WHERE expires_at < $1 LIMIT $2)",
            "DELETE FROM seen_jtis WHERE jti_hash IN \
             (SELECT jti_hash FROM seen_jtis WHERE expires_at < $1 LIMIT $2)",
        ] {
            loop {
                let started = std::time::Instant::now();
                let deleted = sqlx::query(delete)
                    .bind(before)
                    .bind(i64::from(batch))
                    .changed(pool)
                    .await?;
                pruned += deleted;
                if deleted < u64::from(batch) {
                    break;
                }
                tokio::time::sleep(started.elapsed().max(PRUNE_PAUSE)).await;
            }
        }
        Ok(pruned)
    }
}

macro_rules! authorization_columns {
    () => {
        "id, application_id, client_id, redirect_uri, scope, authorization_details, state, \
         code_challenge, dpop_jkt, request_uri_hash, request_expires_at, session_hash, stage, psu_id, code_hash, \
         code_expires_at, created_at, last_activity_at, approach, nok_redirect_uri, openid, nonce, \
         response_mode, authenticated_at"
    };
}

impl AuthorizationRepository for super::Store {
    async fn insert_authorization(&self, authorization: Authorization) -> Result<(), StoreError> {
        let pool = &self.0;
        let a = authorization;
        let flow = FlowColumns::from(&a.flow);
        sqlx::query(concat!(
            "INSERT INTO oauth_authorizations (",
            authorization_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         $17, $18, $19, $20, $21, $22, $23, $24)"
        ))
        .bind(a.id)
        .bind(a.application_id)
        .bind(&a.client_id)
        .bind(flow.redirect_uri)
        .bind(a.scope.scope())
        .bind(flow.authorization_details)
        .bind(flow.state)
        .bind(flow.code_challenge)
        .bind(flow.dpop_jkt)
        .bind(a.request_uri_hash.as_str())
        .bind(a.request_expires_at)
        .bind(a.session_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(a.stage.as_str())
        .bind(a.psu_id)
        .bind(a.code_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(a.code_expires_at)
        .bind(a.created_at)
        .bind(a.last_activity_at)
        .bind(flow.approach.as_str())
        .bind(flow.nok_redirect_uri)
        .bind(flow.openid)
        .bind(flow.nonce)
        .bind(flow.response_mode.as_str())
        .bind(a.authenticated_at)
        .run(pool)
        .await
    }

    async fn open_authorization(
        &self,
        request_uri_hash: &KeyedHash,
        client_id: &str,
        bound: Option<&KeyedHash>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        if has_nul(client_id) {
            return Ok(None);
        }
        open_authorization(pool, request_uri_hash, client_id, bound, session_hash, at).await
    }

    async fn open_redirect_authorization(
        &self,
        link_hash: &KeyedHash,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        // Only from `pushed`: the link works once, even for the same browser.
        sqlx::query_as::<_, AuthorizationRow>(concat!(
            "UPDATE oauth_authorizations \
         SET session_hash = $2, stage = 'login', last_activity_at = $3 \
         WHERE request_uri_hash = $1 AND approach = 'redirect' AND stage = 'pushed' \
         AND request_expires_at > $3 RETURNING ",
            authorization_columns!()
        ))
        .bind(link_hash.as_str())
        .bind(session_hash.as_str())
        .bind(at)
        .optional_into(pool)
        .await
    }

    async fn pending_decoupled(
        &self,
        psu: PsuId,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Authorization>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AuthorizationRow,
            authorization_columns,
            "FROM oauth_authorizations WHERE psu_id = $1 AND approach = 'decoupled' \
         AND stage IN ('pushed', 'login') AND request_expires_at > $2 \
         ORDER BY created_at LIMIT $3"
        )
        .bind(psu)
        .bind(at)
        .bind(i64::from(limit))
        .all_into(pool)
        .await
    }

    async fn open_decoupled(
        &self,
        id: AuthorizationId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        // Opened again (a reload) it stays `login`.
        sqlx::query_as::<_, AuthorizationRow>(concat!(
            "UPDATE oauth_authorizations SET stage = 'login', last_activity_at = $3 \
         WHERE id = $1 AND psu_id = $2 AND approach = 'decoupled' \
         AND stage IN ('pushed', 'login') AND request_expires_at > $3 RETURNING ",
            authorization_columns!()
        ))
        .bind(id)
        .bind(psu)
        .bind(at)
        .optional_into(pool)
        .await
    }

    async fn authenticate_decoupled(
        &self,
        id: AuthorizationId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE oauth_authorizations SET stage = 'consent', last_activity_at = $3, \
         authenticated_at = $3 \
         WHERE id = $1 AND psu_id = $2 AND approach = 'decoupled' \
         AND stage IN ('pushed', 'login') AND request_expires_at > $3",
        )
        .bind(id)
        .bind(psu)
        .bind(at)
        .changed_one(pool)
        .await
    }

    async fn expire_decoupled(&self, at: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let pool = &self.0;
        // `last_activity_at` takes the expiry itself, so a lapse reads apart
        // from the PSU's own decline (always before it).
        sqlx::query(
            "UPDATE oauth_authorizations SET stage = 'denied', \
             last_activity_at = request_expires_at \
             WHERE id IN (SELECT id FROM oauth_authorizations \
               WHERE approach = 'decoupled' \
               AND stage IN ('pushed', 'login', 'second_factor', 'consent') \
               AND request_expires_at <= $1 LIMIT $2) \
             AND stage IN ('pushed', 'login', 'second_factor', 'consent')",
        )
        .bind(at)
        .bind(i64::from(batch.max(1)))
        .changed(pool)
        .await
    }

    async fn authorizations_for_scope(
        &self,
        application: ApplicationId,
        scope: &str,
    ) -> Result<Vec<Authorization>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AuthorizationRow,
            authorization_columns,
            "FROM oauth_authorizations WHERE application_id = $1 AND scope = $2 \
         ORDER BY created_at"
        )
        .bind(application)
        .bind(scope)
        .all_into(pool)
        .await
    }

    async fn authorization(
        &self,
        id: AuthorizationId,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AuthorizationRow,
            authorization_columns,
            "FROM oauth_authorizations WHERE id = $1"
        )
        .bind(id)
        .optional_into(pool)
        .await
    }

    async fn authorization_by_session(
        &self,
        session_hash: &KeyedHash,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AuthorizationRow,
            authorization_columns,
            "FROM oauth_authorizations WHERE session_hash = $1"
        )
        .bind(session_hash.as_str())
        .optional_into(pool)
        .await
    }

    async fn advance_authorization(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        advance(pool, id, from, to, psu, None, at).await
    }

    async fn advance_authorization_session(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        advance(pool, id, from, to, psu, Some(session_hash), at).await
    }

    async fn approve_authorization(
        &self,
        id: AuthorizationId,
        code_hash: &KeyedHash,
        code_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE oauth_authorizations \
         SET stage = 'approved', code_hash = $2, code_expires_at = $3, last_activity_at = $4 \
         WHERE id = $1 AND stage = 'consent' AND approach = 'oauth'",
        )
        .bind(id)
        .bind(code_hash.as_str())
        .bind(code_expires_at)
        .bind(at)
        .changed_one(pool)
        .await
    }

    async fn authorization_by_code(
        &self,
        code_hash: &KeyedHash,
    ) -> Result<Option<Authorization>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AuthorizationRow,
            authorization_columns,
            "FROM oauth_authorizations WHERE code_hash = $1"
        )
        .bind(code_hash.as_str())
        .optional_into(pool)
        .await
    }

    async fn redeem_code(
        &self,
        code_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE oauth_authorizations SET stage = 'exchanged', last_activity_at = $2 \
         WHERE code_hash = $1 AND stage = 'approved' AND code_expires_at > $2",
        )
        .bind(code_hash.as_str())
        .bind(at)
        .changed_one(pool)
        .await
    }
}

pub(crate) async fn open_authorization(
    pool: &Pool<Db>,
    request_uri_hash: &KeyedHash,
    client_id: &str,
    bound: Option<&KeyedHash>,
    session_hash: &KeyedHash,
    at: OffsetDateTime,
) -> Result<Option<Authorization>, StoreError> {
    // Once opened, only the browser that opened it may open it again (a reload).
    sqlx::query_as::<_, AuthorizationRow>(concat!(
        "UPDATE oauth_authorizations SET session_hash = $2, stage = 'login', last_activity_at = $3 \
         WHERE request_uri_hash = $1 AND client_id = $4 AND approach = 'oauth' \
         AND (stage = 'pushed' OR (stage = 'login' AND session_hash = $5)) \
         AND request_expires_at > $3 RETURNING ",
        authorization_columns!()
    ))
    .bind(request_uri_hash.as_str())
    .bind(session_hash.as_str())
    .bind(at)
    .bind(client_id)
    .bind(bound.map(KeyedHash::as_str))
    .optional_into(pool)
    .await
}

pub(crate) async fn advance(
    pool: &Pool<Db>,
    id: AuthorizationId,
    from: AuthorizationStage,
    to: AuthorizationStage,
    psu: Option<PsuId>,
    session: Option<&KeyedHash>,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    sqlx::query(
        "UPDATE oauth_authorizations SET stage = $3, psu_id = COALESCE($4, psu_id), \
         session_hash = COALESCE($6, session_hash), last_activity_at = $5, \
         authenticated_at = CASE WHEN $3 = 'consent' THEN $5 ELSE authenticated_at END \
         WHERE id = $1 AND stage = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(psu)
    .bind(at)
    .bind(session.map(KeyedHash::as_str))
    .changed_one(pool)
    .await
}

impl SigningKeyRepository for super::Store {
    async fn insert_signing_key(&self, key: SigningKey) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, sealed_key, public_jwk, created_at, activates_at, \
         retires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.sealed_key)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retires_at)
        .run(pool)
        .await
    }

    async fn signing_keys(&self, after: OffsetDateTime) -> Result<Vec<SigningKey>, StoreError> {
        let pool = &self.0;
        let rows: Vec<(
            String,
            String,
            String,
            String,
            OffsetDateTime,
            OffsetDateTime,
            OffsetDateTime,
        )> = sqlx::query_as(
            "SELECT kid, alg, sealed_key, public_jwk, created_at, activates_at, retires_at \
             FROM signing_keys WHERE retires_at > $1 ORDER BY activates_at, kid",
        )
        .bind(after)
        .fetch_all(pool)
        .await
        .map_err(store)?;
        Ok(rows
            .into_iter()
            .map(
                |(kid, alg, sealed_key, public_jwk, created_at, activates_at, retires_at)| {
                    SigningKey {
                        kid,
                        alg,
                        sealed_key,
                        public_jwk,
                        created_at,
                        activates_at,
                        retires_at,
                    }
                },
            )
            .collect())
    }
}
