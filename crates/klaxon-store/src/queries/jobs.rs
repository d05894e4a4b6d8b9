//! SQL for durable jobs, and the hook that keeps incident timers in step with incident status.
//! The functions taking a transaction run inside the caller's transaction, so a status change and its
//! timers commit together or not at all.

use super::{Db, Pools, begin_write};
use crate::jobs::{JobRow, kinds};
use crate::{Result, ids};

pub type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str =
    "id, kind, unique_key, payload, due_at, lease_owner, lease_until, attempts, last_error, created_at";

/// Inserts a job, or moves the live job with the same `unique_key` to the new due time and payload.
pub async fn schedule(
    tx: &mut Tx<'_>,
    kind: &str,
    unique_key: Option<&str>,
    payload: &serde_json::Value,
    due_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, unique_key, payload, due_at, lease_owner, lease_until, attempts, last_error, created_at)
         VALUES ($1, $2, $3, $4, $5, NULL, NULL, 0, NULL, $6)
         ON CONFLICT (unique_key) DO UPDATE SET kind = $2, payload = $4, due_at = $5, lease_owner = NULL,
             lease_until = NULL, attempts = 0, last_error = NULL",
    )
    .bind(ids::long_id())
    .bind(kind)
    .bind(unique_key)
    .bind(payload.to_string())
    .bind(due_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes the job with this key, if any.
#[allow(dead_code)] // used by the incident paths
pub async fn cancel(tx: &mut Tx<'_>, unique_key: &str) -> Result<()> {
    sqlx::query("DELETE FROM jobs WHERE unique_key = $1").bind(unique_key).execute(&mut **tx).await?;
    Ok(())
}

pub async fn pending(p: &Pools) -> Result<Vec<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs ORDER BY due_at, id");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).fetch_all(&p.read).await?)
}

/// Keeps an incident's timers in step with its status. Call it, in the same transaction, after every
/// status change of an incident (`triggered`, `acknowledged`, `resolved`):
/// - triggered: no acknowledgement timeout; auto-resolve after the service's `auto_resolve_timeout`
///   counted from now (a re-trigger restarts it);
/// - acknowledged: acknowledgement timeout after the service's `acknowledgement_timeout`;
/// - resolved: no timers.
#[allow(dead_code)] // used by the incident paths
pub async fn incident_status_changed(tx: &mut Tx<'_>, incident_id: &str, status: &str, now: i64) -> Result<()> {
    let ack_key = format!("{}:{incident_id}", kinds::ACK_TIMEOUT);
    let resolve_key = format!("{}:{incident_id}", kinds::AUTO_RESOLVE);
    let timeouts: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT s.acknowledgement_timeout, s.auto_resolve_timeout FROM incidents i
         JOIN services s ON s.id = i.service_id WHERE i.id = $1",
    )
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (ack_timeout, auto_resolve) = timeouts.unwrap_or((None, None));
    let payload = serde_json::json!({ "incident_id": incident_id });
    match status {
        "triggered" => {
            cancel(tx, &ack_key).await?;
            match auto_resolve.filter(|s| *s > 0) {
                Some(secs) => {
                    schedule(tx, kinds::AUTO_RESOLVE, Some(&resolve_key), &payload, now + secs * 1000, now).await?
                }
                None => cancel(tx, &resolve_key).await?,
            }
        }
        "acknowledged" => match ack_timeout.filter(|s| *s > 0) {
            Some(secs) => schedule(tx, kinds::ACK_TIMEOUT, Some(&ack_key), &payload, now + secs * 1000, now).await?,
            None => cancel(tx, &ack_key).await?,
        },
        _ => {
            cancel(tx, &ack_key).await?;
            cancel(tx, &resolve_key).await?;
        }
    }
    Ok(())
}

/// Claims up to `limit` due jobs (due_at <= now, no live lease), soonest first: takes a lease until
/// `now + lease_ms` for `owner` and counts the attempt, in one write transaction.
pub async fn claim_due(p: &Pools, owner: &str, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<JobRow>> {
    let mut tx = begin_write(p).await?;
    let mut jobs = super::claim_due_jobs(&mut tx, owner, now, now.saturating_add(lease_ms), limit).await?;
    tx.commit().await?;
    // RETURNING gives no order guarantee.
    jobs.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    Ok(jobs)
}

/// Deletes a finished job, but only while `owner` still holds its lease: a job that was rescheduled
/// meanwhile (its lease cleared) or claimed by another worker after the lease expired stays.
pub async fn complete(p: &Pools, id: &str, owner: &str) -> Result<bool> {
    let mut tx = begin_write(p).await?;
    let done = take_lease(&mut tx, id, owner).await?;
    tx.commit().await?;
    Ok(done)
}

/// Inside a caller's transaction: deletes the job if `owner` still holds its lease and answers whether it
/// did. Handlers call it first in the transaction that applies their effect, so the effect and the job's
/// completion commit together (exactly once in effect, even when a lease expired mid-run).
pub async fn take_lease(tx: &mut Tx<'_>, id: &str, owner: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
        .bind(id)
        .bind(owner)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(done > 0)
}

/// Records a failed run and releases the lease so the job runs again at `retry_at` (the caller's backoff;
/// a far-future `retry_at` parks the job). Only while `owner` still holds the lease.
pub async fn fail(p: &Pools, id: &str, owner: &str, error: &str, retry_at: i64) -> Result<bool> {
    let mut tx = begin_write(p).await?;
    let changed = sqlx::query(
        "UPDATE jobs SET due_at = $3, last_error = $4, lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(retry_at)
    .bind(error)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed > 0)
}

pub async fn by_key(p: &Pools, unique_key: &str) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE unique_key = $1");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).bind(unique_key).fetch_optional(&p.read).await?)
}

pub async fn by_id(p: &Pools, id: &str) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

/// Runs [`incident_status_changed`] in a transaction of its own.
pub async fn sync_incident(p: &Pools, incident_id: &str, status: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    incident_status_changed(&mut tx, incident_id, status, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether any job is due and unleased at `now` (a cheap read, so idle polls never take the write lock).
pub async fn any_due(p: &Pools, now: i64) -> Result<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM jobs WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < $1) LIMIT 1")
            .bind(now)
            .fetch_optional(&p.read)
            .await?;
    Ok(row.is_some())
}
