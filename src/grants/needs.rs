//! Which permissions an app really uses. Introspection with required `scopes` records, per
//! grant and scope, when a resource server last required the scope (at most once a minute per
//! grant and scope; `tokens::introspect_at`). A held scope is *unused* when tokendesk has watched it
//! for at least [`UNUSED_DAYS`] days, it was not needed in that time, and the same app needed
//! another of its permissions in that time — the evidence that its resource servers do say what
//! their requests need (without it, every permission of an app whose resource servers never
//! send `scopes` would look unused). So "remove unused permissions" always leaves the app at
//! least one permission it uses.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use serde::Deserialize;

use super::maintain;
use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::tokens::{self, PairUpdate};

/// How long a permission must go unneeded before it is marked unused.
pub const UNUSED_DAYS: i64 = 90;

/// The reason written to the audit trail (and shown on the user's activity page) when unused
/// permissions are removed.
pub const UNUSED_REASON: &str = "not needed in the last 90 days";

/// What tokendesk knows about the use of one scope a grant holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, QueryableByName)]
pub struct ScopeUse {
    #[diesel(sql_type = Text)]
    pub scope: String,
    #[diesel(sql_type = Timestamptz)]
    pub watched_since: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    pub last_needed_at: Option<DateTime<Utc>>,
}

/// The verdict about one held scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A resource server required it at this moment, within the last [`UNUSED_DAYS`] days.
    Recent(DateTime<Utc>),
    /// Not needed in the last [`UNUSED_DAYS`] days (see the module documentation).
    Unused,
    /// Not needed (recently, or ever), but watched for less than [`UNUSED_DAYS`] days, or the
    /// app's resource servers have not yet said what their requests need: no verdict.
    Unknown,
}

/// Judges every held scope of one grant at `now`, in the order given.
pub fn judge(uses: &[ScopeUse], now: DateTime<Utc>) -> Vec<Need> {
    let window = now - Duration::days(UNUSED_DAYS);
    let evidence = uses
        .iter()
        .any(|u| u.last_needed_at.is_some_and(|t| t > window));
    uses.iter()
        .map(|u| match u.last_needed_at {
            Some(t) if t > window => Need::Recent(t),
            _ if evidence && u.watched_since <= window => Need::Unused,
            _ => Need::Unknown,
        })
        .collect()
}

/// The scopes among `uses` that are unused at `now`.
pub fn unused_scopes(uses: &[ScopeUse], now: DateTime<Utc>) -> Vec<String> {
    uses.iter()
        .zip(judge(uses, now))
        .filter(|(_, n)| *n == Need::Unused)
        .map(|(u, _)| u.scope.clone())
        .collect()
}

/// The use of every scope the grant holds at `now`, by scope name. One statement on the
/// grant's key.
pub fn held_scope_uses(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Vec<ScopeUse>> {
    diesel::sql_query(
        "SELECT scope, watched_since, last_needed_at FROM grant_scopes
         WHERE subject = $1 AND client_id = $2 AND held_until > $3
         ORDER BY scope",
    )
    .bind::<Text, _>(subject)
    .bind::<BigInt, _>(client_id)
    .bind::<Timestamptz, _>(now)
    .load(conn)
}

/// What removing unused permissions did.
#[derive(Debug, Clone)]
pub struct RemovedUnused {
    /// The pair update (its `removed` names what went).
    pub update: PairUpdate,
    /// Scopes asked for that were needed since the page was shown: kept.
    pub kept_needed: Vec<String>,
}

/// "Remove unused permissions": takes `requested` (the unused scopes the user was shown) away
/// from every token of the app — the same removal as the permissions form
/// (`tokens::remove_pair_scopes`), with [`UNUSED_REASON`] in its audit row. Scopes asked for that are no longer unused (a resource
/// server needed them since) stay and are reported. Nothing unused among them:
/// [`AppError::Invalid`] on field `scopes`, and nothing changes.
pub fn remove_unused(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    requested: &[String],
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<RemovedUnused> {
    crate::db::transaction(conn, |c| {
        maintain::lock(c, subject, client_id)?.ok_or(AppError::NotFound)?;
        let uses = held_scope_uses(c, subject, client_id, now)?;
        let unused = unused_scopes(&uses, now);
        let (remove, kept_needed): (Vec<String>, Vec<String>) = requested
            .iter()
            .filter(|s| uses.iter().any(|u| &u.scope == *s))
            .cloned()
            .partition(|s| unused.contains(s));
        if remove.is_empty() {
            return Err(AppError::invalid(
                "scopes",
                "None of these permissions is unused any more; nothing was removed.",
            ));
        }
        // The same removal as a permissions form's: each token keeps what it holds minus these.
        let update =
            tokens::remove_pair_scopes(c, client_id, subject, &remove, actor, Some(UNUSED_REASON))?;
        Ok(RemovedUnused {
            update,
            kept_needed: kept_needed.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(scope: &str, watched_days_ago: i64, needed_days_ago: Option<i64>) -> ScopeUse {
        let now = Utc::now();
        ScopeUse {
            scope: scope.into(),
            watched_since: now - Duration::days(watched_days_ago),
            last_needed_at: needed_days_ago.map(|d| now - Duration::days(d)),
        }
    }

    #[test]
    fn a_scope_is_unused_only_with_evidence_and_a_long_enough_watch() {
        let now = Utc::now();
        let uses = [
            used("read", 200, Some(3)),
            used("write", 200, None),
            used("photos", 200, Some(120)),
            used("new", 10, None),
        ];
        let verdicts = judge(&uses, now);
        assert!(matches!(verdicts[0], Need::Recent(_)));
        assert_eq!(verdicts[1], Need::Unused);
        assert_eq!(verdicts[2], Need::Unused, "needed, but not in 90 days");
        assert_eq!(verdicts[3], Need::Unknown, "watched for 10 days only");
        assert_eq!(unused_scopes(&uses, now), vec!["write", "photos"]);
        // Without any recent need, nothing is judged unused.
        let silent = [used("read", 200, None), used("write", 200, Some(100))];
        assert_eq!(judge(&silent, now), vec![Need::Unknown, Need::Unknown]);
    }
}
