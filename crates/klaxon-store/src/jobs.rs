//! Durable jobs: timers and deliveries stored in the database, so a restart or a crash never drops one.
//!
//! A job has a kind, a JSON payload, a due time, and an optional `unique_key` that makes scheduling
//! idempotent (scheduling the same key again moves the existing job). Workers claim due jobs by taking a
//! lease; a job whose worker died is claimed again when its lease expires, so handlers must be
//! idempotent (they re-check state before acting). Kinds are named `area.what` (`incident.ack_timeout`).

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub unique_key: Option<String>,
    pub payload: String,
    pub due_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// Job kinds the incident timers use.
pub mod kinds {
    /// An acknowledged incident returns to triggered when its service's acknowledgement timeout passes.
    pub const ACK_TIMEOUT: &str = "incident.ack_timeout";
    /// An open incident resolves when its service's auto-resolve timeout passes.
    pub const AUTO_RESOLVE: &str = "incident.auto_resolve";
}

/// `due_at` of a job that failed too often: it stays in the table (with `last_error`) for an operator to
/// see, but never comes due (year 9999).
pub const PARKED_DUE_AT: i64 = 253_402_300_799_000;

impl Store {
    /// Schedules (or moves) a job. With a `unique_key`, at most one job per key exists.
    pub async fn schedule_job(
        &self,
        kind: &str,
        unique_key: Option<&str>,
        payload: &serde_json::Value,
        due_at_ms: i64,
        now_ms: i64,
    ) -> Result<()> {
        dispatch!(self, p => async {
            let mut tx = crate::queries_begin_write!(p)?;
            q::jobs::schedule(&mut tx, kind, unique_key, payload, due_at_ms, now_ms).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Jobs that are not yet done, soonest first (for tests and diagnostics).
    pub async fn pending_jobs(&self) -> Result<Vec<JobRow>> {
        dispatch!(self, p => q::jobs::pending(p))
    }

    /// Claims up to `limit` due jobs (`due_at <= now` and no live lease), soonest first: each gets a lease
    /// for `owner` until `now + lease_ms` and its `attempts` counted, in one write transaction. On
    /// PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_due_jobs(&self, owner: &str, now_ms: i64, lease_ms: i64, limit: i64) -> Result<Vec<JobRow>> {
        dispatch!(self, p => q::jobs::claim_due(p, owner, now_ms, lease_ms, limit))
    }

    /// Whether any job is due and unleased at `now` (a read: idle polls never take the write lock).
    pub async fn any_job_due(&self, now_ms: i64) -> Result<bool> {
        dispatch!(self, p => q::jobs::any_due(p, now_ms))
    }

    /// Deletes a finished job if `owner` still holds its lease; answers whether it did (false when the job
    /// was rescheduled meanwhile, was already removed by its handler, or was claimed by another worker).
    pub async fn complete_job(&self, id: &str, owner: &str) -> Result<bool> {
        dispatch!(self, p => q::jobs::complete(p, id, owner))
    }

    /// Records `error`, releases the lease and makes the job due again at `retry_at` (use
    /// [`PARKED_DUE_AT`] to park it). Only while `owner` still holds the lease.
    pub async fn fail_job(&self, id: &str, owner: &str, error: &str, retry_at_ms: i64) -> Result<bool> {
        dispatch!(self, p => q::jobs::fail(p, id, owner, error, retry_at_ms))
    }

    /// The job with this `unique_key`, if any.
    pub async fn job_by_key(&self, unique_key: &str) -> Result<Option<JobRow>> {
        dispatch!(self, p => q::jobs::by_key(p, unique_key))
    }

    pub async fn job_by_id(&self, id: &str) -> Result<Option<JobRow>> {
        dispatch!(self, p => q::jobs::by_id(p, id))
    }

    /// Brings an incident's timers in step with `status` in a transaction of its own (repair tools and
    /// tests; status changes themselves call `incident_status_changed` inside their own transaction).
    pub async fn sync_incident_timers(&self, incident_id: &str, status: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::jobs::sync_incident(p, incident_id, status, now_ms))
    }
}
