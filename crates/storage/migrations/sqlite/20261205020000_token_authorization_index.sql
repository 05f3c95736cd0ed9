-- Client-credentials tokens belong to no authorization: the index that finds
-- a grant's tokens (revocation, foreign-key checks) keeps only those that
-- do, so the token endpoint's inserts write one index fewer.
DROP INDEX oauth_tokens_by_authorization;
CREATE INDEX oauth_tokens_by_authorization ON oauth_tokens (authorization_id)
    WHERE authorization_id IS NOT NULL;
