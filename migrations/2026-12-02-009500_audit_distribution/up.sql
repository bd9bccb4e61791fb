-- Audit events by shard key, co-located with the tokens (docs/SCALING.md, step 3).
--
-- On every database: each audit event gets the shard key of what it is about, derived as the
-- tokens' is: the subject, else `client:<client_id>` (a client credentials token's, a client's
-- own events), else '' (the catalogue's, the service's). A check keeps it equal to what it is
-- derived from; on plain PostgreSQL a trigger fills it for a writer that leaves it out.
--
-- When the database has the `citus` extension the table is distributed by it, co-located with
-- `access_tokens`, so that a change and its audit row are written on one shard: a pair update
-- of 10,000 tokens, its grant and its audit row are one single-shard statement. Citus
-- distributes no table with triggers, so there:
-- - "append-only" is the application's privileges instead of a trigger: UPDATE, DELETE and
--   TRUNCATE are revoked from PUBLIC and from the role that runs the migrations;
-- - the SETs an audit event makes (the `audit_events_signal` trigger) are written by the
--   writers themselves, in the same transaction (`signals::outbox::enqueue_citus`).
-- On plain PostgreSQL nothing else changes: the triggers stay.

-- The sweep's "the app is left without any token" (the one fact of `ssf_event_of` that reads
-- the tokens) becomes a parameter, so that the explicit outbox insert on Citus can give it
-- from a statement of its own: Citus runs no SQL function over a distributed table inside a
-- distributed statement. The event's rules stay in one function; this takes its text and
-- changes only its signature and that one condition. The one-argument form, which the
-- trigger calls on plain PostgreSQL, asks the tokens and hands the answer on.
DO $patch$
DECLARE
    src text := pg_get_functiondef('ssf_event_of(audit_events)'::regprocedure);
    asked text := 'NOT EXISTS (SELECT 1 FROM access_tokens t
                                     WHERE t.client_id = e.client_id AND t.subject = e.subject)';
BEGIN
    IF position(asked IN src) = 0 OR position('ssf_event_of(e audit_events)' IN src) = 0 THEN
        RAISE EXCEPTION 'ssf_event_of is not the function this migration expects';
    END IF;
    src := replace(src, 'ssf_event_of(e audit_events)',
                   'ssf_event_of(e audit_events, pair_emptied boolean)');
    EXECUTE replace(src, asked, 'pair_emptied');
END;
$patch$;
CREATE OR REPLACE FUNCTION ssf_event_of(e audit_events)
RETURNS TABLE (event_type text, token_hash text, body jsonb)
LANGUAGE sql STABLE AS $$
    SELECT * FROM ssf_event_of(e, e.action = 'token.sweep' AND NOT EXISTS (
        SELECT 1 FROM access_tokens t WHERE t.client_id = e.client_id AND t.subject = e.subject))
$$;
ALTER TABLE audit_events ADD COLUMN shard_key text;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
UPDATE audit_events SET shard_key = coalesce(subject, 'client:' || client_id::text, '');
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;
ALTER TABLE audit_events
    ALTER COLUMN shard_key SET NOT NULL,
    ADD CONSTRAINT audit_events_shard_key_derived
        CHECK (shard_key = coalesce(subject, 'client:' || client_id::text, ''));

CREATE FUNCTION audit_events_fill_shard_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.shard_key := coalesce(NEW.subject, 'client:' || NEW.client_id::text, '');
    RETURN NEW;
END;
$$;
-- Only rows written without one pay for the call.
CREATE TRIGGER audit_events_shard_key BEFORE INSERT ON audit_events
    FOR EACH ROW WHEN (NEW.shard_key IS NULL) EXECUTE FUNCTION audit_events_fill_shard_key();

DO $citus$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;

    DROP TRIGGER audit_events_shard_key ON audit_events;
    DROP TRIGGER audit_events_signal ON audit_events;
    DROP TRIGGER audit_events_no_update ON audit_events;
    DROP TRIGGER audit_events_no_truncate ON audit_events;

    ALTER TABLE audit_events ALTER COLUMN id DROP IDENTITY;
    CREATE SEQUENCE audit_events_id_seq AS bigint OWNED BY audit_events.id;
    PERFORM setval('audit_events_id_seq', coalesce((SELECT max(id) FROM audit_events), 0) + 1,
                   false);
    ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq');
    ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
    ALTER TABLE audit_events ADD PRIMARY KEY (shard_key, id);

    PERFORM create_distributed_table('audit_events', 'shard_key',
                                     colocate_with => 'access_tokens');

    -- Append-only by privilege: what no statement of the application may do. A superuser
    -- passes every privilege check: run tokendesk as a role of its own (docs/SCALING.md).
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM %I', current_user);
END;
$citus$;
