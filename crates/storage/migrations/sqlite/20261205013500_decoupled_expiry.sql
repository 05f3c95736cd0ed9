-- Decoupled authorizations still undecided past their time, found by the
-- sweep that records their expiry (and so notifies the TPP).
CREATE INDEX oauth_authorizations_undecided_decoupled ON oauth_authorizations (request_expires_at)
    WHERE approach = 'decoupled' AND stage IN ('pushed', 'login', 'second_factor', 'consent');
