-- claimdesk initial schema: agents, mailbox cursors, tickets, messages, threading keys,
-- chat posts, audit events, outbox, quarantine.

CREATE TABLE agents (
    id              BIGSERIAL PRIMARY KEY,
    handle          TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    slack_user_id   TEXT UNIQUE,
    discord_user_id TEXT UNIQUE,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per mailbox folder: where the last successful intake stopped (RFC 3501 §2.3.1.1).
CREATE TABLE mailbox_cursors (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid    BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Per-year ticket sequence; the row lock taken by the increment makes numbers gap-free.
CREATE TABLE ticket_counters (
    year       INT PRIMARY KEY,
    last_value INT NOT NULL
);

CREATE TABLE tickets (
    id               BIGSERIAL PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    year             INT NOT NULL,
    seq              INT NOT NULL,
    status           TEXT NOT NULL,
    assignee_id      BIGINT REFERENCES agents(id),
    requester_email  TEXT NOT NULL,
    requester_name   TEXT,
    subject          TEXT NOT NULL,
    mailbox          TEXT NOT NULL,
    merged_into      BIGINT REFERENCES tickets(id),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_at       TIMESTAMPTZ,
    first_response_at TIMESTAMPTZ,
    UNIQUE (year, seq)
);
CREATE INDEX tickets_status_idx ON tickets(status);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    references_ids  TEXT[] NOT NULL DEFAULT '{}',
    direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_addr       TEXT NOT NULL,
    from_name       TEXT,
    to_addrs        TEXT[] NOT NULL DEFAULT '{}',
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    raw             BYTEA,
    raw_size        INT NOT NULL,
    mailbox         TEXT,
    uid             BIGINT,
    author_agent_id BIGINT REFERENCES agents(id),
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX messages_ticket_idx ON messages(ticket_id, id);

-- Every msg-id seen (a message's own Message-ID and every id it names in In-Reply-To or
-- References) points at the ticket holding its thread. This is what makes threading
-- order-independent: a reply that arrives before its parent claims the parent's id.
CREATE TABLE thread_keys (
    msg_id    TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id)
);
CREATE INDEX thread_keys_ticket_idx ON thread_keys(ticket_id);

-- Where each ticket's card lives on each platform.
CREATE TABLE chat_posts (
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    platform    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    thread_ref  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, platform)
);

CREATE TABLE audit_events (
    id        BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT REFERENCES tickets(id),
    actor     TEXT NOT NULL,
    surface   TEXT NOT NULL,
    action    TEXT NOT NULL,
    before    JSONB,
    after     JSONB,
    at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_ticket_idx ON audit_events(ticket_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Side effects, written in the same transaction as the change that causes them.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    ticket_id       BIGINT REFERENCES tickets(id),
    payload         JSONB NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX outbox_pending_idx ON outbox(next_attempt_at, id) WHERE delivered_at IS NULL;
-- For the per-ticket ordering check of `store::outbox::take_due`.
CREATE INDEX outbox_pending_ticket_idx ON outbox(ticket_id, id) WHERE delivered_at IS NULL;

-- Messages that could not become a ticket or a note, with the reason and the raw bytes.
CREATE TABLE quarantine (
    id         BIGSERIAL PRIMARY KEY,
    mailbox    TEXT NOT NULL,
    uid        BIGINT,
    reason     TEXT NOT NULL,
    raw        BYTEA NOT NULL,
    raw_sha256 TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (mailbox, raw_sha256)
);
