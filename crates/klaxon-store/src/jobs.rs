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
}
