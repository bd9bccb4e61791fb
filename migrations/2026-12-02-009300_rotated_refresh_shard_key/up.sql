-- A replaced refresh token that comes back leads to its token by `token_id`. On Citus a look-up
-- by id alone asks every shard of the tokens; with the token's shard key beside the id it is
-- one shard, as every other look-up of a token is (docs/SCALING.md). Every rotation writes it;
-- rows written before are filled here on plain PostgreSQL. On Citus (where the two tables are
-- distributed by different columns and cannot be joined in an UPDATE) they stay empty and are
-- looked up by id alone, as before.
ALTER TABLE rotated_refresh_tokens ADD COLUMN shard_key text;

DO $fill$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    UPDATE rotated_refresh_tokens r SET shard_key = t.shard_key
    FROM access_tokens t WHERE t.id = r.token_id;
END;
$fill$;
