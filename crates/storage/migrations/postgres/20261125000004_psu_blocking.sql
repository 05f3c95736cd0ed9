-- RTS Art. 4(3)(b): consecutive failed logins block a PSU's credentials.
-- RTS Art. 4: the possession factor, a TOTP seed sealed with the server key;
-- each time step is accepted once.
ALTER TABLE psus ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
ALTER TABLE psus ADD COLUMN blocked_at TIMESTAMPTZ;
ALTER TABLE psus ADD COLUMN totp_secret TEXT;
ALTER TABLE psus ADD COLUMN totp_last_step BIGINT;

-- The PSU's own online-banking sessions (consents overview), keyed by the hash
-- of the cookie; five minutes without activity end them.
CREATE TABLE psu_sessions (
    session_hash     TEXT PRIMARY KEY,
    psu_id           TEXT REFERENCES psus (id),
    stage            TEXT NOT NULL CHECK (stage IN ('login', 'second_factor', 'active')),
    created_at       TIMESTAMPTZ NOT NULL,
    last_activity_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX psu_sessions_by_activity ON psu_sessions (last_activity_at);
