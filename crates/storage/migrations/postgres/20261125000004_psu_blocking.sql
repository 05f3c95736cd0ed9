-- RTS Art. 4(3)(b): consecutive failed logins block a PSU's credentials.
ALTER TABLE psus ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
ALTER TABLE psus ADD COLUMN blocked_at TIMESTAMPTZ;
