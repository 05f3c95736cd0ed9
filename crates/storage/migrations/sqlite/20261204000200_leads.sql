-- Demo requests left on the public site; operators follow them up in the admin console.
CREATE TABLE leads (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    organisation TEXT NOT NULL,
    role         TEXT NOT NULL,
    email        TEXT NOT NULL,
    message      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'qualified', 'closed')),
    notes        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX leads_by_status ON leads (status, created_at);
CREATE INDEX leads_by_age ON leads (created_at);
