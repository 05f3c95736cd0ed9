-- Multilevel SCA: an account's holders and what each may authorise alone.
-- 'sole' authorises alone; every 'joint' holder must approve a payment
-- (PATC until the last one has). Each existing owner becomes a sole holder,
-- so nothing changes for the accounts there are.
CREATE TABLE account_holders (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    psu_id     TEXT NOT NULL REFERENCES psus (id),
    mandate    TEXT NOT NULL CHECK (mandate IN ('sole', 'joint')),
    PRIMARY KEY (account_id, psu_id)
);
CREATE INDEX account_holders_by_psu ON account_holders (psu_id);
INSERT INTO account_holders (account_id, psu_id, mandate)
    SELECT id, psu_id, 'sole' FROM accounts WHERE psu_id IS NOT NULL;

-- The holders' approvals of a payment on a joint account, one per PSU.
CREATE TABLE payment_approvals (
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    psu_id      TEXT NOT NULL REFERENCES psus (id),
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (payment_id, psu_id)
);
