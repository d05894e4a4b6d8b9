//! SQL for incidents, their notes, log entries and alerts, as the REST API reads and changes them.

use super::{Db, Pools, begin_write};
use crate::incidents::{
    Actor, AlertRow, IncidentDetails, IncidentFilter, IncidentRow, IncidentUpdate, LogEntryFilter, LogEntryRow,
    NewIncident, NoteRow,
};
use crate::jobs::kinds;
use crate::{Result, StoreError, ids};
use serde_json::{Value, json};
use sqlx::QueryBuilder;
use std::collections::HashMap;

type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str = "i.id, i.incident_number, i.title, i.description, i.service_id, i.escalation_policy_id, \
    i.status, i.urgency, i.priority_id, i.incident_key, i.assigned_via, i.escalation_level, i.body_details, \
    i.conference_number, i.conference_url, i.resolve_reason, i.merged_into_id, i.first_trigger_log_entry_id, \
    i.last_status_change_at, i.last_status_change_by_type, i.last_status_change_by_id, i.created_at, \
    i.updated_at, i.resolved_at";

const ALERT_COLUMNS: &str = "id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity, \
    summary, source, component, group_name, class, custom_details, contexts, client, client_url, event_timestamp, \
    trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at, resolved_at";

const LOG_COLUMNS: &str = "id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note, \
    summary, user_id, details, created_at";

fn push_in(qb: &mut QueryBuilder<Db>, values: &[String]) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v.clone());
    }
    qb.push(")");
}

/// `COUNT(*)` of `from` under the conditions `push_filter` adds, when `want` (a list asked for `total=true`).
async fn count_if(
    p: &Pools,
    want: bool,
    from: &str,
    push_filter: impl Fn(&mut QueryBuilder<Db>),
) -> Result<Option<i64>> {
    if !want {
        return Ok(None);
    }
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT COUNT(*) FROM {from}"));
    push_filter(&mut qb);
    let (n,): (i64,) = qb.build_query_as().fetch_one(&p.read).await?;
    Ok(Some(n))
}

fn push_incident_filter(qb: &mut QueryBuilder<Db>, f: &IncidentFilter) {
    qb.push(" WHERE 1 = 1");
    if !f.statuses.is_empty() {
        qb.push(" AND i.status IN ");
        push_in(qb, &f.statuses);
    }
    if !f.service_ids.is_empty() {
        qb.push(" AND i.service_id IN ");
        push_in(qb, &f.service_ids);
    }
    if !f.urgencies.is_empty() {
        qb.push(" AND i.urgency IN ");
        push_in(qb, &f.urgencies);
    }
    if !f.team_ids.is_empty() {
        qb.push(" AND i.service_id IN (SELECT service_id FROM service_teams WHERE team_id IN ");
        push_in(qb, &f.team_ids);
        qb.push(")");
    }
    if !f.user_ids.is_empty() {
        qb.push(" AND i.id IN (SELECT incident_id FROM incident_assignments WHERE user_id IN ");
        push_in(qb, &f.user_ids);
        qb.push(")");
    }
    if let Some(key) = &f.incident_key {
        qb.push(" AND (i.incident_key = ");
        qb.push_bind(key.clone());
        qb.push(" OR i.id IN (SELECT incident_id FROM alerts WHERE alert_key = ");
        qb.push_bind(key.clone());
        qb.push("))");
    }
    if let Some(since) = f.since {
        qb.push(" AND i.created_at >= ");
        qb.push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND i.created_at < ");
        qb.push_bind(until);
    }
}

pub async fn list(
    p: &Pools,
    f: &IncidentFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<IncidentRow>, Option<i64>)> {
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM incidents i"));
    push_incident_filter(&mut qb, f);
    qb.push(" ORDER BY ");
    for (column, desc) in &f.sort {
        qb.push(format!("i.{column} {}, ", if *desc { "DESC" } else { "ASC" }));
    }
    qb.push("i.incident_number ASC LIMIT ");
    qb.push_bind(limit);
    qb.push(" OFFSET ");
    qb.push_bind(offset);
    let rows = qb.build_query_as::<IncidentRow>().fetch_all(&p.read).await?;
    let total = count_if(p, want_total, "incidents i", |qb| push_incident_filter(qb, f)).await?;
    Ok((rows, total))
}

pub async fn get(p: &Pools, id_or_number: &str) -> Result<Option<IncidentRow>> {
    fetch(&p.read, id_or_number).await
}

async fn fetch<'e, E: sqlx::Executor<'e, Database = Db>>(e: E, id_or_number: &str) -> Result<Option<IncidentRow>> {
    if !id_or_number.is_empty() && id_or_number.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = id_or_number.parse().unwrap_or(-1);
        let sql = format!("SELECT {COLUMNS} FROM incidents i WHERE i.incident_number = $1");
        return Ok(sqlx::query_as::<Db, IncidentRow>(sqlx::AssertSqlSafe(sql)).bind(number).fetch_optional(e).await?);
    }
    let sql = format!("SELECT {COLUMNS} FROM incidents i WHERE i.id = $1");
    Ok(sqlx::query_as::<Db, IncidentRow>(sqlx::AssertSqlSafe(sql)).bind(id_or_number).fetch_optional(e).await?)
}

pub async fn details(p: &Pools, ids_: &[String]) -> Result<HashMap<String, IncidentDetails>> {
    let mut out: HashMap<String, IncidentDetails> = ids_.iter().map(|id| (id.clone(), Default::default())).collect();
    if ids_.is_empty() {
        return Ok(out);
    }
    let mut qb =
        QueryBuilder::<Db>::new("SELECT incident_id, user_id, at FROM incident_assignments WHERE incident_id IN ");
    push_in(&mut qb, ids_);
    qb.push(" ORDER BY at, user_id");
    for (incident, user, at) in qb.build_query_as::<(String, String, i64)>().fetch_all(&p.read).await? {
        out.entry(incident).or_default().assignments.push((user, at));
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT incident_id, acknowledger_type, acknowledger_id, at FROM incident_acknowledgements WHERE incident_id IN ",
    );
    push_in(&mut qb, ids_);
    qb.push(" ORDER BY at");
    for (incident, kind, who, at) in qb.build_query_as::<(String, String, String, i64)>().fetch_all(&p.read).await? {
        out.entry(incident).or_default().acknowledgements.push((kind, who, at));
    }
    let mut qb = QueryBuilder::<Db>::new("SELECT incident_id, status, COUNT(*) FROM alerts WHERE incident_id IN ");
    push_in(&mut qb, ids_);
    qb.push(" GROUP BY incident_id, status");
    for (incident, status, n) in qb.build_query_as::<(String, String, i64)>().fetch_all(&p.read).await? {
        let d = out.entry(incident).or_default();
        if status == "resolved" {
            d.alerts_resolved += n;
        } else {
            d.alerts_triggered += n;
        }
    }
    let keys: Vec<String> = ids_
        .iter()
        .flat_map(|id| [format!("{}:{id}", kinds::ACK_TIMEOUT), format!("{}:{id}", kinds::AUTO_RESOLVE)])
        .collect();
    let mut qb = QueryBuilder::<Db>::new("SELECT unique_key, kind, due_at FROM jobs WHERE unique_key IN ");
    push_in(&mut qb, &keys);
    for (key, kind, due) in qb.build_query_as::<(String, String, i64)>().fetch_all(&p.read).await? {
        if let Some((_, id)) = key.split_once(':') {
            out.entry(id.to_string()).or_default().pending.push((kind, due));
        }
    }
    Ok(out)
}

pub async fn level_users(p: &Pools, policy_id: &str, level: i32) -> Result<Option<Vec<String>>> {
    let mut tx = p.read.begin().await?;
    let users = level_users_tx(&mut tx, policy_id, level).await?;
    tx.commit().await?;
    Ok(users)
}

async fn level_users_tx(tx: &mut Tx<'_>, policy_id: &str, level: i32) -> Result<Option<Vec<String>>> {
    let rule: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM escalation_rules WHERE escalation_policy_id = $1 ORDER BY position LIMIT 1 OFFSET $2",
    )
    .bind(policy_id)
    .bind(i64::from(level.max(1) - 1))
    .fetch_optional(&mut **tx)
    .await?;
    let Some((rule_id,)) = rule else { return Ok(None) };
    let users: Vec<(String,)> = sqlx::query_as(
        "SELECT t.target_id FROM escalation_targets t JOIN users u ON u.id = t.target_id AND u.deleted_at IS NULL
         WHERE t.escalation_rule_id = $1 AND t.target_type = 'user' ORDER BY t.position",
    )
    .bind(rule_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Some(users.into_iter().map(|(u,)| u).collect()))
}

pub async fn level_count(p: &Pools, policy_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM escalation_rules WHERE escalation_policy_id = $1")
        .bind(policy_id)
        .fetch_one(&p.read)
        .await?;
    Ok(n)
}

#[allow(clippy::too_many_arguments)]
async fn log(
    tx: &mut Tx<'_>,
    kind: &str,
    incident_id: &str,
    service_id: &str,
    actor: &Actor,
    note: Option<&str>,
    summary: &str,
    user_id: Option<&str>,
    details: Option<Value>,
    at: i64,
) -> Result<String> {
    let id = ids::long_id();
    sqlx::query(
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
                                  summary, user_id, details, created_at)
         VALUES ($1, $2, $3, NULL, $4, 'user_reference', $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(kind)
    .bind(incident_id)
    .bind(service_id)
    .bind(&actor.user_id)
    .bind(json!({"type": actor.channel}).to_string())
    .bind(note)
    .bind(summary)
    .bind(user_id)
    .bind(details.map(|d| d.to_string()))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

async fn user_name(tx: &mut Tx<'_>, user_id: &str) -> Result<String> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|(n,)| n).unwrap_or_else(|| user_id.to_string()))
}

async fn replace_assignments(
    tx: &mut Tx<'_>,
    incident: &IncidentRow,
    users: &[String],
    actor: &Actor,
    how: &str,
    at: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM incident_assignments WHERE incident_id = $1")
        .bind(&incident.id)
        .execute(&mut **tx)
        .await?;
    for user in users {
        sqlx::query(
            "INSERT INTO incident_assignments (incident_id, user_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&incident.id)
        .bind(user)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        let name = user_name(tx, user).await?;
        log(
            tx,
            "assign_log_entry",
            &incident.id,
            &incident.service_id,
            actor,
            None,
            &format!("Assigned to {name} {how}"),
            Some(user),
            Some(json!({"assignees": [user]})),
            at,
        )
        .await?;
    }
    Ok(())
}

pub async fn create(p: &Pools, n: &NewIncident, now: i64) -> Result<IncidentRow> {
    let mut tx = begin_write(p).await?;
    if let Some(key) = &n.incident_key {
        let open: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM incidents WHERE service_id = $1 AND incident_key = $2 AND status <> 'resolved' LIMIT 1",
        )
        .bind(&n.service_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if open.is_some() {
            return Err(StoreError::Rejected(format!(
                "incident.incident_key '{key}' already names an open incident on this service"
            )));
        }
    }
    let (number,): (i64,) =
        sqlx::query_as("UPDATE counters SET value = value + 1 WHERE name = 'incident_number' RETURNING value")
            .fetch_one(&mut *tx)
            .await?;
    let id = ids::long_id();
    let status = if n.acknowledged { "acknowledged" } else { "triggered" };
    let trigger_id = ids::long_id();
    sqlx::query(
        "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id, status,
                                urgency, priority_id, incident_key, assigned_via, escalation_level, body_details,
                                conference_number, conference_url, first_trigger_log_entry_id, last_status_change_at,
                                last_status_change_by_type, last_status_change_by_id, created_at, updated_at)
         VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, $14, $15, 'user_reference', $16, $15, $15)",
    )
    .bind(&id)
    .bind(number)
    .bind(&n.title)
    .bind(&n.service_id)
    .bind(&n.escalation_policy_id)
    .bind(status)
    .bind(&n.urgency)
    .bind(&n.priority_id)
    .bind(n.incident_key.clone().unwrap_or_else(ids::integration_key))
    .bind(n.assigned_via)
    .bind(&n.body_details)
    .bind(&n.conference_number)
    .bind(&n.conference_url)
    .bind(&trigger_id)
    .bind(now)
    .bind(&n.requester_id)
    .execute(&mut *tx)
    .await?;
    let actor = Actor { user_id: n.requester_id.clone(), channel: n.channel };
    sqlx::query(
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
                                  summary, user_id, details, created_at)
         VALUES ($1, 'trigger_log_entry', $2, NULL, $3, 'user_reference', $4, $5, NULL, $6, NULL, NULL, $7)",
    )
    .bind(&trigger_id)
    .bind(&id)
    .bind(&n.service_id)
    .bind(&n.requester_id)
    .bind(json!({"type": n.channel, "summary": n.title}).to_string())
    .bind(format!("Triggered through the {}", if n.channel == "api" { "API" } else { "website" }))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let row = fetch(&mut *tx, &id).await?.ok_or(StoreError::NotFound("incident"))?;
    let how = if n.assigned_via == "direct_assignment" { "directly" } else { "via escalation policy" };
    replace_assignments(&mut tx, &row, &n.assignees, &actor, how, now).await?;
    if n.acknowledged {
        acknowledge(&mut tx, &row, &actor, now).await?;
    }
    sqlx::query("UPDATE services SET last_incident_timestamp = $1 WHERE id = $2")
        .bind(now)
        .bind(&n.service_id)
        .execute(&mut *tx)
        .await?;
    super::jobs::incident_status_changed(&mut tx, &id, status, now).await?;
    tx.commit().await?;
    Ok(row)
}

async fn acknowledge(tx: &mut Tx<'_>, incident: &IncidentRow, actor: &Actor, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)
         VALUES ($1, 'user_reference', $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(&incident.id)
    .bind(&actor.user_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let name = user_name(tx, &actor.user_id).await?;
    log(
        tx,
        "acknowledge_log_entry",
        &incident.id,
        &incident.service_id,
        actor,
        None,
        &format!("Acknowledged by {name}"),
        None,
        None,
        at,
    )
    .await?;
    Ok(())
}

async fn set_status(tx: &mut Tx<'_>, id: &str, status: &str, actor: &Actor, at: i64) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET status = $1, last_status_change_at = $2, last_status_change_by_type = 'user_reference',
             last_status_change_by_id = $3, updated_at = $2,
             resolved_at = CASE WHEN $1 = 'resolved' THEN $2 ELSE NULL END
         WHERE id = $4",
    )
    .bind(status)
    .bind(at)
    .bind(&actor.user_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    super::jobs::incident_status_changed(tx, id, status, at).await?;
    Ok(())
}

async fn resolve(
    tx: &mut Tx<'_>,
    incident: &IncidentRow,
    actor: &Actor,
    note: Option<&str>,
    reason: Option<Value>,
    at: i64,
) -> Result<()> {
    set_status(tx, &incident.id, "resolved", actor, at).await?;
    if let Some(reason) = &reason {
        sqlx::query("UPDATE incidents SET resolve_reason = $1 WHERE id = $2")
            .bind(reason.to_string())
            .bind(&incident.id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM incident_assignments WHERE incident_id = $1")
        .bind(&incident.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incident_acknowledgements WHERE incident_id = $1")
        .bind(&incident.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1 WHERE incident_id = $2 AND status = 'triggered'",
    )
    .bind(at)
    .bind(&incident.id)
    .execute(&mut **tx)
    .await?;
    let name = user_name(tx, &actor.user_id).await?;
    log(
        tx,
        "resolve_log_entry",
        &incident.id,
        &incident.service_id,
        actor,
        note,
        &format!("Resolved by {name}"),
        None,
        reason,
        at,
    )
    .await?;
    Ok(())
}

pub async fn update(p: &Pools, updates: &[IncidentUpdate], actor: &Actor, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    for u in updates {
        let incident = fetch(&mut *tx, &u.id).await?.ok_or(StoreError::NotFound("incident"))?;
        if let Some(title) = &u.title {
            sqlx::query("UPDATE incidents SET title = $1 WHERE id = $2")
                .bind(title)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(priority) = &u.priority_id {
            sqlx::query("UPDATE incidents SET priority_id = $1 WHERE id = $2")
                .bind(priority)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((number, url)) = &u.conference {
            sqlx::query("UPDATE incidents SET conference_number = $1, conference_url = $2 WHERE id = $3")
                .bind(number)
                .bind(url)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(urgency) = &u.urgency
            && *urgency != incident.urgency
        {
            sqlx::query("UPDATE incidents SET urgency = $1 WHERE id = $2")
                .bind(urgency)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
            log(
                &mut tx,
                "urgency_change_log_entry",
                &incident.id,
                &incident.service_id,
                actor,
                None,
                &format!("Urgency changed to {urgency}"),
                None,
                Some(json!({"urgency": urgency})),
                now,
            )
            .await?;
        }
        if let Some((policy, users)) = &u.delegate_to {
            sqlx::query("UPDATE incidents SET escalation_policy_id = $1, escalation_level = 1, assigned_via = 'escalation_policy' WHERE id = $2")
                .bind(policy)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
            log(
                &mut tx,
                "delegate_log_entry",
                &incident.id,
                &incident.service_id,
                actor,
                None,
                "Delegated to another escalation policy",
                None,
                Some(json!({"escalation_policy": policy})),
                now,
            )
            .await?;
            replace_assignments(&mut tx, &incident, users, actor, "via escalation policy", now).await?;
        }
        if let Some((level, users)) = &u.escalate_to {
            sqlx::query("UPDATE incidents SET escalation_level = $1, assigned_via = 'escalation_policy' WHERE id = $2")
                .bind(level)
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
            log(
                &mut tx,
                "escalate_log_entry",
                &incident.id,
                &incident.service_id,
                actor,
                None,
                &format!("Escalated to level {level}"),
                None,
                Some(json!({"escalation_level": level})),
                now,
            )
            .await?;
            replace_assignments(&mut tx, &incident, users, actor, "via escalation policy", now).await?;
        }
        if let Some(users) = &u.assignees {
            sqlx::query("UPDATE incidents SET assigned_via = 'direct_assignment' WHERE id = $1")
                .bind(&incident.id)
                .execute(&mut *tx)
                .await?;
            replace_assignments(&mut tx, &incident, users, actor, "directly", now).await?;
        }
        if let Some(status) = &u.status {
            match (incident.status.as_str(), status.as_str()) {
                ("resolved", "resolved") => {
                    return Err(StoreError::Rejected(format!("incident {} is already resolved", incident.id)));
                }
                (_, "resolved") => resolve(&mut tx, &incident, actor, u.resolution.as_deref(), None, now).await?,
                ("resolved", to) => {
                    sqlx::query("UPDATE incidents SET resolve_reason = NULL, merged_into_id = NULL, escalation_level = 1 WHERE id = $1")
                        .bind(&incident.id)
                        .execute(&mut *tx)
                        .await?;
                    set_status(&mut tx, &incident.id, to, actor, now).await?;
                    let name = user_name(&mut tx, &actor.user_id).await?;
                    log(
                        &mut tx,
                        "trigger_log_entry",
                        &incident.id,
                        &incident.service_id,
                        actor,
                        None,
                        &format!("Reopened by {name}"),
                        None,
                        Some(json!({"reopened": true})),
                        now,
                    )
                    .await?;
                    if u.assignees.is_none() && u.escalate_to.is_none() && u.delegate_to.is_none() {
                        let users = if to == "acknowledged" {
                            vec![actor.user_id.clone()]
                        } else {
                            match &incident.escalation_policy_id {
                                Some(policy) => level_users_tx(&mut tx, policy, 1).await?.unwrap_or_default(),
                                None => vec![],
                            }
                        };
                        replace_assignments(&mut tx, &incident, &users, actor, "on reopening", now).await?;
                    }
                    if to == "acknowledged" {
                        acknowledge(&mut tx, &incident, actor, now).await?;
                    }
                }
                (_, "acknowledged") => {
                    if incident.status != "acknowledged" {
                        set_status(&mut tx, &incident.id, "acknowledged", actor, now).await?;
                    } else {
                        // A second acknowledgement restarts the acknowledgement timeout.
                        super::jobs::incident_status_changed(&mut tx, &incident.id, "acknowledged", now).await?;
                    }
                    acknowledge(&mut tx, &incident, actor, now).await?;
                }
                ("acknowledged", "triggered") => {
                    sqlx::query("DELETE FROM incident_acknowledgements WHERE incident_id = $1")
                        .bind(&incident.id)
                        .execute(&mut *tx)
                        .await?;
                    set_status(&mut tx, &incident.id, "triggered", actor, now).await?;
                    let name = user_name(&mut tx, &actor.user_id).await?;
                    log(
                        &mut tx,
                        "unacknowledge_log_entry",
                        &incident.id,
                        &incident.service_id,
                        actor,
                        None,
                        &format!("Unacknowledged by {name}"),
                        None,
                        None,
                        now,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&incident.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn merge(p: &Pools, target: &str, sources: &[String], actor: &Actor, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let target_row = fetch(&mut *tx, target).await?.ok_or(StoreError::NotFound("incident"))?;
    if target_row.status == "resolved" {
        return Err(StoreError::Rejected(format!("incident {target} is resolved and cannot receive a merge")));
    }
    for source in sources {
        let row = fetch(&mut *tx, source).await?.ok_or(StoreError::NotFound("incident"))?;
        if row.status == "resolved" {
            return Err(StoreError::Rejected(format!("source incident {source} is already resolved")));
        }
        sqlx::query("UPDATE alerts SET incident_id = $1, updated_at = $2 WHERE incident_id = $3")
            .bind(&target_row.id)
            .bind(now)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE incidents SET merged_into_id = $1 WHERE id = $2")
            .bind(&target_row.id)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
        let reason = json!({"type": "merge_resolve_reason", "incident": {"id": target_row.id}});
        resolve(&mut tx, &row, actor, None, Some(reason), now).await?;
        log(
            &mut tx,
            "annotate_log_entry",
            &target_row.id,
            &target_row.service_id,
            actor,
            None,
            &format!("Merged incident #{} into this incident", row.incident_number),
            None,
            Some(json!({"merged_incident": row.id})),
            now,
        )
        .await?;
    }
    sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&target_row.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn snooze(p: &Pools, id: &str, seconds: i64, actor: &Actor, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let incident = fetch(&mut *tx, id).await?.ok_or(StoreError::NotFound("incident"))?;
    let key = format!("{}:{}", kinds::ACK_TIMEOUT, incident.id);
    super::jobs::schedule(
        &mut tx,
        kinds::ACK_TIMEOUT,
        Some(&key),
        &json!({"incident_id": incident.id}),
        now + seconds * 1000,
        now,
    )
    .await?;
    let name = user_name(&mut tx, &actor.user_id).await?;
    log(
        &mut tx,
        "snooze_log_entry",
        &incident.id,
        &incident.service_id,
        actor,
        None,
        &format!("Snoozed for {seconds} seconds by {name}"),
        None,
        Some(json!({"duration": seconds})),
        now,
    )
    .await?;
    sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&incident.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

const NOTE_COLUMNS: &str = "id, incident_id, user_id, content, channel_summary, created_at, updated_at";
pub const MAX_NOTES: i64 = 2000;

pub async fn notes(p: &Pools, incident_id: &str) -> Result<Vec<NoteRow>> {
    let sql = format!("SELECT {NOTE_COLUMNS} FROM incident_notes WHERE incident_id = $1 ORDER BY created_at, id");
    Ok(sqlx::query_as::<Db, NoteRow>(sqlx::AssertSqlSafe(sql)).bind(incident_id).fetch_all(&p.read).await?)
}

pub async fn add_note(p: &Pools, incident_id: &str, content: &str, actor: &Actor, now: i64) -> Result<NoteRow> {
    let mut tx = begin_write(p).await?;
    let incident = fetch(&mut *tx, incident_id).await?.ok_or(StoreError::NotFound("incident"))?;
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM incident_notes WHERE incident_id = $1")
        .bind(&incident.id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_NOTES {
        return Err(StoreError::Rejected(format!("an incident holds at most {MAX_NOTES} notes")));
    }
    let id = ids::long_id();
    sqlx::query(
        "INSERT INTO incident_notes (id, incident_id, user_id, content, channel_summary, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'The Klaxon website or API', $5, $5)",
    )
    .bind(&id)
    .bind(&incident.id)
    .bind(&actor.user_id)
    .bind(content)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    log(
        &mut tx,
        "annotate_log_entry",
        &incident.id,
        &incident.service_id,
        actor,
        Some(content),
        "Note added",
        None,
        None,
        now,
    )
    .await?;
    let sql = format!("SELECT {NOTE_COLUMNS} FROM incident_notes WHERE id = $1");
    let note = sqlx::query_as::<Db, NoteRow>(sqlx::AssertSqlSafe(sql)).bind(&id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(note)
}

pub async fn update_note(p: &Pools, incident_id: &str, note_id: &str, content: &str, now: i64) -> Result<NoteRow> {
    let mut tx = begin_write(p).await?;
    let done =
        sqlx::query("UPDATE incident_notes SET content = $1, updated_at = $2 WHERE id = $3 AND incident_id = $4")
            .bind(content)
            .bind(now)
            .bind(note_id)
            .bind(incident_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("note"));
    }
    let sql = format!("SELECT {NOTE_COLUMNS} FROM incident_notes WHERE id = $1");
    let note = sqlx::query_as::<Db, NoteRow>(sqlx::AssertSqlSafe(sql)).bind(note_id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(note)
}

pub async fn delete_note(p: &Pools, incident_id: &str, note_id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query("DELETE FROM incident_notes WHERE id = $1 AND incident_id = $2")
        .bind(note_id)
        .bind(incident_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("note"));
    }
    Ok(())
}

const OVERVIEW_TYPES: [&str; 7] = [
    "trigger_log_entry",
    "acknowledge_log_entry",
    "resolve_log_entry",
    "escalate_log_entry",
    "assign_log_entry",
    "delegate_log_entry",
    "annotate_log_entry",
];

fn push_log_filter(qb: &mut QueryBuilder<Db>, f: &LogEntryFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(incident) = &f.incident_id {
        qb.push(" AND incident_id = ");
        qb.push_bind(incident.clone());
    }
    if !f.team_ids.is_empty() {
        qb.push(" AND service_id IN (SELECT service_id FROM service_teams WHERE team_id IN ");
        push_in(qb, &f.team_ids);
        qb.push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND created_at >= ");
        qb.push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND created_at < ");
        qb.push_bind(until);
    }
    if f.overview {
        qb.push(" AND type IN (");
        let mut sep = qb.separated(", ");
        for t in OVERVIEW_TYPES {
            sep.push_bind(t);
        }
        qb.push(")");
    }
}

pub async fn log_entries(
    p: &Pools,
    f: &LogEntryFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<LogEntryRow>, Option<i64>)> {
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT {LOG_COLUMNS} FROM log_entries"));
    push_log_filter(&mut qb, f);
    qb.push(" ORDER BY created_at DESC, seq DESC LIMIT ");
    qb.push_bind(limit);
    qb.push(" OFFSET ");
    qb.push_bind(offset);
    let rows = qb.build_query_as::<LogEntryRow>().fetch_all(&p.read).await?;
    let total = count_if(p, want_total, "log_entries", |qb| push_log_filter(qb, f)).await?;
    Ok((rows, total))
}

pub async fn log_entry(p: &Pools, id: &str) -> Result<Option<LogEntryRow>> {
    let sql = format!("SELECT {LOG_COLUMNS} FROM log_entries WHERE id = $1");
    Ok(sqlx::query_as::<Db, LogEntryRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

pub async fn alerts(
    p: &Pools,
    incident_id: &str,
    statuses: &[String],
    alert_key: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AlertRow>, i64)> {
    let build = |select: &str| {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {select} FROM alerts WHERE incident_id = "));
        qb.push_bind(incident_id.to_string());
        if !statuses.is_empty() {
            qb.push(" AND status IN (");
            let mut sep = qb.separated(", ");
            for s in statuses {
                sep.push_bind(s.clone());
            }
            qb.push(")");
        }
        if let Some(key) = alert_key {
            qb.push(" AND alert_key = ");
            qb.push_bind(key.to_string());
        }
        qb
    };
    let mut qb = build(ALERT_COLUMNS);
    qb.push(" ORDER BY created_at, id LIMIT ");
    qb.push_bind(limit);
    qb.push(" OFFSET ");
    qb.push_bind(offset);
    let rows = qb.build_query_as::<AlertRow>().fetch_all(&p.read).await?;
    let mut qb = build("COUNT(*)");
    let (total,): (i64,) = qb.build_query_as().fetch_one(&p.read).await?;
    Ok((rows, total))
}

pub async fn alert(p: &Pools, incident_id: &str, alert_id: &str) -> Result<Option<AlertRow>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1 AND incident_id = $2");
    Ok(sqlx::query_as::<Db, AlertRow>(sqlx::AssertSqlSafe(sql))
        .bind(alert_id)
        .bind(incident_id)
        .fetch_optional(&p.read)
        .await?)
}

/// `changes`: (alert id, new status, incident to move it to).
pub async fn update_alerts(
    p: &Pools,
    incident_id: &str,
    changes: &[(String, Option<String>, Option<String>)],
    actor: &Actor,
    now: i64,
) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let incident = fetch(&mut *tx, incident_id).await?.ok_or(StoreError::NotFound("incident"))?;
    for (alert_id, status, move_to) in changes {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1 AND incident_id = $2");
        let alert = sqlx::query_as::<Db, AlertRow>(sqlx::AssertSqlSafe(sql))
            .bind(alert_id)
            .bind(&incident.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("alert"))?;
        if let Some(target) = move_to.as_deref().filter(|t| *t != incident.id) {
            let other = fetch(&mut *tx, target)
                .await?
                .ok_or(StoreError::Rejected(format!("alert.incident.id {target} not found")))?;
            if other.status == "resolved" {
                return Err(StoreError::Rejected(format!("alert.incident.id {target} is resolved")));
            }
            sqlx::query("UPDATE alerts SET incident_id = $1, updated_at = $2 WHERE id = $3")
                .bind(&other.id)
                .bind(now)
                .bind(&alert.id)
                .execute(&mut *tx)
                .await?;
        }
        match status.as_deref() {
            Some("resolved") if alert.status != "resolved" => {
                sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = $1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&alert.id)
                    .execute(&mut *tx)
                    .await?;
            }
            Some("triggered") if alert.status == "resolved" => {
                return Err(StoreError::Rejected(format!("alert {} is resolved and cannot trigger again", alert.id)));
            }
            _ => {}
        }
    }
    if incident.status != "resolved" {
        let (open,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status = 'triggered'")
                .bind(&incident.id)
                .fetch_one(&mut *tx)
                .await?;
        let (all,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts WHERE incident_id = $1")
            .bind(&incident.id)
            .fetch_one(&mut *tx)
            .await?;
        if open == 0 && all > 0 {
            resolve(&mut tx, &incident, actor, Some("All alerts resolved"), None, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
