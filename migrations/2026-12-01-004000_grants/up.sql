-- Grants: one row per client + subject pair, kept in step with the pair's tokens by every
-- domain function that changes tokens, in the same transaction (docs/GRANTS.md). The pages
-- and the authorization list read these rows instead of aggregating tokens, so their cost
-- grows with the number of apps, not of tokens. Every key starts with `subject`, the planned
-- distribution column (docs/SCALING.md); there are no triggers.
CREATE TABLE grants (
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 100),
    client_id bigint NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    -- What the pair's tokens add up to (a pure function of them).
    token_count bigint NOT NULL CHECK (token_count >= 0),
    first_authorized_at timestamptz,
    last_used_at timestamptz,
    last_refreshed_at timestamptz,
    -- The latest moment any token of the pair can still be used or renewed:
    -- max(greatest(access_token_expires_at, refresh_token_expires_at)). The app has access
    -- exactly while live_until > now, so the answer stays true as time passes without a write.
    live_until timestamptz,
    -- "Allow until": no token of the pair, present or future, lives past this moment.
    valid_until timestamptz,
    valid_until_set_by text CHECK (valid_until_set_by IN ('user', 'support', 'admin', 'api', 'system')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, client_id),
    CONSTRAINT grants_summary_complete CHECK (
        (token_count = 0) = (live_until IS NULL)
        AND (token_count = 0) = (first_authorized_at IS NULL)),
    -- A grant lives while its pair has tokens, or while it carries a time limit.
    CONSTRAINT grants_something_to_keep CHECK (token_count > 0 OR valid_until IS NOT NULL),
    CONSTRAINT grants_limit_has_author CHECK ((valid_until IS NULL) = (valid_until_set_by IS NULL))
) WITH (fillfactor = 80);
-- Client-wide revocation (rare, administrative).
CREATE INDEX grants_client_idx ON grants (client_id, subject);

-- Per grant and scope: until when some token of the pair holds the scope (in its access or
-- refresh token scopes), and when a resource server last required it.
CREATE TABLE grant_scopes (
    subject text NOT NULL,
    client_id bigint NOT NULL,
    scope text NOT NULL CHECK (length(scope) BETWEEN 1 AND 100),
    -- max(live_until) of the tokens holding this scope: held exactly while held_until > now.
    held_until timestamptz NOT NULL,
    -- Since when tokendesk has watched whether this scope is needed (the "not needed in the
    -- last 90 days" mark waits until it has watched that long).
    watched_since timestamptz NOT NULL DEFAULT now(),
    -- Written by introspection with required scopes, at most once a minute.
    last_needed_at timestamptz,
    PRIMARY KEY (subject, client_id, scope),
    FOREIGN KEY (subject, client_id) REFERENCES grants (subject, client_id) ON DELETE CASCADE
) WITH (fillfactor = 80);

-- Requests per grant and day (UTC), counted by introspection and written in batches.
CREATE TABLE grant_usage (
    subject text NOT NULL,
    client_id bigint NOT NULL,
    day date NOT NULL,
    requests bigint NOT NULL CHECK (requests > 0),
    PRIMARY KEY (subject, client_id, day),
    FOREIGN KEY (subject, client_id) REFERENCES grants (subject, client_id) ON DELETE CASCADE
) WITH (fillfactor = 80);

-- Backfill from the tokens there are.
INSERT INTO grants (subject, client_id, token_count, first_authorized_at, last_used_at,
                    last_refreshed_at, live_until)
SELECT subject, client_id, count(*), min(created_at), max(last_used_at), max(last_refreshed_at),
       max(greatest(access_token_expires_at, refresh_token_expires_at))
FROM access_tokens
WHERE subject IS NOT NULL
GROUP BY subject, client_id;

INSERT INTO grant_scopes (subject, client_id, scope, held_until)
SELECT subject, client_id, s, max(live_until)
FROM (SELECT subject, client_id, scopes || coalesce(refresh_token_scopes, '{}') AS held,
             max(greatest(access_token_expires_at, refresh_token_expires_at)) AS live_until
      FROM access_tokens
      WHERE subject IS NOT NULL
      GROUP BY 1, 2, 3) AS sets, unnest(held) AS s
GROUP BY 1, 2, 3;
