-- Web view (issue 12): full-text search over ticket subjects and message bodies, and a
-- NOTIFY per changed ticket for the live feed (`/events`).
--
-- Search configuration: 'simple' — lower-casing only, no stemming and no stop words — because
-- support mail arrives in every language and a per-language stemmer would mangle the others
-- (English stems German words into nonsense and drops "die" as a stop word). Before that the
-- text is NFKC-normalised, without the unaccent extension (not immutable, so unusable in a
-- generated column, and it would make "Müll" find "Mull"): composed and decomposed accents
-- (macOS mail writes NFD), full-width Latin letters and digits (Japanese mail) and ligatures
-- then match what people type. `IS NFKC NORMALIZED` is a quick check; normalize() runs only
-- on text that needs it. Only the first 65,536 characters are indexed: a tsvector holds at
-- most 1 MB (to_tsvector raises an error beyond, which would make a huge mail fail to store),
-- and 64 K characters make at most ~400 KB even of crafted text (hyphenated numbers, URLs).
-- Queries go through the same function (`store::search`).
CREATE FUNCTION claimdesk_search_text(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN left(t, 65536) IS NFKC NORMALIZED THEN left(t, 65536)
                ELSE normalize(left(t, 65536), NFKC) END;

-- Generated columns rather than triggers: computed by the executor on INSERT (no PL/pgSQL call
-- per row on the ingest path), also under COPY and `session_replication_role = replica` (the
-- bench fill), and they can never disagree with the text. The price: PostgreSQL 15 recomputes
-- them on every UPDATE of the row — for tickets that is the short subject, and messages are
-- updated rarely (sent_at of our replies, a merge).
ALTER TABLE tickets ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, claimdesk_search_text(subject))) STORED;
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, claimdesk_search_text(body_text))) STORED;
-- GIN with its pending list (fastupdate, the default): an insert appends to the list instead
-- of updating a posting tree per word.
CREATE INDEX tickets_search_idx ON tickets USING gin (search_vector);
CREATE INDEX messages_search_idx ON messages USING gin (search_vector);

-- Live feed: `NOTIFY claimdesk_ticket, '<ticket number>'` when a ticket is created or changes,
-- or a message or note is added to it. The payload is the number only — no subject, no
-- address: every signed-in viewer receives every event and re-reads what it may see. Sent at
-- commit; PostgreSQL drops a repeat of the same payload on the same channel within one
-- transaction, so a reply (message, ticket update, note) is one event. Statement-level
-- triggers with transition tables: one call per statement, so ingest's set-based INSERTs of a
-- whole batch cost one call, not one per row. Updates that change no column a page shows
-- (the SLA scheduler's sla_next_at, auto-release bookkeeping) send nothing.
CREATE FUNCTION claimdesk_notify_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('claimdesk_ticket', n.number) FROM new_rows n;
    ELSE
        PERFORM pg_notify('claimdesk_ticket', n.number)
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status, n.assignee_id, n.priority, n.department, n.subject, n.merged_into,
               n.updated_at, n.first_response_at, n.resolved_at, n.closed_at, n.linked_ticket)
              IS DISTINCT FROM
              (o.status, o.assignee_id, o.priority, o.department, o.subject, o.merged_into,
               o.updated_at, o.first_response_at, o.resolved_at, o.closed_at, o.linked_ticket);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_notify_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION claimdesk_notify_tickets();
CREATE TRIGGER tickets_notify_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION claimdesk_notify_tickets();

-- Messages (inserted, sent, moved by a merge) and notes (inserted): the ticket they are on.
CREATE FUNCTION claimdesk_notify_ticket_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('claimdesk_ticket', t.number)
    FROM (SELECT DISTINCT ticket_id FROM new_rows) r JOIN tickets t ON t.id = r.ticket_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_notify_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION claimdesk_notify_ticket_rows();
CREATE TRIGGER messages_notify_update AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION claimdesk_notify_ticket_rows();
CREATE TRIGGER notes_notify_insert AFTER INSERT ON notes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION claimdesk_notify_ticket_rows();
