ALTER TABLE rotated_refresh_tokens DROP COLUMN shard_key;
