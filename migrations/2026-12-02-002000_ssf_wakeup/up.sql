-- Waking delivery at once instead of polling: a transaction that writes SETs to the outbox
-- while a delivery worker sleeps, or that changes a stream's status or delivery, sends one
-- NOTIFY on `tokendesk_ssf` (at its commit, so never for a change that rolls back; PostgreSQL
-- folds repeats within a transaction into one). Each `serve` process LISTENs on one connection
-- and wakes its delivery workers and waiting polls (src/signals/wakeup.rs). See
-- docs/SIGNALS.md, "Delivery and its guarantees".

-- Whether a push worker sleeps and wants a NOTIFY: set by a worker before it sleeps, cleared
-- by a worker that was woken. While workers are busy (they keep claiming until the outbox is
-- empty) commits do not notify: a notifying commit takes a database-wide lock for its last
-- moment, so notifying commits go one after the other. Unlogged: after a crash the row is
-- gone, which reads as "wanted".
CREATE UNLOGGED TABLE ssf_wakeup (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    wanted boolean NOT NULL DEFAULT true
);
INSERT INTO ssf_wakeup DEFAULT VALUES;

-- Until when a poll (RFC 8936, without returnImmediately) waits on this stream: its SETs
-- notify until then. Written once per waiting poll; in no index, so a HOT update.
ALTER TABLE ssf_streams ADD COLUMN poll_waiting_until timestamptz;
CREATE FUNCTION ssf_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokendesk_ssf', '');
    RETURN NULL;
END;
$$;

-- Only when rows were written (the audit trigger's INSERT … SELECT runs for every audited
-- change once any stream exists, and usually writes nothing) and someone sleeps: a push worker
-- for a push stream's SET, a waiting poll of the stream for a poll stream's.
CREATE FUNCTION ssf_wake_on_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n JOIN ssf_streams s ON s.stream_id = n.stream_id
               WHERE CASE WHEN s.delivery_method = 'urn:ietf:rfc:8935'
                          THEN coalesce((SELECT w.wanted FROM ssf_wakeup w), true)
                          ELSE s.poll_waiting_until > now() END) THEN
        PERFORM pg_notify('tokendesk_ssf', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ssf_outbox_wake
    AFTER INSERT ON ssf_outbox
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ssf_wake_on_outbox();

-- A paused stream that is enabled again has SETs to deliver at once.
CREATE TRIGGER ssf_streams_wake
    AFTER UPDATE ON ssf_streams
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.delivery_method IS DISTINCT FROM NEW.delivery_method
          OR OLD.endpoint_url IS DISTINCT FROM NEW.endpoint_url)
    EXECUTE FUNCTION ssf_wake();
