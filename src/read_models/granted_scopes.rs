//! What a user granted an app, in Authlete's granted-scopes shape
//! (`/client/granted_scopes/get/{clientId}`), read from the grant record — the one table that
//! owns "what this user granted this app" (`grants`, `grant_scopes`; see `docs/GRANTS.md`) —
//! so that it narrows whenever the user, support or the API narrows the app's tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};

/// A pair's granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScopes {
    /// The scopes of the pair's newest token that can still be used or renewed (its access and
    /// refresh token scopes): what the latest authorization granted, as narrowed since.
    pub latest: Vec<String>,
    /// Every scope some token of the pair still holds or can renew (`grant_scopes` rows held
    /// after now).
    pub merged: Vec<String>,
    /// When the pair's grant last changed: the latest token event of the pair in the audit
    /// trail (issued, refreshed, narrowed, revoked), else when it was first authorized.
    pub modified_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Array<Text>)]
    merged: Vec<String>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    latest: Option<Vec<String>>,
    #[diesel(sql_type = Timestamptz)]
    modified_at: DateTime<Utc>,
}

/// One statement over the pair's keys: the grant row, its scope rows, the newest live token
/// (`(subject, client_id, …)` index) and the pair's latest audit event (index on subject).
/// Every table is filtered by the pair's own values rather than correlated to the grant's row,
/// so that Citus routes the whole statement to the pair's shard (correlated, the token's
/// `ORDER BY … LIMIT 1` made it ask every shard).
const SQL: &str = "
SELECT ARRAY(SELECT s.scope FROM grant_scopes s
             WHERE s.subject = $1 AND s.client_id = $2 AND s.held_until > now()
             ORDER BY s.scope) AS merged,
       (SELECT t.scopes || coalesce(t.refresh_token_scopes, '{}') FROM access_tokens t
        WHERE t.subject = $1 AND t.shard_key = $1 AND t.client_id = $2
          AND greatest(t.access_token_expires_at, t.refresh_token_expires_at) > now()
        ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS latest,
       coalesce((SELECT max(e.occurred_at) FROM audit_events e
                 WHERE e.subject = $1 AND e.shard_key = $1 AND e.client_id = $2
                   AND (e.action LIKE 'token.%' OR e.action LIKE 'authorization.%'
                        OR e.action LIKE 'grant.%')),
                g.first_authorized_at, g.created_at) AS modified_at
FROM grants g
WHERE g.subject = $1 AND g.client_id = $2";

/// The granted scopes of `subject` for `client_id`; `None` when the pair has no grant.
pub fn granted_scopes(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
) -> QueryResult<Option<GrantedScopes>> {
    if subject.contains('\0') {
        return Ok(None);
    }
    let row: Option<Row> = diesel::sql_query(SQL)
        .bind::<Text, _>(subject)
        .bind::<BigInt, _>(client_id)
        .get_result(conn)
        .optional()?;
    Ok(row.map(|r| {
        let mut latest = r.latest.unwrap_or_default();
        latest.sort();
        latest.dedup();
        GrantedScopes {
            latest,
            merged: r.merged,
            modified_at: r.modified_at,
        }
    }))
}
