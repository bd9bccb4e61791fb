-- Back to one function and the audit events without a shard key. On Citus, undistribute
-- first (`undistribute_table('audit_events')`) and put the triggers back by hand: this down
-- migration is for plain PostgreSQL.
DO $patch$
DECLARE
    src text := pg_get_functiondef('ssf_event_of(audit_events, boolean)'::regprocedure);
BEGIN
    src := replace(src, 'ssf_event_of(e audit_events, pair_emptied boolean)',
                   'ssf_event_of(e audit_events)');
    src := replace(src, 'pair_emptied', 'NOT EXISTS (SELECT 1 FROM access_tokens t
                                     WHERE t.client_id = e.client_id AND t.subject = e.subject)');
    DROP FUNCTION ssf_event_of(audit_events);
    EXECUTE src;
END;
$patch$;
DROP FUNCTION ssf_event_of(audit_events, boolean);
DROP TRIGGER audit_events_shard_key ON audit_events;
DROP FUNCTION audit_events_fill_shard_key();
ALTER TABLE audit_events DROP COLUMN shard_key;
