-- Threading that cannot be fooled, duplicate copies across mailboxes, OAuth2 mailbox tokens.

-- A ticket opened by someone who named another ticket (subject tag or plus-address) without
-- being on that ticket's thread: it is a new ticket that points at the one it named.
ALTER TABLE tickets ADD COLUMN linked_ticket BIGINT REFERENCES tickets(id);

-- Secrets the desk made for itself, e.g. the Message-ID signing key when no environment
-- variable provides one. Never logged; readable only by roles with access to this table.
CREATE TABLE desk_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
REVOKE ALL ON desk_secrets FROM PUBLIC;

-- Per mailbox, the latest OAuth2 refresh token (RFC 6749 §6): a rotated token returned by the
-- token endpoint replaces the one from the environment and survives restarts. Never logged.
CREATE TABLE oauth_tokens (
    mailbox       TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
REVOKE ALL ON oauth_tokens FROM PUBLIC;

-- Further copies of a message already stored (the same email delivered to two of our
-- mailboxes, or fetched again after a UIDVALIDITY change): where each copy was seen.
CREATE TABLE duplicate_copies (
    id          BIGSERIAL PRIMARY KEY,
    mailbox     TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    message_id  TEXT NOT NULL,
    ticket_id   BIGINT REFERENCES tickets(id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE INDEX duplicate_copies_message_idx ON duplicate_copies(message_id);
