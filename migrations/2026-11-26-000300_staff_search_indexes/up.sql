-- Indexes for the support console's searches (docs/SUPPORT.md). Prefix searches are written
-- `lower(column) LIKE 'prefix%'` (or `column LIKE 'prefix%'` for hashes); `text_pattern_ops`
-- lets a B-tree serve them whatever the database's collation, without an extension.

-- Users by login prefix (the unique index on lower(login) uses the default operator class,
-- which serves LIKE only under the C collation). Display names and subjects already have theirs.
CREATE INDEX accounts_login_lower_pattern_idx ON accounts (lower(login) text_pattern_ops);

-- Tokens by the first characters of their hash, as support reads them off a fingerprint.
CREATE INDEX access_tokens_hash_pattern_idx ON access_tokens (access_token_hash text_pattern_ops);

-- The audit log filtered by actor login alone, without its kind.
CREATE INDEX audit_events_actor_id_idx ON audit_events (actor_id, occurred_at DESC);
