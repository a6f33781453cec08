-- SLA clocks and reports (issue 14). Shared schema for the received time, the SLA clocks,
-- the scheduler's next deadline and once-only scheduled jobs (the weekly digest).

-- When the email reached our server (IMAP INTERNALDATE, RFC 3501 §2.3.3) and what its `Date:`
-- header said (RFC 5322 §3.6.1; absent or unreadable: NULL). Outbound messages are received
-- when claimdesk wrote them. Rows from before this migration take their stored time.
ALTER TABLE messages
    ADD COLUMN received_at TIMESTAMPTZ,
    ADD COLUMN date_header TIMESTAMPTZ;
UPDATE messages SET received_at = created_at WHERE received_at IS NULL;
ALTER TABLE messages
    ALTER COLUMN received_at SET DEFAULT now(),
    ALTER COLUMN received_at SET NOT NULL;

-- When the ticket's first message reached our server: where SLA time and reports start.
ALTER TABLE tickets ADD COLUMN opened_at TIMESTAMPTZ;
UPDATE tickets SET opened_at = created_at WHERE opened_at IS NULL;
ALTER TABLE tickets
    ALTER COLUMN opened_at SET DEFAULT now(),
    ALTER COLUMN opened_at SET NOT NULL;
CREATE INDEX tickets_opened_at_idx ON tickets (opened_at);

-- The ticket's earliest pending SLA moment (a warning or a breach not yet alerted); NULL
-- when nothing is pending. The scheduler sleeps until the smallest.
ALTER TABLE tickets ADD COLUMN sla_next_at TIMESTAMPTZ;
CREATE INDEX tickets_sla_next_at_idx ON tickets (sla_next_at) WHERE sla_next_at IS NOT NULL;

-- One row per ticket and metric. A clock has a goal (seconds, in business or wall time),
-- the time it has used while stopped (`consumed_secs`) and, while it runs, since when
-- (`running_since`); paused or stopped clocks have `running_since` NULL. `due_at` and
-- `warn_at` are computed from these by the domain (`domain::sla`) and stored so that
-- queries can sort and count by them. `met_at` is when the goal was met (the reply, the
-- resolution); `warned_at` and `breached_at` when the alerts were queued (once each per
-- cycle; a next-response cycle starts with each customer message after a reply).
CREATE TABLE sla_clocks (
    ticket_id     BIGINT NOT NULL REFERENCES tickets(id),
    metric        TEXT NOT NULL CHECK (metric IN ('first_response', 'next_response', 'resolution')),
    goal_secs     BIGINT NOT NULL CHECK (goal_secs > 0),
    business      BOOLEAN NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    consumed_secs BIGINT NOT NULL DEFAULT 0 CHECK (consumed_secs >= 0),
    running_since TIMESTAMPTZ,
    due_at        TIMESTAMPTZ,
    warn_at       TIMESTAMPTZ,
    met_at        TIMESTAMPTZ,
    warned_at     TIMESTAMPTZ,
    breached_at   TIMESTAMPTZ,
    -- Breaches over the ticket's life (next response can breach once per cycle).
    breaches      INT NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, metric)
);
CREATE INDEX sla_clocks_due_idx ON sla_clocks (due_at) WHERE met_at IS NULL AND due_at IS NOT NULL;

-- Jobs that must run once per period whichever process is up (the weekly digest): the
-- period key last done, written in the same transaction as the job's outbox rows.
CREATE TABLE scheduled_runs (
    job        TEXT PRIMARY KEY,
    period     TEXT NOT NULL,
    done_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
