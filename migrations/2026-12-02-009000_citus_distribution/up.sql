-- One schema for plain PostgreSQL and for Citus (docs/SCALING.md, step 3).
--
-- On every database: each token gets its shard key, the value Citus distributes the per-user
-- tables by. It is the subject, or `client:<client_id>` for a client credentials token (which
-- has no subject, and Citus refuses a NULL distribution value). A check keeps it equal to what
-- it is derived from; on plain PostgreSQL a trigger fills it for a writer that leaves it out.
--
-- When the database has the `citus` extension (a coordinator, workers registered), the tables
-- are then distributed: the tokens and the grants by subject, co-located, so that a pair's
-- tokens and grant rows live on one shard and a pair change is a single-shard transaction; the
-- catalogue (clients, scopes, client_scopes, service_settings) as reference tables, copied to
-- every node. Every other table stays on the coordinator. On plain PostgreSQL nothing else
-- changes.
ALTER TABLE access_tokens ADD COLUMN shard_key text;
UPDATE access_tokens SET shard_key = coalesce(subject, 'client:' || client_id::text);
ALTER TABLE access_tokens
    ALTER COLUMN shard_key SET NOT NULL,
    ADD CONSTRAINT access_tokens_shard_key_derived
        CHECK (shard_key = coalesce(subject, 'client:' || client_id::text));

CREATE FUNCTION access_tokens_fill_shard_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.shard_key := coalesce(NEW.subject, 'client:' || NEW.client_id::text);
    RETURN NEW;
END;
$$;
-- Only rows written without one pay for the call.
CREATE TRIGGER access_tokens_shard_key BEFORE INSERT ON access_tokens
    FOR EACH ROW WHEN (NEW.shard_key IS NULL) EXECUTE FUNCTION access_tokens_fill_shard_key();

DO $citus$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;

    -- Citus distributes no table with triggers: the writer sets the shard key itself (the
    -- check above still refuses a wrong one).
    DROP TRIGGER access_tokens_shard_key ON access_tokens;

    -- Identity columns: a sequence default numbers the rows as before (ids stay unique: one
    -- sequence, on the coordinator, where every insert is planned).
    ALTER TABLE access_tokens ALTER COLUMN id DROP IDENTITY;
    CREATE SEQUENCE access_tokens_id_seq AS bigint OWNED BY access_tokens.id;
    PERFORM setval('access_tokens_id_seq', coalesce((SELECT max(id) FROM access_tokens), 0) + 1,
                   false);
    ALTER TABLE access_tokens ALTER COLUMN id SET DEFAULT nextval('access_tokens_id_seq');

    -- A unique constraint on a distributed table must contain the distribution column. The
    -- primary key becomes (shard_key, id); the hashes are unique per shard key, and across
    -- shards by construction (SHA-256 of 256-bit random values).
    ALTER TABLE rotated_refresh_tokens DROP CONSTRAINT rotated_refresh_tokens_token_id_fkey;
    ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_pkey;
    ALTER TABLE access_tokens ADD PRIMARY KEY (shard_key, id);
    ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_access_token_hash_key;
    ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_refresh_token_hash_key;
    CREATE UNIQUE INDEX access_tokens_access_token_hash_key
        ON access_tokens (access_token_hash, shard_key);
    CREATE UNIQUE INDEX access_tokens_refresh_token_hash_key
        ON access_tokens (refresh_token_hash, shard_key);
    -- The per-user index leads with the distribution column, as every per-user query filters.
    CREATE INDEX access_tokens_shard_client_idx
        ON access_tokens (shard_key, client_id, access_token_expires_at);

    -- The catalogue: small, read by every page, written by the admin console.
    PERFORM create_reference_table('service_settings');
    PERFORM create_reference_table('scopes');
    PERFORM create_reference_table('clients');
    PERFORM create_reference_table('client_scopes');

    -- Per-user data, co-located by subject. A table can be distributed only while no table
    -- that is not distributed points into it: the grants' own foreign keys are put back after.
    ALTER TABLE grant_scopes DROP CONSTRAINT grant_scopes_subject_client_id_fkey;
    ALTER TABLE grant_usage DROP CONSTRAINT grant_usage_subject_client_id_fkey;
    PERFORM create_distributed_table('grants', 'subject');
    PERFORM create_distributed_table('grant_scopes', 'subject', colocate_with => 'grants');
    PERFORM create_distributed_table('grant_usage', 'subject', colocate_with => 'grants');
    ALTER TABLE grant_scopes ADD CONSTRAINT grant_scopes_subject_client_id_fkey
        FOREIGN KEY (subject, client_id) REFERENCES grants (subject, client_id) ON DELETE CASCADE;
    ALTER TABLE grant_usage ADD CONSTRAINT grant_usage_subject_client_id_fkey
        FOREIGN KEY (subject, client_id) REFERENCES grants (subject, client_id) ON DELETE CASCADE;
    PERFORM create_distributed_table('access_tokens', 'shard_key', colocate_with => 'grants');
    -- Replaced refresh tokens are looked up by their hash alone: distributed by it. Without a
    -- foreign key into the tokens (Citus allows none across distribution columns), a row may
    -- outlive its token: a presented hash whose token is gone finds nothing to revoke.
    PERFORM create_distributed_table('rotated_refresh_tokens', 'refresh_token_hash',
                                     colocate_with => 'none');
END;
$citus$;
