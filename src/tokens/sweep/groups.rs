//! A batch's candidates grouped for its statements. On PostgreSQL one group holds them all; on
//! Citus one group per shard of `access_tokens` (and so of the grants, co-located with it):
//! Citus runs a `FOR UPDATE` on one shard only, and a statement that names the group's shard
//! keys (`shard_key = ANY (…)`) is routed to that one shard.

use std::collections::BTreeMap;

use diesel::PgConnection;

use super::Candidate;
use crate::error::AppResult;

/// A batch's candidates for one run of its statements.
pub(super) struct ShardGroup {
    /// The shard keys the statements name; `None`: every shard key (they name none).
    pub shard_keys: Option<Vec<String>>,
    pub ids: Vec<i64>,
    /// The candidates' client and user pairs, in key order, once each.
    pub subjects: Vec<String>,
    pub clients: Vec<i64>,
}

/// `candidates` in one group, or (`by_shard`) in one group per shard, in shard order.
pub(super) fn shard_groups(
    conn: &mut PgConnection,
    candidates: &[Candidate],
    by_shard: bool,
) -> AppResult<Vec<ShardGroup>> {
    let shards = match by_shard {
        true => {
            let mut keys: Vec<String> = candidates.iter().map(|c| c.shard_key.clone()).collect();
            keys.sort();
            keys.dedup();
            crate::db::engine::shards_of(conn, "access_tokens", &keys)?
        }
        false => BTreeMap::new(),
    };
    let mut grouped: BTreeMap<Option<i64>, Vec<&Candidate>> = BTreeMap::new();
    for c in candidates {
        grouped
            .entry(shards.get(&c.shard_key).copied())
            .or_default()
            .push(c);
    }
    Ok(grouped
        .into_values()
        .map(|members| {
            let mut wanted: Vec<(String, i64)> = members
                .iter()
                .filter_map(|c| c.subject.clone().map(|s| (s, c.client_id)))
                .collect();
            wanted.sort();
            wanted.dedup();
            let (subjects, clients) = wanted.into_iter().unzip();
            let shard_keys = by_shard.then(|| {
                let mut keys: Vec<String> = members.iter().map(|c| c.shard_key.clone()).collect();
                keys.sort();
                keys.dedup();
                keys
            });
            ShardGroup {
                shard_keys,
                ids: members.iter().map(|c| c.id).collect(),
                subjects,
                clients,
            }
        })
        .collect())
}
