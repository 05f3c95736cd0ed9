-- The Berlin Group Decoupled SCA approach: an authorization started for the
-- PSU the TPP named (PSU-ID), answered in online banking; no redirect URI
-- (empty), no code. SQLite cannot widen the approach column's CHECK, so the
-- table is rebuilt under its own name: the rows dropped with it are inserted
-- again before commit, which settles oauth_tokens' references (deferred
-- until then).
PRAGMA defer_foreign_keys = ON;

CREATE TABLE oauth_authorizations_copy AS SELECT * FROM oauth_authorizations;
DROP TABLE oauth_authorizations;

CREATE TABLE oauth_authorizations (
    id                 TEXT PRIMARY KEY,
    application_id     TEXT NOT NULL REFERENCES applications (id),
    client_id          TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    scope              TEXT NOT NULL,
    -- RFC 9396: the authorization details asked for, as JSON, when used instead of scope.
    authorization_details TEXT,
    state              TEXT,
    code_challenge     TEXT NOT NULL,
    -- RFC 9449: the DPoP key (JWK SHA-256 thumbprint) the code is bound to.
    dpop_jkt           TEXT,
    request_uri_hash   TEXT NOT NULL UNIQUE,
    request_expires_at TEXT NOT NULL,
    session_hash       TEXT UNIQUE,
    stage              TEXT NOT NULL CHECK (stage IN
        ('pushed', 'login', 'second_factor', 'consent', 'approved', 'denied', 'exchanged')),
    psu_id             TEXT REFERENCES psus (id),
    code_hash          TEXT UNIQUE,
    code_expires_at    TEXT,
    created_at         TEXT NOT NULL,
    last_activity_at   TEXT NOT NULL,
    approach           TEXT NOT NULL DEFAULT 'oauth'
        CHECK (approach IN ('oauth', 'redirect', 'decoupled')),
    nok_redirect_uri   TEXT,
    openid             INTEGER NOT NULL DEFAULT 0,
    nonce              TEXT,
    response_mode      TEXT NOT NULL DEFAULT 'query' CHECK (response_mode IN ('query', 'jwt')),
    authenticated_at   TEXT
);

INSERT INTO oauth_authorizations (id, application_id, client_id, redirect_uri, scope,
    authorization_details, state, code_challenge, dpop_jkt, request_uri_hash, request_expires_at,
    session_hash, stage, psu_id, code_hash, code_expires_at, created_at, last_activity_at,
    approach, nok_redirect_uri, openid, nonce, response_mode, authenticated_at)
SELECT id, application_id, client_id, redirect_uri, scope,
    authorization_details, state, code_challenge, dpop_jkt, request_uri_hash, request_expires_at,
    session_hash, stage, psu_id, code_hash, code_expires_at, created_at, last_activity_at,
    approach, nok_redirect_uri, openid, nonce, response_mode, authenticated_at
FROM oauth_authorizations_copy;

DROP TABLE oauth_authorizations_copy;

CREATE INDEX oauth_authorizations_by_creation ON oauth_authorizations (created_at);
CREATE INDEX oauth_authorizations_by_scope ON oauth_authorizations (application_id, scope);
-- What online banking lists as the PSU's pending approvals.
CREATE INDEX oauth_authorizations_pending_decoupled ON oauth_authorizations (psu_id, created_at)
    WHERE approach = 'decoupled' AND stage IN ('pushed', 'login');
