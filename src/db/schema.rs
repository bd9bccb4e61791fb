// @generated automatically by Diesel CLI.

diesel::table! {
    access_tokens (id) {
        id -> Int8,
        access_token_hash -> Text,
        refresh_token_hash -> Nullable<Text>,
        client_id -> Int8,
        subject -> Nullable<Text>,
        grant_type -> Text,
        scopes -> Array<Text>,
        refresh_token_scopes -> Nullable<Array<Text>>,
        created_at -> Timestamptz,
        access_token_expires_at -> Timestamptz,
        refresh_token_expires_at -> Nullable<Timestamptz>,
        last_refreshed_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        properties -> Jsonb,
        version -> Int8,
        authorization_details -> Nullable<Jsonb>,
        shard_key -> Text,
    }
}

diesel::table! {
    accounts (id) {
        id -> Int8,
        subject -> Text,
        login -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        disabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        zoneinfo -> Nullable<Text>,
        oidc_issuer -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        api_key -> Text,
        secret_hash -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        kind -> Text,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor_kind -> Text,
        actor_id -> Text,
        action -> Text,
        client_id -> Nullable<Int8>,
        subject -> Nullable<Text>,
        token_hash -> Nullable<Text>,
        affected_count -> Nullable<Int8>,
        state_before -> Nullable<Jsonb>,
        state_after -> Nullable<Jsonb>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        shard_key -> Text,
    }
}

diesel::table! {
    client_scopes (client_id, scope_name) {
        client_id -> Int8,
        scope_name -> Text,
    }
}

diesel::table! {
    clients (client_id) {
        client_id -> Int8,
        client_id_alias -> Nullable<Text>,
        name -> Text,
        description -> Text,
        developer -> Text,
        logo_uri -> Nullable<Text>,
        home_uri -> Nullable<Text>,
        single_access_token_per_subject -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        secret_hash -> Nullable<Text>,
    }
}

diesel::table! {
    grant_scopes (subject, client_id, scope) {
        subject -> Text,
        client_id -> Int8,
        scope -> Text,
        held_until -> Timestamptz,
        watched_since -> Timestamptz,
        last_needed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    grant_usage (subject, client_id, day) {
        subject -> Text,
        client_id -> Int8,
        day -> Date,
        requests -> Int8,
    }
}

diesel::table! {
    grants (subject, client_id) {
        subject -> Text,
        client_id -> Int8,
        token_count -> Int8,
        first_authorized_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        last_refreshed_at -> Nullable<Timestamptz>,
        live_until -> Nullable<Timestamptz>,
        valid_until -> Nullable<Timestamptz>,
        valid_until_set_by -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    rotated_refresh_tokens (refresh_token_hash) {
        refresh_token_hash -> Text,
        token_id -> Int8,
        rotated_at -> Timestamptz,
        shard_key -> Nullable<Text>,
    }
}

diesel::table! {
    scopes (name) {
        name -> Text,
        description -> Text,
        access_token_duration -> Nullable<Int8>,
        refresh_token_duration -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    service_settings (id) {
        id -> Int2,
        supported_scopes_only -> Bool,
        access_token_duration -> Int8,
        refresh_token_duration -> Int8,
        single_access_token_per_subject -> Bool,
        max_staff_token_lifetime -> Int8,
        updated_at -> Timestamptz,
        refresh_token_kept -> Bool,
        refresh_token_duration_kept -> Bool,
        refresh_token_duration_reset -> Bool,
        service_id -> Int8,
        issuer -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Int8,
        id_hash -> Text,
        account_id -> Int8,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        end_reason -> Nullable<Text>,
        oidc_issuer -> Nullable<Text>,
        oidc_sub -> Nullable<Text>,
        oidc_sid -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_throttle (kind, key) {
        kind -> Text,
        key -> Text,
        attempts -> Int4,
        window_started_at -> Timestamptz,
        not_before -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ssf_outbox (id) {
        id -> Int8,
        stream_id -> Text,
        jti -> Uuid,
        txn -> Text,
        audit_event_id -> Nullable<Int8>,
        event_type -> Text,
        subject_user -> Nullable<Text>,
        subject_client -> Nullable<Int8>,
        subject_token -> Nullable<Text>,
        event -> Jsonb,
        order_key -> Text,
        bypass_status -> Bool,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        leased_by -> Nullable<Text>,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        shard_key -> Text,
    }
}

diesel::table! {
    ssf_receivers (id) {
        id -> Int8,
        name -> Text,
        credential_id -> Text,
        secret_hash -> Text,
        audience -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ssf_signing_keys (kid) {
        kid -> Text,
        private_key -> Bytea,
        public_jwk -> Jsonb,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
        published_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ssf_stream_subjects (id) {
        id -> Int8,
        stream_id -> Text,
        user_subject -> Nullable<Text>,
        client_id -> Nullable<Int8>,
        token_hash -> Nullable<Text>,
        included -> Bool,
        subject -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ssf_streams (stream_id) {
        stream_id -> Text,
        receiver_id -> Int8,
        delivery_method -> Text,
        endpoint_url -> Nullable<Text>,
        authorization_header -> Nullable<Text>,
        events_requested -> Nullable<Array<Nullable<Text>>>,
        events_delivered -> Array<Nullable<Text>>,
        description -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        default_subjects -> Text,
        last_verification_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        poll_waiting_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ssf_wakeup (id) {
        id -> Bool,
        wanted -> Bool,
    }
}

diesel::table! {
    token_directory (token_hash) {
        token_hash -> Text,
        shard_key -> Text,
    }
}

diesel::joinable!(access_tokens -> clients (client_id));
diesel::joinable!(client_scopes -> clients (client_id));
diesel::joinable!(client_scopes -> scopes (scope_name));
diesel::joinable!(grants -> clients (client_id));
diesel::joinable!(rotated_refresh_tokens -> access_tokens (token_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(ssf_outbox -> ssf_streams (stream_id));
diesel::joinable!(ssf_stream_subjects -> ssf_streams (stream_id));
diesel::joinable!(ssf_streams -> ssf_receivers (receiver_id));

diesel::allow_tables_to_appear_in_same_query!(
    access_tokens,
    accounts,
    api_keys,
    audit_events,
    client_scopes,
    clients,
    grant_scopes,
    grant_usage,
    grants,
    rotated_refresh_tokens,
    scopes,
    service_settings,
    sessions,
    sign_in_throttle,
    ssf_outbox,
    ssf_receivers,
    ssf_signing_keys,
    ssf_stream_subjects,
    ssf_streams,
    ssf_wakeup,
    token_directory,
);
