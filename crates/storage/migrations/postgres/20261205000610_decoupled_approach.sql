-- The Berlin Group Decoupled SCA approach: an authorization started for the
-- PSU the TPP named (PSU-ID), answered in online banking; no redirect URI
-- (empty), no code.
ALTER TABLE oauth_authorizations DROP CONSTRAINT oauth_authorizations_approach_check;
ALTER TABLE oauth_authorizations ADD CONSTRAINT oauth_authorizations_approach_check
    CHECK (approach IN ('oauth', 'redirect', 'decoupled'));
-- What online banking lists as the PSU's pending approvals.
CREATE INDEX oauth_authorizations_pending_decoupled ON oauth_authorizations (psu_id, created_at)
    WHERE approach = 'decoupled' AND stage IN ('pushed', 'login');
