-- The server-side record of signed-in sessions: a session cookie opens pages only while its row
-- here is live, so that signing out, signing out everywhere, an account change or an OpenID
-- Provider's back-channel logout ends a session on every instance at once.
CREATE TABLE sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- base64url SHA-256 of the random session id the cookie carries; the id itself is never
    -- stored. Renewing a session (sign out everywhere) replaces it and keeps the row.
    id_hash text NOT NULL UNIQUE
        CHECK (length(id_hash) = 43 AND id_hash ~ '^[A-Za-z0-9_-]+$'),
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The absolute time-out counts from here.
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The idle time-out counts from here. Rewritten at most once a minute, and in no index, so
    -- that the rewrite is a HOT update.
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the session was ended before its time-outs; the row stays until swept.
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN
        ('signed_out', 'signed_out_everywhere', 'account_changed', 'oidc_logout')),
    -- A sign-in through an OpenID Provider: its issuer, and the ID token's `sub` and `sid`
    -- (the OP's session), which a back-channel logout token names. NULL for password sign-ins.
    oidc_issuer text,
    oidc_sub text,
    oidc_sid text,
    CONSTRAINT sessions_ended_with_reason CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
    CONSTRAINT sessions_oidc_complete
        CHECK ((oidc_issuer IS NULL) = (oidc_sub IS NULL)
               AND (oidc_sid IS NULL OR oidc_issuer IS NOT NULL))
) WITH (fillfactor = 80);

-- Ending every session of an account, the account's own clean-up at sign-in, and the
-- foreign key's cascade.
CREATE INDEX sessions_account_idx ON sessions (account_id);
-- Back-channel logout: by the OP's session, or by subject, always within one issuer.
CREATE INDEX sessions_oidc_sid_idx ON sessions (oidc_issuer, oidc_sid) WHERE oidc_sid IS NOT NULL;
CREATE INDEX sessions_oidc_sub_idx ON sessions (oidc_issuer, oidc_sub) WHERE oidc_sub IS NOT NULL;

-- A change of role, a disable and a new password end the account's live sessions, whichever
-- door made the change (the domain, the admin console, psql). `accounts::update_account` ends
-- them itself first, so that its audit event carries the count; this trigger is what makes
-- the rule hold for a change made any other way.
CREATE FUNCTION sessions_end_on_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET ended_at = now(), end_reason = 'account_changed'
    WHERE account_id = NEW.id AND ended_at IS NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_end_sessions
    AFTER UPDATE OF role, disabled, password_hash ON accounts
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role
          OR (NEW.disabled AND NOT OLD.disabled)
          OR OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION sessions_end_on_account_change();
