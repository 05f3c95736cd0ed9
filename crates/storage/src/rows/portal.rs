//! Portal rows: users, sessions, mail, the audit trail.

use super::parse;
use fintechapi_domain::StoreError;
use fintechapi_domain::ids::UserId;
use fintechapi_domain::portal::{AuditEntry, AuditLine, Email, Mail, Session, User};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: UserId,
    email: String,
    display_name: String,
    kind: String,
    pub password_hash: String,
    email_verified_at: Option<OffsetDateTime>,
    failed_logins: i64,
    locked_until: Option<OffsetDateTime>,
    totp_secret: Option<String>,
    created_at: OffsetDateTime,
}

impl UserRow {
    pub(crate) fn user(&self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            email: parse::<Email>("e-mail", &self.email)?,
            display_name: self.display_name.clone(),
            kind: self.kind.parse()?,
            email_verified_at: self.email_verified_at,
            failed_logins: self.failed_logins,
            locked_until: self.locked_until,
            totp_enabled: self.totp_secret.is_some(),
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    user_id: UserId,
    csrf_token: String,
    created_at: OffsetDateTime,
    last_seen_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MailRow {
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    created_at: OffsetDateTime,
}

impl TryFrom<MailRow> for Mail {
    type Error = StoreError;
    fn try_from(r: MailRow) -> Result<Self, StoreError> {
        Ok(Mail {
            recipient: parse::<Email>("e-mail", &r.recipient)?,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    at: OffsetDateTime,
    actor: String,
    action: String,
    target: String,
    detail: String,
    target_name: Option<String>,
}

impl From<AuditRow> for AuditLine {
    fn from(r: AuditRow) -> Self {
        AuditLine {
            entry: AuditEntry {
                at: r.at,
                actor: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
            },
            target_name: r.target_name,
        }
    }
}
