-- Developer Portal: users, sessions, one-time tokens, the TPP registry, mail and audit.
-- Secrets (session ids, tokens, consumer secrets) are stored only as keyed hashes.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    display_name      TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('developer', 'admin')),
    password_hash     TEXT NOT NULL,
    email_verified_at TIMESTAMPTZ,
    failed_logins     BIGINT NOT NULL DEFAULT 0,
    locked_until      TIMESTAMPTZ,
    -- TOTP seed sealed with AES-256-GCM (key derived from the pepper), and the
    -- last accepted time step: a code is accepted once.
    totp_secret       TEXT,
    totp_last_step    BIGINT,
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    key_hash     TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE one_time_tokens (
    key_hash   TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'second_factor')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE TABLE organisations (
    id                   TEXT PRIMARY KEY,
    legal_name           TEXT NOT NULL UNIQUE,
    country              TEXT NOT NULL,
    roles                TEXT NOT NULL,
    competent_authority  TEXT NOT NULL,
    authorisation_number TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL CHECK (role IN ('owner', 'developer', 'viewer')),
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    key_hash        TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'developer', 'viewer')),
    invited_by      TEXT NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    accepted_at     TIMESTAMPTZ
);
CREATE INDEX invitations_by_organisation ON invitations (organisation_id);

CREATE TABLE applications (
    id               TEXT PRIMARY KEY,
    organisation_id  TEXT NOT NULL REFERENCES organisations (id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    redirect_uris    TEXT NOT NULL,
    security_profile TEXT NOT NULL CHECK (security_profile IN ('basic', 'fapi2')),
    jwks             TEXT,
    jwks_uri         TEXT,
    tls_subject_dn   TEXT,
    environment      TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT applications_unique_name UNIQUE (organisation_id, name)
);

CREATE TABLE subscriptions (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    product        TEXT NOT NULL CHECK (product IN ('ais', 'pis', 'piis')),
    plan           TEXT NOT NULL CHECK (plan IN ('sandbox', 'standard', 'premium')),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reason         TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    decided_at     TIMESTAMPTZ,
    CONSTRAINT subscriptions_unique_product UNIQUE (application_id, product)
);

CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    consumer_key   TEXT NOT NULL UNIQUE,
    secret_hash    TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ
);
CREATE INDEX credentials_by_application ON credentials (application_id);

CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- A node that took the mail for delivery; stale claims are retried.
    claimed_at TIMESTAMPTZ,
    sent_at    TIMESTAMPTZ
);
CREATE INDEX outbox_by_recipient ON outbox (recipient);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
