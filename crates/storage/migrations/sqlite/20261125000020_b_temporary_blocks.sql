-- RTS Art. 4(3)(b): blocks after failed logins are temporary and grow; a
-- permanent one only after several in a row, the PSU alerted at each.
ALTER TABLE psus ADD COLUMN blocks_in_row INTEGER NOT NULL DEFAULT 0 CHECK (blocks_in_row >= 0);
ALTER TABLE psus ADD COLUMN blocked_until TEXT;
ALTER TABLE psus ADD COLUMN email TEXT;

-- What the PSU is told about blocks, shown in online banking.
CREATE TABLE psu_notices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    psu_id     TEXT NOT NULL REFERENCES psus (id),
    created_at TEXT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX psu_notices_by_psu ON psu_notices (psu_id, created_at);
