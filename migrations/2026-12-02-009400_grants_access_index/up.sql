-- The connected-apps list needs, for every grant of a user, only whether it has access
-- (live_until) before it knows which grants its page shows; the rest of a grant row is read
-- for the page's grants alone. With live_until beside the key, that first pass is an
-- index-only scan (one leaf page for a user's 50 apps) instead of a heap fetch per grant, so
-- the list costs what its page shows (docs/GRANTS.md, "What the list reads").
CREATE INDEX grants_access_idx ON grants (subject, client_id) INCLUDE (live_until);
