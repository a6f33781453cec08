-- Message content beyond plain text: the sanitised HTML body, whether the raw bytes kept are
-- only the first intake.max_message_bytes of a larger message, and the attachments.

ALTER TABLE messages
    -- The first text/html part, sanitised with ammonia; NULL for mail without HTML.
    ADD COLUMN body_html TEXT,
    -- TRUE when the message was larger than intake.max_message_bytes: `raw` then holds only
    -- its first max_message_bytes bytes (raw_size is the full size); the whole message stays
    -- in the IMAP mailbox, which claimdesk never deletes from.
    ADD COLUMN raw_truncated BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per attachment of an inbound message. The content is in `content` (store =
-- 'database') or in the file named by `sha256` under intake.attachments.dir (store =
-- 'directory'); 'skipped' rows are attachments of over-limit messages, listed but not kept.
CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    message_id   BIGINT NOT NULL REFERENCES messages(id),
    position     INT NOT NULL,
    name         TEXT,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    sha256       TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    store        TEXT NOT NULL CHECK (store IN ('database', 'directory', 'skipped')),
    content      BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (message_id, position),
    CHECK ((store = 'database') = (content IS NOT NULL))
);
CREATE INDEX attachments_sha256_idx ON attachments(sha256);
