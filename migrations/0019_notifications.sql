-- Personal notifications (issue 15): direct messages to an agent when a ticket is assigned to
-- them, when a customer answers a ticket they hold, and when their ticket nears its SLA
-- deadline.
--
-- A row is written in the same transaction as the change that causes it, `pending`. The sweep
-- (desk::notify) turns the due pending rows of one agent into one outbox DM effect per
-- platform and marks them `sent` (or `dropped` when the agent has no user id on any active
-- platform) in one transaction, so a crash neither loses nor doubles one.
CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    kind       TEXT NOT NULL CHECK (kind IN ('assigned', 'replies', 'sla')),
    ticket_id  BIGINT REFERENCES tickets(id),
    -- What the message says beyond the ticket: who assigned it, which SLA goal and when due.
    detail     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    -- When the sweep folded it into a DM (or dropped it).
    swept_at   TIMESTAMPTZ,
    CHECK ((state = 'pending') = (swept_at IS NULL))
);
-- The sweep reads the pending rows, per agent, oldest first.
CREATE INDEX notifications_pending_idx ON notifications (agent_id, created_at)
    WHERE state = 'pending';

-- Each agent's choices (`notify` command). No row: every kind on, no quiet hours.
CREATE TABLE notification_prefs (
    agent_id    BIGINT PRIMARY KEY REFERENCES agents(id),
    assigned    BOOLEAN NOT NULL DEFAULT true,
    replies     BOOLEAN NOT NULL DEFAULT true,
    sla         BOOLEAN NOT NULL DEFAULT true,
    -- Quiet hours, local wall-clock times in the IANA zone `quiet_zone`; a range whose end is
    -- not after its start spans midnight (22:00-07:00).
    quiet_start TIME,
    quiet_end   TIME,
    quiet_zone  TEXT,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)
           AND (quiet_start IS NULL) = (quiet_zone IS NULL))
);
