-- Waking delivery at once instead of polling: every transaction that writes SETs to the outbox,
-- or that changes a stream's status or delivery, sends one NOTIFY on `tokendesk_ssf` (at its
-- commit, so never for a change that rolls back; PostgreSQL folds repeats within a transaction
-- into one). Each `serve` process LISTENs on one connection and wakes its delivery workers and
-- waiting polls (src/signals/wakeup.rs). See docs/SIGNALS.md, "Delivery and its guarantees".
CREATE FUNCTION ssf_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokendesk_ssf', '');
    RETURN NULL;
END;
$$;

-- Only when rows were written: the audit trigger's INSERT … SELECT runs for every audited
-- change once any stream exists, and usually writes nothing; such a transaction must not pay
-- for a NOTIFY (a notifying commit takes a database-wide lock for its last moment).
CREATE FUNCTION ssf_wake_on_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
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
