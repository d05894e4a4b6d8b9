//! SQL for the Events API inbox and its processor (see `crate::events` for the rules).

use super::{Db, Pools, begin_write, lock_event_processing};
use crate::events::{AlertRow, EventIncidentRow, InboxItem, InboxRow, IntegrationRoute, outcomes};
use crate::{Result, ids};
use klaxon_core::events::{AlertEvent, Decision, EventAction, IncidentChoice, choose_incident, decide, urgency_for};
use serde_json::{Value, json};
use std::collections::HashMap;

pub type Tx<'a> = sqlx::Transaction<'a, Db>;

pub async fn route(p: &Pools, key: &str) -> Result<Option<IntegrationRoute>> {
    Ok(sqlx::query_as::<Db, IntegrationRoute>(
        "SELECT i.id AS integration_id, i.service_id, i.type AS integration_type, i.rate_limit_per_minute
         FROM integrations i JOIN services s ON s.id = i.service_id
         WHERE i.integration_key = $1 AND i.deleted_at IS NULL AND s.deleted_at IS NULL",
    )
    .bind(key)
    .fetch_optional(&p.read)
    .await?)
}

/// Commits the batch; with `inline_limit > 0`, also applies up to that many of the oldest unprocessed
/// rows (the new ones included) inside the same transaction, under a savepoint: one commit (one fsync)
/// then covers accepting and processing. A processing failure rolls back to the savepoint only, and the
/// batch still commits (the processor worker retries those rows). Returns whether unprocessed rows may
/// remain (processing skipped, failed, or stopped at the limit).
pub async fn accept(p: &Pools, items: &[InboxItem], now: i64, inline_limit: i64) -> Result<bool> {
    let mut tx = begin_write(p).await?;
    for item in items {
        match item {
            InboxItem::Alert { integration_id, service_id, dedup_key, body } => {
                sqlx::query(
                    "INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body)
                     VALUES ($1, 'alert', $2, $3, $4, $5, $6)",
                )
                .bind(ids::long_id())
                .bind(now)
                .bind(integration_id)
                .bind(service_id)
                .bind(dedup_key)
                .bind(body)
                .execute(&mut *tx)
                .await?;
            }
            InboxItem::Change { integration_id, service_id, event } => {
                sqlx::query(
                    "INSERT INTO change_events (id, service_id, integration_id, summary, source, event_timestamp,
                                                custom_details, links, images, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(ids::resource_id())
                .bind(service_id)
                .bind(integration_id)
                .bind(&event.summary)
                .bind(&event.source)
                .bind(event.timestamp_ms.unwrap_or(now))
                .bind(event.custom_details.as_ref().map(Value::to_string))
                .bind(Value::Array(event.links.clone()).to_string())
                .bind(Value::Array(event.images.clone()).to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    let has_alerts = items.iter().any(|i| matches!(i, InboxItem::Alert { .. }));
    let mut backlog = has_alerts;
    if has_alerts && inline_limit > 0 {
        let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
        match process_rows(&mut savepoint, inline_limit, now).await {
            Ok(n) => {
                savepoint.commit().await?;
                backlog = n as i64 >= inline_limit;
            }
            Err(e) => {
                tracing::warn!(error = %e, "inline event processing failed; the processor will retry");
                savepoint.rollback().await?;
            }
        }
    }
    tx.commit().await?;
    Ok(backlog)
}

const INBOX_COLUMNS: &str =
    "seq, id, kind, received_at, integration_id, service_id, dedup_key, body, processed_at, outcome";

pub async fn process_batch(p: &Pools, limit: i64, now: i64) -> Result<usize> {
    let mut tx = begin_write(p).await?;
    let n = process_rows(&mut tx, limit, now).await?;
    tx.commit().await?;
    Ok(n)
}

/// Applies up to `limit` of the oldest unprocessed rows inside `tx`, stamping each.
async fn process_rows(tx: &mut Tx<'_>, limit: i64, now: i64) -> Result<usize> {
    lock_event_processing(tx).await?;
    let sql = format!("SELECT {INBOX_COLUMNS} FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT $1");
    let rows = sqlx::query_as::<Db, InboxRow>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(&mut **tx).await?;
    let mut cache = BatchCache::default();
    for row in &rows {
        let outcome = match row.kind.as_str() {
            "alert" => apply_alert(tx, &mut cache, row).await?,
            _ => outcomes::DROPPED.to_string(),
        };
        sqlx::query("UPDATE events SET processed_at = $1, outcome = $2 WHERE seq = $3")
            .bind(now)
            .bind(outcome)
            .bind(row.seq)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

pub async fn fail_oldest(p: &Pools, reason: &str, now: i64) -> Result<Option<String>> {
    let mut tx = begin_write(p).await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, id FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((seq, _)) = &row {
        let outcome: String = format!("{}: {reason}", outcomes::FAILED).chars().take(500).collect();
        sqlx::query("UPDATE events SET processed_at = $1, outcome = $2 WHERE seq = $3")
            .bind(now)
            .bind(outcome)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(row.map(|(_, id)| id))
}

pub async fn unprocessed_count(p: &Pools) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM events WHERE processed_at IS NULL").fetch_one(&p.read).await?;
    Ok(n)
}

pub async fn oldest_unprocessed_at(p: &Pools) -> Result<Option<i64>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT received_at FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT 1")
            .fetch_optional(&p.read)
            .await?;
    Ok(row.map(|(at,)| at))
}

pub async fn inbox(p: &Pools) -> Result<Vec<InboxRow>> {
    let sql = format!("SELECT {INBOX_COLUMNS} FROM events ORDER BY seq");
    Ok(sqlx::query_as::<Db, InboxRow>(sqlx::AssertSqlSafe(sql)).fetch_all(&p.read).await?)
}

const ALERT_COLUMNS: &str = "id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity, \
     summary, source, component, group_name, class, custom_details, contexts, client, client_url, event_timestamp, \
     trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at, resolved_at";

pub async fn alerts_of_integration(p: &Pools, integration_id: &str) -> Result<Vec<AlertRow>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE integration_id = $1 ORDER BY created_at, id");
    Ok(sqlx::query_as::<Db, AlertRow>(sqlx::AssertSqlSafe(sql)).bind(integration_id).fetch_all(&p.read).await?)
}

const INCIDENT_COLUMNS: &str = "id, incident_number, title, service_id, escalation_policy_id, status, urgency, \
     incident_key, assigned_via, escalation_level, first_trigger_log_entry_id, created_at, resolved_at";

pub async fn incidents_of_service(p: &Pools, service_id: &str) -> Result<Vec<EventIncidentRow>> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE service_id = $1 ORDER BY incident_number");
    Ok(sqlx::query_as::<Db, EventIncidentRow>(sqlx::AssertSqlSafe(sql)).bind(service_id).fetch_all(&p.read).await?)
}

pub async fn assignee_ids(p: &Pools, incident_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT user_id FROM incident_assignments WHERE incident_id = $1 ORDER BY user_id")
            .bind(incident_id)
            .fetch_all(&p.read)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

pub async fn log_entry_types(p: &Pools, incident_id: &str) -> Result<Vec<(String, Option<String>)>> {
    Ok(sqlx::query_as("SELECT type, agent_type FROM log_entries WHERE incident_id = $1 ORDER BY seq")
        .bind(incident_id)
        .fetch_all(&p.read)
        .await?)
}

/// The service facts processing needs.
#[derive(Clone, sqlx::FromRow)]
struct ServiceFacts {
    status: String,
    incident_urgency_rule: String,
    escalation_policy_id: String,
    deleted_at: Option<i64>,
}

/// Configuration read once per batch (services, their maintenance windows, policies' first-rule users):
/// it cannot change under the batch transaction, and re-reading it per event would dominate the cost.
#[derive(Default)]
struct BatchCache {
    services: HashMap<String, Option<ServiceFacts>>,
    /// `(start, end)` of each maintenance window of a service.
    windows: HashMap<String, Vec<(i64, i64)>>,
    /// The user targets of a policy's first rule.
    assignees: HashMap<String, Vec<String>>,
}

impl BatchCache {
    async fn service(&mut self, tx: &mut Tx<'_>, service_id: &str) -> Result<Option<ServiceFacts>> {
        if let Some(found) = self.services.get(service_id) {
            return Ok(found.clone());
        }
        let service: Option<ServiceFacts> = sqlx::query_as(
            "SELECT status, incident_urgency_rule, escalation_policy_id, deleted_at FROM services WHERE id = $1",
        )
        .bind(service_id)
        .fetch_optional(&mut **tx)
        .await?;
        self.services.insert(service_id.to_string(), service.clone());
        Ok(service)
    }

    async fn in_maintenance(&mut self, tx: &mut Tx<'_>, service_id: &str, at: i64) -> Result<bool> {
        if !self.windows.contains_key(service_id) {
            let windows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT mw.start_time, mw.end_time FROM maintenance_window_services mws
                 JOIN maintenance_windows mw ON mw.id = mws.maintenance_window_id
                 WHERE mws.service_id = $1",
            )
            .bind(service_id)
            .fetch_all(&mut **tx)
            .await?;
            self.windows.insert(service_id.to_string(), windows);
        }
        Ok(self.windows.get(service_id).is_some_and(|w| w.iter().any(|(start, end)| *start <= at && at < *end)))
    }

    async fn assignees(&mut self, tx: &mut Tx<'_>, policy_id: &str) -> Result<Vec<String>> {
        if let Some(found) = self.assignees.get(policy_id) {
            return Ok(found.clone());
        }
        // The user targets of the policy's first rule (schedule targets come with schedules).
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT t.target_id FROM escalation_rules r
             JOIN escalation_targets t ON t.escalation_rule_id = r.id
             JOIN users u ON u.id = t.target_id AND u.deleted_at IS NULL
             WHERE r.escalation_policy_id = $1 AND t.target_type = 'user'
               AND r.position = (SELECT MIN(position) FROM escalation_rules WHERE escalation_policy_id = $1)
             ORDER BY t.position",
        )
        .bind(policy_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut ids: Vec<String> = Vec::new();
        for (id,) in rows {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        self.assignees.insert(policy_id.to_string(), ids.clone());
        Ok(ids)
    }
}

/// Applies one alert event inside the batch transaction; returns the outcome to stamp.
async fn apply_alert(tx: &mut Tx<'_>, cache: &mut BatchCache, row: &InboxRow) -> Result<String> {
    let event: AlertEvent = serde_json::from_str(&row.body)?;
    let at = row.received_at;
    let service = cache.service(tx, &row.service_id).await?;
    let Some(service) = service.filter(|s| s.deleted_at.is_none()) else {
        return Ok(format!("{}: service deleted", outcomes::DROPPED));
    };
    let found: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT a.id, a.incident_id, i.status FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
         WHERE a.integration_id = $1 AND a.alert_key = $2 AND a.status = 'triggered' AND a.suppressed = FALSE",
    )
    .bind(&row.integration_id)
    .bind(&event.dedup_key)
    .fetch_optional(&mut **tx)
    .await?;
    // An open alert whose incident was resolved some other way (the REST API, a timer) is stale: it is
    // resolved now, so a trigger opens a new incident instead of deduplicating into a resolved one.
    let open = match found {
        Some((alert_id, _, Some(status))) if status == "resolved" => {
            sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&alert_id)
                .execute(&mut **tx)
                .await?;
            None
        }
        Some((alert_id, incident_id, _)) => Some((alert_id, incident_id)),
        None => None,
    };
    let channel = channel(&event);
    match decide(event.action, open.is_some()) {
        Decision::Deduplicate => {
            let (alert_id, incident_id) = open.unwrap_or_default();
            sqlx::query(
                "UPDATE alerts SET trigger_count = trigger_count + 1, last_occurred_at = $1, updated_at = $1
                 WHERE id = $2",
            )
            .bind(at)
            .bind(&alert_id)
            .execute(&mut **tx)
            .await?;
            log_entry(tx, "trigger_log_entry", incident_id.as_deref(), Some(&alert_id), row, &channel, None, at)
                .await?;
            Ok(outcomes::DEDUPLICATED.into())
        }
        Decision::CreateAlert => {
            let suppressed = service.status == "disabled" || cache.in_maintenance(tx, &row.service_id, at).await?;
            if suppressed {
                let bumped = sqlx::query(
                    "UPDATE alerts SET trigger_count = trigger_count + 1, last_occurred_at = $1, updated_at = $1
                     WHERE integration_id = $2 AND alert_key = $3 AND status = 'triggered' AND suppressed = TRUE",
                )
                .bind(at)
                .bind(&row.integration_id)
                .bind(&event.dedup_key)
                .execute(&mut **tx)
                .await?;
                if bumped.rows_affected() == 0 {
                    insert_alert(tx, &event, row, None, true, None).await?;
                }
                return Ok(outcomes::SUPPRESSED.into());
            }
            resolve_suppressed(tx, row, &event.dedup_key, at).await?;
            match choose_incident(&event, &[]) {
                IncidentChoice::New | IncidentChoice::Join(_) => {
                    create_incident(tx, cache, &event, row, &service, &channel).await?;
                }
            }
            Ok(outcomes::CREATED.into())
        }
        Decision::Acknowledge => {
            let (_, incident_id) = open.unwrap_or_default();
            let Some(incident_id) = incident_id else { return Ok(outcomes::DROPPED.into()) };
            let changed = sqlx::query(
                "UPDATE incidents SET status = 'acknowledged', last_status_change_at = $1,
                     last_status_change_by_type = 'integration_reference', last_status_change_by_id = $2,
                     updated_at = $1
                 WHERE id = $3 AND status = 'triggered'",
            )
            .bind(at)
            .bind(&row.integration_id)
            .bind(&incident_id)
            .execute(&mut **tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Ok(format!("{}: not triggered", outcomes::DROPPED));
            }
            sqlx::query(
                "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)
                 VALUES ($1, 'service_reference', $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(&incident_id)
            .bind(&row.service_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            log_entry(tx, "acknowledge_log_entry", Some(&incident_id), None, row, &channel, None, at).await?;
            super::jobs::incident_status_changed(tx, &incident_id, "acknowledged", at).await?;
            Ok(outcomes::ACKNOWLEDGED.into())
        }
        Decision::Resolve => {
            resolve_suppressed(tx, row, &event.dedup_key, at).await?;
            let (alert_id, incident_id) = open.unwrap_or_default();
            sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&alert_id)
                .execute(&mut **tx)
                .await?;
            if let Some(incident_id) = incident_id {
                resolve_incident_if_done(tx, &incident_id, row, &channel, at).await?;
            }
            Ok(outcomes::RESOLVED.into())
        }
        Decision::Drop => {
            if event.action == EventAction::Resolve && resolve_suppressed(tx, row, &event.dedup_key, at).await? > 0 {
                return Ok(outcomes::RESOLVED.into());
            }
            Ok(outcomes::DROPPED.into())
        }
    }
}

/// The log entry channel of an API event.
fn channel(event: &AlertEvent) -> Value {
    let mut c = json!({"type": "api", "summary": event.summary.clone().unwrap_or_default(),
        "incident_key": event.dedup_key, "details": event.custom_details.clone().unwrap_or(Value::Null)});
    if let Some(description) = &event.summary {
        c["description"] = Value::String(description.clone());
    }
    if event.severity.is_some() {
        c["cef_details"] = json!({"severity": event.severity, "source_origin": event.source,
            "source_component": event.component, "event_class": event.class, "service_group": event.group,
            "client": event.client, "client_url": event.client_url, "contexts": event.contexts});
    }
    c
}

/// Resolves the open suppressed alert with this key, if any; returns how many it resolved.
async fn resolve_suppressed(tx: &mut Tx<'_>, row: &InboxRow, key: &str, at: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1
         WHERE integration_id = $2 AND alert_key = $3 AND status = 'triggered' AND suppressed = TRUE",
    )
    .bind(at)
    .bind(&row.integration_id)
    .bind(key)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

async fn insert_alert(
    tx: &mut Tx<'_>,
    event: &AlertEvent,
    row: &InboxRow,
    incident_id: Option<&str>,
    suppressed: bool,
    first_log: Option<&str>,
) -> Result<String> {
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity,
                             summary, source, component, group_name, class, custom_details, contexts, client,
                             client_url, event_timestamp, trigger_count, first_trigger_log_entry_id, created_at,
                             updated_at, last_occurred_at)
         VALUES ($1, $2, $3, $4, $5, 'triggered', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18,
                 $19, $19, $19)",
    )
    .bind(&id)
    .bind(incident_id)
    .bind(&row.service_id)
    .bind(&row.integration_id)
    .bind(&event.dedup_key)
    .bind(suppressed)
    .bind(event.severity.as_deref().unwrap_or("critical"))
    .bind(event.summary.as_deref().unwrap_or(""))
    .bind(&event.source)
    .bind(&event.component)
    .bind(&event.group)
    .bind(&event.class)
    .bind(event.custom_details.as_ref().map(Value::to_string))
    .bind(Value::Array(event.contexts.clone()).to_string())
    .bind(&event.client)
    .bind(&event.client_url)
    .bind(event.timestamp_ms)
    .bind(first_log)
    .bind(row.received_at)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn log_entry(
    tx: &mut Tx<'_>,
    kind: &str,
    incident_id: Option<&str>,
    alert_id: Option<&str>,
    row: &InboxRow,
    channel: &Value,
    user_id: Option<&str>,
    at: i64,
) -> Result<String> {
    let id = ids::long_id();
    log_entry_with_id(tx, &id, kind, incident_id, alert_id, row, channel, user_id, at).await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn log_entry_with_id(
    tx: &mut Tx<'_>,
    id: &str,
    kind: &str,
    incident_id: Option<&str>,
    alert_id: Option<&str>,
    row: &InboxRow,
    channel: &Value,
    user_id: Option<&str>,
    at: i64,
) -> Result<()> {
    let summary = match kind {
        "trigger_log_entry" => "Triggered through the API".to_string(),
        "acknowledge_log_entry" => "Acknowledged through the API".to_string(),
        "resolve_log_entry" => "Resolved through the API".to_string(),
        "assign_log_entry" => "Assigned via escalation policy".to_string(),
        other => other.to_string(),
    };
    let (agent_type, agent_id, channel) = if kind == "assign_log_entry" {
        (Some("service_reference"), row.service_id.as_str(), json!({"type": "auto"}))
    } else {
        (Some("integration_reference"), row.integration_id.as_str(), channel.clone())
    };
    sqlx::query(
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
                                  summary, user_id, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, NULL, $11)",
    )
    .bind(id)
    .bind(kind)
    .bind(incident_id)
    .bind(alert_id)
    .bind(&row.service_id)
    .bind(agent_type)
    .bind(agent_id)
    .bind(channel.to_string())
    .bind(summary)
    .bind(user_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn create_incident(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    event: &AlertEvent,
    row: &InboxRow,
    service: &ServiceFacts,
    channel: &Value,
) -> Result<String> {
    let at = row.received_at;
    let (number,): (i64,) =
        sqlx::query_as("UPDATE counters SET value = value + 1 WHERE name = 'incident_number' RETURNING value")
            .fetch_one(&mut **tx)
            .await?;
    let rule: Value = serde_json::from_str(&service.incident_urgency_rule).unwrap_or(Value::Null);
    let urgency = urgency_for(&rule, event.severity.as_deref());
    let incident_id = ids::resource_id();
    let log_id = ids::long_id();
    let title = event.summary.clone().unwrap_or_default();
    sqlx::query(
        "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id, status,
                                urgency, priority_id, incident_key, assigned_via, escalation_level, body_details,
                                first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type,
                                last_status_change_by_id, created_at, updated_at)
         VALUES ($1, $2, $3, $3, $4, $5, 'triggered', $6, NULL, $7, 'escalation_policy', 1, $8, $10, $9,
                 'service_reference', $4, $9, $9)",
    )
    .bind(&incident_id)
    .bind(number)
    .bind(&title)
    .bind(&row.service_id)
    .bind(&service.escalation_policy_id)
    .bind(urgency)
    .bind(&event.dedup_key)
    .bind(event.custom_details.as_ref().map(Value::to_string))
    .bind(at)
    .bind(&log_id)
    .execute(&mut **tx)
    .await?;
    let alert_id = insert_alert(tx, event, row, Some(&incident_id), false, Some(&log_id)).await?;
    log_entry_with_id(tx, &log_id, "trigger_log_entry", Some(&incident_id), Some(&alert_id), row, channel, None, at)
        .await?;
    let assignees = cache.assignees(tx, &service.escalation_policy_id).await?;
    for user_id in &assignees {
        let inserted = sqlx::query(
            "INSERT INTO incident_assignments (incident_id, user_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&incident_id)
        .bind(user_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() > 0 {
            log_entry(tx, "assign_log_entry", Some(&incident_id), None, row, channel, Some(user_id.as_str()), at)
                .await?;
        }
    }
    sqlx::query("UPDATE services SET last_incident_timestamp = $1 WHERE id = $2")
        .bind(at)
        .bind(&row.service_id)
        .execute(&mut **tx)
        .await?;
    super::jobs::incident_status_changed(tx, &incident_id, "triggered", at).await?;
    Ok(incident_id)
}

async fn resolve_incident_if_done(
    tx: &mut Tx<'_>,
    incident_id: &str,
    row: &InboxRow,
    channel: &Value,
    at: i64,
) -> Result<()> {
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status = 'triggered'")
        .bind(incident_id)
        .fetch_one(&mut **tx)
        .await?;
    if open > 0 {
        return Ok(());
    }
    let changed = sqlx::query(
        "UPDATE incidents SET status = 'resolved', resolved_at = $1, last_status_change_at = $1,
             last_status_change_by_type = 'integration_reference', last_status_change_by_id = $2, updated_at = $1
         WHERE id = $3 AND status <> 'resolved'",
    )
    .bind(at)
    .bind(&row.integration_id)
    .bind(incident_id)
    .execute(&mut **tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Ok(());
    }
    sqlx::query("DELETE FROM incident_assignments WHERE incident_id = $1").bind(incident_id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM incident_acknowledgements WHERE incident_id = $1")
        .bind(incident_id)
        .execute(&mut **tx)
        .await?;
    log_entry(tx, "resolve_log_entry", Some(incident_id), None, row, channel, None, at).await?;
    super::jobs::incident_status_changed(tx, incident_id, "resolved", at).await?;
    Ok(())
}

// Test fixtures (see `crate::testing`): service states the events pipeline reacts to.

pub async fn fixture_service_status(p: &Pools, service_id: &str, status: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE services SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(service_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_integration_rate_limit(p: &Pools, integration_id: &str, per_minute: Option<i64>) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE integrations SET rate_limit_per_minute = $1 WHERE id = $2")
        .bind(per_minute)
        .bind(integration_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_maintenance_window(p: &Pools, service_id: &str, start: i64, end: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let (sequence,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'maintenance_window_sequence' RETURNING value",
    )
    .fetch_one(&mut *tx)
    .await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO maintenance_windows (id, sequence_number, description, start_time, end_time, created_by, created_at)
         VALUES ($1, $2, 'fixture', $3, $4, NULL, $3)",
    )
    .bind(&id)
    .bind(sequence)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO maintenance_window_services (maintenance_window_id, service_id) VALUES ($1, $2)")
        .bind(&id)
        .bind(service_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A second integration on the same service; returns `(integration_id, integration_key)`.
pub async fn fixture_integration(p: &Pools, service_id: &str, kind: &str, now: i64) -> Result<(String, String)> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    let key = ids::integration_key();
    sqlx::query(
        "INSERT INTO integrations (id, service_id, type, name, integration_key, vendor_id, rate_limit_per_minute, created_at)
         VALUES ($1, $2, $3, 'Second integration', $4, NULL, NULL, $5)",
    )
    .bind(&id)
    .bind(service_id)
    .bind(kind)
    .bind(&key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, key))
}

/// Deletes processed inbox rows processed before `inbox_before` and change events received before
/// `changes_before`; returns how many rows went.
pub async fn prune(p: &Pools, inbox_before: i64, changes_before: i64) -> Result<u64> {
    let mut tx = begin_write(p).await?;
    let inbox = sqlx::query("DELETE FROM events WHERE processed_at IS NOT NULL AND processed_at < $1")
        .bind(inbox_before)
        .execute(&mut *tx)
        .await?;
    let changes =
        sqlx::query("DELETE FROM change_events WHERE received_at < $1").bind(changes_before).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(inbox.rows_affected() + changes.rows_affected())
}

pub async fn fixture_incident_status(p: &Pools, incident_id: &str, status: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE incidents SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(incident_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_raw_inbox_row(
    p: &Pools,
    integration_id: &str,
    service_id: &str,
    body: &str,
    now: i64,
) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query(
        "INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body)
         VALUES ($1, 'alert', $2, $3, $4, 'poison', $5)",
    )
    .bind(ids::long_id())
    .bind(now)
    .bind(integration_id)
    .bind(service_id)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
