-- Parallel ingest (issue 13): ticket numbers no longer come from a counter row locked until
-- the ingest transaction commits (that serialised every batch that opened a ticket).
--
-- Numbers are drawn from one sequence, `ticket_number_seq`, which never blocks and is not
-- rolled back (PostgreSQL "Sequence Manipulation Functions"). A ticket opened in year Y gets
-- seq = nextval - base(Y), where `ticket_counters.base` is fixed by the first ticket of the
-- year (base = its draw - 1; see store::tickets::year_base). Numbers stay unique per year
-- and increase in the order they are drawn; a draw whose transaction rolls back leaves a gap.
CREATE SEQUENCE ticket_number_seq AS BIGINT;

ALTER TABLE ticket_counters ADD COLUMN base BIGINT;
-- Years numbered before this migration continue after their last number: the first draw
-- (1) gives last_value + 1. `last_value` is no longer written.
UPDATE ticket_counters SET base = -last_value::bigint;
