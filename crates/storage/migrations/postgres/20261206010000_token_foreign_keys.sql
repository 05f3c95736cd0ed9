-- Token rows reference only an application and an authorization the server
-- has just read, and neither table is ever deleted from. The foreign keys
-- made every inserted token run a trigger query that locked its application's
-- row: a quarter of PostgreSQL's CPU on the token endpoint, and one row that
-- every node's token writer locked in turn.
ALTER TABLE oauth_tokens DROP CONSTRAINT oauth_tokens_application_id_fkey;
ALTER TABLE oauth_tokens DROP CONSTRAINT oauth_tokens_authorization_id_fkey;
