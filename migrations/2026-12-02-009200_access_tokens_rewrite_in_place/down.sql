DO $rewrite$
BEGIN
    ALTER TABLE access_tokens
        ALTER COLUMN access_token_hash TYPE text,
        ALTER COLUMN refresh_token_hash TYPE text,
        ALTER COLUMN subject TYPE text,
        ADD CONSTRAINT access_tokens_access_token_hash_check
            CHECK (length(access_token_hash) = 43 AND access_token_hash ~ '^[A-Za-z0-9_-]+$'),
        ADD CONSTRAINT access_tokens_refresh_token_hash_check
            CHECK (length(refresh_token_hash) = 43 AND refresh_token_hash ~ '^[A-Za-z0-9_-]+$'),
        ADD CONSTRAINT access_tokens_subject_check
            CHECK (length(subject) BETWEEN 1 AND 100 AND subject ~ '^[ -~]+$');
    DROP DOMAIN token_subject;
    DROP DOMAIN token_hash;
    ALTER TABLE access_tokens SET (fillfactor = 80);
END;
$rewrite$;
