-- Per mailbox, what its intake supervisor last saw: the mode it runs in (IMAP IDLE push or
-- polling), when a fetch last succeeded, and the last error with its time. A mailbox is
-- failing while last_error_at is newer than last_success_at. Written by src/intake/supervisor.rs,
-- read by /healthz and `claimdesk doctor`.
CREATE TABLE mailbox_status (
    mailbox         TEXT PRIMARY KEY,
    mode            TEXT CHECK (mode IN ('idle', 'poll')),
    last_success_at TIMESTAMPTZ,
    last_error      TEXT,
    last_error_at   TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
