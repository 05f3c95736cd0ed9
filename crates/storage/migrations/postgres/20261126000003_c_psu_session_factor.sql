-- When the session's PSU last passed the second factor: replacing the
-- authenticator app or passkeys needs one within the last few minutes.
ALTER TABLE psu_sessions ADD COLUMN factor_at TIMESTAMPTZ;
