//! SQL of the incident command layer: loads an incident's [`IncidentState`] with its row locked, and
//! writes the [`Effects`] that `klaxon_core::command` decided. Every change of an incident outside the
//! events batch goes through [`execute`], [`open`] or [`fire_timer`]: one write transaction per request,
//! in which the rules see the state they change (so two racing requests cannot both apply a change).
//!
//! Locks: on PostgreSQL an incident's open alerts are locked before the incident itself, the order the
//! events batch takes them in (`event_processing.rs`), and the incidents of a bulk request in id order.
//! A deadlock or serialization failure that slips through anyway is retried ([`with_retries`]). On
//! SQLite the single writer excludes every other write already.

use super::log_entries::{self, NewLogEntry};
use super::script::Script;
use super::{Db, Pools, ROW_LOCKS, begin_write};
use crate::commands::{AlertChange, Applied, IncidentCommands, NewIncidentSpec, TimerFired};
use crate::jobs::{Resolution, kinds};
use crate::timers::TimerOutcome;
use crate::{Result, StoreError, ids};
use klaxon_core::actor::{Actor, Agent};
use klaxon_core::command::{
    self, AckChange, Command, Effects, IncidentState, Opening, Timeouts, TimerChange, TimerKind,
};
use klaxon_core::escalation::{Path, Rule};
use klaxon_core::incident::{AlertStatus, AssignedVia, IncidentError, Status, Urgency};
use klaxon_core::log_entry::LogKind;
use serde_json::json;
use std::future::Future;

type Tx<'a> = sqlx::Transaction<'a, Db>;

/// How often a transaction that lost a deadlock (PostgreSQL) is run again.
const RETRIES: usize = 5;

/// Runs `attempt` in a write transaction of its own, again when PostgreSQL aborted it for a deadlock or
/// a serialization failure (nothing of an aborted attempt was committed).
async fn with_retries<T, F, Fut>(p: &Pools, mut attempt: F) -> Result<T>
where
    F: FnMut(Tx<'static>) -> Fut,
    Fut: Future<Output = Result<(T, Tx<'static>)>>,
{
    let mut tries = 0;
    loop {
        let tx = begin_write(p).await?;
        match attempt(tx).await {
            Ok((value, tx)) => match tx.commit().await {
                Ok(()) => return Ok(value),
                Err(e) => {
                    let e = StoreError::from(e);
                    if !(e.is_retryable() && tries < RETRIES) {
                        return Err(e);
                    }
                }
            },
            Err(e) if e.is_retryable() && tries < RETRIES => {}
            Err(e) => return Err(e),
        }
        tries += 1;
    }
}

/// The id of an incident named by id or number (no lock).
async fn resolve_id(tx: &mut Tx<'_>, id_or_number: &str) -> Result<Option<String>> {
    let row: Option<(String,)> = if !id_or_number.is_empty() && id_or_number.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = id_or_number.parse().unwrap_or(-1);
        sqlx::query_as("SELECT id FROM incidents WHERE incident_number = $1")
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?
    } else {
        sqlx::query_as("SELECT id FROM incidents WHERE id = $1").bind(id_or_number).fetch_optional(&mut **tx).await?
    };
    Ok(row.map(|(id,)| id))
}

#[derive(sqlx::FromRow)]
struct StateRow {
    id: String,
    incident_number: i64,
    service_id: String,
    #[sqlx(try_from = "String")]
    status: Status,
    #[sqlx(try_from = "String")]
    urgency: Urgency,
    priority_id: Option<String>,
    title: String,
    escalation_policy_id: Option<String>,
    escalation_level: i32,
    escalation_loops: i32,
    #[sqlx(try_from = "String")]
    assigned_via: AssignedVia,
    acknowledgement_timeout: Option<i64>,
    auto_resolve_timeout: Option<i64>,
    open_alerts: i64,
    alerts: i64,
    notes: i64,
}

/// PostgreSQL: locks the incident's open alerts, before the incident itself (the events batch's order).
async fn lock_open_alerts(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    if ROW_LOCKS {
        sqlx::query("SELECT id FROM alerts WHERE incident_id = $1 AND status = 'triggered' ORDER BY id FOR UPDATE")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Locks the incident (its open alerts first) without reading its state; answers whether it exists.
async fn lock(tx: &mut Tx<'_>, id: &str) -> Result<bool> {
    lock_open_alerts(tx, id).await?;
    let sql = format!("SELECT id FROM incidents WHERE id = $1{}", if ROW_LOCKS { " FOR UPDATE" } else { "" });
    let found: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// Locks the incident (its open alerts first) and reads what the rules need of it.
pub async fn lock_state(tx: &mut Tx<'_>, id: &str, now: i64) -> Result<Option<IncidentState>> {
    lock_open_alerts(tx, id).await?;
    let sql = format!(
        "SELECT i.id, i.incident_number, i.service_id, i.status, i.urgency, i.priority_id, i.title,
                i.escalation_policy_id, i.escalation_level, i.escalation_loops, i.assigned_via, s.acknowledgement_timeout,
                s.auto_resolve_timeout,
                (SELECT COALESCE(SUM(CASE WHEN a.status = 'triggered' THEN 1 ELSE 0 END), 0) FROM alerts a
                 WHERE a.incident_id = i.id) AS open_alerts,
                (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id) AS alerts,
                (SELECT COUNT(*) FROM incident_notes n WHERE n.incident_id = i.id) AS notes
         FROM incidents i JOIN services s ON s.id = i.service_id WHERE i.id = $1{}",
        if ROW_LOCKS { " FOR UPDATE OF i" } else { "" }
    );
    let Some(row) = sqlx::query_as::<Db, StateRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?
    else {
        return Ok(None);
    };
    let assignees: Vec<(String,)> =
        sqlx::query_as("SELECT user_id FROM incident_assignments WHERE incident_id = $1 ORDER BY at, user_id")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?;
    let acks: Vec<(String, String)> = sqlx::query_as(
        "SELECT acknowledger_type, acknowledger_id FROM incident_acknowledgements WHERE incident_id = $1
         ORDER BY at, acknowledger_id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let (levels, path) = match &row.escalation_policy_id {
        Some(policy) => policy_levels(tx, policy, now).await?,
        None => (vec![], Path::default()),
    };
    Ok(Some(IncidentState {
        id: row.id,
        number: row.incident_number,
        service_id: row.service_id,
        status: row.status,
        urgency: row.urgency,
        priority_id: row.priority_id,
        title: row.title,
        escalation_policy_id: row.escalation_policy_id,
        escalation_level: row.escalation_level,
        assigned_via: row.assigned_via,
        assignees: assignees.into_iter().map(|(u,)| u).collect(),
        acknowledgers: acks.iter().filter_map(|(t, i)| Agent::from_reference(Some(t), Some(i))).collect(),
        open_alerts: row.open_alerts,
        alerts: row.alerts,
        notes: row.notes,
        timeouts: Timeouts {
            acknowledgement_secs: row.acknowledgement_timeout,
            auto_resolve_secs: row.auto_resolve_timeout,
        },
        levels,
        path,
        escalation_loops: row.escalation_loops,
    }))
}

/// The users of each rule of a policy, in rule order, resolved at `now` (users directly, live schedules
/// through who is on call then), with its path (delays, strategies, round-robin pointers, `num_loops`).
pub async fn policy_levels(tx: &mut Tx<'_>, policy_id: &str, now: i64) -> Result<(Vec<Vec<String>>, Path)> {
    let rows: Vec<PolicyTargetRow> = sqlx::query_as(
        "SELECT r.id AS rule_id, CAST(r.escalation_delay_in_minutes AS BIGINT) AS escalation_delay_in_minutes,
                r.assignment_strategy, p.num_loops,
                (SELECT next_index FROM escalation_rule_pointers x WHERE x.escalation_rule_id = r.id) AS pointer,
                t.target_type, CASE WHEN t.target_type = 'user' THEN u.id ELSE t.target_id END AS target_id
         FROM escalation_rules r JOIN escalation_policies p ON p.id = r.escalation_policy_id
         LEFT JOIN escalation_targets t ON t.escalation_rule_id = r.id
         LEFT JOIN users u ON t.target_type = 'user' AND u.id = t.target_id AND u.deleted_at IS NULL
         WHERE r.escalation_policy_id = $1 ORDER BY r.position, t.position",
    )
    .bind(policy_id)
    .fetch_all(&mut **tx)
    .await?;
    let schedule_ids: Vec<&str> = rows
        .iter()
        .filter(|r| r.target_type.as_deref() == Some("schedule"))
        .filter_map(|r| r.target_id.as_deref())
        .collect();
    let schedules = super::event_processing::load_schedules(tx, &schedule_ids, now).await?;
    Ok(resolve_levels(&rows, &schedules, now))
}

/// One target of a policy's rule (or a rule without targets), with the rule's fields.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct PolicyTargetRow {
    pub rule_id: String,
    pub escalation_delay_in_minutes: i64,
    pub assignment_strategy: String,
    pub num_loops: i32,
    pub pointer: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
}

/// The levels and path of a policy's rows (in rule and target order), schedules resolved at `now`; a
/// level's users are deduplicated in target order.
pub fn resolve_levels(
    rows: &[PolicyTargetRow],
    schedules: &super::event_processing::Schedules,
    now: i64,
) -> (Vec<Vec<String>>, Path) {
    let mut levels: Vec<Vec<String>> = Vec::new();
    let mut path = Path::default();
    for row in rows {
        if path.rules.last().map(|r| r.id != row.rule_id).unwrap_or(true) {
            path.num_loops = row.num_loops;
            path.rules.push(Rule {
                id: row.rule_id.clone(),
                delay_minutes: row.escalation_delay_in_minutes,
                round_robin: row.assignment_strategy == "round_robin",
                pointer: row.pointer.unwrap_or(0),
            });
            levels.push(Vec::new());
        }
        let user = match (row.target_type.as_deref(), &row.target_id) {
            (Some("user"), Some(user)) => Some(user.clone()),
            (Some("schedule"), Some(schedule)) => schedules
                .get(schedule)
                .and_then(|(model, overrides)| klaxon_core::schedule::on_call_at(model, overrides, now)),
            _ => None,
        };
        if let (Some(user), Some(users)) = (user, levels.last_mut())
            && !users.contains(&user)
        {
            users.push(user);
        }
    }
    (levels, path)
}

/// Decides and applies every incident's commands in one transaction: all of them, or none (the first
/// broken rule is answered as [`StoreError::Incident`] with the incident's position in the request).
pub async fn execute(p: &Pools, batch: &[IncidentCommands], actor: &Actor, now: i64) -> Result<Vec<Applied>> {
    with_retries(p, |mut tx| async move {
        // Named incidents first (in id order, so concurrent bulk requests lock alike).
        let mut ids = Vec::with_capacity(batch.len());
        for (index, item) in batch.iter().enumerate() {
            let id = resolve_id(&mut tx, &item.incident).await?.ok_or(StoreError::NotFound("incident"))?;
            ids.push((index, id));
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|a, b| ids[*a].1.cmp(&ids[*b].1));
        let mut states: Vec<Option<IncidentState>> = vec![None; ids.len()];
        for i in order {
            if states[i].is_none() {
                states[i] = Some(lock_state(&mut tx, &ids[i].1, now).await?.ok_or(StoreError::NotFound("incident"))?);
            }
        }
        let mut applied = Vec::with_capacity(batch.len());
        for ((index, _), (item, state)) in ids.iter().zip(batch.iter().zip(states)) {
            let Some(state) = state else { return Err(StoreError::NotFound("incident")) };
            // An incident named twice sees the first item's changes.
            let state = match applied.iter().rev().find(|a: &&Applied| a.state.id == state.id) {
                Some(earlier) => earlier.state.clone(),
                None => state,
            };
            let (effects, after) = command::decide_all(&state, &item.commands, actor, now)
                .map_err(|error| StoreError::Incident { index: *index, error })?;
            let note_id = apply(&mut tx, &state, &effects, actor, now).await?;
            applied.push(Applied { state: after, effects, note_id });
        }
        Ok((applied, tx))
    })
    .await
}

/// Opens an incident by hand (`POST /incidents`): the rules decide its first state and effects.
/// Answers the incident's id and whether it was left with nobody assignable.
pub async fn open(p: &Pools, spec: &NewIncidentSpec, actor: &Actor, now: i64) -> Result<(String, bool)> {
    with_retries(p, |mut tx| async move {
        if let Some(key) = &spec.incident_key {
            let open: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM incidents WHERE service_id = $1 AND incident_key = $2 AND status <> 'resolved' LIMIT 1",
            )
            .bind(&spec.service_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if open.is_some() {
                return Err(StoreError::Incident { index: 0, error: IncidentError::DuplicateIncidentKey });
            }
        }
        let timeouts: (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT acknowledgement_timeout, auto_resolve_timeout FROM services WHERE id = $1")
                .bind(&spec.service_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("service"))?;
        let (levels, path) = match &spec.escalation_policy_id {
            Some(policy) => policy_levels(&mut tx, policy, now).await?,
            None => (vec![], Path::default()),
        };
        let (number,): (i64,) =
            sqlx::query_as("UPDATE counters SET value = value + 1 WHERE name = 'incident_number' RETURNING value")
                .fetch_one(&mut *tx)
                .await?;
        let opening = Opening {
            id: ids::long_id(),
            number,
            service_id: spec.service_id.clone(),
            title: spec.title.clone(),
            urgency: spec.urgency,
            priority_id: spec.priority_id.clone(),
            escalation_policy_id: spec.escalation_policy_id.clone(),
            levels,
            path,
            assignees: spec.assignees.clone(),
            acknowledged: spec.acknowledged,
            timeouts: Timeouts { acknowledgement_secs: timeouts.0, auto_resolve_secs: timeouts.1 },
            alert_id: None,
        };
        let (state, effects) = command::open(opening, actor, now);
        let (by_type, by_id) = agent_columns(&actor.agent, &state.service_id);
        sqlx::query(
            "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id, status,
                                    urgency, priority_id, incident_key, assigned_via, escalation_level, body_details,
                                    conference_number, conference_url, first_trigger_log_entry_id, last_status_change_at,
                                    last_status_change_by_type, last_status_change_by_id, created_at, updated_at)
             VALUES ($1, $2, $3, $3, $4, $5, 'triggered', $6, $7, $8, $9, 1, $10, $11, $12, NULL, $13, $14, $15, $13, $13)",
        )
        .bind(&state.id)
        .bind(number)
        .bind(&spec.title)
        .bind(&spec.service_id)
        .bind(&spec.escalation_policy_id)
        .bind(spec.urgency.as_str())
        .bind(&spec.priority_id)
        .bind(spec.incident_key.clone().unwrap_or_else(ids::integration_key))
        .bind(state.assigned_via.as_str())
        .bind(&spec.body_details)
        .bind(&spec.conference_number)
        .bind(&spec.conference_url)
        .bind(now)
        .bind(by_type)
        .bind(by_id)
        .execute(&mut *tx)
        .await?;
        let before = IncidentState { status: Status::Triggered, assignees: vec![], acknowledgers: vec![], ..state.clone() };
        let channel = json!({"type": actor.channel.as_str(), "summary": spec.title}).to_string();
        apply_with_channel(&mut tx, &before, &effects, actor, &channel, now).await?;
        sqlx::query(
            "UPDATE incidents SET first_trigger_log_entry_id =
                 (SELECT id FROM log_entries WHERE incident_id = $1 AND type = 'trigger_log_entry' ORDER BY seq LIMIT 1)
             WHERE id = $1",
        )
        .bind(&state.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE services SET last_incident_timestamp = $1 WHERE id = $2")
            .bind(now)
            .bind(&spec.service_id)
            .execute(&mut *tx)
            .await?;
        Ok(((state.id.clone(), effects.unassignable), tx))
    })
    .await
}

/// A timer came due: in one transaction, completes its job (only while `job.owner` holds the lease) and
/// decides the timer's command; a broken rule (the incident moved on meanwhile) means the timer had
/// nothing left to do.
/// Answers the outcome and whether the incident was left with nobody assignable.
pub async fn fire_timer(p: &Pools, fired: &TimerFired<'_>, now: i64) -> Result<(TimerOutcome, bool)> {
    with_retries(p, |mut tx| async move {
        if !super::jobs::finish_in_tx(&mut tx, fired.job_id, fired.owner, &Resolution::Done, now).await? {
            return Ok(((TimerOutcome::LeaseLost, false), tx));
        }
        let Some(state) = lock_state(&mut tx, fired.incident_id, now).await? else {
            return Ok(((TimerOutcome::NotApplicable, false), tx));
        };
        let actor = Actor::service_timer(state.service_id.clone());
        let outcome = match command::decide(&state, &fired.command, &actor, now) {
            Ok(effects) => {
                apply(&mut tx, &state, &effects, &actor, now).await?;
                (TimerOutcome::Applied, effects.unassignable)
            }
            Err(_) => (TimerOutcome::NotApplicable, false),
        };
        Ok((outcome, tx))
    })
    .await
}

/// The `last_status_change_by` (and `agent`) columns of an agent.
fn agent_columns(agent: &Agent, service_id: &str) -> (&'static str, String) {
    match (agent.reference_type(), agent.id()) {
        (Some(t), Some(id)) => (t, id.to_string()),
        _ => ("service_reference", service_id.to_string()),
    }
}

/// The job key of an incident's timer of `kind`.
pub fn timer_key(kind: TimerKind, incident_id: &str) -> String {
    format!("{}:{incident_id}", timer_job_kind(kind))
}

pub fn timer_job_kind(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::AcknowledgementTimeout => kinds::ACK_TIMEOUT,
        TimerKind::AutoResolve => kinds::AUTO_RESOLVE,
        TimerKind::Escalation => kinds::ESCALATE,
    }
}

async fn apply(
    tx: &mut Tx<'_>,
    before: &IncidentState,
    e: &Effects,
    actor: &Actor,
    now: i64,
) -> Result<Option<String>> {
    apply_with_channel(tx, before, e, actor, &log_entries::channel_of(actor), now).await
}

/// Writes the effects of a decided command on the incident `before` described; answers the id of the note
/// it added, if any.
async fn apply_with_channel(
    tx: &mut Tx<'_>,
    before: &IncidentState,
    e: &Effects,
    actor: &Actor,
    channel: &str,
    now: i64,
) -> Result<Option<String>> {
    let id = &before.id;
    if e.is_empty() {
        return Ok(None);
    }
    // One UPDATE of the incident row with every column the effects change.
    let mut qb = sqlx::QueryBuilder::<Db>::new("UPDATE incidents SET updated_at = ");
    qb.push_bind(now);
    if let Some(status) = e.status.filter(|s| *s != before.status) {
        let (by_type, by_id) = agent_columns(&actor.agent, &before.service_id);
        qb.push(", status = ").push_bind(status.as_str());
        qb.push(", last_status_change_at = ").push_bind(now);
        qb.push(", last_status_change_by_type = ").push_bind(by_type);
        qb.push(", last_status_change_by_id = ").push_bind(by_id);
        qb.push(", resolved_at = ").push_bind((status == Status::Resolved).then_some(now));
    }
    if e.reopened {
        qb.push(", resolve_reason = NULL, merged_into_id = NULL");
    }
    if let Some(target) = &e.merged_into {
        let reason = json!({"type": "merge_resolve_reason", "incident": {"id": target}}).to_string();
        qb.push(", merged_into_id = ").push_bind(target.clone());
        qb.push(", resolve_reason = ").push_bind(reason);
    }
    if let Some(title) = &e.title {
        qb.push(", title = ").push_bind(title.clone());
    }
    if let Some(priority) = &e.priority {
        qb.push(", priority_id = ").push_bind(priority.clone());
    }
    if let Some(urgency) = e.urgency {
        qb.push(", urgency = ").push_bind(urgency.as_str());
    }
    if let Some((number, url)) = &e.conference {
        qb.push(", conference_number = ").push_bind(number.clone());
        qb.push(", conference_url = ").push_bind(url.clone());
    }
    if let Some(policy) = &e.escalation_policy_id {
        qb.push(", escalation_policy_id = ").push_bind(policy.clone());
    }
    if let Some(level) = e.escalation_level {
        qb.push(", escalation_level = ").push_bind(level);
    }
    if let Some(via) = e.assigned_via {
        qb.push(", assigned_via = ").push_bind(via.as_str());
    }
    if let Some(loops) = e.escalation_loops {
        qb.push(", escalation_loops = ").push_bind(loops);
    }
    qb.push(" WHERE id = ").push_bind(id.clone());
    qb.build().execute(&mut **tx).await?;
    if let Some(users) = &e.assignees {
        sqlx::query("DELETE FROM incident_assignments WHERE incident_id = $1").bind(id).execute(&mut **tx).await?;
        for user in users {
            sqlx::query(
                "INSERT INTO incident_assignments (incident_id, user_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(user)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
    }
    for change in &e.acknowledgements {
        match change {
            AckChange::ClearAll => {
                sqlx::query("DELETE FROM incident_acknowledgements WHERE incident_id = $1")
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            AckChange::Add(agent) => {
                let (by_type, by_id) = agent_columns(agent, &before.service_id);
                sqlx::query(
                    "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(by_type)
                .bind(by_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    if e.resolve_open_alerts {
        sqlx::query(
            "UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1
             WHERE incident_id = $2 AND status = 'triggered'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(target) = &e.move_alerts_to {
        sqlx::query("UPDATE alerts SET incident_id = $1, updated_at = $2 WHERE incident_id = $3")
            .bind(target)
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    let note_id = match &e.note {
        Some(content) => {
            let note_id = ids::long_id();
            let channel_summary = "The Klaxon website or API";
            sqlx::query(
                "INSERT INTO incident_notes (id, incident_id, user_id, content, channel_summary, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&note_id)
            .bind(id)
            .bind(actor.agent.user_id())
            .bind(content)
            .bind(channel_summary)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Some(note_id)
        }
        None => None,
    };
    let entries: Vec<NewLogEntry> = e
        .log_entries
        .iter()
        .map(|l| NewLogEntry {
            id: ids::long_id(),
            kind: l.kind,
            incident_id: Some(id.clone()),
            alert_id: l.alert_id.clone(),
            service_id: Some(before.service_id.clone()),
            agent: match &actor.agent {
                Agent::Klaxon => None,
                agent => Some(agent.clone()),
            },
            channel: channel.to_string(),
            note: l.note.clone(),
            summary: l.summary.clone(),
            user_id: l.user_id.clone(),
            details: match (l.kind, &l.user_id, &l.details) {
                (_, _, Some(d)) => Some(d.to_string()),
                (LogKind::Assign, Some(user), None) => Some(json!({ "assignees": [user] }).to_string()),
                _ => None,
            },
            created_at: now,
        })
        .collect();
    let mut script = Script::default();
    log_entries::insert(&mut script, entries);
    if let Some(paging) = klaxon_core::notification::incident_paging(before, e, now) {
        let paging = [paging];
        let rules = super::notifications::load_rules(tx, &paging).await?;
        super::notifications::write_paging(&mut script, &paging, &rules);
    }
    script.run(tx).await?;
    for (rule, pointer) in &e.round_robin {
        sqlx::query(
            "INSERT INTO escalation_rule_pointers (escalation_rule_id, next_index) VALUES ($1, $2)
             ON CONFLICT (escalation_rule_id) DO UPDATE SET next_index = excluded.next_index",
        )
        .bind(rule)
        .bind(*pointer)
        .execute(&mut **tx)
        .await?;
    }
    if e.unassignable {
        tracing::warn!(incident_id = %id, "nobody could be assigned: nobody is on call at any level");
    }
    if e.cancel_jobs {
        super::jobs::cancel_subject_at(tx, &kinds::incident_subject(id), now).await?;
    }
    for (kind, change) in &e.timers {
        let key = timer_key(*kind, id);
        match change {
            // Ended with the rest of the incident's jobs above.
            TimerChange::Cancel if e.cancel_jobs => {}
            TimerChange::Cancel => {
                super::jobs::cancel_at(tx, &key, now).await?;
            }
            TimerChange::Schedule { due_at } => {
                let payload = json!({ "incident_id": id });
                super::jobs::schedule(tx, timer_job_kind(*kind), Some(&key), &payload, *due_at, now).await?
            }
        }
    }
    Ok(note_id)
}

/// Resolves alerts of an incident and/or moves them to another open incident (`changes`: alert id, new
/// status, incident to move to), then resolves the incident by the rules once none of its alerts is open.
/// A broken rule names the change's position.
pub async fn change_alerts(
    p: &Pools,
    incident: &str,
    changes: &[AlertChange],
    actor: &Actor,
    now: i64,
) -> Result<Option<Applied>> {
    with_retries(p, |mut tx| async move {
        let id = resolve_id(&mut tx, incident).await?.ok_or(StoreError::NotFound("incident"))?;
        // Locked first, before the alerts change under it.
        if !lock(&mut tx, &id).await? {
            return Err(StoreError::NotFound("incident"));
        }
        for (index, change) in changes.iter().enumerate() {
            let status: Option<(String,)> =
                sqlx::query_as("SELECT status FROM alerts WHERE id = $1 AND incident_id = $2")
                    .bind(&change.alert_id)
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((status,)) = status else { return Err(StoreError::NotFound("alert")) };
            if let Some(target) = change.move_to.as_deref().filter(|t| *t != id) {
                let target_id = resolve_id(&mut tx, target).await?.ok_or(StoreError::NotFound("incident"))?;
                let target_state =
                    lock_state(&mut tx, &target_id, now).await?.ok_or(StoreError::NotFound("incident"))?;
                if !target_state.status.is_open() {
                    return Err(StoreError::Incident { index, error: IncidentError::AlreadyResolved });
                }
                sqlx::query("UPDATE alerts SET incident_id = $1, updated_at = $2 WHERE id = $3")
                    .bind(&target_id)
                    .bind(now)
                    .bind(&change.alert_id)
                    .execute(&mut *tx)
                    .await?;
            }
            match (change.status, status.as_str()) {
                (Some(AlertStatus::Resolved), "triggered") => {
                    sqlx::query(
                        "UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1 WHERE id = $2",
                    )
                    .bind(now)
                    .bind(&change.alert_id)
                    .execute(&mut *tx)
                    .await?;
                }
                (Some(AlertStatus::Triggered), "resolved") => {
                    return Err(StoreError::Incident { index, error: IncidentError::AlertResolved });
                }
                _ => {}
            }
        }
        let after = lock_state(&mut tx, &id, now).await?.ok_or(StoreError::NotFound("incident"))?;
        let mut applied = None;
        if after.status.is_open() && after.open_alerts == 0 && after.alerts > 0 {
            let effects = command::decide(&after, &Command::ResolveByLastAlert, actor, now)
                .map_err(|error| StoreError::Incident { index: 0, error })?;
            let note_id = apply(&mut tx, &after, &effects, actor, now).await?;
            let mut end = after.clone();
            end.apply(&effects);
            applied = Some(Applied { state: end, effects, note_id });
        }
        Ok((applied, tx))
    })
    .await
}

/// The live user targets of each level of a policy (a read, for requests that name a policy).
pub async fn levels_of(p: &Pools, policy_id: &str, now: i64) -> Result<(Vec<Vec<String>>, Path)> {
    let mut tx = p.read.begin().await?;
    let levels = policy_levels(&mut tx, policy_id, now).await?;
    tx.commit().await?;
    Ok(levels)
}
