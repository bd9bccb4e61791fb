-- The token directory: which shard key holds the token of a hash (docs/SCALING.md, step 3).
--
-- One row per stored hash, access and refresh alike, written in the same transaction as the
-- token (creation, rotation, a new value, every delete). On Citus it is distributed by the
-- hash, so that a look-up by hash (introspection, token update by value, revocation,
-- refresh) is two single-shard statements: the directory's row, then the token's with
-- `shard_key = …`. Its primary key keeps every hash unique across shards, where the tokens'
-- own unique indexes must include the shard key.
--
-- On plain PostgreSQL the table exists and is kept exactly as on Citus (one schema, the same
-- writes, tested in CI), but the look-ups stay the single-step ones by the tokens' unique
-- indexes: the directory is read only where the database is distributed.
CREATE TABLE token_directory (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[A-Za-z0-9_-]{43}$'),
    shard_key text NOT NULL
);

INSERT INTO token_directory (token_hash, shard_key)
SELECT access_token_hash, shard_key FROM access_tokens
UNION ALL
SELECT refresh_token_hash, shard_key FROM access_tokens WHERE refresh_token_hash IS NOT NULL;

DO $citus$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- Beside the replaced refresh tokens, which are also found by a hash alone.
    PERFORM create_distributed_table('token_directory', 'token_hash',
                                     colocate_with => 'rotated_refresh_tokens');
END;
$citus$;
