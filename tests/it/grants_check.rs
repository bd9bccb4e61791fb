//! The grants invariant, checked from the outside: a summary rebuilt here, in Rust, from the
//! token rows (independently of the product's SQL) must equal what the `grants` and
//! `grant_scopes` tables say.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use tokendesk::db::models::AccessToken;
use tokendesk::db::schema::access_tokens;

type Pair = (String, i64);

/// What the tokens of one pair add up to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub token_count: i64,
    pub first_authorized_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub live_until: Option<DateTime<Utc>>,
}

#[derive(QueryableByName, Debug)]
struct GrantRow {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
    #[diesel(sql_type = BigInt)]
    token_count: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first_authorized_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_refreshed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    live_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    valid_until: Option<DateTime<Utc>>,
}

#[derive(QueryableByName, Debug)]
struct ScopeRow {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
    #[diesel(sql_type = Text)]
    scope: String,
    #[diesel(sql_type = Timestamptz)]
    held_until: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

fn live_until(t: &AccessToken) -> DateTime<Utc> {
    t.refresh_token_expires_at
        .map_or(t.access_token_expires_at, |r| {
            r.max(t.access_token_expires_at)
        })
}

/// Checks the invariant; panics with every difference found. Returns how many grants it
/// compared.
pub fn assert_grants_match_tokens(conn: &mut PgConnection) -> usize {
    // One moment for both sides of "held now".
    let now = diesel::sql_query("SELECT now() AS now")
        .get_result::<Now>(conn)
        .expect("now")
        .now;
    let tokens: Vec<AccessToken> = access_tokens::table
        .filter(access_tokens::subject.is_not_null())
        .select(AccessToken::as_select())
        .load(conn)
        .expect("tokens");
    let mut expected: BTreeMap<Pair, Summary> = BTreeMap::new();
    // Per pair and scope: the latest live_until of the tokens holding it.
    let mut held: BTreeMap<Pair, BTreeMap<String, DateTime<Utc>>> = BTreeMap::new();
    for t in &tokens {
        let pair = (t.subject.clone().unwrap_or_default(), t.client_id);
        let s = expected.entry(pair.clone()).or_default();
        s.token_count += 1;
        s.first_authorized_at = Some(
            s.first_authorized_at
                .map_or(t.created_at, |f| f.min(t.created_at)),
        );
        s.last_used_at = s.last_used_at.max(t.last_used_at);
        s.last_refreshed_at = s.last_refreshed_at.max(t.last_refreshed_at);
        s.live_until = Some(s.live_until.map_or(live_until(t), |l| l.max(live_until(t))));
        let scopes = held.entry(pair).or_default();
        for scope in t
            .scopes
            .iter()
            .chain(t.refresh_token_scopes.iter().flatten())
        {
            let at = scopes.entry(scope.clone()).or_insert(live_until(t));
            *at = (*at).max(live_until(t));
        }
    }
    let grants: Vec<GrantRow> = diesel::sql_query(
        "SELECT subject, client_id, token_count, first_authorized_at, last_used_at,
                last_refreshed_at, live_until, valid_until FROM grants",
    )
    .load(conn)
    .expect("grants");
    let scope_rows: Vec<ScopeRow> =
        diesel::sql_query("SELECT subject, client_id, scope, held_until FROM grant_scopes")
            .load(conn)
            .expect("grant scopes");

    let mut problems = Vec::new();
    let stored: BTreeMap<Pair, &GrantRow> = grants
        .iter()
        .map(|g| ((g.subject.clone(), g.client_id), g))
        .collect();
    for (pair, want) in &expected {
        match stored.get(pair) {
            None => problems.push(format!("{pair:?}: tokens but no grant")),
            Some(g) => {
                let got = Summary {
                    token_count: g.token_count,
                    first_authorized_at: g.first_authorized_at,
                    last_used_at: g.last_used_at,
                    last_refreshed_at: g.last_refreshed_at,
                    live_until: g.live_until,
                };
                if &got != want {
                    problems.push(format!("{pair:?}: grant {got:?}, tokens say {want:?}"));
                }
            }
        }
    }
    for (pair, g) in &stored {
        if !expected.contains_key(pair)
            && (g.token_count != 0 || g.live_until.is_some() || g.valid_until.is_none())
        {
            problems.push(format!(
                "{pair:?}: a grant without tokens must be empty and kept for its time limit: {g:?}"
            ));
        }
    }
    // Held scopes: exactly those of live tokens, each until the latest of them.
    let mut stored_held: BTreeMap<Pair, BTreeMap<String, DateTime<Utc>>> = BTreeMap::new();
    for r in &scope_rows {
        if !stored.contains_key(&(r.subject.clone(), r.client_id)) {
            problems.push(format!("{r:?}: a scope row without grant"));
        }
        if r.held_until > now {
            stored_held
                .entry((r.subject.clone(), r.client_id))
                .or_default()
                .insert(r.scope.clone(), r.held_until);
        }
    }
    let pairs: BTreeSet<&Pair> = held.keys().chain(stored_held.keys()).collect();
    for pair in pairs {
        let want: BTreeMap<&String, &DateTime<Utc>> = held
            .get(pair)
            .into_iter()
            .flatten()
            .filter(|(_, at)| **at > now)
            .collect();
        let got: BTreeMap<&String, &DateTime<Utc>> =
            stored_held.get(pair).into_iter().flatten().collect();
        if want != got {
            problems.push(format!("{pair:?}: holds {got:?}, live tokens say {want:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "grants differ from their tokens:\n{}",
        problems.join("\n")
    );
    stored.len()
}
