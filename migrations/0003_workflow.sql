-- Team workflow: priority, department, resolution times, participants, notes; agent
-- departments, capacity and availability for auto-assignment.

ALTER TABLE tickets
    ADD COLUMN priority TEXT NOT NULL DEFAULT 'medium'
        CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    ADD COLUMN department TEXT NOT NULL DEFAULT 'support',
    ADD COLUMN resolved_at TIMESTAMPTZ,
    ADD COLUMN closed_at TIMESTAMPTZ,
    -- Last outgoing reply by the holder, or the claim time: what auto-release measures from.
    ADD COLUMN holder_active_at TIMESTAMPTZ,
    ADD COLUMN release_warned_at TIMESTAMPTZ;
CREATE INDEX tickets_pending_idx ON tickets(department, id) WHERE status = 'pending_assignment';
CREATE INDEX tickets_assignee_idx ON tickets(assignee_id) WHERE assignee_id IS NOT NULL;

-- Everyone on a ticket's email thread: the requester and whoever else wrote or was copied.
CREATE TABLE ticket_participants (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    email     TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

ALTER TABLE agents
    ADD COLUMN capacity INT CHECK (capacity >= 0),
    ADD COLUMN available BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN away_until TIMESTAMPTZ,
    ADD COLUMN last_assigned_at TIMESTAMPTZ,
    -- 'config' agents are synced from the settings file; 'cli' ones were added by an owner.
    ADD COLUMN source TEXT NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'cli'));

CREATE TABLE agent_departments (
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    department TEXT NOT NULL,
    PRIMARY KEY (agent_id, department)
);

-- Internal notes: never sent to the customer.
CREATE TABLE notes (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
    author_agent_id BIGINT REFERENCES agents(id),
    body            TEXT NOT NULL,
    flagged         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notes_ticket_idx ON notes(ticket_id, id);

-- The audit trail is append-only for everyone, the trigger from 0001 enforces it; also take
-- the privileges away from roles other than the owner.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
