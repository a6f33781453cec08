-- Canned replies managed from chat (issue 15): `template add|edit|remove` by admins. Templates
-- from the config file are not stored here (they are read-only and re-read on every start).
-- Every change is also an audit event (`template.added`, `template.edited`,
-- `template.removed`, ticket_id NULL) with the body before and after.
-- The rules (name a lower-case word of at most 32 characters, body at most 2,000 characters,
-- only known placeholders) are checked in `domain::templates` before anything is written;
-- the CHECKs here only keep the table from holding what that code would refuse to read.
CREATE TABLE reply_templates (
    name       TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    body       TEXT NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
