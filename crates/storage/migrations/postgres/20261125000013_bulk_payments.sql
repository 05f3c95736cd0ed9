-- Bulk payments: the payment row carries the debtor, the total and
-- batchBookingPreferred; its credit transfers are rows here, each with the
-- outcome of its execution.
ALTER TABLE payments ADD COLUMN batch_booking BOOLEAN;
CREATE TABLE payment_entries (
    payment_id     TEXT NOT NULL REFERENCES payments (id),
    position       INTEGER NOT NULL CHECK (position >= 0),
    creditor_iban  TEXT NOT NULL,
    creditor_name  TEXT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    currency       TEXT NOT NULL,
    remittance     TEXT,
    end_to_end_id  TEXT,
    status         TEXT NOT NULL,
    transaction_id TEXT,
    reason         TEXT,
    PRIMARY KEY (payment_id, position)
);
