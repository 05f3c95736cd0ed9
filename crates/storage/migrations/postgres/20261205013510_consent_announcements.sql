-- Nodes serve valid consents from their cache (registry/src/cache.rs). Every
-- committed change of a valid consent's status, whoever writes it, is
-- announced on the registry's channel as `consent:<id>`; each node forgets its
-- copy. SQLite needs none of this: only the one server process changes
-- consents, and it forgets them itself.
CREATE FUNCTION consent_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fintechapi_registry', 'consent:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER consents_ended AFTER UPDATE OF status ON consents
FOR EACH ROW WHEN (OLD.status = 'valid' AND NEW.status IS DISTINCT FROM OLD.status)
EXECUTE FUNCTION consent_ended();

CREATE TRIGGER consents_deleted AFTER DELETE ON consents
FOR EACH ROW WHEN (OLD.status = 'valid')
EXECUTE FUNCTION consent_ended();
