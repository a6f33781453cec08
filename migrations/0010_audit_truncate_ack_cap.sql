-- The audit trail is append-only against the app itself (issue 10). The row trigger of 0001
-- refuses UPDATE and DELETE; TRUNCATE fires no row triggers, so a statement trigger refuses
-- it too. Only the owner (the role that runs migrations, `database.migrate_url`) or a
-- superuser can drop these triggers; the app's own role (`database.url`) gets only SELECT and
-- INSERT on audit_events (granted on every start by `store::grant_app`).
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The global hourly cap on acknowledgements (noise.max_acks_per_hour) counts the last hour's
-- rows of all senders once per ingest batch.
CREATE INDEX acknowledgements_created_idx ON acknowledgements(created_at);
