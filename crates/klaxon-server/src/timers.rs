//! Handlers for the service timers: `incident.ack_timeout` and `incident.auto_resolve` (scheduled by
//! `queries::jobs::incident_status_changed`, and by snooze). Each re-checks the incident inside the
//! transaction that applies it and completes its job there too, so a repeated or late run is harmless.

use crate::app::App;
use crate::jobs::{BoxError, Handler};
use klaxon_store::jobs::{JobRow, kinds};
use klaxon_store::timers::TimerOutcome;
use std::sync::Arc;

/// Adds the timer handlers to the runner's table.
pub(crate) fn register_handlers(register: &mut dyn FnMut(&str, Handler)) {
    register(kinds::ACK_TIMEOUT, Arc::new(|app, job| Box::pin(ack_timeout(app, job))));
    register(kinds::AUTO_RESOLVE, Arc::new(|app, job| Box::pin(auto_resolve(app, job))));
}

fn incident_id(job: &JobRow) -> Result<String, BoxError> {
    let payload: serde_json::Value = serde_json::from_str(&job.payload)?;
    payload
        .get("incident_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("job {} has no incident_id in its payload", job.id).into())
}

fn owner(job: &JobRow) -> &str {
    job.lease_owner.as_deref().unwrap_or_default()
}

async fn ack_timeout(app: App, job: JobRow) -> Result<(), BoxError> {
    let incident = incident_id(&job)?;
    let outcome = app.store.fire_ack_timeout(&job.id, owner(&job), &incident, app.now_ms()).await?;
    log(&job, &incident, outcome);
    Ok(())
}

async fn auto_resolve(app: App, job: JobRow) -> Result<(), BoxError> {
    let incident = incident_id(&job)?;
    let outcome = app.store.fire_auto_resolve(&job.id, owner(&job), &incident, app.now_ms()).await?;
    log(&job, &incident, outcome);
    Ok(())
}

fn log(job: &JobRow, incident: &str, outcome: TimerOutcome) {
    tracing::debug!(job = %job.id, kind = %job.kind, incident, ?outcome, "timer fired");
}
