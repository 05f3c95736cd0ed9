-- Berlin Group signing baskets: payments and consents of one application,
-- authorised by one SCA. The lists are JSON arrays of ids, as created.
CREATE TABLE signing_baskets (
    id                TEXT PRIMARY KEY,
    application_id    TEXT NOT NULL REFERENCES applications (id),
    payments          TEXT NOT NULL,
    consents          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('RCVD', 'ACTC', 'RJCT', 'CANC')),
    psu_id            TEXT REFERENCES psus (id),
    -- Idempotency: one basket per X-Request-ID and application, for one body.
    request_id        TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    CONSTRAINT signing_baskets_unique_request UNIQUE (application_id, request_id)
);

-- Which basket holds a payment or consent: the primary key keeps a resource
-- in one basket at a time, also against concurrent creations. A deleted
-- basket's rows are removed; a decided one keeps them.
CREATE TABLE signing_basket_entries (
    resource_id TEXT PRIMARY KEY,
    basket_id   TEXT NOT NULL REFERENCES signing_baskets (id),
    kind        TEXT NOT NULL CHECK (kind IN ('payment', 'consent'))
);
CREATE INDEX signing_basket_entries_basket ON signing_basket_entries (basket_id);
