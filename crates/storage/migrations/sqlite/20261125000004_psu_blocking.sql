-- RTS Art. 4(3)(b): consecutive failed logins block a PSU's credentials.
-- RTS Art. 4: the possession factor, a TOTP seed sealed with the server key;
-- each time step is accepted once.
ALTER TABLE psus ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
ALTER TABLE psus ADD COLUMN blocked_at TEXT;
ALTER TABLE psus ADD COLUMN totp_secret TEXT;
ALTER TABLE psus ADD COLUMN totp_last_step INTEGER;
