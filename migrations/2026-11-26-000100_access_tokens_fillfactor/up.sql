-- Leave room in every page of access_tokens so that the frequent updates that touch no indexed
-- column (scopes, refresh token scopes, properties, last_used_at, version) can be HOT updates:
-- the new row version goes on the same page and no index gets a new entry. A pair update
-- rewrites thousands of rows at once and introspection writes last_used_at once a minute per
-- token in use, so this saves most of the index writes and index bloat. It applies to pages
-- written from now on (a `VACUUM FULL access_tokens` rewrites the existing ones).
ALTER TABLE access_tokens SET (fillfactor = 80);
