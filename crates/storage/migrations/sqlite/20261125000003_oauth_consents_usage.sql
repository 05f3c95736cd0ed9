-- Account-information consents, OAuth authorizations and tokens (keyed hashes
-- only), and per-application API usage aggregates.

CREATE TABLE consents (
    id                TEXT PRIMARY KEY,
    application_id    TEXT NOT NULL REFERENCES applications (id),
    status            TEXT NOT NULL CHECK (status IN
        ('received', 'valid', 'rejected', 'revokedByPsu', 'expired', 'terminatedByTpp')),
    access            TEXT NOT NULL,
    recurring         INTEGER NOT NULL,
    valid_until       TEXT NOT NULL,
    frequency_per_day INTEGER NOT NULL CHECK (frequency_per_day >= 1),
    psu_id            TEXT REFERENCES psus (id),
    grants            TEXT NOT NULL,
    -- Idempotency: one consent per X-Request-ID and application, for one body.
    request_id        TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    CONSTRAINT consents_unique_request UNIQUE (application_id, request_id)
);
CREATE INDEX consents_by_application ON consents (application_id);

-- RTS Art. 36(5): accesses without the PSU present, per consent and UTC day.
CREATE TABLE consent_accesses (
    consent_id TEXT NOT NULL REFERENCES consents (id),
    day        TEXT NOT NULL,
    accesses   INTEGER NOT NULL CHECK (accesses >= 0),
    PRIMARY KEY (consent_id, day)
);

-- Payment initiations (single payments); executed in the ledger after SCA.
CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    application_id    TEXT NOT NULL REFERENCES applications (id),
    product           TEXT NOT NULL,
    status            TEXT NOT NULL,
    debtor_iban       TEXT NOT NULL,
    creditor_iban     TEXT NOT NULL,
    creditor_name     TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    remittance        TEXT,
    end_to_end_id     TEXT,
    psu_id            TEXT REFERENCES psus (id),
    transaction_id    TEXT,
    reason            TEXT,
    -- Idempotency: one payment per X-Request-ID and application, for one body.
    request_id        TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    CONSTRAINT payments_unique_request UNIQUE (application_id, request_id)
);

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
    last_activity_at   TEXT NOT NULL
);
CREATE INDEX oauth_authorizations_by_creation ON oauth_authorizations (created_at);
-- The Berlin Group authorisation sub-resources of a consent or payment.
CREATE INDEX oauth_authorizations_by_scope ON oauth_authorizations (application_id, scope);

CREATE TABLE oauth_tokens (
    token_hash     TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    application_id TEXT NOT NULL REFERENCES applications (id),
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    authorization_id TEXT REFERENCES oauth_authorizations (id),
    authorization_details TEXT,
    dpop_jkt       TEXT,
    -- RFC 8705: SHA-256 thumbprint of the client certificate the token is bound to.
    mtls_x5t       TEXT,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (expires_at);
CREATE INDEX oauth_tokens_by_authorization ON oauth_tokens (authorization_id);

-- The authorization server's signing keys: the private key sealed with the
-- server key; each is published before it signs and after it retires.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    sealed_key   TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    activates_at TEXT NOT NULL,
    retires_at   TEXT NOT NULL
);

-- JWT ids seen (client assertions, DPoP proofs), kept until they could no
-- longer be accepted anyway: a second use is a replay.
CREATE TABLE seen_jtis (
    jti_hash   TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX seen_jtis_by_expiry ON seen_jtis (expires_at);

-- One row per application, UTC day, API, endpoint template and status class.
CREATE TABLE api_usage (
    application_id TEXT NOT NULL REFERENCES applications (id),
    day            TEXT NOT NULL,
    api            TEXT NOT NULL CHECK (api IN ('oauth', 'ais', 'pis', 'piis')),
    endpoint       TEXT NOT NULL,
    status_class   INTEGER NOT NULL CHECK (status_class BETWEEN 1 AND 5),
    calls          INTEGER NOT NULL CHECK (calls >= 0),
    throttled      INTEGER NOT NULL CHECK (throttled >= 0 AND throttled <= calls),
    PRIMARY KEY (application_id, day, api, endpoint, status_class)
);

-- Latency histogram of each usage row: calls per logarithmic bucket.
CREATE TABLE api_usage_latency (
    application_id TEXT NOT NULL,
    day            TEXT NOT NULL,
    api            TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    status_class   INTEGER NOT NULL,
    bucket         INTEGER NOT NULL CHECK (bucket >= 0),
    calls          INTEGER NOT NULL CHECK (calls > 0),
    PRIMARY KEY (application_id, day, api, endpoint, status_class, bucket),
    FOREIGN KEY (application_id, day, api, endpoint, status_class)
        REFERENCES api_usage (application_id, day, api, endpoint, status_class)
);
