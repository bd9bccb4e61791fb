//! Every token of one client + subject pair at once (Authlete's `/client/authorization/update`
//! and `/client/authorization/delete`): one set-based statement each, whatever the number of
//! tokens, with the audit row written by the same statement.
//!
//! A pair change says, in its audit row, what each token gained and lost (`removed` and
//! `added`: scope → number of tokens), so that the trail, the user's Activity and the pages'
//! messages can name every scope added and removed in one wording
//! (`read_models::audit_words::scope_change_parts`).

use std::sync::LazyLock;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text};

use super::policy;
use super::update::quoted;
use crate::audit::{Actor, ActorKind};
use crate::db::prepared::prepared;
use crate::error::{AppError, AppResult};
use crate::grants::maintain;
use crate::token_directory::directory_forget_cte;
use crate::validate::dedup_scopes;

/// How the requested scopes apply to each token of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeMode {
    /// Authlete's semantics: every token gets exactly the requested scopes (after dropping those
    /// the client may not hold). For end users this behaves as [`ScopeMode::Narrow`]: a user
    /// never gives a token a scope it did not hold.
    Set,
    /// Each token keeps its current scopes ∩ the requested ones, so unticking a scope never adds
    /// another scope to any token.
    Narrow,
    /// The requested scopes are the ones to take away: each token keeps what it holds now minus
    /// them. What a form means when it was loaded before another change was saved: a scope
    /// removed meanwhile stays removed (and is no error), one added meanwhile is kept. Anyone
    /// may remove.
    Remove,
    /// The requested scopes are given to every token that lacks them (staff and the API only,
    /// within the scopes the client may hold); what each token holds stays.
    Add,
}

impl ScopeMode {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ScopeMode::Set => "set",
            ScopeMode::Narrow => "narrow",
            ScopeMode::Remove => "remove",
            ScopeMode::Add => "add",
        }
    }
}

/// A pair change as a page asks for it: the pair, the scopes and how they apply, and (staff's
/// confirmation step) the state of the pair that was reviewed.
#[derive(Debug, Clone, Copy)]
pub struct PairChange<'a> {
    pub client_id: i64,
    pub subject: &'a str,
    pub scopes: &'a [String],
    pub mode: ScopeMode,
    /// The [`super::PairPreview::state`] the caller reviewed: another one now (a token of the
    /// pair changed, appeared or went since) is [`AppError::Conflict`] and nothing changes.
    pub reviewed_state: Option<&'a str>,
}

/// The message of a pair that changed between its review and its confirmation.
pub const PAIR_CHANGED_MEANWHILE: &str =
    "the tokens of this app changed since you reviewed the change; review it again";

/// A scope and the number of tokens that gained or lost it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ScopeCount {
    pub scope: String,
    pub tokens: i64,
}

/// What a pair update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairUpdate {
    /// Tokens of the pair the update applied to, changed or not: every token of the pair, or for
    /// end users every token that is not spent. This is the N of "Updated N access token(s)".
    pub updated: u64,
    /// Of those, the tokens whose scopes actually changed (and whose `version` went up).
    pub changed: u64,
    /// The scopes applied: the request, deduplicated, minus `dropped`.
    pub scopes: Vec<String>,
    /// Requested scopes the client may not hold, which were dropped.
    pub dropped: Vec<String>,
    /// Scopes that some token (access or refresh) held before and none holds after.
    pub removed: Vec<String>,
    /// Scopes that some token holds after and none held before.
    pub added: Vec<String>,
    /// Each scope some token lost, with the number of tokens that lost it, by name.
    pub lost: Vec<ScopeCount>,
    /// Each scope some token gained, with the number of tokens that gained it, by name.
    pub gained: Vec<ScopeCount>,
}

#[derive(QueryableByName)]
struct PairRead {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    live: i64,
    #[diesel(sql_type = Array<Text>)]
    held: Vec<String>,
    #[diesel(sql_type = Text)]
    state: String,
    /// The live tokens by scopes, as JSON text: `[{"scopes", "refresh", "n", "live_until"}]`
    /// (handed back to the update statement as it came).
    #[diesel(sql_type = Text)]
    groups: String,
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    updated: i64,
    #[diesel(sql_type = BigInt)]
    changed: i64,
    #[diesel(sql_type = Array<Text>)]
    after: Vec<String>,
    #[diesel(sql_type = Jsonb)]
    lost: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    gained: serde_json::Value,
    /// The audit event written (none or one), for its SETs on Citus.
    #[diesel(sql_type = Array<BigInt>)]
    event_ids: Vec<i64>,
}

/// `$3` true: only the tokens that are not spent (end users and staff), else all.
pub(super) const IN_SCOPE: &str =
    "(NOT $3 OR access_token_expires_at > now() OR refresh_token_expires_at > now())";

/// A digest of the pair's live tokens and their versions, from rows `id`, `version`: it changes
/// whenever one of them changes, appears or goes.
pub(super) const STATE_DIGEST: &str =
    "coalesce(md5(string_agg(id::text || '.' || version::text, ',' ORDER BY id)), '')";

/// First statement: read the pair's tokens once, without locking them: the grant's lock,
/// taken first by every change of the pair's tokens (see `grants::maintain`), already keeps
/// every other change out until this transaction ends, so what this statement reads stays true
/// for the next one. (Locking 10,000 token rows as well cost a write and a WAL record each.)
/// Returns the counts, the scopes held, the digest of the live tokens' versions when `$4`
/// asks for it (a reviewed change), and the live tokens grouped by their scopes — a handful of
/// groups, from which the update statement computes what each token gains and loses without
/// reading the tokens again.
///
/// $1 client, $2 subject, $3 live tokens only, $4 the state digest wanted.
static READ_SQL: LazyLock<String> = LazyLock::new(read_sql);

fn read_sql() -> String {
    format!(
        "WITH g AS (
             SELECT scopes, refresh_token_scopes AS refresh, coalesce({IN_SCOPE}, false) AS live,
                    count(*) AS n,
                    max(greatest(access_token_expires_at, refresh_token_expires_at)) AS live_until
             FROM access_tokens
             WHERE client_id = $1 AND subject = $2 AND shard_key = $2
             GROUP BY 1, 2, 3
         )
         SELECT (SELECT coalesce(sum(n), 0)::bigint FROM g) AS total,
                (SELECT coalesce(sum(n), 0)::bigint FROM g WHERE live) AS live,
                ARRAY(SELECT DISTINCT s
                      FROM g, unnest(scopes || coalesce(refresh, '{{}}')) AS s
                      WHERE live ORDER BY s) AS held,
                CASE WHEN $4 THEN (SELECT {STATE_DIGEST} FROM access_tokens
                                   WHERE client_id = $1 AND subject = $2 AND shard_key = $2
                                     AND {IN_SCOPE})
                     ELSE '' END AS state,
                (SELECT coalesce(jsonb_agg(jsonb_build_object(
                            'scopes', scopes, 'refresh', refresh, 'n', n,
                            'live_until', live_until)), '[]'::jsonb)
                 FROM g WHERE live)::text AS groups"
    )
}

/// The new scopes of a token whose scopes are in `column`, by mode `$5`: `narrow` keeps its
/// scopes ∩ $4, `remove` its scopes minus $4, `add` appends the scopes of $4 it lacks (each in
/// their order); `set` gives exactly $4. A searched `CASE WHEN $5 = …`, not `CASE $5 WHEN …`:
/// Citus 13.2, evaluating the parameters before it sends the statement to a shard, turns each
/// `WHEN` of the simple form into `NULL::boolean` (and the worker refuses `text = boolean`).
pub(super) fn new_scopes_sql(column: &str) -> String {
    format!(
        "CASE WHEN $5 = 'narrow'
                   THEN ARRAY(SELECT s FROM unnest({column}) WITH ORDINALITY AS u(s, i)
                              WHERE s = ANY($4) ORDER BY i)
              WHEN $5 = 'remove'
                   THEN ARRAY(SELECT s FROM unnest({column}) WITH ORDINALITY AS u(s, i)
                              WHERE s <> ALL($4) ORDER BY i)
              WHEN $5 = 'add'
                   THEN {column} || ARRAY(SELECT s FROM unnest($4::text[])
                                              WITH ORDINALITY AS u(s, i)
                                          WHERE s <> ALL({column}) ORDER BY i)
              ELSE $4 END"
    )
}

/// The same for refresh token scopes, which stay null when there is no refresh token.
pub(super) fn new_refresh_sql(column: &str) -> String {
    format!(
        "CASE WHEN {column} IS NULL THEN NULL ELSE {} END",
        new_scopes_sql(column)
    )
}

/// Per scope, how many tokens lost it (`old` ⊄ `new`), as a JSON object, from `groups` rows
/// (`old_all`, `new_all`, `n`: tokens with those scope sets). Grouping first keeps the cost to
/// the handful of distinct scope sets rather than every token.
fn delta_sql(old: &str, new: &str) -> String {
    format!(
        "(SELECT coalesce(jsonb_object_agg(s, n ORDER BY s), '{{}}'::jsonb)
          FROM (SELECT s, sum(g.n)::bigint AS n
                FROM groups g, LATERAL (SELECT DISTINCT s FROM unnest(g.{old}) AS s) AS d
                WHERE s <> ALL(g.{new})
                GROUP BY s) AS x)"
    )
}

/// Second statement: one `UPDATE … WHERE client_id = $1 AND subject = $2` of the rows whose
/// scopes change, each row's new scopes computed from the row itself, one audit row by
/// `INSERT … SELECT`, and the grant's held scopes brought up to date
/// ([`maintain::PAIR_HELD_CTES`]). What was lost and gained, and what is held after, come from
/// the first statement's groups (`$13`: the live tokens by scopes and refresh token scopes, a
/// handful of groups) with the same scope rule applied to each group, so the tokens are read
/// once, by the update. (Looking each row's new scopes up by its scopes' text in a map of the
/// groups' moves, instead of the per-row subqueries, measured slower.) No join: the plan is an
/// index scan on (subject, client_id) whatever the table statistics say (a join planned from
/// missing statistics once took a minute for 10,000 tokens).
///
/// $1 client, $2 subject, $3 live tokens only, $4 scopes, $5 mode, $6 actor kind, $7 actor
/// id, $8 mode, $9 reason, $10 request id, $11 client ip, $12 scopes held before, $13 the
/// live tokens' groups.
static UPDATE_SQL: LazyLock<String> = LazyLock::new(update_sql);

fn update_sql() -> String {
    let (new_scopes, new_refresh) = (
        new_scopes_sql("scopes"),
        new_refresh_sql("refresh_token_scopes"),
    );
    let (group_scopes, group_refresh) = (new_scopes_sql("g.scopes"), new_refresh_sql("g.refresh"));
    let (lost, gained) = (
        delta_sql("old_all", "new_all"),
        delta_sql("new_all", "old_all"),
    );
    format!(
        "WITH groups AS (
             SELECT g.scopes || coalesce(g.refresh, '{{}}') AS old_all,
                    ({group_scopes}) || coalesce({group_refresh}, '{{}}') AS new_all,
                    g.n, g.live_until
             FROM jsonb_to_recordset($13::text::jsonb)
                  AS g(scopes text[], refresh text[], n bigint, live_until timestamptz)
         ), changed AS (
             UPDATE access_tokens
             SET scopes = {new_scopes}, refresh_token_scopes = {new_refresh},
                 version = version + 1
             WHERE client_id = $1 AND subject = $2 AND shard_key = $2 AND {IN_SCOPE}
               AND (scopes IS DISTINCT FROM {new_scopes}
                    OR refresh_token_scopes IS DISTINCT FROM {new_refresh})
             RETURNING 1
         ), {held_ctes}, summary AS (
             SELECT (SELECT coalesce(sum(n), 0)::bigint FROM groups) AS updated,
                    (SELECT count(*) FROM changed) AS changed,
                    ARRAY(SELECT scope FROM held ORDER BY scope) AS after,
                    {lost} AS lost,
                    {gained} AS gained
         ), event AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                       affected_count, state_before, state_after, reason,
                                       request_id, client_ip, shard_key)
             SELECT $6, $7, 'authorization.update', $1, $2, updated,
                    jsonb_build_object('scopes', to_jsonb($12::text[])),
                    jsonb_build_object('scopes', to_jsonb(after),
                                       'requested', to_jsonb($4::text[]),
                                       'mode', $8, 'changedTokens', changed,
                                       'removed', lost, 'added', gained),
                    $9, $10, $11, $2
             FROM summary
             -- A removal or an addition that changes nothing is no event (a form sent again,
             -- a scope someone else had removed already); Authlete's set is always recorded.
             WHERE updated > 0 AND (changed > 0 OR $8 IN ('set', 'narrow'))
             RETURNING id
         )
         SELECT updated, changed, after, lost, gained,
                ARRAY(SELECT id FROM event) AS event_ids
         FROM summary",
        held_ctes = maintain::PAIR_HELD_CTES.trim(),
    )
}

/// `{"write": 2}` (an audit row's `removed` / `added`) as scope counts, by name.
pub fn scope_counts_of(v: &serde_json::Value) -> Vec<ScopeCount> {
    let mut counts: Vec<ScopeCount> = v
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(scope, n)| ScopeCount {
                    scope: scope.clone(),
                    tokens: n.as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    // jsonb keeps keys shortest first; people read names in order.
    counts.sort_by(|a, b| a.scope.cmp(&b.scope));
    counts
}

/// Sets the scopes of every token of the `client_id` + `subject` pair in one transaction (see
/// [`ScopeMode`]). Refresh token scopes are narrowed (or, with `Set` by staff or the API, set)
/// the same way, so that a refresh can never bring a removed scope back.
///
/// End users may only take scopes away: with `Set` or `Narrow`, a scope that no live token of
/// the pair holds is [`AppError::Invalid`] (field `scopes`) and nothing changes; `Add` is
/// [`AppError::Forbidden`]; their spent tokens are left as they are. Staff and the API may set
/// or add any scope the client may hold; others are dropped for the API and refused for staff
/// (field `scopes`), whose changes also leave spent tokens as they are. A pair without tokens
/// is [`AppError::NotFound`].
///
/// Three statements whatever the number of tokens: lock and read the pair, read the client's
/// allowed scopes (not for end users, nor for a removal), update with the audit row.
pub fn update_pair_scopes(
    conn: &mut PgConnection,
    client_id: i64,
    subject: &str,
    scopes: &[String],
    mode: ScopeMode,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<PairUpdate> {
    let change = PairChange {
        client_id,
        subject,
        scopes,
        mode,
        reviewed_state: None,
    };
    change_pair_scopes(conn, &change, actor, reason)
}

/// Takes `removed` from every live token of the pair: each keeps what it holds now minus these
/// scopes (see [`ScopeMode::Remove`]). What the pages' permissions forms do.
pub fn remove_pair_scopes(
    conn: &mut PgConnection,
    client_id: i64,
    subject: &str,
    removed: &[String],
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<PairUpdate> {
    update_pair_scopes(
        conn,
        client_id,
        subject,
        removed,
        ScopeMode::Remove,
        actor,
        reason,
    )
}

/// [`update_pair_scopes`] for a change described by a page, optionally only if the pair is
/// still as it was reviewed.
pub fn change_pair_scopes(
    conn: &mut PgConnection,
    change: &PairChange<'_>,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<PairUpdate> {
    let PairChange {
        client_id,
        subject,
        mode,
        reviewed_state,
        ..
    } = *change;
    let reason = policy::reason_for(actor, reason)?;
    if subject.contains('\0') {
        return Err(AppError::NotFound);
    }
    let requested = dedup_scopes(change.scopes.iter().cloned());
    let is_user = actor.kind == ActorKind::User;
    if is_user && mode == ScopeMode::Add {
        return Err(AppError::Forbidden);
    }
    let staff = super::is_staff(actor.kind);
    let live_only = is_user || staff;
    crate::db::transaction(conn, |c| {
        // The grant first, then the tokens (see `grants::maintain`).
        crate::db::generic_plans(c)?;
        let grant = maintain::lock(c, subject, client_id)?;
        let read = |c: &mut PgConnection| -> QueryResult<PairRead> {
            prepared!(READ_SQL.as_str())
                .big_int(client_id)
                .text(subject)
                .bool(live_only)
                .bool(reviewed_state.is_some())
                .get_result(c)
        };
        let mut pair = read(c)?;
        if pair.total == 0 {
            return Err(AppError::NotFound);
        }
        if grant.is_none() {
            // Tokens without their grant (written past the domain): make it now, and read the
            // pair again under its lock.
            maintain::refresh_pair(c, subject, client_id)?;
            pair = read(c)?;
        }
        if pair.live == 0 {
            return Err(AppError::Expired(
                "every token of this app has expired; there is nothing left to change".into(),
            ));
        }
        if reviewed_state.is_some_and(|s| s != pair.state) {
            return Err(AppError::Conflict(PAIR_CHANGED_MEANWHILE.into()));
        }
        let (effective, dropped, mode) = match mode {
            // Removing what a token does not hold is no change, and nothing to refuse: that is
            // how a form loaded before someone else's removal still means what it said. Names
            // that are not scope tokens cannot be held.
            ScopeMode::Remove => (
                requested
                    .iter()
                    .filter(|s| crate::validate::is_scope_token(s))
                    .cloned()
                    .collect(),
                Vec::new(),
                mode,
            ),
            _ if is_user => {
                let not_held: Vec<&String> = requested
                    .iter()
                    .filter(|s| !pair.held.contains(s))
                    .collect();
                if !not_held.is_empty() {
                    return Err(AppError::invalid(
                        "scopes",
                        format!(
                            "you can only take permissions away; this app does not hold {}",
                            quoted(&not_held)
                        ),
                    ));
                }
                (requested.clone(), Vec::new(), ScopeMode::Narrow)
            }
            _ => {
                let allowed = policy::allowed_among(c, client_id, &requested)?;
                let (kept, dropped) = policy::partition_allowed(&requested, &allowed);
                if staff {
                    super::staff::pair_scope_refusal(&dropped)?;
                }
                (kept, dropped, mode)
            }
        };
        let row: PairRow = prepared!(UPDATE_SQL.as_str())
            .big_int(client_id)
            .text(subject)
            // End users and staff leave spent tokens as they are (read-only for both).
            .bool(live_only)
            .text_array(&effective)
            .text(mode.as_str())
            .text(actor.kind.as_str())
            .text(actor.id.as_str())
            .text(mode.as_str())
            .nullable_text(reason.clone())
            .nullable_text(actor.request_id.clone())
            .nullable_text(actor.client_ip.clone())
            .text_array(&pair.held)
            .text(pair.groups.as_str())
            .get_result(c)?;
        crate::audit::outbox::enqueue(c, &[subject.to_string()], &row.event_ids)?;
        if row.updated == 0 {
            return Err(AppError::NotFound);
        }
        let before = &pair.held;
        Ok(PairUpdate {
            updated: row.updated as u64,
            changed: row.changed as u64,
            scopes: effective,
            dropped,
            removed: before
                .iter()
                .filter(|s| !row.after.contains(s))
                .cloned()
                .collect(),
            added: row
                .after
                .iter()
                .filter(|s| !before.contains(s))
                .cloned()
                .collect(),
            lost: scope_counts_of(&row.lost),
            gained: scope_counts_of(&row.gained),
        })
    })
}

#[derive(QueryableByName)]
struct DeletedRow {
    #[diesel(sql_type = BigInt)]
    deleted: i64,
    /// The audit event written (none or one), for its SETs on Citus.
    #[diesel(sql_type = Array<BigInt>)]
    event_ids: Vec<i64>,
}

/// $1 client, $2 subject, $3 actor kind, $4 actor id, $5 reason, $6 request id, $7 client ip.
/// The tokens' rows in the token directory go in the same statement.
const PAIR_DELETE_SQL: &str = concat!(
    "
WITH gone AS (
    DELETE FROM access_tokens
    WHERE client_id = $1 AND subject = $2 AND shard_key = $2
    RETURNING scopes, refresh_token_scopes, access_token_hash, refresh_token_hash
), ",
    directory_forget_cte!(),
    ", event AS (
    INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject, affected_count,
                              state_before, reason, request_id, client_ip, shard_key)
    SELECT $3, $4, 'authorization.delete', $1, $2, count(*),
           jsonb_build_object('scopes', to_jsonb(ARRAY(
               SELECT DISTINCT s FROM gone, unnest(scopes || coalesce(refresh_token_scopes, '{}'))
                                            AS s ORDER BY s))),
           $5, $6, $7, $2
    FROM gone
    HAVING count(*) > 0
    RETURNING id
)
SELECT count(*) AS deleted, ARRAY(SELECT id FROM event) AS event_ids FROM gone"
);

/// Deletes every access and refresh token of the pair with one statement and one audit row
/// holding the count, and ends the pair's grant (its time limit, use records and daily counts
/// go with it: a later authorization starts a new grant). Returns the count; a pair with
/// neither tokens nor grant is [`AppError::NotFound`] (a grant kept only for its time limit is
/// ended with a count of 0).
pub fn delete_pair(
    conn: &mut PgConnection,
    client_id: i64,
    subject: &str,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<u64> {
    let reason = policy::reason_for(actor, reason)?;
    if subject.contains('\0') {
        return Err(AppError::NotFound);
    }
    crate::db::transaction(conn, |c| {
        // Deleting the grant row locks it first; a new token for the pair waits for this
        // transaction and then starts a new grant.
        let ended = maintain::end(c, subject, client_id)?;
        let row: DeletedRow = diesel::sql_query(PAIR_DELETE_SQL)
            .bind::<BigInt, _>(client_id)
            .bind::<Text, _>(subject)
            .bind::<Text, _>(actor.kind.as_str())
            .bind::<Text, _>(&actor.id)
            .bind::<Nullable<Text>, _>(&reason)
            .bind::<Nullable<Text>, _>(&actor.request_id)
            .bind::<Nullable<Text>, _>(&actor.client_ip)
            .get_result(c)?;
        crate::audit::outbox::enqueue(c, &[subject.to_string()], &row.event_ids)?;
        if row.deleted == 0 {
            if !ended {
                return Err(AppError::NotFound);
            }
            // No token went, but the grant (kept for its time limit) did.
            crate::audit::record(
                c,
                actor,
                crate::db::models::NewAuditEvent {
                    action: "authorization.delete".into(),
                    client_id: Some(client_id),
                    subject: Some(subject.to_string()),
                    affected_count: Some(0),
                    reason: reason.clone(),
                    ..Default::default()
                },
            )?;
        }
        Ok(row.deleted as u64)
    })
}
