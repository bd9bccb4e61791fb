-- Sign-in throttling counts each password check before it runs (a claim), per
-- (login, address) pair, per address and per login, and remembers the pairs that signed in
-- successfully ('known'). See docs/SECURITY.md for the policy.
--
-- The rows are short-lived counters, not records: the old ones mean nothing under the new
-- policy, so they are dropped rather than converted.
DELETE FROM sign_in_throttle;

ALTER TABLE sign_in_throttle RENAME COLUMN failures TO attempts;
ALTER TABLE sign_in_throttle RENAME COLUMN locked_until TO not_before;
COMMENT ON COLUMN sign_in_throttle.attempts IS
    'password checks claimed in the current window (a known pair: successful sign-ins)';
COMMENT ON COLUMN sign_in_throttle.not_before IS
    'a login under attack: no password check for it before this time';

ALTER TABLE sign_in_throttle DROP CONSTRAINT sign_in_throttle_kind_check;
ALTER TABLE sign_in_throttle ADD CONSTRAINT sign_in_throttle_kind_check
    CHECK (kind IN ('login', 'address', 'pair', 'known'));

-- A pair's key is the address, a line feed, and the login: up to 200 + 1 + 200 characters.
ALTER TABLE sign_in_throttle DROP CONSTRAINT sign_in_throttle_key_check;
ALTER TABLE sign_in_throttle ADD CONSTRAINT sign_in_throttle_key_check
    CHECK (length(key) BETWEEN 1 AND 401);

-- Forgetting stale rows (`tokendesk sweep`) reads by age.
CREATE INDEX sign_in_throttle_window_started_at ON sign_in_throttle (window_started_at);
