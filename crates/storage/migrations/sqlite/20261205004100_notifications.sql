-- Berlin Group resource status notifications (TPP-Notification-URI).
-- Where a consent's or payment's status changes go, stored with the resource.
CREATE TABLE notification_targets (
    resource_id    TEXT PRIMARY KEY,
    resource_type  TEXT NOT NULL CHECK (resource_type IN ('consent', 'payment')),
    application_id TEXT NOT NULL REFERENCES applications (id),
    uri            TEXT NOT NULL,
    -- TPP-Notification-Content-Preferred as honoured: SCA, PROCESS, LAST.
    sca            INTEGER NOT NULL,
    process        INTEGER NOT NULL,
    last           INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);

-- The outbox: one row per status change, written by the triggers below in
-- the transaction that changes the status, whichever code path writes it.
-- Deliverers claim a row (lease_until) for one attempt at a time.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id      TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    authorisation_id TEXT,
    attribute        TEXT NOT NULL
        CHECK (attribute IN ('scaStatus', 'consentStatus', 'transactionStatus')),
    status           TEXT NOT NULL,
    uri              TEXT NOT NULL,
    changed_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    lease_until      TEXT,
    last_error       TEXT,
    delivered_at     TEXT,
    given_up_at      TEXT
);
CREATE INDEX notifications_open ON notifications (resource_id, id)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

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

CREATE TRIGGER payments_status_notified AFTER UPDATE OF status ON payments
WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO notifications (resource_id, resource_type, attribute, status, uri, changed_at)
    SELECT NEW.id, 'payment', 'transactionStatus', NEW.status, t.uri, NEW.status_changed_at
    FROM notification_targets t
    WHERE t.resource_id = NEW.id
      AND (t.process = 1 OR (t.last = 1 AND NEW.status IN ('ACSC', 'ACCC', 'RJCT', 'CANC')));
END;

-- An authorisation's scope names its resource (AIS:<id>, PIS:<id>,
-- PIS-CANCEL:<id>); its stage maps to the scaStatus as
-- domain/src/oauth.rs::AuthorizationStage::sca_status does.
CREATE TRIGGER authorizations_sca_notified AFTER UPDATE OF stage ON oauth_authorizations
WHEN NEW.stage <> OLD.stage AND NOT (OLD.stage = 'approved' AND NEW.stage = 'exchanged')
BEGIN
    INSERT INTO notifications
        (resource_id, resource_type, authorisation_id, attribute, status, uri, changed_at)
    SELECT t.resource_id, t.resource_type, NEW.id, 'scaStatus',
        CASE NEW.stage
            WHEN 'pushed' THEN 'received'
            WHEN 'login' THEN 'started'
            WHEN 'second_factor' THEN 'psuIdentified'
            WHEN 'consent' THEN 'psuAuthenticated'
            WHEN 'approved' THEN 'finalised'
            WHEN 'exchanged' THEN 'finalised'
            WHEN 'denied' THEN 'failed'
        END,
        t.uri, NEW.last_activity_at
    FROM notification_targets t
    WHERE t.resource_id = substr(NEW.scope, instr(NEW.scope, ':') + 1)
      AND NEW.scope IN ('AIS:' || t.resource_id, 'PIS:' || t.resource_id,
                        'PIS-CANCEL:' || t.resource_id)
      AND t.sca = 1;
END;
