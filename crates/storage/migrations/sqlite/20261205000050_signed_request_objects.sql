-- FAPI 2.0 Message Signing per client (RFC 9101 §10.5
-- require_signed_request_object): such a client's pushed authorization
-- requests are accepted only as a request object signed with its keys.
ALTER TABLE applications ADD COLUMN require_signed_request_object INTEGER NOT NULL DEFAULT 0;
