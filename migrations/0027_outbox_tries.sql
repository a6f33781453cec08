-- Exactly-once delivery on platforms without an idempotency key (issue 13, Slack): before the
-- outbox worker makes a call that creates a message, it records here, on its own connection
-- and committed at once, that an attempt of the row began. The row's own `attempts` is only
-- raised by the delivering transaction, which a crash rolls back; this mark survives it, so the
-- next attempt knows an earlier one may have reached the platform and looks for it first.
-- No foreign key: the outbox row is locked FOR UPDATE by the delivering transaction while the
-- mark is written, and a key check would wait for that lock. The mark is deleted in the
-- transaction that records the delivery.
CREATE TABLE outbox_tries (
    outbox_id  BIGINT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
