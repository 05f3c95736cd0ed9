-- Nodes serve client authentication from a cache (registry/src/cache.rs).
-- This number changes with every committed change to what it reads, whoever
-- writes it (the server, or `fintechapi admin` in another process), so a
-- SQLite node compares it before serving from its cache. A credential's
-- last use is not such a change.
CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

CREATE TRIGGER organisations_inserted AFTER INSERT ON organisations
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER organisations_updated AFTER UPDATE ON organisations
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER organisations_deleted AFTER DELETE ON organisations
BEGIN UPDATE registry_version SET version = version + 1; END;

CREATE TRIGGER applications_inserted AFTER INSERT ON applications
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER applications_updated AFTER UPDATE ON applications
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER applications_deleted AFTER DELETE ON applications
BEGIN UPDATE registry_version SET version = version + 1; END;

CREATE TRIGGER subscriptions_inserted AFTER INSERT ON subscriptions
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER subscriptions_updated AFTER UPDATE ON subscriptions
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER subscriptions_deleted AFTER DELETE ON subscriptions
BEGIN UPDATE registry_version SET version = version + 1; END;

CREATE TRIGGER credentials_inserted AFTER INSERT ON credentials
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER credentials_updated
AFTER UPDATE OF application_id, consumer_key, secret_hash, expires_at, revoked_at ON credentials
BEGIN UPDATE registry_version SET version = version + 1; END;
CREATE TRIGGER credentials_deleted AFTER DELETE ON credentials
BEGIN UPDATE registry_version SET version = version + 1; END;
