-- The authorization server's whole token life (docs/LIFECYCLE.md): refresh through tokendesk
-- with rotation and reuse detection, client secrets, rich authorization details on tokens, and
-- the service's identity for Authlete 3.0 paths and the RFC 8414 metadata.

-- Authlete's refresh policies, as service settings:
--   refresh_token_kept: a refresh keeps the refresh token (no rotation);
--   refresh_token_duration_kept: a rotated refresh token keeps the expiry of the one it replaces;
--   refresh_token_duration_reset: a kept refresh token gets a fresh lifetime on every refresh.
-- service_id names the service in Authlete 3.0 paths (/api/{serviceId}/…); issuer is the
-- authorization server's issuer identifier for the metadata document (NULL: this server's URL).
ALTER TABLE service_settings
    ADD COLUMN refresh_token_kept boolean NOT NULL DEFAULT false,
    ADD COLUMN refresh_token_duration_kept boolean NOT NULL DEFAULT false,
    ADD COLUMN refresh_token_duration_reset boolean NOT NULL DEFAULT false,
    ADD COLUMN service_id bigint NOT NULL
        DEFAULT (1000000000 + floor(random() * 8999999999))::bigint CHECK (service_id > 0),
    ADD COLUMN issuer text CHECK (issuer ~ '^https?://[^\s]+$' AND length(issuer) <= 500);
ALTER TABLE service_settings ALTER COLUMN service_id DROP DEFAULT;

-- A confidential client's secret, as its SHA-256 (256 random bits, shown once: a slow hash adds
-- nothing). NULL: a public client, which authenticates with its id alone.
ALTER TABLE clients
    ADD COLUMN secret_hash text
        CHECK (length(secret_hash) = 43 AND secret_hash ~ '^[A-Za-z0-9_-]+$');

-- RFC 9396 authorization details: the JSON array the grant carries (NULL: none). Each element
-- is an object with a string "type"; the domain checks the rest.
ALTER TABLE access_tokens
    ADD COLUMN authorization_details jsonb
        CHECK (authorization_details IS NULL OR jsonb_typeof(authorization_details) = 'array');

-- Refresh tokens replaced by a rotation, kept while their token lives: presenting one again
-- means it was stolen or replayed (RFC 9700 §4.14.2), and the whole token goes. The token row
-- is the family: a refresh renews its values in place. Rows go with their token (cascade).
CREATE TABLE rotated_refresh_tokens (
    refresh_token_hash text PRIMARY KEY
        CHECK (length(refresh_token_hash) = 43 AND refresh_token_hash ~ '^[A-Za-z0-9_-]+$'),
    token_id bigint NOT NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    rotated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotated_refresh_tokens_token_idx ON rotated_refresh_tokens (token_id);
