//! Set-based event processing: reads the [`Facts`] a batch of alert events needs, lets the pure planner
//! (`klaxon_core::alert_batch`) decide, and writes the [`Plan`] with a fixed number of statements per batch
//! (multi-row inserts, `UPDATE … FROM (VALUES …)`), whatever the batch size. Per-event statements were the
//! bottleneck of the write path: on SQLite every statement is a hop to the connection's thread, on
//! PostgreSQL a round trip.
//!
//! Row locks: on PostgreSQL the open alerts and their incidents are read `FOR UPDATE`, so a REST change
//! to the same incident waits for the batch instead of being overwritten by it. SQLite's one writer
//! already excludes that.

use super::{Db, FOR_UPDATE};
use crate::Result;
use crate::jobs::kinds;
use klaxon_core::alert_batch::{
    BatchEvent, Facts, IdSource, IncidentFacts, LogKind, OpenAlert, Plan, ServiceFacts, Timeouts, TimerChange,
    TimerKind,
};
use klaxon_core::events::AlertEvent;
use klaxon_core::incident::Status;
use serde_json::{Value, json};
use sqlx::QueryBuilder;
use std::collections::{BTreeSet, HashMap};

pub type Tx<'a> = sqlx::Transaction<'a, Db>;

/// Most bind parameters in one statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// One event to process: an inbox row, or an event being accepted in this transaction.
pub struct Pending<'a> {
    pub integration_id: &'a str,
    pub service_id: &'a str,
    pub received_at: i64,
    pub kind: &'a str,
    pub body: &'a str,
}

struct RandomIds;

impl IdSource for RandomIds {
    /// Incidents, alerts and log entries are all high-volume records: time-ordered ids (see `crate::ids`).
    fn next_id(&mut self) -> String {
        crate::ids::long_id()
    }
}

/// Applies the events inside `tx` and answers one outcome per event. An event whose body cannot be read
/// is answered `failed: …` without failing the others.
pub async fn apply(tx: &mut Tx<'_>, pending: &[Pending<'_>]) -> Result<Vec<String>> {
    use klaxon_core::alert_batch::outcomes;
    let mut outcomes_by_index: Vec<Option<String>> = vec![None; pending.len()];
    let mut parsed: Vec<(usize, AlertEvent)> = Vec::with_capacity(pending.len());
    for (i, p) in pending.iter().enumerate() {
        if p.kind != "alert" {
            outcomes_by_index[i] = Some(outcomes::DROPPED.into());
            continue;
        }
        match serde_json::from_str::<AlertEvent>(p.body) {
            Ok(event) => parsed.push((i, event)),
            Err(e) => {
                let reason: String = format!("{}: unreadable event: {e}", outcomes::FAILED).chars().take(500).collect();
                outcomes_by_index[i] = Some(reason);
            }
        }
    }
    if !parsed.is_empty() {
        let events: Vec<BatchEvent<'_>> = parsed
            .iter()
            .map(|(i, event)| BatchEvent {
                integration_id: pending[*i].integration_id,
                service_id: pending[*i].service_id,
                received_at: pending[*i].received_at,
                event,
            })
            .collect();
        let facts = load_facts(tx, &events).await?;
        let plan = klaxon_core::alert_batch::plan(&events, &facts, RandomIds);
        write_plan(tx, &events, &plan).await?;
        for ((i, _), outcome) in parsed.iter().zip(plan.outcomes) {
            outcomes_by_index[*i] = Some(outcome);
        }
    }
    Ok(outcomes_by_index.into_iter().map(Option::unwrap_or_default).collect())
}

/// `… IN ($1, $2, …)` over `values` (which must not be empty).
fn push_in_list<'a>(qb: &mut QueryBuilder<Db>, values: impl IntoIterator<Item = &'a str>) {
    qb.push("(");
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v.to_string());
    }
    list.push_unseparated(")");
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: String,
    status: String,
    incident_urgency_rule: String,
    escalation_policy_id: String,
    acknowledgement_timeout: Option<i64>,
    auto_resolve_timeout: Option<i64>,
}

async fn load_facts(tx: &mut Tx<'_>, events: &[BatchEvent<'_>]) -> Result<Facts> {
    let mut facts = Facts::default();
    let service_ids: BTreeSet<&str> = events.iter().map(|e| e.service_id).collect();
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, status, incident_urgency_rule, escalation_policy_id, acknowledgement_timeout, auto_resolve_timeout
         FROM services WHERE deleted_at IS NULL AND id IN ",
    );
    push_in_list(&mut qb, service_ids.iter().copied());
    let services: Vec<ServiceRow> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
    if services.is_empty() {
        return Ok(facts);
    }

    let (first, last) =
        events.iter().fold((i64::MAX, i64::MIN), |(a, b), e| (a.min(e.received_at), b.max(e.received_at)));
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT mws.service_id, mw.start_time, mw.end_time FROM maintenance_window_services mws
         JOIN maintenance_windows mw ON mw.id = mws.maintenance_window_id WHERE mw.start_time <= ",
    );
    qb.push_bind(last).push(" AND mw.end_time > ").push_bind(first).push(" AND mws.service_id IN ");
    push_in_list(&mut qb, services.iter().map(|s| s.id.as_str()));
    let windows: Vec<(String, i64, i64)> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;

    let policies: BTreeSet<&str> = services.iter().map(|s| s.escalation_policy_id.as_str()).collect();
    // The user targets of each policy's first rule (schedule targets come with schedules).
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT r.escalation_policy_id, t.target_id FROM escalation_rules r
         JOIN escalation_targets t ON t.escalation_rule_id = r.id
         JOIN users u ON u.id = t.target_id AND u.deleted_at IS NULL
         WHERE t.target_type = 'user'
           AND r.position = (SELECT MIN(r2.position) FROM escalation_rules r2
                             WHERE r2.escalation_policy_id = r.escalation_policy_id)
           AND r.escalation_policy_id IN ",
    );
    push_in_list(&mut qb, policies.iter().copied());
    qb.push(" ORDER BY r.escalation_policy_id, t.position");
    let targets: Vec<(String, String)> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
    let mut responders: HashMap<&str, Vec<String>> = HashMap::new();
    for (policy, user) in &targets {
        let users = responders.entry(policy.as_str()).or_default();
        if !users.contains(user) {
            users.push(user.clone());
        }
    }

    for s in &services {
        facts.services.insert(
            s.id.clone(),
            ServiceFacts {
                disabled: s.status == "disabled",
                maintenance: windows.iter().filter(|(id, _, _)| *id == s.id).map(|(_, a, b)| (*a, *b)).collect(),
                escalation_policy_id: s.escalation_policy_id.clone(),
                urgency_rule: serde_json::from_str(&s.incident_urgency_rule).unwrap_or(Value::Null),
                first_responders: responders.get(s.escalation_policy_id.as_str()).cloned().unwrap_or_default(),
                timeouts: Timeouts {
                    acknowledgement_secs: s.acknowledgement_timeout,
                    auto_resolve_secs: s.auto_resolve_timeout,
                },
            },
        );
    }

    let integrations: BTreeSet<&str> = events.iter().map(|e| e.integration_id).collect();
    let keys: BTreeSet<&str> = events.iter().map(|e| e.event.dedup_key.as_str()).collect();
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, integration_id, alert_key, incident_id, suppressed FROM alerts
         WHERE status = 'triggered' AND integration_id IN ",
    );
    push_in_list(&mut qb, integrations.iter().copied());
    qb.push(" AND alert_key IN ");
    push_in_list(&mut qb, keys.iter().copied());
    qb.push(FOR_UPDATE);
    type OpenRow = (String, Option<String>, String, Option<String>, bool);
    let open: Vec<OpenRow> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
    let mut incident_ids: BTreeSet<String> = BTreeSet::new();
    for (id, integration_id, key, incident_id, suppressed) in open {
        let Some(integration_id) = integration_id else { continue };
        if suppressed {
            facts.open_suppressed.insert((integration_id, key), id);
        } else {
            if let Some(incident) = &incident_id {
                incident_ids.insert(incident.clone());
            }
            facts.open.insert((integration_id, key), OpenAlert { id, incident_id });
        }
    }

    if !incident_ids.is_empty() {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT i.id, i.status, i.service_id, s.acknowledgement_timeout, s.auto_resolve_timeout
             FROM incidents i JOIN services s ON s.id = i.service_id WHERE i.id IN ",
        );
        push_in_list(&mut qb, incident_ids.iter().map(String::as_str));
        qb.push(super::FOR_UPDATE_OF_I);
        type IncidentRow = (String, String, String, Option<i64>, Option<i64>);
        let incidents: Vec<IncidentRow> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT incident_id, COUNT(*) FROM alerts WHERE status = 'triggered' AND incident_id IN ",
        );
        push_in_list(&mut qb, incident_ids.iter().map(String::as_str));
        qb.push(" GROUP BY incident_id");
        let counts: Vec<(String, i64)> = qb.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        let counts: HashMap<String, i64> = counts.into_iter().collect();
        for (id, status, service_id, ack, auto) in incidents {
            let Ok(status) = status.parse::<Status>() else { continue };
            let open_alerts = counts.get(&id).copied().unwrap_or(0);
            facts.incidents.insert(
                id,
                IncidentFacts {
                    status,
                    service_id,
                    open_alerts,
                    timeouts: Timeouts { acknowledgement_secs: ack, auto_resolve_secs: auto },
                },
            );
        }
    }
    Ok(facts)
}

/// Runs `INSERT INTO … VALUES (…), (…) <tail>` over `rows`, in as few statements as the parameter limit
/// allows.
async fn insert_rows<T>(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    mut bind: impl FnMut(&mut sqlx::query_builder::Separated<'_, Db, &'static str>, &T),
) -> Result<()> {
    for chunk in rows.chunks((MAX_PARAMS / columns).max(1)) {
        let mut qb = QueryBuilder::<Db>::new(head);
        qb.push(" ");
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.push(tail);
        qb.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Runs `UPDATE … FROM (VALUES (…), (…)) AS v WHERE …` over `rows` (columns `v.column1`, `v.column2`, …).
async fn update_rows<T>(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    mut bind: impl FnMut(&mut sqlx::query_builder::Separated<'_, Db, &'static str>, &T),
) -> Result<()> {
    for chunk in rows.chunks((MAX_PARAMS / columns).max(1)) {
        let mut qb = QueryBuilder::<Db>::new(head);
        qb.push(" FROM (");
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.push(") AS v ");
        qb.push(tail);
        qb.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn delete_in(tx: &mut Tx<'_>, head: &str, values: &[&str]) -> Result<()> {
    for chunk in values.chunks(MAX_PARAMS) {
        let mut qb = QueryBuilder::<Db>::new(head);
        push_in_list(&mut qb, chunk.iter().copied());
        qb.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
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

fn timer_key(kind: TimerKind, incident_id: &str) -> String {
    match kind {
        TimerKind::AcknowledgementTimeout => format!("{}:{incident_id}", kinds::ACK_TIMEOUT),
        TimerKind::AutoResolve => format!("{}:{incident_id}", kinds::AUTO_RESOLVE),
    }
}

async fn write_plan(tx: &mut Tx<'_>, events: &[BatchEvent<'_>], plan: &Plan) -> Result<()> {
    // Existing rows first: a key's open alert is resolved before a new one for the same key is inserted.
    update_rows(
        tx,
        "UPDATE alerts SET trigger_count = alerts.trigger_count + v.column2,
             last_occurred_at = COALESCE(v.column3, alerts.last_occurred_at),
             status = CASE WHEN v.column4 IS NULL THEN alerts.status ELSE 'resolved' END,
             resolved_at = COALESCE(v.column4, alerts.resolved_at), updated_at = v.column5",
        "WHERE alerts.id = v.column1",
        5,
        &plan.alert_changes,
        |b, c| {
            b.push_bind(c.id.clone())
                .push_bind(c.added_triggers)
                .push_bind(c.last_occurred_at)
                .push_bind(c.resolved_at)
                .push_bind(c.updated_at);
        },
    )
    .await?;
    update_rows(
        tx,
        "UPDATE incidents SET status = v.column2, last_status_change_at = v.column3,
             last_status_change_by_type = 'integration_reference', last_status_change_by_id = v.column4,
             updated_at = v.column3, resolved_at = COALESCE(v.column5, incidents.resolved_at)",
        "WHERE incidents.id = v.column1",
        5,
        &plan.incident_changes,
        |b, c| {
            b.push_bind(c.id.clone())
                .push_bind(c.status.as_str())
                .push_bind(c.changed_at)
                .push_bind(c.by_integration_id.clone())
                .push_bind(c.resolved_at);
        },
    )
    .await?;
    if !plan.cleared_incidents.is_empty() {
        let ids: Vec<&str> = plan.cleared_incidents.iter().map(String::as_str).collect();
        delete_in(tx, "DELETE FROM incident_assignments WHERE incident_id IN ", &ids).await?;
        delete_in(tx, "DELETE FROM incident_acknowledgements WHERE incident_id IN ", &ids).await?;
    }

    if !plan.new_incidents.is_empty() {
        let count = plan.new_incidents.len() as i64;
        let (last,): (i64,) =
            sqlx::query_as("UPDATE counters SET value = value + $1 WHERE name = 'incident_number' RETURNING value")
                .bind(count)
                .fetch_one(&mut **tx)
                .await?;
        let first = last - count + 1;
        let numbered: Vec<(i64, &klaxon_core::alert_batch::NewIncident)> =
            plan.new_incidents.iter().enumerate().map(|(n, inc)| (first + n as i64, inc)).collect();
        insert_rows(
            tx,
            "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id,
                 status, urgency, priority_id, incident_key, assigned_via, escalation_level, body_details,
                 first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type,
                 last_status_change_by_id, created_at, updated_at, resolved_at)",
            "",
            18,
            &numbered,
            |b, (number, inc)| {
                let e = &events[inc.event];
                let title = e.event.summary.clone().unwrap_or_default();
                let (by_type, by_id) = match &inc.last_status_change_by_integration {
                    Some(integration) => ("integration_reference", integration.clone()),
                    None => ("service_reference", inc.service_id.clone()),
                };
                b.push_bind(inc.id.clone())
                    .push_bind(*number)
                    .push_bind(title.clone())
                    .push_bind(title)
                    .push_bind(inc.service_id.clone())
                    .push_bind(inc.escalation_policy_id.clone())
                    .push_bind(inc.status.as_str())
                    .push_bind(inc.urgency)
                    .push("NULL")
                    .push_bind(e.event.dedup_key.clone())
                    .push("'escalation_policy'")
                    .push("1")
                    .push_bind(e.event.custom_details.as_ref().map(Value::to_string))
                    .push_bind(inc.first_trigger_log_entry_id.clone())
                    .push_bind(inc.last_status_change_at)
                    .push_bind(by_type)
                    .push_bind(by_id)
                    .push_bind(inc.created_at)
                    .push_bind(inc.last_status_change_at)
                    .push_bind(inc.resolved_at);
            },
        )
        .await?;
    }

    insert_rows(
        tx,
        "INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity,
             summary, source, component, group_name, class, custom_details, contexts, client, client_url,
             event_timestamp, trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at,
             resolved_at)",
        "",
        24,
        &plan.new_alerts,
        |b, a| {
            let e = &events[a.event];
            let ev = e.event;
            b.push_bind(a.id.clone())
                .push_bind(a.incident_id.clone())
                .push_bind(e.service_id.to_string())
                .push_bind(e.integration_id.to_string())
                .push_bind(ev.dedup_key.clone())
                .push_bind(if a.resolved_at.is_some() { "resolved" } else { "triggered" })
                .push_bind(a.suppressed)
                .push_bind(ev.severity.clone().unwrap_or_else(|| "critical".into()))
                .push_bind(ev.summary.clone().unwrap_or_default())
                .push_bind(ev.source.clone())
                .push_bind(ev.component.clone())
                .push_bind(ev.group.clone())
                .push_bind(ev.class.clone())
                .push_bind(ev.custom_details.as_ref().map(Value::to_string))
                .push_bind(Value::Array(ev.contexts.clone()).to_string())
                .push_bind(ev.client.clone())
                .push_bind(ev.client_url.clone())
                .push_bind(ev.timestamp_ms)
                .push_bind(a.trigger_count)
                .push_bind(a.first_trigger_log_entry_id.clone())
                .push_bind(a.created_at)
                .push_bind(a.resolved_at.unwrap_or(a.last_occurred_at).max(a.last_occurred_at))
                .push_bind(a.last_occurred_at)
                .push_bind(a.resolved_at);
        },
    )
    .await?;

    // Each event's channel is rendered once, however many entries it causes.
    let mut channels: HashMap<usize, String> = HashMap::new();
    for entry in &plan.log_entries {
        if entry.kind != LogKind::Assign {
            channels.entry(entry.event).or_insert_with(|| channel(events[entry.event].event).to_string());
        }
    }
    insert_rows(
        tx,
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
             summary, user_id, details, created_at)",
        "",
        11,
        &plan.log_entries,
        |b, l| {
            let e = &events[l.event];
            let summary = match l.kind {
                LogKind::Trigger => "Triggered through the API",
                LogKind::Acknowledge => "Acknowledged through the API",
                LogKind::Resolve => "Resolved through the API",
                LogKind::Assign => "Assigned via escalation policy",
            };
            let (agent_type, agent_id, channel) = match l.kind {
                LogKind::Assign => ("service_reference", e.service_id, r#"{"type":"auto"}"#.to_string()),
                _ => ("integration_reference", e.integration_id, channels.get(&l.event).cloned().unwrap_or_default()),
            };
            b.push_bind(l.id.clone())
                .push_bind(l.kind.type_name())
                .push_bind(l.incident_id.clone())
                .push_bind(l.alert_id.clone())
                .push_bind(e.service_id.to_string())
                .push_bind(agent_type)
                .push_bind(agent_id.to_string())
                .push_bind(channel)
                .push("NULL")
                .push_bind(summary)
                .push_bind(l.user_id.clone())
                .push("NULL")
                .push_bind(l.at);
        },
    )
    .await?;

    insert_rows(
        tx,
        "INSERT INTO incident_assignments (incident_id, user_id, at)",
        " ON CONFLICT DO NOTHING",
        3,
        &plan.assignments,
        |b, a| {
            b.push_bind(a.incident_id.clone()).push_bind(a.user_id.clone()).push_bind(a.at);
        },
    )
    .await?;
    insert_rows(
        tx,
        "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)",
        " ON CONFLICT DO NOTHING",
        3,
        &plan.acknowledgements,
        |b, a| {
            b.push_bind(a.incident_id.clone())
                .push("'service_reference'")
                .push_bind(a.service_id.clone())
                .push_bind(a.at);
        },
    )
    .await?;
    for (service_id, at) in &plan.last_incident_at {
        sqlx::query("UPDATE services SET last_incident_timestamp = $1 WHERE id = $2")
            .bind(at)
            .bind(service_id)
            .execute(&mut **tx)
            .await?;
    }

    let cancelled: Vec<String> = plan
        .timers
        .iter()
        .filter(|t| t.change == TimerChange::Cancel)
        .map(|t| timer_key(t.kind, &t.incident_id))
        .collect();
    if !cancelled.is_empty() {
        let keys: Vec<&str> = cancelled.iter().map(String::as_str).collect();
        delete_in(tx, "DELETE FROM jobs WHERE unique_key IN ", &keys).await?;
    }
    let scheduled: Vec<(String, &str, String, i64, i64)> = plan
        .timers
        .iter()
        .filter_map(|t| match t.change {
            TimerChange::Schedule { due_at } => {
                let kind = match t.kind {
                    TimerKind::AcknowledgementTimeout => kinds::ACK_TIMEOUT,
                    TimerKind::AutoResolve => kinds::AUTO_RESOLVE,
                };
                let payload = json!({ "incident_id": t.incident_id }).to_string();
                Some((timer_key(t.kind, &t.incident_id), kind, payload, due_at, t.at))
            }
            TimerChange::Cancel => None,
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO jobs (id, kind, unique_key, payload, due_at, lease_owner, lease_until, attempts, last_error,
             created_at)",
        " ON CONFLICT (unique_key) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,
             due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL, attempts = 0, last_error = NULL",
        6,
        &scheduled,
        |b, (key, kind, payload, due_at, at)| {
            b.push_bind(crate::ids::long_id())
                .push_bind(*kind)
                .push_bind(key.clone())
                .push_bind(payload.clone())
                .push_bind(*due_at)
                .push("NULL")
                .push("NULL")
                .push("0")
                .push("NULL")
                .push_bind(*at);
        },
    )
    .await?;
    Ok(())
}
