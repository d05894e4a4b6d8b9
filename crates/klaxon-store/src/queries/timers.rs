//! Diagnostics of the incident timers (see `crate::timers`); the timers themselves change incidents through
//! the command layer (`queries/commands.rs::fire_timer`).

use super::{Db, Pools};
use crate::Result;
use crate::timers::{IncidentTimerState, TimerLogEntry};

pub async fn state(p: &Pools, incident_id: &str) -> Result<Option<IncidentTimerState>> {
    Ok(sqlx::query_as::<Db, IncidentTimerState>(
        "SELECT i.status, i.resolved_at, i.last_status_change_at, i.last_status_change_by_type,
                i.last_status_change_by_id,
                (SELECT COUNT(*) FROM incident_acknowledgements a WHERE a.incident_id = i.id) AS acknowledgements,
                (SELECT COUNT(*) FROM incident_assignments s WHERE s.incident_id = i.id) AS assignments,
                (SELECT COUNT(*) FROM alerts l WHERE l.incident_id = i.id AND l.status = 'triggered') AS open_alerts
         FROM incidents i WHERE i.id = $1",
    )
    .bind(incident_id)
    .fetch_optional(&p.read)
    .await?)
}

pub async fn log(p: &Pools, incident_id: &str) -> Result<Vec<TimerLogEntry>> {
    Ok(sqlx::query_as::<Db, TimerLogEntry>(
        "SELECT id, type, agent_type, agent_id, channel, summary, created_at FROM log_entries
         WHERE incident_id = $1 ORDER BY seq",
    )
    .bind(incident_id)
    .fetch_all(&p.read)
    .await?)
}
