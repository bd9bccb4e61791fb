-- Only for plain PostgreSQL: a distributed table is undistributed with undistribute_table().
DROP TRIGGER IF EXISTS access_tokens_shard_key ON access_tokens;
DROP FUNCTION IF EXISTS access_tokens_fill_shard_key();
ALTER TABLE access_tokens DROP COLUMN shard_key;
