//! SQL for escalation policies, their rules, targets and teams.

use super::config_filter::{Filter, like_pattern, live_names};
use super::{Db, Pools, begin_write};
use crate::escalation_policies::{
    EscalationPolicy, EscalationPolicyRow, EscalationRule, EscalationRuleRow, EscalationTargetRow, NewRule,
    PolicyFields, PolicyFilter,
};
use crate::{Result, StoreError, ids};

type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str =
    "id, name, description, num_loops, on_call_handoff_notifications, created_at, updated_at, deleted_at";

pub async fn create(p: &Pools, f: &PolicyFields, rules: &[NewRule], team_ids: &[String], now: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO escalation_policies (id, name, name_lower, description, num_loops,
                                          on_call_handoff_notifications, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(f.num_loops)
    .bind(&f.on_call_handoff_notifications)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from(e).unique_as("escalation_policy.name"))?;
    write_rules(&mut tx, &id, rules).await?;
    write_teams(&mut tx, &id, team_ids).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(
    p: &Pools,
    id: &str,
    f: &PolicyFields,
    rules: Option<&[NewRule]>,
    team_ids: Option<&[String]>,
    now: i64,
) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query(
        "UPDATE escalation_policies SET name = $2, name_lower = $3, description = $4, num_loops = $5,
                on_call_handoff_notifications = $6, updated_at = $7
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(f.num_loops)
    .bind(&f.on_call_handoff_notifications)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from(e).unique_as("escalation_policy.name"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("escalation policy"));
    }
    if let Some(rules) = rules {
        sqlx::query(
            "DELETE FROM escalation_targets WHERE escalation_rule_id IN
                 (SELECT id FROM escalation_rules WHERE escalation_policy_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM escalation_rules WHERE escalation_policy_id = $1").bind(id).execute(&mut *tx).await?;
        write_rules(&mut tx, id, rules).await?;
    }
    if let Some(team_ids) = team_ids {
        sqlx::query("DELETE FROM escalation_policy_teams WHERE escalation_policy_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_teams(&mut tx, id, team_ids).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn write_rules(tx: &mut Tx<'_>, policy_id: &str, rules: &[NewRule]) -> Result<()> {
    for (position, rule) in rules.iter().enumerate() {
        let rule_id = rule.id.clone().unwrap_or_else(ids::resource_id);
        sqlx::query(
            "INSERT INTO escalation_rules (id, escalation_policy_id, position, escalation_delay_in_minutes,
                                           assignment_strategy)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&rule_id)
        .bind(policy_id)
        .bind(position as i32)
        .bind(rule.escalation_delay_in_minutes)
        .bind(&rule.assignment_strategy)
        .execute(&mut **tx)
        .await?;
        for (tpos, (kind, target_id)) in rule.targets.iter().enumerate() {
            sqlx::query(
                "INSERT INTO escalation_targets (escalation_rule_id, position, target_type, target_id)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&rule_id)
            .bind(tpos as i32)
            .bind(kind)
            .bind(target_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn write_teams(tx: &mut Tx<'_>, policy_id: &str, team_ids: &[String]) -> Result<()> {
    for team_id in team_ids {
        sqlx::query(
            "INSERT INTO escalation_policy_teams (escalation_policy_id, team_id) VALUES ($1, $2)
             ON CONFLICT (escalation_policy_id, team_id) DO NOTHING",
        )
        .bind(policy_id)
        .bind(team_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let users: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM services WHERE escalation_policy_id = $1 AND deleted_at IS NULL ORDER BY name_lower",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let done = sqlx::query("UPDATE escalation_policies SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("escalation policy"));
    }
    if !users.is_empty() {
        let names: Vec<String> = users.into_iter().map(|(n,)| n).collect();
        return Err(StoreError::Rejected(format!(
            "escalation_policy cannot be deleted while services use it: {}",
            names.join(", ")
        )));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(p: &Pools, id: &str, include_deleted: bool) -> Result<Option<EscalationPolicy>> {
    let sql = if include_deleted {
        format!("SELECT {COLUMNS} FROM escalation_policies WHERE id = $1")
    } else {
        format!("SELECT {COLUMNS} FROM escalation_policies WHERE id = $1 AND deleted_at IS NULL")
    };
    let row =
        sqlx::query_as::<Db, EscalationPolicyRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?;
    match row {
        Some(row) => Ok(Some(details(p, row).await?)),
        None => Ok(None),
    }
}

pub async fn name_of(p: &Pools, id: &str) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as("SELECT id, name FROM escalation_policies WHERE id = $1")
        .bind(id)
        .fetch_optional(&p.read)
        .await?)
}

async fn details(p: &Pools, row: EscalationPolicyRow) -> Result<EscalationPolicy> {
    let rules: Vec<EscalationRuleRow> = sqlx::query_as(
        "SELECT id, escalation_policy_id, position, escalation_delay_in_minutes, assignment_strategy
         FROM escalation_rules WHERE escalation_policy_id = $1 ORDER BY position",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let targets: Vec<EscalationTargetRow> = sqlx::query_as(
        "SELECT t.escalation_rule_id, t.position, t.target_type, t.target_id, u.name AS user_name,
                s.name AS schedule_name
         FROM escalation_targets t
         JOIN escalation_rules r ON r.id = t.escalation_rule_id
         LEFT JOIN users u ON t.target_type = 'user' AND u.id = t.target_id
         LEFT JOIN schedules s ON t.target_type = 'schedule' AND s.id = t.target_id
         WHERE r.escalation_policy_id = $1 ORDER BY r.position, t.position",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let rules = rules
        .into_iter()
        .map(|r| {
            let targets = targets.iter().filter(|t| t.escalation_rule_id == r.id).cloned().collect();
            EscalationRule { row: r, targets }
        })
        .collect();
    let teams: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.id, t.name FROM escalation_policy_teams et JOIN teams t ON t.id = et.team_id
         WHERE et.escalation_policy_id = $1 ORDER BY t.name_lower, t.id",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let services: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, name FROM services WHERE escalation_policy_id = $1 AND deleted_at IS NULL
         ORDER BY name_lower, id",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    Ok(EscalationPolicy { row, rules, teams, services })
}

pub async fn list(
    p: &Pools,
    filter: &PolicyFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<EscalationPolicy>, Option<i64>)> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    if let Some(query) = &filter.query {
        w.one("name_lower LIKE {} ESCAPE '\\'", like_pattern(query));
    }
    if !filter.user_ids.is_empty() {
        w.set(
            "id IN (SELECT r.escalation_policy_id FROM escalation_rules r
                    JOIN escalation_targets t ON t.escalation_rule_id = r.id
                    WHERE t.target_type = 'user' AND t.target_id IN ({}))",
            &filter.user_ids,
        );
    }
    if !filter.team_ids.is_empty() {
        w.set(
            "id IN (SELECT escalation_policy_id FROM escalation_policy_teams WHERE team_id IN ({}))",
            &filter.team_ids,
        );
    }
    let order = if filter.descending { "name_lower DESC, id DESC" } else { "name_lower, id" };
    let select = format!("SELECT {COLUMNS} FROM escalation_policies");
    let rows: Vec<EscalationPolicyRow> = w.fetch_page(&p.read, &select, order, limit, offset).await?;
    let total = w.total(&p.read, "escalation_policies", want_total).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(details(p, row).await?);
    }
    Ok((out, total))
}

pub async fn live_teams(p: &Pools, team_ids: &[String]) -> Result<Vec<(String, String)>> {
    live_names(&p.read, "teams", team_ids).await
}
