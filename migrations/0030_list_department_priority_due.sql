-- The web view's lists (`store::queues`) filtered by department and priority under the due
-- sort (issue 12): with the due key after the two columns, such a list is one walk of this
-- index in order from the cursor. Sales tickets of low priority have no SLA policy, so no due
-- time; they sort after every ticket that has one, and reading them all through the index of
-- 0029 and sorting them took 170 ms p50 at 1,000,000 tickets (`cargo bench --bench web`).
-- A department alone, or a department and priority under another sort, still use the
-- leading columns (the filters' own index, `store::queues::sparse`).
DROP INDEX IF EXISTS tickets_department_priority_idx;
CREATE INDEX tickets_department_priority_due_idx
    ON tickets (department, priority, (COALESCE(sla_due_at, 'infinity')), id);
