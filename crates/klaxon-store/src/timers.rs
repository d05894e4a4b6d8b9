//! The incident state changes that the service timers perform when their jobs come due:
//! the acknowledgement timeout (an acknowledged incident returns to triggered) and auto-resolve.
//!
//! Each is a command of the command layer (`Unacknowledge` and `Resolve`, by the service through the
//! `timeout` channel), run in one write transaction that first finishes its job as done
//! (`queries::jobs::finish_in_tx`, only while the worker holds the lease): if the worker no longer holds
//! it (the job was moved by a re-ack or a snooze, cancelled, or claimed by another worker after the lease
//! expired) nothing happens. Then the rules decide
//! against the incident's locked state, so firing twice, or firing on an incident that changed
//! meanwhile, is harmless (the rule is broken, and the timer had nothing left to do).

use crate::commands::TimerFired;
use crate::{Result, Store, dispatch};
use klaxon_core::command::Command;

/// What firing a timer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerOutcome {
    /// The incident changed status (re-triggered or resolved).
    Applied,
    /// The incident no longer needed it (already triggered or resolved, or gone); the job is done.
    NotApplicable,
    /// This worker no longer holds the job's lease; nothing was done and the job was left alone.
    LeaseLost,
}

/// A compact view of an incident's timer-relevant state (for tests and diagnostics).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IncidentTimerState {
    pub status: String,
    pub resolved_at: Option<i64>,
    pub last_status_change_at: i64,
    pub last_status_change_by_type: String,
    pub last_status_change_by_id: String,
    pub acknowledgements: i64,
    pub assignments: i64,
    pub open_alerts: i64,
}

/// One log entry of an incident, as the timers write them (for tests and diagnostics).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TimerLogEntry {
    pub id: String,
    pub r#type: String,
    pub agent_type: Option<String>,
    pub agent_id: Option<String>,
    pub channel: String,
    pub summary: String,
    pub created_at: i64,
}

impl Store {
    /// `incident.ack_timeout` fired: if the incident is still acknowledged it returns to triggered (its
    /// acknowledgements cleared, an `unacknowledge_log_entry` by the service through the `timeout`
    /// channel) and its timers are re-armed for triggered.
    pub async fn fire_ack_timeout(
        &self,
        job_id: &str,
        owner: &str,
        incident_id: &str,
        now_ms: i64,
    ) -> Result<TimerOutcome> {
        let fired = TimerFired { job_id, owner, incident_id, command: Command::Unacknowledge };
        self.fire_timer(&fired, now_ms).await
    }

    /// `incident.escalate` came due: if the incident is still triggered, high-urgency and assigned through
    /// its policy, it moves on to the next level read from the policy now (or loops back to level 1, or
    /// exhausts its path), decided by the command layer in the transaction that finishes the job.
    pub async fn fire_escalation(
        &self,
        job_id: &str,
        owner: &str,
        incident_id: &str,
        now_ms: i64,
    ) -> Result<TimerOutcome> {
        let fired = TimerFired { job_id, owner, incident_id, command: Command::EscalateStep };
        self.fire_timer(&fired, now_ms).await
    }

    /// `incident.auto_resolve` fired: if the incident is open, its open alerts and the incident resolve
    /// (assignments removed, a `resolve_log_entry` by the service through the `timeout` channel) and its
    /// timers are removed.
    pub async fn fire_auto_resolve(
        &self,
        job_id: &str,
        owner: &str,
        incident_id: &str,
        now_ms: i64,
    ) -> Result<TimerOutcome> {
        let fired = TimerFired { job_id, owner, incident_id, command: Command::Resolve { resolution: None } };
        self.fire_timer(&fired, now_ms).await
    }

    pub async fn incident_timer_state(&self, incident_id: &str) -> Result<Option<IncidentTimerState>> {
        dispatch!(self, p => q::timers::state(p, incident_id))
    }

    /// The incident's log entries, oldest first.
    pub async fn incident_timer_log(&self, incident_id: &str) -> Result<Vec<TimerLogEntry>> {
        dispatch!(self, p => q::timers::log(p, incident_id))
    }
}
