//! The mail outbox, claimed by the mailer of any node.

use fintechapi_domain::StoreError;
use fintechapi_domain::portal::{Email, Mail};
use time::OffsetDateTime;

use super::{Read, Store, Write};
use crate::error::store;
use crate::rows::MailRow;

#[derive(sqlx::FromRow)]
struct ClaimedMailRow {
    id: i64,
    #[sqlx(flatten)]
    mail: MailRow,
}

impl Store {
    pub(crate) async fn enqueue_mail(&self, mail: Mail) -> Result<(), StoreError> {
        let m = mail;
        sqlx::query(
            "INSERT INTO outbox (recipient, subject, body_text, body_html, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(m.recipient.as_str().to_owned())
        .bind(m.subject)
        .bind(m.body_text)
        .bind(m.body_html)
        .bind(m.created_at)
        .run(&self.0)
        .await
    }

    pub(crate) async fn mails_to(&self, recipient: &Email) -> Result<Vec<Mail>, StoreError> {
        sqlx::query_as::<_, MailRow>(
            "SELECT recipient, subject, body_text, body_html, created_at FROM outbox \
             WHERE recipient = $1 ORDER BY id",
        )
        .bind(recipient.as_str())
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn claim_mails(
        &self,
        limit: u32,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<Vec<(i64, Mail)>, StoreError> {
        // The outer condition is checked again on each locked row, so two nodes never take the same mail.
        sqlx::query_as::<_, ClaimedMailRow>(
            "UPDATE outbox SET claimed_at = $1 \
             WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL \
                          AND (claimed_at IS NULL OR claimed_at < $2) ORDER BY id LIMIT $3) \
             AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < $2) \
             RETURNING id, recipient, subject, body_text, body_html, created_at",
        )
        .bind(now)
        .bind(stale_before)
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((r.id, Mail::try_from(r.mail)?)))
        .collect()
    }

    pub(crate) async fn mark_mail_sent(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sent_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .run(&self.0)
            .await
    }
}
