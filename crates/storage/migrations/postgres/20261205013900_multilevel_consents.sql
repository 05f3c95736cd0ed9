-- Multilevel SCA for consents: a consent covering a joint account is
-- partiallyAuthorised until every joint holder has approved it.
ALTER TABLE consents DROP CONSTRAINT consents_status_check;
ALTER TABLE consents ADD CONSTRAINT consents_status_check CHECK (status IN
    ('received', 'partiallyAuthorised', 'valid', 'rejected', 'revokedByPsu', 'expired',
     'terminatedByTpp'));

-- The holders' approvals of a consent, one per PSU.
CREATE TABLE consent_approvals (
    consent_id  TEXT NOT NULL REFERENCES consents (id),
    psu_id      TEXT NOT NULL REFERENCES psus (id),
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consent_id, psu_id)
);
CREATE INDEX consent_approvals_by_psu ON consent_approvals (psu_id);
