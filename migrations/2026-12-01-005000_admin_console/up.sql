-- The admin console (docs/ADMIN.md): user search anywhere in a name, optimistic concurrency for
-- edits of clients and scopes, credentials of several kinds with their last use, and the
-- history of each administered object read from the audit trail by one index.

-- User search matches anywhere in login, subject or display name (any case): one trigram index
-- per column, combined by a bitmap OR. pg_trgm ships with PostgreSQL (contrib) and is a trusted
-- extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_login_trgm_idx ON accounts USING gin (lower(login) gin_trgm_ops);
CREATE INDEX accounts_subject_trgm_idx ON accounts USING gin (lower(subject) gin_trgm_ops);
CREATE INDEX accounts_display_name_trgm_idx ON accounts USING gin (lower(display_name) gin_trgm_ops);

-- An edit form carries the `updated_at` it was opened with; a save made after someone else's
-- is refused instead of overwriting it.
ALTER TABLE clients ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE scopes ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Which clients are allowed a scope (the scope's page, and the foreign key's check when a scope
-- is deleted).
CREATE INDEX client_scopes_scope_idx ON client_scopes (scope_name);

-- Credentials of every kind live in this table, told apart by `kind`. Only API keys (HTTP Basic
-- on the JSON API) exist now; a later kind is one more name in this constraint (drop and re-add
-- `api_keys_kind_check`), listed and revoked by the same pages.
ALTER TABLE api_keys ADD COLUMN kind text NOT NULL DEFAULT 'api_key';
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('api_key'));
-- Written at most once a minute per key (in no index, so the write is a HOT update).
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys SET (fillfactor = 80);

-- The administered object an audit event is about, as `kind:id` ('client:1001', 'scope:read',
-- 'account:alice', 'credential:tdk_…', 'settings'); NULL for every other event. Derived from
-- columns every such event already carried, so events written before this migration have
-- their history too, and no audit row is ever rewritten.
CREATE FUNCTION audit_object(action text, client_id bigint, subject text,
                             state_before jsonb, state_after jsonb)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE split_part(action, '.', 1)
        WHEN 'client' THEN 'client:' || client_id::text
        WHEN 'scope' THEN 'scope:' || coalesce(state_after ->> 'name', state_before ->> 'name')
        WHEN 'account' THEN 'account:' || subject
        WHEN 'api_key' THEN
            'credential:' || coalesce(state_after ->> 'apiKey', state_before ->> 'apiKey')
        WHEN 'credential' THEN
            'credential:' || coalesce(state_after ->> 'apiKey', state_before ->> 'apiKey')
        WHEN 'settings' THEN 'settings'
    END
$$;
-- Only the events about administered objects are in it: a few per object, however long the
-- token trail grows.
CREATE INDEX audit_events_object_idx
    ON audit_events (audit_object(action, client_id, subject, state_before, state_after),
                     occurred_at DESC, id DESC)
    WHERE audit_object(action, client_id, subject, state_before, state_after) IS NOT NULL;
