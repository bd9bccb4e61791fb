UPDATE api_keys SET kind = 'api_key' WHERE kind = 'service_token';
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('api_key'));
