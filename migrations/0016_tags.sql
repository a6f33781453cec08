-- Tags on tickets (issue 15): lower-case words such as `billing` or `urgent-customer`, added
-- by an agent (`added_by` = the agent's handle) or by an intake rule (`rule:<name>`).
CREATE TABLE ticket_tags (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    tag       TEXT NOT NULL CHECK (tag ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    added_by  TEXT NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, tag)
);
-- `list tag:billing`, the web view's tag filter and the report's group-by read by tag.
CREATE INDEX ticket_tags_tag_idx ON ticket_tags(tag, ticket_id);
