-- Multilevel SCA for consents: a consent covering a joint account is
-- partiallyAuthorised until every joint holder has approved it. SQLite
-- cannot widen the status column's CHECK, so the table is rebuilt under its
-- own name: the rows dropped with it are inserted again before commit, which
-- settles the references of consent_accesses and delta_reports (deferred until
-- then). Its index and its notification trigger are created again.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE consents_copy AS SELECT * FROM consents;
DROP TABLE consents;

CREATE TABLE consents (
    id                TEXT PRIMARY KEY,
    application_id    TEXT NOT NULL REFERENCES applications (id),
    status            TEXT NOT NULL CHECK (status IN
        ('received', 'partiallyAuthorised', 'valid', 'rejected', 'revokedByPsu', 'expired',
         'terminatedByTpp')),
    access            TEXT NOT NULL,
    recurring         INTEGER NOT NULL,
    valid_until       TEXT NOT NULL,
    frequency_per_day INTEGER NOT NULL CHECK (frequency_per_day >= 1),
    psu_id            TEXT REFERENCES psus (id),
    grants            TEXT NOT NULL,
    -- Idempotency: one consent per X-Request-ID and application, for one body.
    request_id        TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    CONSTRAINT consents_unique_request UNIQUE (application_id, request_id)
);

INSERT INTO consents (id, application_id, status, access, recurring, valid_until,
    frequency_per_day, psu_id, grants, request_id, request_hash, created_at, status_changed_at)
SELECT id, application_id, status, access, recurring, valid_until,
    frequency_per_day, psu_id, grants, request_id, request_hash, created_at, status_changed_at
FROM consents_copy;

DROP TABLE consents_copy;

CREATE INDEX consents_by_application ON consents (application_id);

CREATE TRIGGER consents_status_notified AFTER UPDATE OF status ON consents
WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO notifications (resource_id, resource_type, attribute, status, uri, changed_at)
    SELECT NEW.id, 'consent', 'consentStatus', NEW.status, t.uri, NEW.status_changed_at
    FROM notification_targets t
    WHERE t.resource_id = NEW.id
      AND (t.process = 1 OR (t.last = 1 AND NEW.status IN
          ('rejected', 'revokedByPsu', 'expired', 'terminatedByTpp')));
END;

-- The holders' approvals of a consent, one per PSU.
CREATE TABLE consent_approvals (
    consent_id  TEXT NOT NULL REFERENCES consents (id),
    psu_id      TEXT NOT NULL REFERENCES psus (id),
    approved_at TEXT NOT NULL,
    PRIMARY KEY (consent_id, psu_id)
);
CREATE INDEX consent_approvals_by_psu ON consent_approvals (psu_id);
