-- Core banking: customers, accounts, double-entry journal.
-- Money is INTEGER minor units. Ids are UUID text. Dates are ISO 8601 text.

CREATE TABLE psus (
    id            TEXT PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('customer', 'clearing')),
    psu_id            TEXT REFERENCES psus (id),
    iban              TEXT UNIQUE,
    bic               TEXT NOT NULL,
    currency          TEXT NOT NULL,
    name              TEXT NOT NULL,
    owner_name        TEXT NOT NULL,
    product           TEXT NOT NULL,
    cash_account_type TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('enabled', 'blocked', 'deleted')),
    overdraft_limit   INTEGER CHECK (overdraft_limit IS NULL OR overdraft_limit >= 0),
    booked_balance    INTEGER NOT NULL DEFAULT 0,
    pending_debits    INTEGER NOT NULL DEFAULT 0 CHECK (pending_debits <= 0),
    pending_credits   INTEGER NOT NULL DEFAULT 0 CHECK (pending_credits >= 0),
    created_at        TEXT NOT NULL,
    CHECK (overdraft_limit IS NOT NULL OR kind = 'clearing'),
    -- The last line of defence: no account below its overdraft limit, whatever the code does.
    CHECK (overdraft_limit IS NULL OR booked_balance + pending_debits >= -overdraft_limit)
);
CREATE UNIQUE INDEX accounts_one_clearing_per_currency ON accounts (currency) WHERE kind = 'clearing';
CREATE INDEX accounts_by_psu ON accounts (psu_id);

CREATE TABLE ledger_transactions (
    id                     TEXT PRIMARY KEY,
    idempotency_key        TEXT NOT NULL UNIQUE,
    debit_account_id       TEXT NOT NULL REFERENCES accounts (id),
    credit_account_id      TEXT NOT NULL REFERENCES accounts (id),
    amount                 INTEGER NOT NULL CHECK (amount > 0),
    currency               TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('booked', 'pending')),
    booking_date           TEXT NOT NULL,
    value_date             TEXT NOT NULL,
    debtor_name            TEXT,
    debtor_iban            TEXT,
    creditor_name          TEXT,
    creditor_iban          TEXT,
    remittance_information TEXT,
    end_to_end_id          TEXT,
    bank_transaction_code  TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);

-- One row per side of a journal entry; its id is the Berlin Group entryReference.
CREATE TABLE postings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('booked', 'pending')),
    booking_date   TEXT NOT NULL
);
CREATE INDEX postings_by_account_date ON postings (account_id, booking_date DESC, id DESC);
CREATE INDEX postings_by_transaction ON postings (transaction_id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
