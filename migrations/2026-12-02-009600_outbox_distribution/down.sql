-- Back to an outbox without a shard key. On Citus, undistribute first
-- (`undistribute_table('ssf_outbox')`, then the reference tables) and put the triggers back by
-- hand: this down migration is for plain PostgreSQL.
DROP TRIGGER ssf_outbox_shard_key ON ssf_outbox;
DROP FUNCTION ssf_outbox_fill_shard_key();
ALTER TABLE ssf_outbox DROP COLUMN shard_key;
CREATE OR REPLACE FUNCTION ssf_wake_on_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION ssf_wake_for(text[]);
