-- A pair update rewrites every token row of the pair in one statement. Two costs of that
-- rewrite did not depend on what changed (docs/BENCHMARKS.md, "A pair update rewritten in
-- place"):
--
-- 1. Room on the page. fillfactor 80 left room for a new version of one row in five: within
--    one statement the old versions cannot be pruned yet, so four in five rows of a pair
--    update moved to another page, a non-HOT update with a new entry in each of the table's
--    seven indexes (70,000 WAL records for 10,000 tokens). At 50 every row of a page can get
--    its new version on the same page: one WAL record per token, no index entry. This applies
--    to pages written from now on (`VACUUM FULL access_tokens` rewrites the existing ones).
--
-- 2. Checks that run on every row an UPDATE writes, whatever columns it changes. The format
--    checks of the two hashes and of the subject (three regular expressions, a third of the
--    rewrite's time) move onto domains: a domain's check runs when a value is given to the
--    column (INSERT, or an UPDATE that sets it), never when a row is rewritten for its scopes.
--    Same rules, same values accepted.
--
-- One DO block: each statement then reaches Citus with its own text, which it needs to pass a
-- DDL statement on to the workers; the domains come first, before any statement that Citus
-- runs on the shards in parallel (after one, it refuses a domain command in the transaction).
DO $rewrite$
BEGIN
    CREATE DOMAIN token_hash AS text
        CHECK (length(VALUE) = 43 AND VALUE ~ '^[A-Za-z0-9_-]+$');
    CREATE DOMAIN token_subject AS text
        CHECK (length(VALUE) BETWEEN 1 AND 100 AND VALUE ~ '^[ -~]+$');

    ALTER TABLE access_tokens
        DROP CONSTRAINT access_tokens_access_token_hash_check,
        DROP CONSTRAINT access_tokens_refresh_token_hash_check,
        DROP CONSTRAINT access_tokens_subject_check,
        ALTER COLUMN access_token_hash TYPE token_hash,
        ALTER COLUMN refresh_token_hash TYPE token_hash,
        ALTER COLUMN subject TYPE token_subject;

    ALTER TABLE access_tokens SET (fillfactor = 50);
END;
$rewrite$;
