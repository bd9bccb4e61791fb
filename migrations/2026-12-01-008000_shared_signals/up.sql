-- Shared Signals (SSF 1.0) transmitter: signing keys, receivers and their credentials, event
-- streams with their subjects, and the transactional outbox every Security Event Token is
-- delivered from (push, RFC 8935, or poll, RFC 8936). See docs/SIGNALS.md.

-- RS256 keys that sign SETs. The one whose `retired_at` is NULL signs; a retired key stays in
-- the published key set until `published_until`, so that receivers holding SETs it signed can
-- still check them after a rotation.
CREATE TABLE ssf_signing_keys (
    -- The RFC 7638 thumbprint of the public key (base64url SHA-256).
    kid text PRIMARY KEY CHECK (length(kid) = 43 AND kid ~ '^[A-Za-z0-9_-]+$'),
    -- PKCS#8 DER of the RSA private key (at least 2048 bits).
    private_key bytea NOT NULL,
    -- The public key as a JWK (kty, n, e, kid, use, alg).
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    published_until timestamptz,
    CONSTRAINT ssf_signing_keys_retired CHECK ((retired_at IS NULL) = (published_until IS NULL))
);
-- At most one key signs at a time; two instances generating the first key at once collide
-- here, and the second reads the first's.
CREATE UNIQUE INDEX ssf_signing_keys_one_active ON ssf_signing_keys ((true))
    WHERE retired_at IS NULL;

-- Receivers: the systems (resource servers, apps) that manage streams. Each has a credential of
-- its own: a public id and a secret shown once, stored as its SHA-256 (256 random bits, so a
-- slow hash adds nothing). The secret is presented as `Authorization: Bearer …`, or with the id
-- as HTTP Basic.
CREATE TABLE ssf_receivers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    credential_id text NOT NULL UNIQUE CHECK (credential_id ~ '^tdr_[A-Za-z0-9_-]{24}$'),
    secret_hash text NOT NULL UNIQUE
        CHECK (length(secret_hash) = 43 AND secret_hash ~ '^[A-Za-z0-9_-]+$'),
    -- The `aud` of every SET sent on this receiver's streams.
    audience text NOT NULL CHECK (length(audience) BETWEEN 1 AND 2048),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    -- Written at most once a minute (in no index, so that the write is a HOT update).
    last_used_at timestamptz
) WITH (fillfactor = 80);

-- Event streams (SSF §8.1.1). Receiver-supplied: delivery, events_requested, description; the
-- rest is the transmitter's.
CREATE TABLE ssf_streams (
    stream_id text PRIMARY KEY CHECK (stream_id ~ '^[A-Za-z0-9_-]{22,64}$'),
    receiver_id bigint NOT NULL REFERENCES ssf_receivers (id) ON DELETE CASCADE,
    delivery_method text NOT NULL
        CHECK (delivery_method IN ('urn:ietf:rfc:8935', 'urn:ietf:rfc:8936')),
    -- The receiver's endpoint (push only; a poll stream's endpoint is the transmitter's).
    endpoint_url text CHECK (length(endpoint_url) <= 2048),
    -- Sent as the `Authorization` header of every push; never shown outside the receiver's own
    -- stream configuration, never in the audit trail.
    authorization_header text CHECK (length(authorization_header) <= 4096),
    -- As the receiver asked (NULL: not given, which means every supported event).
    events_requested text[],
    -- What the stream carries: events_requested ∩ events_supported.
    events_delivered text[] NOT NULL,
    description text CHECK (length(description) <= 1000),
    status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'paused', 'disabled')),
    status_reason text CHECK (length(status_reason) <= 1000),
    -- Subjects a new stream carries before any add/remove (the transmitter's default when the
    -- stream was made).
    default_subjects text NOT NULL CHECK (default_subjects IN ('ALL', 'NONE')),
    last_verification_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ssf_streams_push_has_endpoint
        CHECK ((delivery_method = 'urn:ietf:rfc:8935') = (endpoint_url IS NOT NULL)),
    CONSTRAINT ssf_streams_poll_has_no_header
        CHECK (delivery_method = 'urn:ietf:rfc:8935' OR authorization_header IS NULL)
);
CREATE INDEX ssf_streams_receiver_idx ON ssf_streams (receiver_id);

-- Subjects added to (`included`) or removed from a stream (SSF §8.1.3). A subject is what
-- tokendesk's events carry: a user (`iss_sub`), an application (client id) and, for one token,
-- its hash; NULL members are wildcards (SSF's complex subject matching).
CREATE TABLE ssf_stream_subjects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL REFERENCES ssf_streams (stream_id) ON DELETE CASCADE,
    user_subject text CHECK (length(user_subject) <= 255),
    client_id bigint,
    token_hash text CHECK (length(token_hash) = 43),
    included boolean NOT NULL,
    -- The subject as the receiver sent it, for reading back.
    subject jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ssf_stream_subjects_not_empty
        CHECK (user_subject IS NOT NULL OR client_id IS NOT NULL OR token_hash IS NOT NULL),
    CONSTRAINT ssf_stream_subjects_once
        UNIQUE NULLS NOT DISTINCT (stream_id, user_subject, client_id, token_hash)
);

-- The outbox: one row per SET per stream, written in the transaction of the change it tells
-- of. The worker signs and pushes pending rows (or a poll hands them out), claims them with a
-- lease that expires, and records the outcome here.
CREATE TABLE ssf_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL REFERENCES ssf_streams (stream_id) ON DELETE CASCADE,
    jti uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    -- Shared by every SET of one transaction (one change).
    txn text NOT NULL,
    -- The audit event the SET tells of (NULL for verification and stream-updated).
    audit_event_id bigint,
    -- The event type URI.
    event_type text NOT NULL,
    -- The subject: user (OAuth subject), application (client id), one token (its hash).
    subject_user text,
    subject_client bigint,
    subject_token text,
    -- The event object inside the SET's `events` claim.
    event jsonb NOT NULL,
    -- Events of one key are delivered in id order, one at a time.
    order_key text NOT NULL,
    -- Stream-updated events go out even while the stream is paused or disabled (SSF §8.1.5).
    bypass_status boolean NOT NULL DEFAULT false,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'dead', 'dropped')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_until timestamptz,
    leased_by text,
    last_status integer,
    last_error text CHECK (length(last_error) <= 1000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at timestamptz
) WITH (fillfactor = 80);
-- Claiming due rows in order, across streams.
CREATE INDEX ssf_outbox_pending_idx ON ssf_outbox (id) WHERE state = 'pending';
-- One at a time per key, and a poll's rows in order.
CREATE INDEX ssf_outbox_order_idx ON ssf_outbox (stream_id, order_key, id) WHERE state = 'pending';
-- A stream's recent deliveries (the console).
CREATE INDEX ssf_outbox_stream_idx ON ssf_outbox (stream_id, id);
-- Dead letters, counted for the metrics and the console.
CREATE INDEX ssf_outbox_dead_idx ON ssf_outbox (stream_id) WHERE state = 'dead';

-- The `txn` of the current transaction: made once, then the same for every SET it writes.
CREATE FUNCTION ssf_txn() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(nullif(current_setting('tokendesk.ssf_txn', true), ''),
                    set_config('tokendesk.ssf_txn', gen_random_uuid()::text, true))
$$;

-- Whether the stream carries events about this subject: one it added that matches, or, on a
-- stream of all subjects, none it removed that matches. Members NULL on either side match
-- anything (SSF §8.1.3.1).
CREATE FUNCTION ssf_stream_wants(p_stream text, p_default_subjects text,
                                 p_user text, p_client bigint, p_token text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT bool_or(f.included)
         FROM ssf_stream_subjects f
         WHERE f.stream_id = p_stream
           AND (f.user_subject IS NULL OR f.user_subject = p_user)
           AND (f.client_id IS NULL OR f.client_id = p_client)
           AND (f.token_hash IS NULL OR p_token IS NULL OR f.token_hash = p_token)
           -- A removal counts only where nothing added matches.
           AND (f.included OR p_default_subjects = 'ALL')),
        p_default_subjects = 'ALL')
$$;

-- The CAEP event an audit event tells receivers of: none or one. This is the one place that
-- decides which token changes are signalled, and how (docs/SIGNALS.md, "What is sent when").
CREATE FUNCTION ssf_event_of(e audit_events)
RETURNS TABLE (event_type text, token_hash text, body jsonb)
LANGUAGE sql STABLE AS $$
    WITH facts AS (
        SELECT
            CASE
                WHEN e.action = 'token.sweep' THEN 'policy'
                WHEN e.actor_kind = 'user' THEN 'user'
                WHEN e.actor_kind = 'api' THEN 'system'
                ELSE 'admin'
            END AS initiating_entity,
            CASE e.actor_kind
                WHEN 'user' THEN 'the end user'
                WHEN 'support' THEN 'support staff'
                WHEN 'admin' THEN 'an administrator'
                WHEN 'api' THEN 'the authorization server'
                ELSE 'an operator'
            END AS who,
            (SELECT array_agg(s ORDER BY s)
             FROM jsonb_array_elements_text(e.state_before -> 'scopes') s) AS scopes_before,
            (SELECT array_agg(s ORDER BY s)
             FROM jsonb_array_elements_text(e.state_after -> 'scopes') s) AS scopes_after,
            (SELECT string_agg(s, ' ')
             FROM jsonb_array_elements_text(e.state_after -> 'scopes') s) AS scope_string,
            e.state_after ? 'accessTokenHash'
                AND e.state_after ->> 'accessTokenHash' IS DISTINCT FROM e.token_hash
                AS rotated
    ), kinds AS (
        SELECT
            CASE
                -- A new value (a rotation by support, or a refresh, which renews the token
                -- in place): the old access token no longer works.
                WHEN e.action IN ('token.update', 'token.refresh') AND f.rotated
                    THEN 'token-revoked'
                WHEN e.action = 'token.update'
                     AND (f.scopes_before IS DISTINCT FROM f.scopes_after
                          OR e.state_before ->> 'accessTokenExpiresAt'
                             IS DISTINCT FROM e.state_after ->> 'accessTokenExpiresAt')
                    THEN 'token-claims'
                WHEN e.action = 'authorization.update'
                     AND coalesce((e.state_after ->> 'changedTokens')::bigint, 0) > 0
                    THEN 'pair-claims'
                WHEN e.action = 'grant.limit'
                     AND coalesce((e.state_after ->> 'cappedTokens')::bigint, 0) > 0
                    THEN 'pair-expiry'
                -- A rotated refresh token presented again revokes its whole token (RFC 9700).
                WHEN e.action IN ('token.revoke', 'token.delete', 'token.refresh_reuse')
                     AND e.token_hash IS NOT NULL
                    THEN 'token-revoked'
                WHEN e.action IN ('token.revoke', 'authorization.delete', 'token.replace')
                     AND coalesce(e.affected_count, 0) > 0
                    THEN 'pair-revoked'
                -- A sweep takes tokens that expired long ago; only an app left without any
                -- token has lost its access.
                WHEN e.action = 'token.sweep' AND e.subject IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM access_tokens t
                                     WHERE t.client_id = e.client_id AND t.subject = e.subject)
                    THEN 'pair-revoked'
            END AS kind,
            f.*
        FROM facts f
    )
    SELECT
        CASE WHEN k.kind LIKE '%revoked'
             THEN 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
             ELSE 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change'
        END,
        CASE WHEN k.kind LIKE 'token-%' THEN e.token_hash END,
        jsonb_strip_nulls(jsonb_build_object(
            'event_timestamp', floor(extract(epoch FROM e.occurred_at))::bigint,
            'initiating_entity', k.initiating_entity,
            'reason_admin', jsonb_build_object('en', coalesce(
                CASE WHEN e.action = 'token.sweep'
                     THEN 'Expired tokens were deleted by the retention policy ('
                          || coalesce(e.reason, 'expired') || ')' END,
                e.reason,
                CASE k.kind
                    WHEN 'token-revoked' THEN
                        CASE WHEN k.rotated THEN 'The token was given a new value by '
                             ELSE 'The token was revoked by ' END || k.who
                    WHEN 'pair-revoked' THEN 'The app''s access was revoked by ' || k.who
                    WHEN 'token-claims' THEN 'The token''s scopes or expiry were changed by '
                                             || k.who
                    WHEN 'pair-claims' THEN 'The scopes of the app''s tokens were changed by '
                                            || k.who
                    ELSE 'The app''s access was limited in time by ' || k.who
                END)),
            'reason_user', CASE WHEN e.actor_kind = 'user' THEN jsonb_build_object('en',
                CASE k.kind
                    WHEN 'token-revoked' THEN 'You revoked this token.'
                    WHEN 'pair-revoked' THEN 'You revoked this app''s access.'
                    WHEN 'pair-expiry' THEN 'You limited this app''s access in time.'
                    ELSE 'You took permissions back from this app.'
                END) END,
            'claims', CASE k.kind
                WHEN 'token-claims' THEN jsonb_build_object(
                    'scope', coalesce(k.scope_string, ''),
                    'exp', floor(extract(epoch FROM
                        (e.state_after ->> 'accessTokenExpiresAt')::timestamptz))::bigint)
                WHEN 'pair-claims' THEN jsonb_build_object('scope', coalesce(k.scope_string, ''))
                WHEN 'pair-expiry' THEN jsonb_build_object('exp', floor(extract(epoch FROM
                        (e.state_after ->> 'validUntil')::timestamptz))::bigint)
            END))
    FROM kinds k
    WHERE k.kind IS NOT NULL
$$;

-- Every audit event a statement writes gets its SETs in the same statement's transaction: one
-- outbox row per stream that wants it. A statement-level trigger, so that a pair change of
-- 10,000 tokens (one audit row) is one insert of a row per stream, and a deployment without
-- streams pays one look at an empty table.
CREATE FUNCTION ssf_enqueue_audit_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ssf_streams WHERE status <> 'disabled') THEN
        RETURN NULL;
    END IF;
    INSERT INTO ssf_outbox (stream_id, txn, audit_event_id, event_type, subject_user,
                            subject_client, subject_token, event, order_key)
    SELECT s.stream_id, ssf_txn(), n.id, ev.event_type, n.subject, n.client_id, ev.token_hash,
           ev.body, coalesce(n.client_id::text, '') || '/' || coalesce(n.subject, '')
    FROM new_events n
    CROSS JOIN LATERAL ssf_event_of(n) ev
    JOIN ssf_streams s ON s.status <> 'disabled' AND ev.event_type = ANY (s.events_delivered)
    WHERE ssf_stream_wants(s.stream_id, s.default_subjects, n.subject, n.client_id,
                           ev.token_hash)
    ORDER BY n.id, s.stream_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_events_signal
    AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION ssf_enqueue_audit_events();
