//! The SQLite backend: a file `klaxon.db` in the data directory, WAL mode, `synchronous=FULL`.
//!
//! Two pools: one writer connection (SQLite serializes writers anyway, and one connection avoids
//! `SQLITE_BUSY` inside the process) whose transactions start with `BEGIN IMMEDIATE` so that another
//! process (the CLI) waits on the busy timeout instead of failing, and a few read-only connections.

use crate::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

pub type Db = sqlx::Sqlite;

pub struct Pools {
    pub read: sqlx::Pool<Db>,
    pub write: sqlx::Pool<Db>,
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub const FILE_NAME: &str = "klaxon.db";

pub async fn open(dir: &Path) -> Result<Pools> {
    std::fs::create_dir_all(dir)?;
    let options = SqliteConnectOptions::new()
        .filename(dir.join(FILE_NAME))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-16000")
        .pragma("temp_store", "memory");
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.read_only(true))
        .await?;
    Ok(Pools { read, write })
}

/// Starts a write transaction that holds SQLite's write lock from its first statement.
pub async fn begin_write(p: &Pools) -> Result<sqlx::Transaction<'static, Db>> {
    Ok(p.write.begin_with("BEGIN IMMEDIATE").await?)
}

/// Serializes event processors. SQLite needs nothing: `BEGIN IMMEDIATE` on the one writer connection
/// already excludes every other writer.
pub async fn lock_event_processing(_tx: &mut sqlx::Transaction<'_, Db>) -> Result<()> {
    Ok(())
}

pub async fn schema_columns(pool: &sqlx::Pool<Db>) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'
         ORDER BY m.name, p.name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// No row locks: SQLite's one writer already excludes every other writer.
pub const FOR_UPDATE_OF_A: &str = "";
pub const ROW_LOCKS: bool = false;
/// Runs a write script on the write connection's own handle (see `crate::sqlite_handle`).
pub async fn run_script(tx: &mut sqlx::Transaction<'_, Db>, script: q::script::Script) -> Result<()> {
    crate::sqlite_handle::run_script(tx, &script).await
}

/// Commits a batch of accepted events (see `queries::events::accept`): on SQLite, the whole transaction
/// on the write connection's own handle.
pub use crate::sqlite_handle::accept_events;

/// Claims up to `limit` due jobs of `queue` whose lease is free and that wait for no earlier job of their
/// ordering key (see `queries::jobs::claim_due`). SQLite has one writer, so the `BEGIN IMMEDIATE`
/// transaction the caller holds is enough to make the claim exclusive.
pub async fn claim_due_jobs(
    tx: &mut sqlx::Transaction<'static, Db>,
    queue: &str,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<crate::jobs::JobRow>> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT j.id FROM jobs j
                      WHERE j.queue = $5 AND j.finished_at IS NULL AND j.due_at <= $3
                        AND (j.lease_until IS NULL OR j.lease_until < $3)
                        AND (j.ordering_key IS NULL OR NOT EXISTS (
                              SELECT 1 FROM jobs e WHERE e.ordering_key = j.ordering_key AND e.seq < j.seq
                                AND e.finished_at IS NULL))
                      ORDER BY j.due_at, j.seq LIMIT $4)
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

/// When the lease owner of a `running` job (column `lease_owner`) is gone, as SQL: always, on SQLite,
/// for a starting server (one process owns a SQLite database, so any lease it finds belonged to a
/// process that is gone; see `queries::jobs::release_gone_leases`).
pub const LEASE_OWNER_GONE: &str = "1 = 1";

/// No cross-process notification on SQLite: one process owns the database, and `Store::schedule` wakes
/// its runner in-process (see `crate::jobs`).
pub async fn notify_jobs(_tx: &mut sqlx::Transaction<'_, Db>, _queue: &str) -> Result<()> {
    Ok(())
}

#[path = "queries/mod.rs"]
pub mod q;
