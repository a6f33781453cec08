-- The web view (issue 12): sessions, one-time sign-in links, sign-in attempt counters, and
-- what the queue pages (`store::queues`) sort and filter on, indexed for keyset paging.

-- A signed-in browser. The cookie holds a random 32-byte id; only its SHA-256 is stored, so
-- a copy of this table signs nobody in. `csrf` is the token every form of the session
-- carries (`_csrf`).
CREATE TABLE web_sessions (
    id_hash    BYTEA PRIMARY KEY CHECK (length(id_hash) = 32),
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    csrf       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_agent_idx ON web_sessions (agent_id);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);

-- A sign-in link sent by email: the SHA-256 of its random token, valid until `expires_at`
-- (15 minutes), once (`used_at`). `next_path` is the local page to open after signing in.
CREATE TABLE web_signin_tokens (
    token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    next_path  TEXT NOT NULL DEFAULT '/',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX web_signin_tokens_expires_idx ON web_signin_tokens (expires_at);

-- Sign-in attempts counted per key (`address:<lowercased email>` or `client:<ip>`) in a
-- fixed window: link requests per address and per client, failed link uses per client.
CREATE TABLE web_signin_attempts (
    key          TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    attempts     INT NOT NULL CHECK (attempts >= 0)
);

-- What the queue pages sort by, kept on the ticket so each sort is an index walk:
-- the newest customer message's arrival, and the headline SLA clock (the unmet clock due
-- first: its due and warning moments). Maintained by the statement-level triggers below
-- (set-based, one UPDATE per statement whatever the batch size), so every writer of
-- `messages` and `sla_clocks` keeps them right without knowing of them.
ALTER TABLE tickets
    ADD COLUMN last_customer_at TIMESTAMPTZ,
    ADD COLUMN sla_due_at TIMESTAMPTZ,
    ADD COLUMN sla_warn_at TIMESTAMPTZ;

UPDATE tickets t SET last_customer_at = m.at
FROM (SELECT ticket_id, max(received_at) AS at FROM messages WHERE direction = 'inbound'
      GROUP BY ticket_id) m
WHERE m.ticket_id = t.id;

UPDATE tickets t SET sla_due_at = h.due_at, sla_warn_at = h.warn_at
FROM (SELECT DISTINCT ON (ticket_id) ticket_id, due_at, warn_at FROM sla_clocks
      WHERE met_at IS NULL AND due_at IS NOT NULL
      ORDER BY ticket_id, due_at, metric) h
WHERE h.ticket_id = t.id;

CREATE FUNCTION web_last_customer_refresh(ids BIGINT[]) RETURNS void AS $$
    UPDATE tickets t SET last_customer_at = x.at
    FROM (SELECT i.id, (SELECT max(m.received_at) FROM messages m
                        WHERE m.ticket_id = i.id AND m.direction = 'inbound') AS at
          FROM unnest(ids) AS i(id)) x
    WHERE t.id = x.id AND t.last_customer_at IS DISTINCT FROM x.at;
$$ LANGUAGE sql;

CREATE FUNCTION web_messages_inserted() RETURNS trigger AS $$
BEGIN
    UPDATE tickets t SET last_customer_at = n.at
    FROM (SELECT ticket_id, max(received_at) AS at FROM new_rows WHERE direction = 'inbound'
          GROUP BY ticket_id) n
    WHERE t.id = n.ticket_id AND (t.last_customer_at IS NULL OR t.last_customer_at < n.at);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER web_messages_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION web_messages_inserted();

-- A merge moves messages between tickets: both tickets are recomputed.
CREATE FUNCTION web_messages_updated() RETURNS trigger AS $$
BEGIN
    PERFORM web_last_customer_refresh(ARRAY(
        SELECT DISTINCT x FROM old_rows o JOIN new_rows n ON n.id = o.id,
            LATERAL unnest(ARRAY[o.ticket_id, n.ticket_id]) AS x
        WHERE (o.ticket_id <> n.ticket_id OR o.received_at <> n.received_at
               OR o.direction <> n.direction)
          AND 'inbound' IN (o.direction, n.direction)));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER web_messages_updated AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION web_messages_updated();

CREATE FUNCTION web_sla_refresh(ids BIGINT[]) RETURNS void AS $$
    UPDATE tickets t SET sla_due_at = x.due_at, sla_warn_at = x.warn_at
    FROM (SELECT i.id, h.due_at, h.warn_at FROM unnest(ids) AS i(id)
          LEFT JOIN LATERAL (SELECT c.due_at, c.warn_at FROM sla_clocks c
                             WHERE c.ticket_id = i.id AND c.met_at IS NULL
                               AND c.due_at IS NOT NULL
                             ORDER BY c.due_at, c.metric LIMIT 1) h ON TRUE) x
    WHERE t.id = x.id
      AND (t.sla_due_at IS DISTINCT FROM x.due_at OR t.sla_warn_at IS DISTINCT FROM x.warn_at);
$$ LANGUAGE sql;

CREATE FUNCTION web_sla_new() RETURNS trigger AS $$
BEGIN
    PERFORM web_sla_refresh(ARRAY(SELECT DISTINCT ticket_id FROM new_rows));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION web_sla_old() RETURNS trigger AS $$
BEGIN
    PERFORM web_sla_refresh(ARRAY(SELECT DISTINCT ticket_id FROM old_rows));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER web_sla_inserted AFTER INSERT ON sla_clocks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION web_sla_new();
CREATE TRIGGER web_sla_updated AFTER UPDATE ON sla_clocks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION web_sla_new();
CREATE TRIGGER web_sla_deleted AFTER DELETE ON sla_clocks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION web_sla_old();

-- Keyset paging: each sort is `(key, id)` ascending with an absent key last, written as
-- COALESCE(key, 'infinity') so the index order is the page order. One index per sort for
-- All (the planner walks it and filters), and per holder for My tickets and for the
-- unassigned queue, the two pages people keep open.
CREATE INDEX tickets_queue_age_idx ON tickets (opened_at, id);
CREATE INDEX tickets_queue_due_idx ON tickets ((COALESCE(sla_due_at, 'infinity')), id);
CREATE INDEX tickets_queue_last_customer_idx
    ON tickets ((COALESCE(last_customer_at, 'infinity')), id);
CREATE INDEX tickets_queue_mine_age_idx ON tickets (assignee_id, opened_at, id)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_queue_mine_due_idx
    ON tickets (assignee_id, (COALESCE(sla_due_at, 'infinity')), id) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_queue_mine_last_customer_idx
    ON tickets (assignee_id, (COALESCE(last_customer_at, 'infinity')), id)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_queue_unassigned_age_idx ON tickets (opened_at, id)
    WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment');
CREATE INDEX tickets_queue_unassigned_due_idx ON tickets ((COALESCE(sla_due_at, 'infinity')), id)
    WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment');
CREATE INDEX tickets_queue_unassigned_last_customer_idx
    ON tickets ((COALESCE(last_customer_at, 'infinity')), id)
    WHERE assignee_id IS NULL AND status IN ('open', 'pending_assignment');
CREATE INDEX tickets_queue_status_age_idx ON tickets (status, opened_at, id);
