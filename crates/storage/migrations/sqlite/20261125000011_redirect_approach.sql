-- The Berlin Group Redirect SCA approach beside the OAuth one: the initiation
-- itself creates the authorization (no PAR, no PKCE, never a code); its
-- request_uri_hash holds the keyed hash of the scaRedirect link's token, and
-- the PSU returns to TPP-Redirect-URI (redirect_uri) or TPP-Nok-Redirect-URI.
ALTER TABLE oauth_authorizations ADD COLUMN approach TEXT NOT NULL DEFAULT 'oauth'
    CHECK (approach IN ('oauth', 'redirect'));
ALTER TABLE oauth_authorizations ADD COLUMN nok_redirect_uri TEXT;
