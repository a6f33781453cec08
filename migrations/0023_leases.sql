-- Replica leases (issue 13). A lease is HELD as a session advisory lock
-- (pg_try_advisory_lock(hashtextextended('lease:' || name, 0))) on a dedicated connection of
-- the holding process; these tables only RECORD who took it, for operators and tests:
--   leases         the current (or last) holder of each lease, its epoch (+1 per take-over)
--                  and when the holder last checked its connection (renewed_at);
--   lease_history  one row per acquisition, append-only: "one reader per mailbox at a time"
--                  is checked from it.
-- Written by src/store/leases.rs only.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    renewed_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE lease_history (
    name        TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (name, epoch)
);
