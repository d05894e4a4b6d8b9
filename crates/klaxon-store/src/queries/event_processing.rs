//! Set-based event processing: reads the [`Facts`] a batch of alert events needs, lets the pure planner
//! (`klaxon_core::alert_batch`) decide, and writes the [`Plan`] with a fixed number of statements per batch
//! (multi-row inserts, `UPDATE … FROM (VALUES …)`), whatever the batch size. Per-event statements were the
//! bottleneck of the write path: on SQLite every statement is a hop to the connection's thread, on
//! PostgreSQL a round trip.
//!
//! Round trips: a batch reads its facts in three queries, then runs all its writes as one [`Script`]: on
//! SQLite a single multi-statement query (one hop to the connection's thread instead of one per
//! statement: under load each hop costs more than the rows it writes), on PostgreSQL statement by
//! statement (its extended protocol prepares one statement at a time).
//!
//! Row locks: on PostgreSQL the open alerts and their incidents are read `FOR UPDATE`, so a REST change
//! to the same incident waits for the batch instead of being overwritten by it. SQLite's one writer
//! already excludes that.

use super::{Db, FOR_UPDATE_OF_A, MULTI_STATEMENT_QUERIES, PERSISTENT_SCRIPTS, ROW_LOCKS};
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
    /// The inbox row's `seq` when it is stored already (it is then stamped); `None` for an event being
    /// accepted (its row is inserted, stamped).
    pub seq: Option<i64>,
    pub id: &'a str,
    pub dedup_key: &'a str,
    pub integration_id: &'a str,
    pub service_id: &'a str,
    pub received_at: i64,
    pub kind: &'a str,
    pub body: &'a str,
    /// `body` already parsed, when the caller has it.
    pub event: Option<&'a AlertEvent>,
}

struct RandomIds;

impl IdSource for RandomIds {
    /// Incidents, alerts and log entries are all high-volume records: time-ordered ids (see `crate::ids`).
    fn next_id(&mut self) -> String {
        crate::ids::long_id()
    }
}

/// Applies the events inside `tx` and stamps their inbox rows with what it did (inserting the rows of
/// events being accepted). An event whose body cannot be read is stamped `failed: …` without failing the
/// others.
pub async fn apply(tx: &mut Tx<'_>, pending: &[Pending<'_>], now: i64) -> Result<()> {
    use klaxon_core::alert_batch::outcomes;
    let mut outcomes_by_index: Vec<Option<String>> = vec![None; pending.len()];
    let mut parsed: Vec<(usize, std::borrow::Cow<'_, AlertEvent>)> = Vec::with_capacity(pending.len());
    for (i, p) in pending.iter().enumerate() {
        if p.kind != "alert" {
            outcomes_by_index[i] = Some(outcomes::DROPPED.into());
            continue;
        }
        if let Some(event) = p.event {
            parsed.push((i, std::borrow::Cow::Borrowed(event)));
            continue;
        }
        match serde_json::from_str::<AlertEvent>(p.body) {
            Ok(event) => parsed.push((i, std::borrow::Cow::Owned(event))),
            Err(e) => {
                let reason: String = format!("{}: unreadable event: {e}", outcomes::FAILED).chars().take(500).collect();
                outcomes_by_index[i] = Some(reason);
            }
        }
    }
    let mut script = Script::default();
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
        write_plan(&mut script, &events, &plan);
        for ((i, _), outcome) in parsed.iter().zip(plan.outcomes) {
            outcomes_by_index[*i] = Some(outcome);
        }
    }
    let outcomes: Vec<String> = outcomes_by_index.into_iter().map(Option::unwrap_or_default).collect();
    stamp_inbox(&mut script, pending, &outcomes, now);
    script.run(tx).await
}

/// Inserts the rows of new events, stamped, and stamps stored rows.
fn stamp_inbox(script: &mut Script, pending: &[Pending<'_>], outcomes: &[String], now: i64) {
    type Stamped<'a, 'b> = Vec<(&'a Pending<'b>, Option<&'a String>)>;
    let (stored, new): (Stamped<'_, '_>, Stamped<'_, '_>) =
        pending.iter().zip(outcomes.iter().map(Some)).partition(|(p, _)| p.seq.is_some());
    insert_inbox(script, &new, now);
    script.update_rows(
        "UPDATE events SET processed_at = v.column2, outcome = v.column3",
        "WHERE events.seq = v.column1",
        3,
        &stored,
        |b, (p, outcome)| {
            b.push_bind(p.seq.unwrap_or_default()).push_bind(now).push_bind(outcome.cloned());
        },
    );
}

/// Stores events being accepted as unprocessed inbox rows, for the processor worker.
pub async fn store_unprocessed(tx: &mut Tx<'_>, pending: &[Pending<'_>], now: i64) -> Result<()> {
    let rows: Vec<(&Pending<'_>, Option<&String>)> = pending.iter().map(|p| (p, None)).collect();
    let mut script = Script::default();
    insert_inbox(&mut script, &rows, now);
    script.run(tx).await
}

/// Inserts inbox rows for events being accepted; those with an outcome are stamped processed at `now`.
fn insert_inbox(script: &mut Script, rows: &[(&Pending<'_>, Option<&String>)], now: i64) {
    script.insert_rows(
        "INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body, processed_at, outcome)",
        "",
        9,
        rows,
        |b, (p, outcome)| {
            b.push_bind(p.id.to_string())
                .push_bind(p.kind.to_string())
                .push_bind(p.received_at)
                .push_bind(p.integration_id.to_string())
                .push_bind(p.service_id.to_string())
                .push_bind(p.dedup_key.to_string())
                .push_bind(p.body.to_string())
                .push_bind(outcome.map(|_| now))
                .push_bind(outcome.cloned());
        },
    );
}

/// One row of a `VALUES` list being bound.
type Row<'a> = sqlx::query_builder::Separated<'a, Db, &'static str>;

/// Statements to run together (see the module documentation): on SQLite one multi-statement query, on
/// PostgreSQL one statement at a time. Values are bound, never spliced.
#[derive(Default)]
pub struct Script {
    builders: Vec<QueryBuilder<Db>>,
}

impl Script {
    /// Starts a statement with `sql`, and answers the builder to complete it.
    fn statement(&mut self, sql: &str) -> &mut QueryBuilder<Db> {
        match self.builders.last_mut() {
            Some(_) if MULTI_STATEMENT_QUERIES => {}
            _ => self.builders.push(QueryBuilder::new("")),
        }
        let b = self.builders.last_mut().expect("a builder was just ensured");
        if !b.sql().as_str().is_empty() {
            b.push(";\n");
        }
        b.push(sql);
        b
    }

    /// `INSERT INTO … VALUES (…), (…) <tail>` over `rows`, in as few statements as the parameter limit
    /// allows.
    pub(super) fn insert_rows<T>(
        &mut self,
        head: &str,
        tail: &str,
        columns: usize,
        rows: &[T],
        bind: impl FnMut(&mut Row<'_>, &T),
    ) {
        self.values_statements(head, " ", tail, columns, rows, bind);
    }

    /// `UPDATE … FROM (VALUES (…), (…)) AS v <tail>` over `rows` (columns `v.column1`, `v.column2`, …).
    fn update_rows<T>(
        &mut self,
        head: &str,
        tail: &str,
        columns: usize,
        rows: &[T],
        bind: impl FnMut(&mut Row<'_>, &T),
    ) {
        self.values_statements(head, " FROM (", &format!(") AS v {tail}"), columns, rows, bind);
    }

    /// `<head><before>VALUES (…), (…)<after>` per chunk of `rows` that fits the parameter limit.
    fn values_statements<T>(
        &mut self,
        head: &str,
        before: &str,
        after: &str,
        columns: usize,
        rows: &[T],
        mut bind: impl FnMut(&mut Row<'_>, &T),
    ) {
        for chunk in rows.chunks((MAX_PARAMS / columns).max(1)) {
            let qb = self.statement(head);
            qb.push(before);
            qb.push_values(chunk, |mut b, row| bind(&mut b, row));
            qb.push(after);
        }
    }

    /// `<head> IN (…)` over `values`.
    fn delete_in(&mut self, head: &str, values: &[&str]) {
        // Chunks of at most 2^14, so the padded list stays under the parameter limit.
        for chunk in values.chunks(1 << 14) {
            let qb = self.statement(head);
            push_in_list(qb, chunk.iter().copied());
        }
    }

    pub async fn run(self, tx: &mut Tx<'_>) -> Result<()> {
        for mut b in self.builders {
            b.build().persistent(PERSISTENT_SCRIPTS).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// `(… , …)` over `values`, padded to a power of two by repeating the last value, so a query has a handful
/// of shapes however many values a batch brings, and stays prepared. No values give `(NULL)`, which matches
/// nothing.
fn push_in_list<'a>(qb: &mut QueryBuilder<Db>, values: impl IntoIterator<Item = &'a str>) {
    let values: Vec<&str> = values.into_iter().collect();
    if values.is_empty() {
        qb.push("(NULL)");
        return;
    }
    let padded = values.len().next_power_of_two();
    qb.push("(");
    let mut list = qb.separated(", ");
    for i in 0..padded {
        list.push_bind(values[i.min(values.len() - 1)].to_string());
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
    target_id: Option<String>,
}

async fn load_facts(tx: &mut Tx<'_>, events: &[BatchEvent<'_>]) -> Result<Facts> {
    let mut facts = Facts::default();
    let service_ids: BTreeSet<&str> = events.iter().map(|e| e.service_id).collect();
    // Each live service with the user targets of its policy's first rule (one row per target, or one row
    // with no target); schedule targets come with schedules.
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT s.id, s.status, s.incident_urgency_rule, s.escalation_policy_id, s.acknowledgement_timeout,
                s.auto_resolve_timeout, u.id AS target_id
         FROM services s
         LEFT JOIN escalation_rules r ON r.escalation_policy_id = s.escalation_policy_id
              AND r.position = (SELECT MIN(r2.position) FROM escalation_rules r2
                                WHERE r2.escalation_policy_id = s.escalation_policy_id)
         LEFT JOIN escalation_targets t ON t.escalation_rule_id = r.id AND t.target_type = 'user'
         LEFT JOIN users u ON u.id = t.target_id AND u.deleted_at IS NULL
         WHERE s.deleted_at IS NULL AND s.id IN ",
    );
    push_in_list(&mut qb, service_ids.iter().copied());
    qb.push(" ORDER BY s.id, t.position");
    let services: Vec<ServiceRow> = qb.build_query_as().persistent(true).fetch_all(&mut **tx).await?;
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
    push_in_list(&mut qb, service_ids.iter().copied());
    let windows: Vec<(String, i64, i64)> = qb.build_query_as().persistent(true).fetch_all(&mut **tx).await?;

    for row in &services {
        let facts_of = facts.services.entry(row.id.clone()).or_insert_with(|| ServiceFacts {
            disabled: row.status == "disabled",
            maintenance: windows.iter().filter(|(id, _, _)| *id == row.id).map(|(_, a, b)| (*a, *b)).collect(),
            escalation_policy_id: row.escalation_policy_id.clone(),
            urgency_rule: serde_json::from_str(&row.incident_urgency_rule).unwrap_or(Value::Null),
            first_responders: Vec::new(),
            timeouts: Timeouts {
                acknowledgement_secs: row.acknowledgement_timeout,
                auto_resolve_secs: row.auto_resolve_timeout,
            },
        });
        if let Some(user) = &row.target_id
            && !facts_of.first_responders.contains(user)
        {
            facts_of.first_responders.push(user.clone());
        }
    }

    // The open alerts of the batch's keys, with their incidents' status and open-alert count. The count sums
    // over the incident's alerts (index `alerts_incident`) rather than filtering on status, which let
    // PostgreSQL's planner intersect with the whole open-alert index on every row.
    let integrations: BTreeSet<&str> = events.iter().map(|e| e.integration_id).collect();
    let keys: BTreeSet<&str> = events.iter().map(|e| e.event.dedup_key.as_str()).collect();
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT a.id, a.integration_id, a.alert_key, a.incident_id, a.suppressed, i.status, i.service_id,
                s.acknowledgement_timeout, s.auto_resolve_timeout,
                (SELECT COALESCE(SUM(CASE WHEN x.status = 'triggered' THEN 1 ELSE 0 END), 0) FROM alerts x
                 WHERE x.incident_id = a.incident_id) AS open_alerts
         FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id LEFT JOIN services s ON s.id = i.service_id
         WHERE a.status = 'triggered' AND a.integration_id IN ",
    );
    push_in_list(&mut qb, integrations.iter().copied());
    qb.push(" AND a.alert_key IN ");
    push_in_list(&mut qb, keys.iter().copied());
    qb.push(FOR_UPDATE_OF_A);
    let open: Vec<OpenRow> = qb.build_query_as().persistent(true).fetch_all(&mut **tx).await?;
    for row in open {
        let Some(integration_id) = row.integration_id else { continue };
        if row.suppressed {
            facts.open_suppressed.insert((integration_id, row.alert_key), row.id);
            continue;
        }
        if let (Some(incident_id), Some(status), Some(service_id)) = (&row.incident_id, &row.status, row.service_id)
            && let Ok(status) = status.parse::<Status>()
        {
            facts.incidents.insert(
                incident_id.clone(),
                IncidentFacts {
                    status,
                    service_id,
                    open_alerts: row.open_alerts,
                    timeouts: Timeouts {
                        acknowledgement_secs: row.acknowledgement_timeout,
                        auto_resolve_secs: row.auto_resolve_timeout,
                    },
                },
            );
        }
        facts.open.insert((integration_id, row.alert_key), OpenAlert { id: row.id, incident_id: row.incident_id });
    }

    if ROW_LOCKS && !facts.incidents.is_empty() {
        // PostgreSQL: lock the incidents too, then re-read what a concurrent change may have moved.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT i.id, i.status, (SELECT COALESCE(SUM(CASE WHEN x.status = 'triggered' THEN 1 ELSE 0 END), 0)
                                    FROM alerts x WHERE x.incident_id = i.id) AS open_alerts
             FROM incidents i WHERE i.id IN ",
        );
        push_in_list(&mut qb, facts.incidents.keys().map(String::as_str));
        qb.push(" FOR UPDATE");
        let fresh: Vec<(String, String, i64)> = qb.build_query_as().persistent(true).fetch_all(&mut **tx).await?;
        for (id, status, open_alerts) in fresh {
            if let (Some(facts_of), Ok(status)) = (facts.incidents.get_mut(&id), status.parse::<Status>()) {
                facts_of.status = status;
                facts_of.open_alerts = open_alerts;
            }
        }
    }
    Ok(facts)
}

#[derive(sqlx::FromRow)]
struct OpenRow {
    id: String,
    integration_id: Option<String>,
    alert_key: String,
    incident_id: Option<String>,
    suppressed: bool,
    status: Option<String>,
    service_id: Option<String>,
    acknowledgement_timeout: Option<i64>,
    auto_resolve_timeout: Option<i64>,
    open_alerts: i64,
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

fn write_plan(script: &mut Script, events: &[BatchEvent<'_>], plan: &Plan) {
    // Existing rows first: a key's open alert is resolved before a new one for the same key is inserted.
    script.update_rows(
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
    );
    script.update_rows(
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
    );
    if !plan.cleared_incidents.is_empty() {
        let ids: Vec<&str> = plan.cleared_incidents.iter().map(String::as_str).collect();
        script.delete_in("DELETE FROM incident_assignments WHERE incident_id IN ", &ids);
        script.delete_in("DELETE FROM incident_acknowledgements WHERE incident_id IN ", &ids);
    }

    if !plan.new_incidents.is_empty() {
        // Gapless numbers in opening order, computed in SQL so the writes stay one script.
        let count = plan.new_incidents.len() as i64;
        script
            .statement("UPDATE counters SET value = value + ")
            .push_bind(count)
            .push(" WHERE name = 'incident_number'");
        let numbered: Vec<(i64, &klaxon_core::alert_batch::NewIncident)> =
            plan.new_incidents.iter().enumerate().map(|(n, inc)| (count - 1 - n as i64, inc)).collect();
        script.insert_rows(
            "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id,
                 status, urgency, priority_id, incident_key, assigned_via, escalation_level, body_details,
                 first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type,
                 last_status_change_by_id, created_at, updated_at, resolved_at)",
            "",
            18,
            &numbered,
            |b, (back, inc)| {
                let e = &events[inc.event];
                let title = e.event.summary.clone().unwrap_or_default();
                let (by_type, by_id) = match &inc.last_status_change_by_integration {
                    Some(integration) => ("integration_reference", integration.clone()),
                    None => ("service_reference", inc.service_id.clone()),
                };
                b.push_bind(inc.id.clone())
                    .push("(SELECT value FROM counters WHERE name = 'incident_number') - ")
                    .push_bind_unseparated(*back)
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
        );
    }

    script.insert_rows(
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
    );

    // Each event's channel is rendered once, however many entries it causes.
    let mut channels: HashMap<usize, String> = HashMap::new();
    for entry in &plan.log_entries {
        if entry.kind != LogKind::Assign {
            channels.entry(entry.event).or_insert_with(|| channel(events[entry.event].event).to_string());
        }
    }
    script.insert_rows(
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
    );

    script.insert_rows(
        "INSERT INTO incident_assignments (incident_id, user_id, at)",
        " ON CONFLICT DO NOTHING",
        3,
        &plan.assignments,
        |b, a| {
            b.push_bind(a.incident_id.clone()).push_bind(a.user_id.clone()).push_bind(a.at);
        },
    );
    script.insert_rows(
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
    );
    for (service_id, at) in &plan.last_incident_at {
        script
            .statement("UPDATE services SET last_incident_timestamp = ")
            .push_bind(*at)
            .push(" WHERE id = ")
            .push_bind(service_id.clone());
    }

    let cancelled: Vec<String> = plan
        .timers
        .iter()
        .filter(|t| t.change == TimerChange::Cancel)
        .map(|t| timer_key(t.kind, &t.incident_id))
        .collect();
    if !cancelled.is_empty() {
        let keys: Vec<&str> = cancelled.iter().map(String::as_str).collect();
        script.delete_in("DELETE FROM jobs WHERE unique_key IN ", &keys);
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
    script.insert_rows(
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
    );
}
