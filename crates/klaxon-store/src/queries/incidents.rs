//! SQL for incidents, their notes, log entries and alerts, as the REST API reads and changes them.

use super::{Db, Pools, begin_write};
use crate::incidents::{AlertRow, IncidentDetails, IncidentFilter, IncidentRow, LogEntryFilter, LogEntryRow, NoteRow};
use crate::jobs::kinds;
use crate::{Result, StoreError};
use sqlx::QueryBuilder;
use std::collections::HashMap;

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

const NOTE_COLUMNS: &str = "id, incident_id, user_id, content, channel_summary, created_at, updated_at";

pub async fn notes(p: &Pools, incident_id: &str) -> Result<Vec<NoteRow>> {
    let sql = format!("SELECT {NOTE_COLUMNS} FROM incident_notes WHERE incident_id = $1 ORDER BY created_at, id");
    Ok(sqlx::query_as::<Db, NoteRow>(sqlx::AssertSqlSafe(sql)).bind(incident_id).fetch_all(&p.read).await?)
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
