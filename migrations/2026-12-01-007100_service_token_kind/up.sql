-- Service access tokens (Bearer credentials of Authlete 3.0's paths) are credentials of their
-- own kind, listed and revoked with the API keys (docs/ADMIN.md, docs/LIFECYCLE.md).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check
    CHECK (kind IN ('api_key', 'service_token'));
UPDATE api_keys SET kind = 'service_token' WHERE api_key LIKE 'tds\_%';
