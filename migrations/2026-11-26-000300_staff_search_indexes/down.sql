DROP INDEX IF EXISTS audit_events_actor_id_idx;
DROP INDEX IF EXISTS access_tokens_hash_pattern_idx;
DROP INDEX IF EXISTS accounts_login_lower_pattern_idx;
