//! What a pair change would do, token by token, for the review step of the support console:
//! tokens with the same scopes are one group ("2 tokens holding read write: lose write"), so
//! the page says what every token gains and loses at a cost bounded by the number of distinct
//! scope sets, not of tokens. The review also carries the pair's state digest, so that its
//! confirmation applies only to the tokens that were reviewed.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text};

use super::authorizations::{new_refresh_sql, new_scopes_sql, PairChange, IN_SCOPE, STATE_DIGEST};
use super::{policy, ScopeMode};
use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::validate::dedup_scopes;

/// How many fingerprints a group names; the rest are counted.
pub const NAMED_PER_GROUP: usize = 5;

/// Tokens that hold the same scopes, and what the change does to each of them.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct PreviewGroup {
    /// How many tokens hold these scopes.
    #[diesel(sql_type = BigInt)]
    pub tokens: i64,
    /// The access token hashes of the first [`NAMED_PER_GROUP`] of them, by id (pages show
    /// their fingerprints).
    #[diesel(sql_type = Array<Text>)]
    pub hashes: Vec<String>,
    /// What each holds now (access and refresh token), by name.
    #[diesel(sql_type = Array<Text>)]
    pub holds: Vec<String>,
    /// What each would gain.
    #[diesel(sql_type = Array<Text>)]
    pub gains: Vec<String>,
    /// What each would lose.
    #[diesel(sql_type = Array<Text>)]
    pub loses: Vec<String>,
}

/// What a pair change would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairPreview {
    /// The scopes the change applies, as the domain will apply them.
    pub scopes: Vec<String>,
    /// Tokens of the pair that are not spent: those the change applies to.
    pub live_tokens: i64,
    /// Of those, the tokens whose scopes would change.
    pub changing: i64,
    /// Spent tokens of the pair, left as they are.
    pub spent_tokens: i64,
    /// The live tokens by scope set, largest group first; groups that would not change are
    /// included, with nothing gained or lost.
    pub groups: Vec<PreviewGroup>,
    /// The pair's state digest: pass it back as [`PairChange::reviewed_state`].
    pub state: String,
}

#[derive(QueryableByName)]
struct Totals {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    live: i64,
    #[diesel(sql_type = Text)]
    state: String,
}

/// $1 client, $2 subject, $3 true (live tokens), $4 scopes, $5 mode.
fn groups_sql() -> String {
    let (new_scopes, new_refresh) = (
        new_scopes_sql("scopes"),
        new_refresh_sql("refresh_token_scopes"),
    );
    let sorted = |e: &str| format!("ARRAY(SELECT DISTINCT s FROM unnest({e}) AS s ORDER BY s)");
    let (old_all, new_all) = (
        sorted("scopes || coalesce(refresh_token_scopes, '{}')"),
        sorted(&format!(
            "({new_scopes}) || coalesce({new_refresh}, '{{}}')"
        )),
    );
    format!(
        "WITH live AS (
             SELECT id, access_token_hash, {old_all} AS old_all, {new_all} AS new_all
             FROM access_tokens
             WHERE client_id = $1 AND subject = $2 AND shard_key = $2 AND {IN_SCOPE}
         ), groups AS (
             SELECT old_all, new_all, count(*) AS n,
                    (array_agg(access_token_hash ORDER BY id))[1:{NAMED_PER_GROUP}] AS hashes
             FROM live GROUP BY old_all, new_all
         )
         SELECT n AS tokens, hashes, old_all AS holds,
                ARRAY(SELECT s FROM unnest(new_all) AS s WHERE s <> ALL(old_all)) AS gains,
                ARRAY(SELECT s FROM unnest(old_all) AS s WHERE s <> ALL(new_all)) AS loses
         FROM groups
         ORDER BY n DESC, old_all"
    )
}

/// Checks a staff change of a pair as [`super::change_pair_scopes`] will (a reason; for an
/// addition, only scopes the client may hold; end users may not add) and says what it would do
/// to each live token, without changing anything. Two statements over the pair's index. A pair
/// without tokens is [`AppError::NotFound`].
pub fn preview_pair_change(
    conn: &mut PgConnection,
    change: &PairChange<'_>,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<PairPreview> {
    if change.subject.contains('\0') {
        return Err(AppError::NotFound);
    }
    let requested = dedup_scopes(change.scopes.iter().cloned());
    let mut errors = Vec::new();
    if let Err(AppError::Invalid(e)) = policy::reason_for(actor, reason) {
        errors.extend(e);
    }
    let scopes: Vec<String> = match change.mode {
        ScopeMode::Remove => requested
            .into_iter()
            .filter(|s| crate::validate::is_scope_token(s))
            .collect(),
        _ => {
            if actor.kind == crate::audit::ActorKind::User {
                return Err(AppError::Forbidden);
            }
            let allowed = policy::allowed_among(conn, change.client_id, &requested)?;
            let (kept, refused) = policy::partition_allowed(&requested, &allowed);
            if let Err(AppError::Invalid(e)) = super::staff::pair_scope_refusal(&refused) {
                errors.extend(e);
            }
            kept
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let totals: Totals = diesel::sql_query(format!(
        "SELECT count(*) AS total, count(*) FILTER (WHERE live) AS live,
                (SELECT {STATE_DIGEST} FROM access_tokens
                 WHERE client_id = $1 AND subject = $2 AND shard_key = $2 AND {IN_SCOPE}) AS state
         FROM (SELECT (access_token_expires_at > now()
                       OR coalesce(refresh_token_expires_at > now(), false)) AS live
               FROM access_tokens
               WHERE client_id = $1 AND subject = $2 AND shard_key = $2) AS pair"
    ))
    .bind::<BigInt, _>(change.client_id)
    .bind::<Text, _>(change.subject)
    .bind::<Bool, _>(true)
    .get_result(conn)?;
    if totals.total == 0 {
        return Err(AppError::NotFound);
    }
    let groups: Vec<PreviewGroup> = diesel::sql_query(groups_sql())
        .bind::<BigInt, _>(change.client_id)
        .bind::<Text, _>(change.subject)
        .bind::<Bool, _>(true)
        .bind::<Array<Text>, _>(&scopes)
        .bind::<Text, _>(change.mode.as_str())
        .load(conn)?;
    let changing = groups
        .iter()
        .filter(|g| !g.gains.is_empty() || !g.loses.is_empty())
        .map(|g| g.tokens)
        .sum();
    Ok(PairPreview {
        scopes,
        live_tokens: totals.live,
        changing,
        spent_tokens: totals.total - totals.live,
        groups,
        state: totals.state,
    })
}
