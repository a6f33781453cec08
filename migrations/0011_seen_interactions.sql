-- Chat interactions already handled, by platform and the platform's interaction id (Discord
-- snowflakes), so a replayed request has no effect, whichever replica it reaches. A request
-- older than the freshness window (5 minutes) is refused on its timestamp alone, so rows
-- older than that can go; `store::interactions::first_seen` prunes after an hour.
CREATE TABLE seen_interactions (
    platform text NOT NULL,
    id text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, id)
);
CREATE INDEX seen_interactions_seen_at_idx ON seen_interactions (seen_at);
