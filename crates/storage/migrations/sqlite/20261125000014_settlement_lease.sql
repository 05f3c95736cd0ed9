-- One node settles an authorised payment at a time: it leases the payment;
-- a lease older than a grace period (a node that stopped) is taken over.
ALTER TABLE payments ADD COLUMN settle_token TEXT;
ALTER TABLE payments ADD COLUMN settle_claimed_at TEXT;
