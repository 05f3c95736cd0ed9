-- RTS Art. 4/5: passkeys (WebAuthn) as the PSU's possession factor; a
-- payment's assertion signs a challenge that carries the payment's digest.
CREATE TABLE psu_passkeys (
    credential_id TEXT PRIMARY KEY,
    psu_id        TEXT NOT NULL REFERENCES psus (id),
    label         TEXT NOT NULL,
    -- The verifier's serialisation: public key and signature counter.
    credential    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE INDEX psu_passkeys_by_psu ON psu_passkeys (psu_id);

-- A ceremony's state stays on the server (never in the browser), keyed by a
-- hash derived from the session cookie, and is taken once.
CREATE TABLE webauthn_ceremonies (
    ceremony_hash TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_age ON webauthn_ceremonies (created_at);
