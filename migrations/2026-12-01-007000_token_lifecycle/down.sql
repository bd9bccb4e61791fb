DROP TABLE IF EXISTS rotated_refresh_tokens;
ALTER TABLE access_tokens DROP COLUMN IF EXISTS authorization_details;
ALTER TABLE clients DROP COLUMN IF EXISTS secret_hash;
ALTER TABLE service_settings
    DROP COLUMN IF EXISTS issuer,
    DROP COLUMN IF EXISTS service_id,
    DROP COLUMN IF EXISTS refresh_token_duration_reset,
    DROP COLUMN IF EXISTS refresh_token_duration_kept,
    DROP COLUMN IF EXISTS refresh_token_kept;
