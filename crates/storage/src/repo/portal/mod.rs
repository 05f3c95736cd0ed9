//! Portal queries, one file per aggregate: users, sessions and one-time
//! tokens, organisations (members, invitations), applications, subscriptions,
//! credentials, the mail outbox, the audit trail.
//!
//! `PortalRepository` is one port and a trait's impl cannot span files, so
//! these files give the backend store inherent methods and `Store`
//! implements the port with them (`ports.rs`).

use sqlx::Database;

use super::{Db, Read, Store, Write, begin_write};

type Conn = <Db as Database>::Connection;

// Column lists shared by the files below (textual scope: defined before the modules).
macro_rules! user_columns {
    () => {
        "id, email, display_name, kind, password_hash, email_verified_at, failed_logins, locked_until, \
         totp_secret, created_at"
    };
}
macro_rules! application_columns {
    () => {
        "id, organisation_id, name, description, redirect_uris, security_profile, jwks, jwks_uri, \
         tls_subject_dn, environment, status, created_at, plan, require_signed_request_object"
    };
}
macro_rules! subscription_columns {
    () => {
        "id, application_id, product, plan, status, reason, created_at, decided_at"
    };
}
macro_rules! credential_columns {
    () => {
        "id, application_id, consumer_key, secret_hash, created_at, expires_at, revoked_at, last_used_at"
    };
}

mod applications;
mod audit;
mod credentials;
mod organisations;
mod outbox;
mod sessions;
mod subscriptions;
mod users;
