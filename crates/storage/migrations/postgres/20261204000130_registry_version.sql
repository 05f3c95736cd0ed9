-- Nodes serve client authentication from a cache (registry/src/cache.rs).
-- Every committed change to what it reads is announced on the channel
-- `fintechapi_registry` as `application:<id>` or `organisation:<id>`, in the
-- writing transaction, whoever writes it (any node, `fintechapi admin`);
-- each node listens and forgets those entries. `registry_version` changes
-- with each of them too. A credential's last use is not such a change.
CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

-- Arguments: the announced kind, and the row's column holding its id.
CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed JSONB;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    UPDATE registry_version SET version = version + 1;
    PERFORM pg_notify('fintechapi_registry', TG_ARGV[0] || ':' || (changed ->> TG_ARGV[1]));
    RETURN NULL;
END
$$;

CREATE TRIGGER organisations_changed AFTER INSERT OR UPDATE OR DELETE ON organisations
FOR EACH ROW EXECUTE FUNCTION registry_changed('organisation', 'id');
CREATE TRIGGER applications_changed AFTER INSERT OR UPDATE OR DELETE ON applications
FOR EACH ROW EXECUTE FUNCTION registry_changed('application', 'id');
CREATE TRIGGER subscriptions_changed AFTER INSERT OR UPDATE OR DELETE ON subscriptions
FOR EACH ROW EXECUTE FUNCTION registry_changed('application', 'application_id');
CREATE TRIGGER credentials_added_or_removed AFTER INSERT OR DELETE ON credentials
FOR EACH ROW EXECUTE FUNCTION registry_changed('application', 'application_id');
CREATE TRIGGER credentials_changed
AFTER UPDATE OF application_id, consumer_key, secret_hash, expires_at, revoked_at ON credentials
FOR EACH ROW EXECUTE FUNCTION registry_changed('application', 'application_id');
