//! The PostgreSQL backend, selected by a `postgres://` database URL. One pool serves reads and writes;
//! transactions use PostgreSQL's default isolation, and queries that claim work use `FOR UPDATE SKIP
//! LOCKED` where several nodes may race.

use crate::Result;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub type Db = sqlx::Postgres;

pub struct Pools {
    pub read: sqlx::Pool<Db>,
    pub write: sqlx::Pool<Db>,
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub async fn open(url: &str) -> Result<Pools> {
    let options = PgConnectOptions::from_str(url)?.application_name("klaxon");
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(30)).connect_with(options).await?;
    Ok(Pools { read: pool.clone(), write: pool })
}

pub async fn begin_write(p: &Pools) -> Result<sqlx::Transaction<'static, Db>> {
    Ok(p.write.begin().await?)
}

/// Advisory-lock key serializing event processors across nodes ("klaxon events" as an integer).
const EVENT_PROCESSING_LOCK: i64 = 0x6b6c_6178_6f6e_0001;

/// Serializes event processors across nodes for the rest of the transaction (released at commit or
/// rollback), so two nodes never apply inbox rows concurrently.
pub async fn lock_event_processing(tx: &mut sqlx::Transaction<'_, Db>) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(EVENT_PROCESSING_LOCK).execute(&mut **tx).await?;
    Ok(())
}

pub async fn schema_columns(pool: &sqlx::Pool<Db>) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'
         ORDER BY table_name, column_name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// Appended to the open-alerts query (table alias `a`): row locks, so a concurrent REST change to the same
/// alert waits for the events batch instead of being overwritten by it.
pub const FOR_UPDATE_OF_A: &str = " FOR UPDATE OF a";
/// Whether the events batch also locks the incidents it read (then re-reads them).
pub const ROW_LOCKS: bool = true;
/// Commits a batch of accepted events (see `queries::events::accept`): on PostgreSQL, through sqlx.
pub async fn accept_events(
    p: &Pools,
    items: &[crate::events::InboxItem],
    now: i64,
    process_limit: i64,
) -> Result<(bool, u64)> {
    q::events::accept_in_transaction(p, items, now, process_limit).await
}

/// Runs a write script as multi-row statements, one round trip each (see `queries/script.rs`). Unnamed
/// statements: scripts vary in shape, and a named statement per shape would cost a round trip to prepare
/// and churn the statement cache.
pub async fn run_script(tx: &mut sqlx::Transaction<'_, Db>, script: q::script::Script) -> Result<()> {
    for statement in &script.statements {
        for mut b in statement.multi_row_builders() {
            b.build().persistent(false).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// Claims up to `limit` due jobs of `queue` whose lease is free and that wait for no earlier job of their
/// ordering key (see `queries::jobs::claim_due`). `FOR UPDATE SKIP LOCKED` lets several nodes claim at
/// once without waiting on, or double-claiming, each other's rows; the outer conditions re-check a row
/// that changed while this statement waited for it. The rows are picked once, in a materialized CTE: as
/// a `WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` subquery, PostgreSQL may run the pick again
/// while re-checking a row a concurrent claim changed, and then claimed more than `limit` jobs (seen
/// under load: three jobs of a queue of concurrency 1 claimed by one claim of limit 1).
pub async fn claim_due_jobs(
    tx: &mut sqlx::Transaction<'static, Db>,
    queue: &str,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<crate::jobs::JobRow>> {
    let sql = format!(
        "WITH picked AS MATERIALIZED (
             SELECT j.id AS picked_id FROM jobs j
             WHERE j.queue = $5 AND j.finished_at IS NULL AND j.due_at <= $3
               AND (j.lease_until IS NULL OR j.lease_until < $3)
               AND (j.ordering_key IS NULL OR NOT EXISTS (
                     SELECT 1 FROM jobs e WHERE e.ordering_key = j.ordering_key AND e.seq < j.seq
                       AND e.finished_at IS NULL))
             ORDER BY j.due_at, j.seq LIMIT $4 FOR UPDATE OF j SKIP LOCKED)
         UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1
         FROM picked
         WHERE id = picked_id AND finished_at IS NULL AND due_at <= $3
           AND (lease_until IS NULL OR lease_until < $3)
         RETURNING {}",
        q::jobs::COLUMNS
    );
    Ok(sqlx::query_as::<Db, crate::jobs::JobRow>(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .bind(queue)
        .fetch_all(&mut **tx)
        .await?)
}

/// The advisory-lock class of job-runner nodes ("klax" as an int4): a live node holds the session lock
/// (`NODE_LOCK_CLASS`, `hashtext(<node id>)`) on a connection of its own (`hold_node_lock`).
pub const NODE_LOCK_CLASS: i32 = 0x6b6c_6178;

/// When the lease owner of a `running` job (column `lease_owner`) is gone, as SQL: no session holds its
/// node lock in this database. (A hash collision with a live node only makes a gone node look alive:
/// its leases then expire instead.)
pub const LEASE_OWNER_GONE: &str = "NOT EXISTS (SELECT 1 FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
           AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
           AND l.classid = 1802264952 AND l.objid = hashtext(lease_owner)::oid)";

/// Takes node `node`'s lock on a connection of its own, out of the pool: the node is alive for other
/// nodes while the connection lives (closing it, or the process dying, releases the lock).
pub async fn hold_node_lock(p: &Pools, node: &str) -> Result<sqlx::postgres::PgConnection> {
    let mut connection = p.write.acquire().await?.detach();
    let (held,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(NODE_LOCK_CLASS)
        .bind(node)
        .fetch_one(&mut connection)
        .await?;
    if !held {
        return Err(crate::StoreError::Rejected(format!("the job-runner node id {node} is already in use")));
    }
    Ok(connection)
}

/// Wakes every node's job listener for `queue` when the transaction commits (`LISTEN klaxon_jobs`).
/// PostgreSQL folds identical notifications of one transaction into one.
pub async fn notify_jobs(tx: &mut sqlx::Transaction<'_, Db>, queue: &str) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(crate::jobs::NOTIFY_CHANNEL).bind(queue).execute(&mut **tx).await?;
    Ok(())
}

#[path = "queries/mod.rs"]
pub mod q;

#[cfg(test)]
mod tests {
    #[test]
    fn the_gone_lease_owner_test_reads_the_node_lock_class() {
        let class = super::NODE_LOCK_CLASS.to_string();
        assert!(super::LEASE_OWNER_GONE.contains(&format!("l.classid = {class} ")), "{}", super::LEASE_OWNER_GONE);
    }
}
