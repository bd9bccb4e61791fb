//! Which engine the database is: plain PostgreSQL, or a Citus coordinator with the per-user
//! tables distributed (docs/SCALING.md, step 3). The schema and every write are the same on
//! both; only the look-ups by token hash differ (see [`crate::token_directory`]).
//!
//! The answer is noted for the whole process when a connection is made ([`note`]): a process
//! serves one database, and asking on every request would cost a round trip on the hot paths.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::prelude::*;
use diesel::sql_types::Bool;

static DISTRIBUTED: AtomicBool = AtomicBool::new(false);

#[derive(QueryableByName)]
struct Citus {
    #[diesel(sql_type = Bool)]
    citus: bool,
}

/// Notes whether the database `conn` is connected to has the `citus` extension. Called for
/// every new connection (pool and command line); once true, it stays true for the process.
pub fn note(conn: &mut PgConnection) -> QueryResult<()> {
    let found: Citus = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus",
    )
    .get_result(conn)?;
    if found.citus {
        DISTRIBUTED.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Whether the database is distributed (Citus), as [`note`] last saw it.
pub fn distributed() -> bool {
    DISTRIBUTED.load(Ordering::Relaxed)
}

/// On Citus, makes the rest of the transaction reach the shards one connection per worker
/// (`citus.multi_shard_modify_mode = 'sequential'`): a transaction that writes a reference
/// table (the catalogue) after a write to every shard of a distributed one needs it, since
/// Citus otherwise refuses that write. Nothing on PostgreSQL. Call it first in the transaction.
pub fn sequential_shards(conn: &mut PgConnection) -> QueryResult<()> {
    if distributed() {
        diesel::sql_query("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            .execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct KeyShard {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    shard: i64,
}

/// The shard of each of `keys` in `table` (a table distributed by its shard key), from Citus's
/// metadata on the coordinator: no shard is read. Co-located tables give the same answer.
pub fn shards_of(
    conn: &mut PgConnection,
    table: &str,
    keys: &[String],
) -> QueryResult<std::collections::BTreeMap<String, i64>> {
    let rows: Vec<KeyShard> = diesel::sql_query(
        "SELECT k AS key, get_shard_id_for_distribution_column($1::regclass, k) AS shard
         FROM unnest($2::text[]) AS k",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(keys)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.key, r.shard)).collect())
}

/// `keys` (each once) grouped by their shard in `table`, in shard order, for statements that
/// Citus runs on one shard only (`FOR UPDATE`): each names its group (`shard_key = ANY (…)`).
pub fn by_shard(
    conn: &mut PgConnection,
    table: &str,
    mut keys: Vec<String>,
) -> QueryResult<Vec<Vec<String>>> {
    keys.sort();
    keys.dedup();
    let shards = shards_of(conn, table, &keys)?;
    let mut grouped: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for key in keys {
        let shard = shards.get(&key).copied().unwrap_or_default();
        grouped.entry(shard).or_default().push(key);
    }
    Ok(grouped.into_values().collect())
}
