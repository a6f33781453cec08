-- The web view's lists (`store::queues`) filtered by department and priority (issue 12):
-- when those tickets sit late in the sort order (sales tickets of low priority have no SLA
-- policy, so no due time, and sort after every ticket that has one), the list is read through
-- this index and sorted instead of walking the sort index past nearly every ticket (measured
-- by `cargo bench --bench web`: department=sales&priority=low under the due sort, 596 ms p99
-- at 1,000,000 tickets before). A department alone uses its leading column.
CREATE INDEX tickets_department_priority_idx ON tickets (department, priority);
