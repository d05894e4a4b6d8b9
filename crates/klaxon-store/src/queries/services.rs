//! SQL for services and their teams.

use super::config_filter::{Filter, like_pattern};
use super::{Db, Pools, begin_write};
use crate::integrations::IntegrationRow;
use crate::services::{Service, ServiceFields, ServiceFilter, ServiceRow};
use crate::{Result, StoreError, ids};

type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str = "id, name, description, escalation_policy_id, status, acknowledgement_timeout, \
                       auto_resolve_timeout, incident_urgency_rule, support_hours, scheduled_actions, alert_creation, \
                       alert_grouping_parameters, auto_pause_notifications_parameters, last_incident_timestamp, \
                       created_at, updated_at, deleted_at";

pub async fn create(p: &Pools, f: &ServiceFields, team_ids: &[String], now: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO services (id, name, name_lower, description, escalation_policy_id, status,
                               acknowledgement_timeout, auto_resolve_timeout, incident_urgency_rule, support_hours,
                               scheduled_actions, alert_creation, alert_grouping_parameters,
                               auto_pause_notifications_parameters, last_incident_timestamp, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, $15, $15)",
    )
    .bind(&id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(&f.escalation_policy_id)
    .bind(&f.status)
    .bind(f.acknowledgement_timeout)
    .bind(f.auto_resolve_timeout)
    .bind(&f.incident_urgency_rule)
    .bind(&f.support_hours)
    .bind(&f.scheduled_actions)
    .bind(&f.alert_creation)
    .bind(&f.alert_grouping_parameters)
    .bind(&f.auto_pause_notifications_parameters)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from(e).unique_as("service.name"))?;
    check_policy_live(&mut tx, &f.escalation_policy_id).await?;
    write_teams(&mut tx, &id, team_ids).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inside the write transaction: the policy is live (it may have been deleted since validation).
async fn check_policy_live(tx: &mut Tx<'_>, policy_id: &str) -> Result<()> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM escalation_policies WHERE id = $1 AND deleted_at IS NULL")
        .bind(policy_id)
        .fetch_one(&mut **tx)
        .await?;
    if n == 0 {
        return Err(StoreError::Rejected(format!("service.escalation_policy.id {policy_id} not found")));
    }
    Ok(())
}

async fn write_teams(tx: &mut Tx<'_>, service_id: &str, team_ids: &[String]) -> Result<()> {
    for team_id in team_ids {
        sqlx::query(
            "INSERT INTO service_teams (service_id, team_id) VALUES ($1, $2)
             ON CONFLICT (service_id, team_id) DO NOTHING",
        )
        .bind(service_id)
        .bind(team_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub async fn update(p: &Pools, id: &str, f: &ServiceFields, team_ids: Option<&[String]>, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query(
        "UPDATE services SET name = $2, name_lower = $3, description = $4, escalation_policy_id = $5, status = $6,
                acknowledgement_timeout = $7, auto_resolve_timeout = $8, incident_urgency_rule = $9,
                support_hours = $10, scheduled_actions = $11, alert_creation = $12, alert_grouping_parameters = $13,
                auto_pause_notifications_parameters = $14, updated_at = $15
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(&f.escalation_policy_id)
    .bind(&f.status)
    .bind(f.acknowledgement_timeout)
    .bind(f.auto_resolve_timeout)
    .bind(&f.incident_urgency_rule)
    .bind(&f.support_hours)
    .bind(&f.scheduled_actions)
    .bind(&f.alert_creation)
    .bind(&f.alert_grouping_parameters)
    .bind(&f.auto_pause_notifications_parameters)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from(e).unique_as("service.name"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("service"));
    }
    check_policy_live(&mut tx, &f.escalation_policy_id).await?;
    if let Some(team_ids) = team_ids {
        sqlx::query("DELETE FROM service_teams WHERE service_id = $1").bind(id).execute(&mut *tx).await?;
        write_teams(&mut tx, id, team_ids).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query("UPDATE services SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("service"));
    }
    sqlx::query("UPDATE integrations SET deleted_at = $2 WHERE service_id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(p: &Pools, id: &str, include_deleted: bool, now: i64) -> Result<Option<Service>> {
    let sql = if include_deleted {
        format!("SELECT {COLUMNS} FROM services WHERE id = $1")
    } else {
        format!("SELECT {COLUMNS} FROM services WHERE id = $1 AND deleted_at IS NULL")
    };
    let row = sqlx::query_as::<Db, ServiceRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?;
    match row {
        Some(row) => Ok(Some(details(p, row, now).await?)),
        None => Ok(None),
    }
}

pub async fn name_of(p: &Pools, id: &str) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as("SELECT id, name FROM services WHERE id = $1").bind(id).fetch_optional(&p.read).await?)
}

pub async fn live_named(p: &Pools, service_ids: &[String]) -> Result<Vec<(String, String)>> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    w.set("id IN ({})", service_ids);
    let sql = format!("SELECT id, name FROM services{} ORDER BY name_lower, id", w.where_sql());
    Ok(w.bind_as(sqlx::query_as::<Db, (String, String)>(sqlx::AssertSqlSafe(sql))).fetch_all(&p.read).await?)
}

async fn details(p: &Pools, row: ServiceRow, now: i64) -> Result<Service> {
    let teams: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.id, t.name FROM service_teams st JOIN teams t ON t.id = st.team_id
         WHERE st.service_id = $1 ORDER BY t.name_lower, t.id",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let integrations = super::integrations::for_service(p, &row.id).await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM incidents WHERE service_id = $1 AND status IN ('triggered', 'acknowledged')
         GROUP BY status",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map(|(_, n)| *n).unwrap_or(0);
    let in_maintenance = super::maintenance_windows::covers(p, &row.id, now).await?;
    Ok(Service {
        triggered_incidents: count("triggered"),
        acknowledged_incidents: count("acknowledged"),
        row,
        teams,
        integrations: integrations.into_iter().collect::<Vec<IntegrationRow>>(),
        in_maintenance,
    })
}

pub async fn list(
    p: &Pools,
    filter: &ServiceFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
    now: i64,
) -> Result<(Vec<Service>, Option<i64>)> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    if let Some(query) = &filter.query {
        w.one("name_lower LIKE {} ESCAPE '\\'", like_pattern(query));
    }
    if let Some(name) = &filter.name {
        w.one("name_lower = {}", name.to_lowercase());
    }
    if !filter.team_ids.is_empty() {
        w.set("id IN (SELECT service_id FROM service_teams WHERE team_id IN ({}))", &filter.team_ids);
    }
    let order = if filter.descending { "name_lower DESC, id DESC" } else { "name_lower, id" };
    let select = format!("SELECT {COLUMNS} FROM services");
    let rows: Vec<ServiceRow> = w.fetch_page(&p.read, &select, order, limit, offset).await?;
    let total = w.total(&p.read, "services", want_total).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(details(p, row, now).await?);
    }
    Ok((out, total))
}
