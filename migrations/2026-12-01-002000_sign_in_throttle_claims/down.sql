DROP INDEX sign_in_throttle_window_started_at;
DELETE FROM sign_in_throttle;
ALTER TABLE sign_in_throttle DROP CONSTRAINT sign_in_throttle_key_check;
ALTER TABLE sign_in_throttle ADD CONSTRAINT sign_in_throttle_key_check
    CHECK (length(key) BETWEEN 1 AND 200);
ALTER TABLE sign_in_throttle DROP CONSTRAINT sign_in_throttle_kind_check;
ALTER TABLE sign_in_throttle ADD CONSTRAINT sign_in_throttle_kind_check
    CHECK (kind IN ('login', 'address'));
ALTER TABLE sign_in_throttle RENAME COLUMN not_before TO locked_until;
ALTER TABLE sign_in_throttle RENAME COLUMN attempts TO failures;
COMMENT ON COLUMN sign_in_throttle.failures IS NULL;
COMMENT ON COLUMN sign_in_throttle.locked_until IS NULL;
