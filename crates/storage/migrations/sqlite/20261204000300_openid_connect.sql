-- OpenID Connect and FAPI 2.0 Message Signing on pushed requests: whether
-- the scope held openid and the nonce to put in the ID token, how the
-- authorization response goes back (query, or a signed JWT: JARM), and when
-- the PSU passed the second factor (the ID token's auth_time).
ALTER TABLE oauth_authorizations ADD COLUMN openid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_authorizations ADD COLUMN nonce TEXT;
ALTER TABLE oauth_authorizations ADD COLUMN response_mode TEXT NOT NULL DEFAULT 'query'
    CHECK (response_mode IN ('query', 'jwt'));
ALTER TABLE oauth_authorizations ADD COLUMN authenticated_at TEXT;
