//! SQL of the on-call lookup: policies, rules, targets, then the targeted schedules and their overrides.

use super::config_filter::Filter;
use super::{Db, Pools};
use crate::Result;
use crate::escalation_policies::{EscalationRule, EscalationRuleRow, EscalationTargetRow};
use crate::oncalls::{OncallFacts, OncallPolicy};

pub async fn facts(p: &Pools, policy_ids: &[String], since: i64, until: i64) -> Result<OncallFacts> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    if !policy_ids.is_empty() {
        w.set("id IN ({})", policy_ids);
    }
    let sql = format!("SELECT id, name FROM escalation_policies{} ORDER BY name_lower, id", w.where_sql());
    let policies: Vec<(String, String)> =
        w.bind_as(sqlx::query_as::<Db, (String, String)>(sqlx::AssertSqlSafe(sql))).fetch_all(&p.read).await?;
    if policies.is_empty() {
        return Ok(OncallFacts::default());
    }
    let ids: Vec<String> = policies.iter().map(|(id, _)| id.clone()).collect();
    let mut w = Filter::default();
    w.set("r.escalation_policy_id IN ({})", &ids);
    let sql = format!(
        "SELECT r.id, r.escalation_policy_id, r.position, r.escalation_delay_in_minutes, r.assignment_strategy
         FROM escalation_rules r{} ORDER BY r.escalation_policy_id, r.position",
        w.where_sql()
    );
    let rules: Vec<EscalationRuleRow> =
        w.bind_as(sqlx::query_as::<Db, EscalationRuleRow>(sqlx::AssertSqlSafe(sql))).fetch_all(&p.read).await?;
    let sql = format!(
        "SELECT t.escalation_rule_id, t.position, t.target_type, t.target_id, u.name AS user_name,
                s.name AS schedule_name
         FROM escalation_targets t
         JOIN escalation_rules r ON r.id = t.escalation_rule_id
         LEFT JOIN users u ON t.target_type = 'user' AND u.id = t.target_id
         LEFT JOIN schedules s ON t.target_type = 'schedule' AND s.id = t.target_id{}
         ORDER BY r.escalation_policy_id, r.position, t.position",
        w.where_sql()
    );
    let targets: Vec<EscalationTargetRow> =
        w.bind_as(sqlx::query_as::<Db, EscalationTargetRow>(sqlx::AssertSqlSafe(sql))).fetch_all(&p.read).await?;
    let mut schedule_ids: Vec<String> =
        targets.iter().filter(|t| t.target_type == "schedule").map(|t| t.target_id.clone()).collect();
    schedule_ids.sort();
    schedule_ids.dedup();
    let (schedules, overrides) = if schedule_ids.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (
            super::schedules::live_many(p, &schedule_ids).await?,
            super::schedules::overrides_of_many(p, &schedule_ids, since, until).await?,
        )
    };
    let policies = policies
        .into_iter()
        .map(|(id, name)| OncallPolicy {
            rules: rules
                .iter()
                .filter(|r| r.escalation_policy_id == id)
                .map(|r| EscalationRule {
                    row: r.clone(),
                    targets: targets.iter().filter(|t| t.escalation_rule_id == r.id).cloned().collect(),
                })
                .collect(),
            id,
            name,
        })
        .collect();
    Ok(OncallFacts { policies, schedules, overrides })
}
