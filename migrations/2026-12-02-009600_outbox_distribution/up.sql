-- The signal outbox by shard key, co-located with the audit events it tells of
-- (docs/SCALING.md, "The outbox on the shards").
--
-- On every database: each outbox row gets the shard key of its audit event (the user, else
-- `client:<client_id>`, else ''), or `stream:<stream_id>` for a stream's own events
-- (verification, stream-updated), which tell of no audit event. A check keeps it equal to
-- what it is derived from; on plain PostgreSQL a trigger fills it for a writer that leaves
-- it out (the audit trigger's insert).
--
-- When the database has the `citus` extension:
-- - the receivers, streams and stream subjects become reference tables (the outbox points
--   into the streams, and the SET rules join them with every audit event);
-- - the outbox is distributed by its shard key, co-located with `audit_events`, so that a
--   change, its audit row and its SETs are written on one shard;
-- - Citus distributes no table with triggers: the `NOTIFY` of the outbox and stream triggers
--   is sent by the writers themselves (`signals::wakeup::notify_written`,
--   `signals::wakeup::notify_stream_changed`), and delivery claims its rows shard by shard
--   (`signals::outbox::claim`): a `FOR UPDATE` runs on one shard only there;
-- - the identity column becomes a sequence, the primary key `(shard_key, id)` and the `jti`'s
--   unique key `(jti, shard_key)`: a unique key on Citus must hold the distribution column.
--   The `jti` is a random UUID (122 random bits) made by the database for each row.
-- On plain PostgreSQL nothing else changes.

ALTER TABLE ssf_outbox ADD COLUMN shard_key text;
UPDATE ssf_outbox SET shard_key = CASE
    WHEN audit_event_id IS NULL THEN 'stream:' || stream_id
    ELSE coalesce(subject_user, 'client:' || subject_client::text, '') END;
ALTER TABLE ssf_outbox
    ALTER COLUMN shard_key SET NOT NULL,
    ADD CONSTRAINT ssf_outbox_shard_key_derived CHECK (shard_key = CASE
        WHEN audit_event_id IS NULL THEN 'stream:' || stream_id
        ELSE coalesce(subject_user, 'client:' || subject_client::text, '') END);

CREATE FUNCTION ssf_outbox_fill_shard_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.shard_key := CASE
        WHEN NEW.audit_event_id IS NULL THEN 'stream:' || NEW.stream_id
        ELSE coalesce(NEW.subject_user, 'client:' || NEW.subject_client::text, '') END;
    RETURN NEW;
END;
$$;
-- Only rows written without one pay for the call.
CREATE TRIGGER ssf_outbox_shard_key BEFORE INSERT ON ssf_outbox
    FOR EACH ROW WHEN (NEW.shard_key IS NULL) EXECUTE FUNCTION ssf_outbox_fill_shard_key();

-- Whether to notify for outbox rows of these streams just written: someone sleeps, a push
-- worker for a push stream's SET, a waiting poll of the stream for a poll stream's. The outbox
-- trigger asks it on PostgreSQL; on Citus the writers do (the outbox has no trigger there).
CREATE FUNCTION ssf_wake_for(p_streams text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ssf_streams s
               WHERE s.stream_id = ANY (p_streams)
                 AND CASE WHEN s.delivery_method = 'urn:ietf:rfc:8935'
                          THEN coalesce((SELECT w.wanted FROM ssf_wakeup w), true)
                          ELSE s.poll_waiting_until > now() END) THEN
        PERFORM pg_notify('tokendesk_ssf', '');
    END IF;
END;
$$;
CREATE OR REPLACE FUNCTION ssf_wake_on_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ssf_wake_for(ARRAY(SELECT DISTINCT stream_id FROM new_rows));
    RETURN NULL;
END;
$$;

DO $citus$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;

    DROP TRIGGER ssf_outbox_shard_key ON ssf_outbox;
    DROP TRIGGER ssf_outbox_wake ON ssf_outbox;
    DROP TRIGGER ssf_streams_wake ON ssf_streams;

    -- Reshaped before the streams become a reference table: from then on the outbox, which
    -- points into them, is in Citus's metadata, which alters no identity column.
    ALTER TABLE ssf_outbox ALTER COLUMN id DROP IDENTITY;
    CREATE SEQUENCE ssf_outbox_id_seq AS bigint OWNED BY ssf_outbox.id;
    PERFORM setval('ssf_outbox_id_seq', coalesce((SELECT max(id) FROM ssf_outbox), 0) + 1,
                   false);
    ALTER TABLE ssf_outbox ALTER COLUMN id SET DEFAULT nextval('ssf_outbox_id_seq');
    ALTER TABLE ssf_outbox DROP CONSTRAINT ssf_outbox_pkey;
    ALTER TABLE ssf_outbox ADD PRIMARY KEY (shard_key, id);
    ALTER TABLE ssf_outbox DROP CONSTRAINT ssf_outbox_jti_key;
    ALTER TABLE ssf_outbox ADD CONSTRAINT ssf_outbox_jti_key UNIQUE (jti, shard_key);

    PERFORM create_reference_table('ssf_receivers');
    PERFORM create_reference_table('ssf_streams');
    PERFORM create_reference_table('ssf_stream_subjects');
    PERFORM create_distributed_table('ssf_outbox', 'shard_key',
                                     colocate_with => 'audit_events');
END;
$citus$;
