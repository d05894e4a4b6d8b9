//! SQL for the Events API inbox and its processor (see `crate::events` for the rules).

use super::event_processing::Pending;
use super::script::Script;
use super::{Db, Pools, begin_write, lock_event_processing};
use crate::events::{AlertRow, EventIncidentRow, InboxItem, InboxRow, IntegrationRoute, outcomes};
use crate::{Result, ids};
use klaxon_core::events::ChangeEvent;
use serde_json::Value;

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

/// Commits the batch, and in the same transaction applies the alert events, set-based (see
/// [`super::event_processing`]), inserting their inbox rows already stamped: one commit (one fsync) covers
/// accepting and processing, and an event's incident is readable when its 202 goes out. If applying fails
/// (before the commit), the transaction is rolled back and the batch is committed again, unprocessed, for
/// the processor worker to retry: a processing failure never fails the accept. (No savepoint: it would cost
/// two more statements and a sub-journal copy of every page the batch touches, on every batch, for a path
/// that is almost never taken.) When older rows still wait (a backlog after a restart or a failure), they go
/// first, in order: the new rows are stored unprocessed and up to `process_limit` of the oldest rows are
/// applied. Returns whether unprocessed rows may remain.
pub async fn accept(p: &Pools, items: &[InboxItem], now: i64, process_limit: i64) -> Result<(bool, u64)> {
    super::accept_events(p, items, now, process_limit).await
}

/// The oldest unprocessed inbox row, if any: accepted events that still wait to be applied.
pub const FIRST_WAITING: &str = "SELECT seq FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT 1";

/// A batch's alert events (with the inbox ids they get) and change events.
pub struct Split<'a> {
    pub alerts: Vec<(String, &'a InboxItem)>,
    pub changes: Vec<(&'a String, &'a String, &'a ChangeEvent)>,
}

pub fn split(items: &[InboxItem]) -> Split<'_> {
    let mut split = Split { alerts: Vec::new(), changes: Vec::new() };
    for item in items {
        match item {
            InboxItem::Alert { .. } => split.alerts.push((ids::long_id(), item)),
            InboxItem::Change { integration_id, service_id, event } => {
                split.changes.push((integration_id, service_id, event))
            }
        }
    }
    split
}

/// The alert events of a batch being accepted, as pending events received `now`.
pub fn pending<'a>(split: &'a Split<'_>, now: i64) -> Vec<Pending<'a>> {
    split
        .alerts
        .iter()
        .filter_map(|(id, item)| match item {
            InboxItem::Alert { integration_id, service_id, dedup_key, body, event } => Some(Pending {
                seq: None,
                id,
                dedup_key,
                integration_id,
                service_id,
                received_at: now,
                kind: "alert",
                body,
                event: event.as_deref(),
            }),
            InboxItem::Change { .. } => None,
        })
        .collect()
}

/// [`accept`] through sqlx, statement by statement in one transaction.
pub async fn accept_in_transaction(
    p: &Pools,
    items: &[InboxItem],
    now: i64,
    process_limit: i64,
) -> Result<(bool, u64)> {
    let split = split(items);
    let changes = &split.changes;
    let pending = pending(&split, now);
    let mut tx = begin_write(p).await?;
    insert_change_events(&mut tx, changes, now).await?;
    if pending.is_empty() {
        tx.commit().await?;
        return Ok((false, 0));
    }
    match store_and_apply(&mut tx, &pending, now, process_limit).await {
        Ok(backlog) => {
            tx.commit().await?;
            return Ok(backlog);
        }
        Err(e) => {
            tracing::warn!(error = %e, "applying accepted events failed; storing them for the processor to retry");
            tx.rollback().await?;
        }
    }
    let mut tx = begin_write(p).await?;
    insert_change_events(&mut tx, changes, now).await?;
    super::event_processing::store_unprocessed(&mut tx, &pending, now).await?;
    tx.commit().await?;
    Ok((true, 0))
}

/// Inside the accept transaction: stores the alert events and applies them (or, behind a backlog, the
/// oldest waiting rows). Returns whether unprocessed rows may remain, and how many new incidents nobody could
/// be assigned to.
async fn store_and_apply(
    tx: &mut Tx<'_>,
    pending: &[Pending<'_>],
    now: i64,
    process_limit: i64,
) -> Result<(bool, u64)> {
    lock_event_processing(tx).await?;
    let waiting: Option<(i64,)> = sqlx::query_as(FIRST_WAITING).persistent(true).fetch_optional(&mut **tx).await?;
    if waiting.is_some() {
        super::event_processing::store_unprocessed(tx, pending, now).await?;
        let (n, unassignable) = process_rows(tx, process_limit, now).await?;
        return Ok((n as i64 >= process_limit, unassignable));
    }
    let unassignable = super::event_processing::apply(tx, pending, now).await?;
    Ok((false, unassignable))
}

async fn insert_change_events(tx: &mut Tx<'_>, changes: &[(&String, &String, &ChangeEvent)], now: i64) -> Result<()> {
    change_events_script(changes, now).run(tx).await
}

/// Change events go straight to `change_events` (they never page).
pub fn change_events_script(changes: &[(&String, &String, &ChangeEvent)], now: i64) -> Script {
    let mut script = Script::default();
    script.insert_rows(
        "INSERT INTO change_events (id, service_id, integration_id, summary, source, event_timestamp,
                                    custom_details, links, images, received_at)",
        "",
        changes,
        |b, (integration_id, service_id, event)| {
            b.push_bind(ids::long_id())
                .push_bind(service_id.to_string())
                .push_bind(integration_id.to_string())
                .push_bind(event.summary.clone())
                .push_bind(event.source.clone())
                .push_bind(event.timestamp_ms.unwrap_or(now))
                .push_bind(event.custom_details.as_ref().map(Value::to_string))
                .push_bind(Value::Array(event.links.clone()).to_string())
                .push_bind(Value::Array(event.images.clone()).to_string())
                .push_bind(now);
        },
    );
    script
}

const INBOX_COLUMNS: &str =
    "seq, id, kind, received_at, integration_id, service_id, dedup_key, body, processed_at, outcome";

/// Processes up to `limit` waiting rows: how many, and how many new incidents nobody could be assigned to.
pub async fn process_batch(p: &Pools, limit: i64, now: i64) -> Result<(usize, u64)> {
    let mut tx = begin_write(p).await?;
    lock_event_processing(&mut tx).await?;
    let processed = process_rows(&mut tx, limit, now).await?;
    tx.commit().await?;
    Ok(processed)
}

/// Applies up to `limit` of the oldest unprocessed rows inside `tx` (which holds the processing lock),
/// set-based, and stamps each.
async fn process_rows(tx: &mut Tx<'_>, limit: i64, now: i64) -> Result<(usize, u64)> {
    let sql = format!("SELECT {INBOX_COLUMNS} FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT $1");
    let rows = sqlx::query_as::<Db, InboxRow>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(&mut **tx).await?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let pending: Vec<Pending<'_>> = rows
        .iter()
        .map(|r| Pending {
            seq: Some(r.seq),
            id: &r.id,
            dedup_key: r.dedup_key.as_deref().unwrap_or_default(),
            integration_id: &r.integration_id,
            service_id: &r.service_id,
            received_at: r.received_at,
            kind: &r.kind,
            body: &r.body,
            event: None,
        })
        .collect();
    let unassignable = super::event_processing::apply(tx, &pending, now).await?;
    Ok((rows.len(), unassignable))
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

// Test fixtures (see `crate::testing`): service states the events pipeline reacts to.

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
