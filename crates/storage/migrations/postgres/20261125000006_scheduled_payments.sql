-- Periodic and future-dated payments: the payment service of the path, the
-- requested date or the standing order, and the scheduler's cursor (the next
-- nominal date to execute) once the PSU has authorised.
ALTER TABLE payments ADD COLUMN service TEXT NOT NULL DEFAULT 'payments'
    CHECK (service IN ('payments', 'periodic-payments', 'bulk-payments'));
ALTER TABLE payments ADD COLUMN requested_execution_date DATE;
ALTER TABLE payments ADD COLUMN start_date DATE;
ALTER TABLE payments ADD COLUMN end_date DATE;
ALTER TABLE payments ADD COLUMN frequency TEXT;
ALTER TABLE payments ADD COLUMN execution_rule TEXT;
ALTER TABLE payments ADD COLUMN day_of_execution INTEGER CHECK (day_of_execution BETWEEN 1 AND 31);
ALTER TABLE payments ADD COLUMN next_execution_date DATE;
CREATE INDEX payments_due ON payments (status, next_execution_date);

-- One row per nominal execution date: claimed by one node (a claim older
-- than a grace period is taken over), then finished together with the
-- payment's cursor. The ledger posting's idempotency key is the payment id
-- and the date, so a retried execution never posts twice.
CREATE TABLE payment_executions (
    payment_id     TEXT NOT NULL REFERENCES payments (id),
    due_date       DATE NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('claimed', 'executed', 'rejected', 'cancelled')),
    claim_token    TEXT NOT NULL,
    claimed_at     TIMESTAMPTZ NOT NULL,
    transaction_id TEXT,
    reason         TEXT,
    finished_at    TIMESTAMPTZ,
    PRIMARY KEY (payment_id, due_date)
);
