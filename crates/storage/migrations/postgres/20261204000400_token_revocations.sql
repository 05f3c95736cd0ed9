-- Nodes serve access tokens from their cache (registry/src/cache.rs). Every
-- committed revocation, whoever writes it, is announced on the registry's
-- channel as `tokens:<application_id>`; each node forgets that application's
-- cached tokens. (Several rows revoked in one transaction announce once:
-- PostgreSQL folds identical notifications.) SQLite needs none of this: only
-- the one server process revokes tokens, and it forgets them itself.
CREATE FUNCTION tokens_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fintechapi_registry', 'tokens:' || NEW.application_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER oauth_tokens_revoked AFTER UPDATE OF revoked_at ON oauth_tokens
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION tokens_revoked();
