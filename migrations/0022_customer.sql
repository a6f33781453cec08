-- Customer ratings (issue 12): when a ticket is resolved, its requester may rate it good or bad
-- with an optional comment from the signed link of the status page (`/rate/<token>`). One
-- rating per ticket; the customer may change their mind (the row is updated, every change is
-- in audit_events as `ticket.rated`).
CREATE TABLE ticket_ratings (
    ticket_id      BIGINT PRIMARY KEY REFERENCES tickets(id),
    rating         TEXT NOT NULL CHECK (rating IN ('good', 'bad')),
    -- Plain text as typed (control characters but newlines and tabs removed), at most 2000
    -- characters (domain::rating::MAX_COMMENT_CHARS).
    comment        TEXT CHECK (comment IS NULL OR char_length(comment) <= 2000),
    first_rated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    rated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- `stats` counts the ratings given in its range.
CREATE INDEX ticket_ratings_rated_at_idx ON ticket_ratings(rated_at);
