-- Loops and noise (RFC 3834, RFC 3464, RFC 5965): automatic messages that became a note on a
-- ticket (bounces, feedback reports, auto-replies), acknowledgements sent, and senders
-- flagged as a suspected mail loop.

-- One row per automatic message attached to a ticket as a note, keyed by its Message-ID so a
-- second copy (or a re-read of the mailbox) adds nothing. `raw` keeps the message's RFC 822
-- bytes (up to intake.max_message_bytes), like messages.raw, so it can be reprocessed.
CREATE TABLE noise_messages (
    message_id TEXT PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets(id),
    kind       TEXT NOT NULL CHECK (kind IN ('auto_reply', 'delivery_report', 'feedback_report')),
    note_id    BIGINT NOT NULL REFERENCES notes(id),
    raw        BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX noise_messages_ticket_idx ON noise_messages(ticket_id, kind);

-- Acknowledgements queued ("We received your request …"), for the per-sender hourly limit.
CREATE TABLE acknowledgements (
    message_id BIGINT PRIMARY KEY REFERENCES messages(id),
    sender     TEXT NOT NULL,
    ticket_id  BIGINT NOT NULL REFERENCES tickets(id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX acknowledgements_sender_idx ON acknowledgements(sender, created_at);

-- Suspected mail loops flagged in chat: at most one flag per sender per window.
CREATE TABLE loop_flags (
    id         BIGSERIAL PRIMARY KEY,
    sender     TEXT NOT NULL,
    tickets    INT NOT NULL,
    flagged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX loop_flags_sender_idx ON loop_flags(sender, flagged_at);
CREATE INDEX tickets_requester_created_idx ON tickets(requester_email, created_at);
