-- What `workload` needs at scale (issue 13; checked with EXPLAIN (ANALYZE, BUFFERS) on
-- 1,000,000 tickets by `cargo bench --bench scale`). Both are partial indexes over open work
-- only, so their size follows the open tickets, not the table.

-- Per agent, their held tickets by status with the headline SLA clock's due and warning
-- times (`store::workload::agent_loads`): counted from the index alone (index-only scan),
-- never from the ticket rows.
CREATE INDEX tickets_held_load_idx ON tickets (assignee_id)
    INCLUDE (status, sla_due_at, sla_warn_at)
    WHERE status IN ('claimed', 'in_progress', 'waiting');

-- The SLA totals over every ticket not done (`store::workload::sla_totals`): at risk and
-- breached both need the warning or due time passed, the earlier of the two (LEAST skips a
-- missing warning time), so they are one range of this index.
CREATE INDEX tickets_open_sla_warn_idx ON tickets ((LEAST(sla_warn_at, sla_due_at)))
    INCLUDE (sla_due_at, sla_warn_at)
    WHERE status NOT IN ('resolved', 'closed', 'merged') AND sla_due_at IS NOT NULL;

-- Per agent, the oldest unanswered customer message (`store::workload::agent_loads`): their
-- claimed and in-progress tickets by the newest customer message's arrival, walked until
-- the first whose last message is the customer's (usually the first or second).
CREATE INDEX tickets_unanswered_idx ON tickets (assignee_id, last_customer_at, id)
    WHERE status IN ('claimed', 'in_progress') AND last_customer_at IS NOT NULL;

-- `mine` (`store::workload::held_by_tagged`): one agent's held tickets in queue order (the
-- headline clock due first, then most urgent, then oldest), so the first page is read from
-- the index and the walk stops after it, however many the agent holds.
CREATE INDEX tickets_held_queue_idx ON tickets (assignee_id, (COALESCE(sla_due_at, 'infinity')),
    (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END),
    opened_at, id)
    WHERE status IN ('claimed', 'in_progress', 'waiting');
