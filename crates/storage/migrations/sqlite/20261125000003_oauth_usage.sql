-- OAuth tokens (keyed hashes only) and per-application API usage aggregates.

CREATE TABLE oauth_tokens (
    token_hash     TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    application_id TEXT NOT NULL REFERENCES applications (id),
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (expires_at);

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
