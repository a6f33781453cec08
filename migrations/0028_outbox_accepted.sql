-- Exactly-once email (issue 13): SMTP has no idempotency key and no way to ask a server
-- whether it already took a message. The outbox worker stamps `accepted_at` on its own
-- connection (committed at once) the moment the server answers 250 to DATA, before the
-- delivering transaction commits; an attempt that finds the stamp (the process died between
-- the server's 250 and the commit) records the send without sending again. What is left is
-- the one round trip between the 250 and this stamp.
ALTER TABLE outbox_tries ADD COLUMN accepted_at TIMESTAMPTZ;
