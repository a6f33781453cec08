-- Links between tickets that name each other without being merged: a message whose msg-ids
-- lead to tickets of different requesters does not merge them (a stranger could otherwise pull
-- a customer's ticket into theirs and receive the agents' replies); the tickets are linked and
-- an agent may merge them with `merge <ticket> <into-ticket>`.
-- One row per unordered pair (low id first), so a link is recorded once whoever names whom.
CREATE TABLE ticket_links (
    low_id      BIGINT NOT NULL REFERENCES tickets(id),
    high_id     BIGINT NOT NULL REFERENCES tickets(id),
    -- Why: 'references' (a message's msg-ids named both).
    reason      TEXT NOT NULL,
    -- The Message-ID of the message that named both, when a message did.
    message_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (low_id, high_id),
    CHECK (low_id < high_id)
);
CREATE INDEX ticket_links_high_idx ON ticket_links(high_id);
