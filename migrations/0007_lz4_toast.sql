-- Large values (raw RFC 822 bytes, bodies, attachments) are TOAST-compressed. lz4 compresses
-- several times faster than the default pglz at a similar ratio, and intake writes every
-- message's raw bytes and text: compressing them was a large part of a backlog's cost.
-- lz4 needs PostgreSQL 14+ built with it (Debian's is); elsewhere pglz stays, with a notice.
DO $$
BEGIN
    ALTER TABLE messages
        ALTER COLUMN raw SET COMPRESSION lz4,
        ALTER COLUMN body_text SET COMPRESSION lz4,
        ALTER COLUMN body_html SET COMPRESSION lz4;
    ALTER TABLE attachments ALTER COLUMN content SET COMPRESSION lz4;
    ALTER TABLE quarantine ALTER COLUMN raw SET COMPRESSION lz4;
    ALTER TABLE noise_messages ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 TOAST compression unavailable (%); keeping pglz', SQLERRM;
END
$$;
