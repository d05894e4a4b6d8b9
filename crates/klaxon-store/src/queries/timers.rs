//! SQL for the incident state changes the service timers perform (see `crate::timers`).

use super::jobs::{Tx, finish_in_tx, incident_status_changed};
use super::{Db, Pools, begin_write};
use crate::jobs::Resolution;
use crate::timers::{IncidentTimerState, TimerLogEntry, TimerOutcome};
use crate::{Result, ids};

const TIMEOUT_CHANNEL: &str = r#"{"type":"timeout"}"#;

pub async fn ack_timeout(p: &Pools, job_id: &str, owner: &str, incident_id: &str, now: i64) -> Result<TimerOutcome> {
    let mut tx = begin_write(p).await?;
    if !finish_in_tx(&mut tx, job_id, owner, &Resolution::Done, now).await? {
        tx.rollback().await?;
        return Ok(TimerOutcome::LeaseLost);
    }
    let service: Option<(String,)> = sqlx::query_as(
        "UPDATE incidents SET status = 'triggered', last_status_change_at = $2,
                last_status_change_by_type = 'service_reference', last_status_change_by_id = service_id,
                updated_at = $2
         WHERE id = $1 AND status = 'acknowledged'
         RETURNING service_id",
    )
    .bind(incident_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((service_id,)) = service else {
        tx.commit().await?;
        return Ok(TimerOutcome::NotApplicable);
    };
    sqlx::query("DELETE FROM incident_acknowledgements WHERE incident_id = $1")
        .bind(incident_id)
        .execute(&mut *tx)
        .await?;
    log_entry(&mut tx, "unacknowledge_log_entry", incident_id, &service_id, "Unacknowledged due to timeout", now)
        .await?;
    incident_status_changed(&mut tx, incident_id, "triggered", now).await?;
    tx.commit().await?;
    Ok(TimerOutcome::Applied)
}

pub async fn auto_resolve(p: &Pools, job_id: &str, owner: &str, incident_id: &str, now: i64) -> Result<TimerOutcome> {
    let mut tx = begin_write(p).await?;
    if !finish_in_tx(&mut tx, job_id, owner, &Resolution::Done, now).await? {
        tx.rollback().await?;
        return Ok(TimerOutcome::LeaseLost);
    }
    let service: Option<(String,)> = sqlx::query_as(
        "UPDATE incidents SET status = 'resolved', resolved_at = $2, last_status_change_at = $2,
                last_status_change_by_type = 'service_reference', last_status_change_by_id = service_id,
                updated_at = $2
         WHERE id = $1 AND status <> 'resolved'
         RETURNING service_id",
    )
    .bind(incident_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((service_id,)) = service else {
        tx.commit().await?;
        return Ok(TimerOutcome::NotApplicable);
    };
    sqlx::query(
        "UPDATE alerts SET status = 'resolved', resolved_at = $2, updated_at = $2
         WHERE incident_id = $1 AND status = 'triggered'",
    )
    .bind(incident_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM incident_assignments WHERE incident_id = $1").bind(incident_id).execute(&mut *tx).await?;
    log_entry(&mut tx, "resolve_log_entry", incident_id, &service_id, "Resolved due to timeout", now).await?;
    incident_status_changed(&mut tx, incident_id, "resolved", now).await?;
    tx.commit().await?;
    Ok(TimerOutcome::Applied)
}

/// A log entry by the service through the `timeout` channel.
async fn log_entry(
    tx: &mut Tx<'_>,
    kind: &str,
    incident_id: &str,
    service_id: &str,
    summary: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
                                  summary, user_id, details, created_at)
         VALUES ($1, $2, $3, NULL, $4, 'service_reference', $4, $5, NULL, $6, NULL, NULL, $7)",
    )
    .bind(ids::long_id())
    .bind(kind)
    .bind(incident_id)
    .bind(service_id)
    .bind(TIMEOUT_CHANNEL)
    .bind(summary)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

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
