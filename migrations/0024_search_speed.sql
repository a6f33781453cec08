-- Web view speed at 1,000,000 tickets (issue 12; measured by `cargo bench --bench web`).
-- Search needs no new index: `store::search` chooses between the GIN indexes of 0021 and a
-- bounded primary-key walk itself. These are for the list pages (`store::queues`).

-- The assignee filter on All (any status), one index per sort: an agent holding few tickets,
-- or none with an SLA clock, made the sort-index walk read the whole table (a due-time list
-- of such an agent: ~340 ms).
CREATE INDEX tickets_queue_assignee_age_idx ON tickets (assignee_id, opened_at, id)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_queue_assignee_due_idx
    ON tickets (assignee_id, (COALESCE(sla_due_at, 'infinity')), id)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_queue_assignee_last_customer_idx
    ON tickets (assignee_id, (COALESCE(last_customer_at, 'infinity')), id)
    WHERE assignee_id IS NOT NULL;

-- An "opened from" bound sorted by due time or last customer message: nearly every ticket's
-- due time and last customer message come after its opening, so the page starts where the
-- sort key reaches the bound, and only the tickets whose key comes before their own opening
-- (a merge brought older messages, a clock started early) must be found elsewhere: in these
-- partial indexes, which hold only them (usually none).
CREATE INDEX tickets_queue_due_before_opening_idx ON tickets (opened_at)
    WHERE COALESCE(sla_due_at, 'infinity') < opened_at;
CREATE INDEX tickets_queue_last_customer_before_opening_idx ON tickets (opened_at)
    WHERE COALESCE(last_customer_at, 'infinity') < opened_at;
