-- deltaList: per consent and account, the greatest entry reference a delta
-- report has returned; the next delta report starts after it.
CREATE TABLE delta_reports (
    consent_id           TEXT NOT NULL REFERENCES consents (id),
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    last_entry_reference BIGINT NOT NULL CHECK (last_entry_reference > 0),
    reported_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consent_id, account_id)
);

-- A delta report reads an account's booked entries by entry reference.
CREATE INDEX postings_by_account_reference ON postings (account_id, id);
