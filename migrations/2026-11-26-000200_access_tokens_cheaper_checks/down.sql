ALTER TABLE access_tokens
    DROP CONSTRAINT access_tokens_access_token_hash_check,
    DROP CONSTRAINT access_tokens_refresh_token_hash_check,
    DROP CONSTRAINT access_tokens_subject_check,
    ADD CONSTRAINT access_tokens_access_token_hash_check
        CHECK (access_token_hash ~ '^[A-Za-z0-9_-]{43}$'),
    ADD CONSTRAINT access_tokens_refresh_token_hash_check
        CHECK (refresh_token_hash ~ '^[A-Za-z0-9_-]{43}$'),
    ADD CONSTRAINT access_tokens_subject_check
        CHECK (subject ~ '^[ -~]{1,100}$');
