//! The service timers as job kinds: [`AckTimeout`] (`incident.ack_timeout`) and [`AutoResolve`]
//! (`incident.auto_resolve`), payload `{incident_id}`, queue `incident_timers`, subject `incident:<id>`
//! (scheduled by the command layer's timer effects: status changes and snooze). Each is a command of the
//! command layer (`Unacknowledge`, `Resolve`, by the service through the `timeout` channel), decided
//! against the incident's locked state in the transaction that also finishes its job
//! (`queries::jobs::finish_in_tx`), so a repeated or late run is harmless and the runner has nothing left
//! to record.

use crate::jobs::{BoxError, Job, JobKind, JobRunner};
use crate::state::App;
use klaxon_core::jobs::JobOutcome;
use klaxon_store::jobs::kinds;
use klaxon_store::timers::TimerOutcome;
use serde::{Deserialize, Serialize};

/// The payload of both timers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTimer {
    pub incident_id: String,
}

/// An acknowledged incident returns to triggered when its service's acknowledgement timeout passes.
pub struct AckTimeout;

impl JobKind for AckTimeout {
    const NAME: &'static str = kinds::ACK_TIMEOUT;
    const QUEUE: &'static str = kinds::INCIDENT_TIMERS_QUEUE;
    type Payload = IncidentTimer;
}

/// An open incident resolves when its service's auto-resolve timeout passes.
pub struct AutoResolve;

impl JobKind for AutoResolve {
    const NAME: &'static str = kinds::AUTO_RESOLVE;
    const QUEUE: &'static str = kinds::INCIDENT_TIMERS_QUEUE;
    type Payload = IncidentTimer;
}

/// The escalation step (`incident.escalate`, payload `{incident_id}`, unique key per incident, subject
/// `incident:<id>`): scheduled by the command layer at the current level's delay; when it runs it decides
/// `EscalateStep` against the incident's locked state in the transaction that finishes it.
pub struct Escalate;

impl JobKind for Escalate {
    const NAME: &'static str = kinds::ESCALATE;
    const QUEUE: &'static str = kinds::INCIDENT_TIMERS_QUEUE;
    type Payload = IncidentTimer;
}

/// Registers the timer kinds.
pub(crate) fn register_kinds(runner: &JobRunner) {
    runner.register_kind::<AckTimeout, _, _>(ack_timeout);
    runner.register_kind::<AutoResolve, _, _>(auto_resolve);
    runner.register_kind::<Escalate, _, _>(escalate);
}

async fn escalate(app: App, job: Job<IncidentTimer>) -> Result<JobOutcome, BoxError> {
    let incident = &job.payload.incident_id;
    let outcome = app.store.fire_escalation(&job.id, &job.owner, incident, app.now_ms()).await?;
    log(&job, outcome);
    Ok(JobOutcome::Done)
}

async fn ack_timeout(app: App, job: Job<IncidentTimer>) -> Result<JobOutcome, BoxError> {
    let incident = &job.payload.incident_id;
    let outcome = app.store.fire_ack_timeout(&job.id, &job.owner, incident, app.now_ms()).await?;
    log(&job, outcome);
    Ok(JobOutcome::Done)
}

async fn auto_resolve(app: App, job: Job<IncidentTimer>) -> Result<JobOutcome, BoxError> {
    let incident = &job.payload.incident_id;
    let outcome = app.store.fire_auto_resolve(&job.id, &job.owner, incident, app.now_ms()).await?;
    log(&job, outcome);
    Ok(JobOutcome::Done)
}

fn log(job: &Job<IncidentTimer>, outcome: TimerOutcome) {
    tracing::debug!(job = %job.id, kind = %job.kind, incident = %job.payload.incident_id, ?outcome, "timer fired");
}
