-- A TPP asked to cancel an authorised scheduled payment; the PSU's
-- cancellation authorisation (on the bank's pages) then cancels it.
ALTER TABLE payments ADD COLUMN cancellation_requested_at TEXT;
