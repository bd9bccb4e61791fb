//! Deleting tokens long expired.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Interval, Nullable, Text};

use crate::audit::Actor;
use crate::error::AppResult;
use crate::grants::maintain;

/// Which tokens the sweep takes: `$1` is the age.
const SWEEPABLE: &str = "access_token_expires_at < now() - $1
     AND (refresh_token_expires_at IS NULL OR refresh_token_expires_at < now() - $1)";

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
}

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = BigInt)]
    deleted: i64,
    /// The pairs that lost tokens, as two arrays.
    #[diesel(sql_type = Array<Text>)]
    subjects: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    clients: Vec<i64>,
}

/// Deletes every token whose access token — and refresh token, if any — expired longer ago than
/// `older_than`. The grants of the pairs it touches are locked first (one statement, in key
/// order); one statement deletes the tokens of those grants (and tokens without subject, or
/// without grant) and writes one audit event per client and user pair with the count; one
/// more recomputes the grants that lost tokens. A token whose pair got its first token
/// meanwhile waits for the next sweep. Returns how many tokens went.
pub fn sweep_expired(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
) -> AppResult<u64> {
    let interval = diesel::data_types::PgInterval::from_microseconds(
        older_than.num_microseconds().unwrap_or(i64::MAX),
    );
    crate::db::transaction(conn, |c| {
        let locked: Vec<Pair> = diesel::sql_query(format!(
            "SELECT g.subject, g.client_id FROM grants g
             WHERE (g.subject, g.client_id) IN (
                 SELECT subject, client_id FROM access_tokens
                 WHERE {SWEEPABLE} AND subject IS NOT NULL)
             ORDER BY g.subject, g.client_id
             FOR NO KEY UPDATE OF g"
        ))
        .bind::<Interval, _>(interval)
        .load(c)?;
        let (subjects, clients): (Vec<String>, Vec<i64>) = locked
            .iter()
            .map(|p| (p.subject.clone(), p.client_id))
            .unzip();
        let row: Deleted = diesel::sql_query(format!(
            "WITH gone AS (
                 DELETE FROM access_tokens
                 WHERE {SWEEPABLE}
                   AND (subject IS NULL
                        OR (subject, client_id) IN (
                            SELECT * FROM unnest($5::text[], $6::bigint[]))
                        -- Tokens written past the domain, without their grant.
                        OR NOT EXISTS (SELECT 1 FROM grants g
                                       WHERE g.subject = access_tokens.subject
                                         AND g.client_id = access_tokens.client_id))
                 RETURNING client_id, subject
             ), events AS (
                 INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                           affected_count, reason, request_id)
                 SELECT $2, $3, 'token.sweep', client_id, subject, count(*),
                        'expired longer ago than ' || $1::text, $4
                 FROM gone GROUP BY client_id, subject
             ), touched AS (
                 SELECT DISTINCT subject, client_id FROM gone WHERE subject IS NOT NULL
             )
             SELECT (SELECT count(*) FROM gone) AS deleted,
                    ARRAY(SELECT subject FROM touched ORDER BY subject, client_id) AS subjects,
                    ARRAY(SELECT client_id FROM touched ORDER BY subject, client_id) AS clients"
        ))
        .bind::<Interval, _>(interval)
        .bind::<Text, _>(actor.kind.as_str())
        .bind::<Text, _>(&actor.id)
        .bind::<Nullable<Text>, _>(&actor.request_id)
        .bind::<Array<Text>, _>(&subjects)
        .bind::<Array<BigInt>, _>(&clients)
        .get_result(c)?;
        let pairs: Vec<(String, i64)> = row.subjects.into_iter().zip(row.clients).collect();
        maintain::refresh_pairs(c, &pairs)?;
        Ok(row.deleted as u64)
    })
}
