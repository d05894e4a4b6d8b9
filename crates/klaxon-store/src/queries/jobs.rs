//! SQL for durable jobs (see `crate::jobs` for the model), and the hook that keeps incident timers in step
//! with incident status. The functions taking a transaction run inside the caller's transaction, so a
//! state change and the jobs it schedules or cancels commit together or not at all.

use super::{Db, Pools, begin_write};
use crate::jobs::{AttemptRow, JobRow, JobSpec, Resolution, legacy_spec, status};
use crate::{Result, ids};
use sqlx::QueryBuilder;

pub type Tx<'a> = sqlx::Transaction<'a, Db>;

pub(crate) const COLUMNS: &str = "id, kind, queue, status, unique_key, ordering_key, subject, payload, due_at, \
     lease_owner, lease_until, attempts, last_error, created_at, finished_at";

/// The live statuses, as SQL.
/// A live job (scheduled, running or retrying): every change to done, failed or cancelled stamps
/// `finished_at` in the same statement, so this is the test, and the claim index's (see migration 0007).
pub const LIVE: &str = "finished_at IS NULL";

/// Inserts a job and answers its id; a job whose `unique_key` is live moves that job instead (new kind,
/// queue, payload, due time, keys; lease released; the same id; attempts and last error kept). A job due
/// at `now` notifies the other nodes (PostgreSQL) when the transaction commits.
pub async fn insert(tx: &mut Tx<'_>, job: &JobSpec, now: i64) -> Result<String> {
    let (id,): (String,) = sqlx::query_as(
        "INSERT INTO jobs (id, kind, queue, status, unique_key, ordering_key, subject, payload, due_at, lease_owner,
                           lease_until, attempts, last_error, created_at, finished_at)
         VALUES ($1, $2, $3, 'scheduled', $4, $5, $6, $7, $8, NULL, NULL, 0, NULL, $9, NULL)
         ON CONFLICT (unique_key) DO UPDATE SET kind = excluded.kind, queue = excluded.queue,
             ordering_key = excluded.ordering_key, subject = excluded.subject, payload = excluded.payload,
             due_at = excluded.due_at, status = 'scheduled', lease_owner = NULL, lease_until = NULL
         RETURNING id",
    )
    .bind(ids::long_id())
    .bind(&job.kind)
    .bind(&job.queue)
    .bind(&job.unique_key)
    .bind(&job.ordering_key)
    .bind(&job.subject)
    .bind(&job.payload)
    .bind(job.due_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    if job.due_at <= now {
        super::notify_jobs(tx, &job.queue).await?;
    }
    Ok(id)
}

/// Schedules (or moves) a job, v1 style: the kind's queue and, for a payload with an `incident_id`, the
/// subject `incident:<id>` (see [`crate::jobs::legacy_spec`]).
pub async fn schedule(
    tx: &mut Tx<'_>,
    kind: &str,
    unique_key: Option<&str>,
    payload: &serde_json::Value,
    due_at: i64,
    now: i64,
) -> Result<()> {
    insert(tx, &legacy_spec(kind, unique_key, payload, due_at), now).await?;
    Ok(())
}

/// Cancels the live job with this key, if any: status `cancelled`, key released, lease dropped (a run in
/// flight then finds its lease gone), `finished_at = now`; answers how many jobs it cancelled (0 or 1).
pub async fn cancel_at(tx: &mut Tx<'_>, unique_key: &str, now: i64) -> Result<u64> {
    cancel_where(tx, "unique_key", unique_key, now).await
}

/// Cancels every live job of `subject` (e.g. `incident:<id>`) in one statement, stamping `finished_at = now`.
pub async fn cancel_subject_at(tx: &mut Tx<'_>, subject: &str, now: i64) -> Result<u64> {
    cancel_where(tx, "subject", subject, now).await
}

async fn cancel_where(tx: &mut Tx<'_>, column: &str, value: &str, now: i64) -> Result<u64> {
    let sql = format!(
        "UPDATE jobs SET status = 'cancelled', unique_key = NULL, lease_owner = NULL, lease_until = NULL,
             finished_at = $2, last_error = COALESCE(last_error, 'cancelled')
         WHERE {column} = $1 AND {LIVE}"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).bind(now).execute(&mut **tx).await?.rows_affected())
}

pub async fn pending(p: &Pools) -> Result<Vec<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {LIVE} ORDER BY due_at, seq");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).fetch_all(&p.read).await?)
}

/// Claims up to `limit` due jobs of `queue` for `owner` (see `Store::claim_due_jobs`): the backend's claim
/// statement, then the attempt rows (earlier attempts left open by a dead node closed as `abandoned`),
/// in one write transaction committed before any handler runs.
pub async fn claim_due(
    p: &Pools,
    queue: &str,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<JobRow>> {
    let mut tx = begin_write(p).await?;
    let mut jobs = super::claim_due_jobs(&mut tx, queue, owner, now, now.saturating_add(lease_ms), limit).await?;
    if !jobs.is_empty() {
        let mut qb = QueryBuilder::<Db>::new("UPDATE job_attempts SET ended_at = ");
        qb.push_bind(now).push(
            ", outcome = 'abandoned', error = 'the lease expired before the attempt ended'
             WHERE ended_at IS NULL AND job_id IN (",
        );
        let mut list = qb.separated(", ");
        for job in &jobs {
            list.push_bind(job.id.clone());
        }
        qb.push(")");
        qb.build().execute(&mut *tx).await?;

        let mut qb = QueryBuilder::<Db>::new("INSERT INTO job_attempts (job_id, attempt, node, started_at) ");
        qb.push_values(&jobs, |mut b, job| {
            b.push_bind(job.id.clone()).push_bind(job.attempts).push_bind(owner.to_string()).push_bind(now);
        });
        qb.push(" ON CONFLICT (job_id, attempt) DO NOTHING");
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // RETURNING gives no order guarantee.
    jobs.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    Ok(jobs)
}

/// Extends `owner`'s lease on a running job; false when the lease is gone.
pub async fn renew_lease(p: &Pools, id: &str, owner: &str, until: i64) -> Result<bool> {
    let mut tx = begin_write(p).await?;
    let renewed =
        sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id)
            .bind(owner)
            .bind(until)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(renewed > 0)
}

/// The new status, due time, error and finish time a resolution writes, and the attempt's outcome.
fn resolution_values(
    resolution: &Resolution,
    now: i64,
) -> (&'static str, Option<i64>, Option<&str>, Option<i64>, &str) {
    match resolution {
        Resolution::Done => (status::DONE, None, None, Some(now), "done"),
        Resolution::RetryAt { at, error } => (status::RETRYING, Some(*at), Some(error), None, "retry"),
        Resolution::Failed(error) => (status::FAILED, None, Some(error), Some(now), "failed"),
        Resolution::Cancelled(reason) => (status::CANCELLED, None, Some(reason), Some(now), "cancelled"),
    }
}

/// Inside a caller's transaction: gives the job `resolution` if `owner` still holds its lease, and
/// closes the attempt that lease belongs to; answers whether it did. Handlers call it in the transaction
/// that applies their effect, so the effect and the job's end commit together (exactly once in effect,
/// even when a lease expired mid-run); the runner then finds the job finished and records nothing more.
pub async fn finish_in_tx(tx: &mut Tx<'_>, id: &str, owner: &str, resolution: &Resolution, now: i64) -> Result<bool> {
    let (new_status, due_at, error, finished_at, outcome) = resolution_values(resolution, now);
    let attempt: Option<(i32,)> = sqlx::query_as(
        "UPDATE jobs SET status = $3, due_at = COALESCE($4, due_at), last_error = COALESCE($5, last_error),
             finished_at = $6, unique_key = CASE WHEN $6 IS NULL THEN unique_key ELSE NULL END,
             lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'
         RETURNING attempts",
    )
    .bind(id)
    .bind(owner)
    .bind(new_status)
    .bind(due_at)
    .bind(error)
    .bind(finished_at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((attempt,)) = attempt else {
        return Ok(false);
    };
    close_attempt(tx, id, attempt, now, outcome, error).await?;
    Ok(true)
}

async fn close_attempt(
    tx: &mut Tx<'_>,
    id: &str,
    attempt: i32,
    now: i64,
    outcome: &str,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE job_attempts SET ended_at = $3, outcome = $4, error = $5
         WHERE job_id = $1 AND attempt = $2 AND ended_at IS NULL",
    )
    .bind(id)
    .bind(attempt)
    .bind(now)
    .bind(outcome)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The runner's end of an attempt (see `Store::finish_job`).
pub async fn finish(p: &Pools, id: &str, owner: &str, attempt: i32, resolution: &Resolution, now: i64) -> Result<bool> {
    let mut tx = begin_write(p).await?;
    let finished = finish_in_tx(&mut tx, id, owner, resolution, now).await?;
    if !finished {
        let error = "the lease was lost before the attempt ended (the job was finished, moved or cancelled)";
        close_attempt(&mut tx, id, attempt, now, "lease_lost", Some(error)).await?;
    }
    tx.commit().await?;
    Ok(finished)
}

/// Releases every running lease not `own_owner`'s whose owner is gone (see
/// `Store::release_gone_job_leases`; the backend says what gone means: `LEASE_OWNER_GONE`).
pub async fn release_gone_leases(p: &Pools, own_owner: &str, now: i64) -> Result<u64> {
    let gone = super::LEASE_OWNER_GONE;
    let mut tx = begin_write(p).await?;
    let sql = format!(
        "UPDATE job_attempts SET ended_at = $1, outcome = 'abandoned', error = 'its node is gone'
         WHERE ended_at IS NULL
           AND job_id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_owner <> $2 AND {gone})"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(own_owner).execute(&mut *tx).await?;
    let sql = format!(
        "UPDATE jobs SET status = 'retrying', lease_owner = NULL, lease_until = NULL
         WHERE status = 'running' AND lease_owner <> $1 AND {gone}"
    );
    let released = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(own_owner).execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(released)
}

/// Retention: deletes finished jobs finished before `finished_before` and attempts started before
/// `attempts_before`.
pub async fn clean_up(p: &Pools, finished_before: i64, attempts_before: i64) -> Result<(u64, u64)> {
    let mut tx = begin_write(p).await?;
    let jobs = sqlx::query("DELETE FROM jobs WHERE finished_at < $1")
        .bind(finished_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let attempts = sqlx::query("DELETE FROM job_attempts WHERE started_at < $1")
        .bind(attempts_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok((jobs, attempts))
}

pub async fn attempts(p: &Pools, job_id: &str) -> Result<Vec<AttemptRow>> {
    Ok(sqlx::query_as::<Db, AttemptRow>(
        "SELECT job_id, attempt, node, started_at, ended_at, outcome, error FROM job_attempts
         WHERE job_id = $1 ORDER BY attempt",
    )
    .bind(job_id)
    .fetch_all(&p.read)
    .await?)
}

pub async fn by_key(p: &Pools, unique_key: &str) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE unique_key = $1 AND {LIVE}");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).bind(unique_key).fetch_optional(&p.read).await?)
}

pub async fn by_id(p: &Pools, id: &str) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

pub async fn of_subject(p: &Pools, subject: &str) -> Result<Vec<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE subject = $1 ORDER BY seq");
    Ok(sqlx::query_as::<Db, JobRow>(sqlx::AssertSqlSafe(sql)).bind(subject).fetch_all(&p.read).await?)
}

/// Whether any job of `queue` is due and unleased at `now` (a cheap read, so idle polls never take the
/// write lock).
pub async fn any_due(p: &Pools, queue: &str, now: i64) -> Result<bool> {
    let sql = format!(
        "SELECT id FROM jobs WHERE queue = $2 AND {LIVE} AND due_at <= $1
             AND (lease_until IS NULL OR lease_until < $1) LIMIT 1"
    );
    let row: Option<(String,)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(queue).fetch_optional(&p.read).await?;
    Ok(row.is_some())
}

/// The earliest due time after `now` of a live job of `queue`, if any: when the queue's next job comes
/// due. One step of the claim index (`jobs_claim`, due times of live jobs in order) per live job due
/// earlier in another queue, then one row read.
pub async fn next_due_after(p: &Pools, queue: &str, now: i64) -> Result<Option<i64>> {
    let sql = format!("SELECT due_at FROM jobs WHERE {LIVE} AND due_at > $1 AND queue = $2 ORDER BY due_at LIMIT 1");
    let row: Option<(i64,)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).bind(queue).fetch_optional(&p.read).await?;
    Ok(row.map(|(due,)| due))
}
