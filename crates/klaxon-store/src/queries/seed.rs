//! SQL for test fixtures (see `crate::testing`).

use super::{Pools, begin_write};
use crate::testing::{SeedOptions, Seeded};
use crate::{Result, ids};

pub async fn service(p: &Pools, o: &SeedOptions, now: i64) -> Result<Seeded> {
    let mut tx = begin_write(p).await?;
    let user_id = ids::resource_id();
    let email = format!("oncall-{}@klaxon.test", user_id.to_lowercase());
    sqlx::query(
        "INSERT INTO users (id, name, email, email_lower, time_zone, color, role, created_at, updated_at)
         VALUES ($1, $2, $3, $3, 'Etc/UTC', 'purple', 'user', $4, $4)",
    )
    .bind(&user_id)
    .bind(format!("On-call {user_id}"))
    .bind(&email)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let ep_id = ids::resource_id();
    sqlx::query(
        "INSERT INTO escalation_policies (id, name, name_lower, description, num_loops, on_call_handoff_notifications,
                                          created_at, updated_at)
         VALUES ($1, $2, $3, NULL, 0, 'if_has_services', $4, $4)",
    )
    .bind(&ep_id)
    .bind(format!("Policy {ep_id}"))
    .bind(format!("policy {}", ep_id.to_lowercase()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let rule_id = ids::resource_id();
    sqlx::query(
        "INSERT INTO escalation_rules (id, escalation_policy_id, position, escalation_delay_in_minutes, assignment_strategy)
         VALUES ($1, $2, 0, 30, 'assign_to_everyone')",
    )
    .bind(&rule_id)
    .bind(&ep_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO escalation_targets (escalation_rule_id, position, target_type, target_id) VALUES ($1, 0, 'user', $2)",
    )
    .bind(&rule_id)
    .bind(&user_id)
    .execute(&mut *tx)
    .await?;
    let service_id = ids::resource_id();
    sqlx::query(
        "INSERT INTO services (id, name, name_lower, description, escalation_policy_id, status, acknowledgement_timeout,
                               auto_resolve_timeout, incident_urgency_rule, support_hours, scheduled_actions,
                               alert_creation, alert_grouping_parameters, auto_pause_notifications_parameters,
                               last_incident_timestamp, created_at, updated_at)
         VALUES ($1, $2, $3, NULL, $4, 'active', $5, $6, $7, NULL, '[]', 'create_alerts_and_incidents', NULL, NULL,
                 NULL, $8, $8)",
    )
    .bind(&service_id)
    .bind(&o.service_name)
    .bind(o.service_name.to_lowercase())
    .bind(&ep_id)
    .bind(o.acknowledgement_timeout)
    .bind(o.auto_resolve_timeout)
    .bind(o.incident_urgency_rule.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let integration_id = ids::resource_id();
    let integration_key = ids::integration_key();
    sqlx::query(
        "INSERT INTO integrations (id, service_id, type, name, integration_key, vendor_id, rate_limit_per_minute, created_at)
         VALUES ($1, $2, $3, 'Events API', $4, NULL, NULL, $5)",
    )
    .bind(&integration_id)
    .bind(&service_id)
    .bind(&o.integration_type)
    .bind(&integration_key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Seeded { user_id, escalation_policy_id: ep_id, service_id, integration_id, integration_key })
}

pub async fn incident(p: &Pools, s: &Seeded, status: &str, now: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let (number,): (i64,) =
        sqlx::query_as("UPDATE counters SET value = value + 1 WHERE name = 'incident_number' RETURNING value")
            .fetch_one(&mut *tx)
            .await?;
    let incident_id = ids::long_id();
    let key = ids::integration_key();
    let log_id = ids::long_id();
    sqlx::query(
        "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id, status, urgency,
                                priority_id, incident_key, assigned_via, escalation_level, first_trigger_log_entry_id,
                                last_status_change_at, last_status_change_by_type, last_status_change_by_id,
                                created_at, updated_at)
         VALUES ($1, $2, 'Seeded incident', NULL, $3, $4, $5, 'high', NULL, $6, 'escalation_policy', 1, $7, $8,
                 'service_reference', $3, $8, $8)",
    )
    .bind(&incident_id)
    .bind(number)
    .bind(&s.service_id)
    .bind(&s.escalation_policy_id)
    .bind(status)
    .bind(&key)
    .bind(&log_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity, summary,
                             contexts, trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at)
         VALUES ($1, $2, $3, $4, $5, 'triggered', FALSE, 'critical', 'Seeded incident', '[]', 1, $6, $7, $7, $7)",
    )
    .bind(ids::resource_id())
    .bind(&incident_id)
    .bind(&s.service_id)
    .bind(&s.integration_id)
    .bind(&key)
    .bind(&log_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO log_entries (id, type, incident_id, service_id, agent_type, agent_id, channel, summary, created_at)
         VALUES ($1, 'trigger_log_entry', $2, $3, 'service_reference', $3, '{\"type\":\"api\"}', 'Triggered through the API', $4)",
    )
    .bind(&log_id)
    .bind(&incident_id)
    .bind(&s.service_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO incident_assignments (incident_id, user_id, at) VALUES ($1, $2, $3)")
        .bind(&incident_id)
        .bind(&s.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if status == "acknowledged" {
        sqlx::query(
            "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)
             VALUES ($1, 'user_reference', $2, $3)",
        )
        .bind(&incident_id)
        .bind(&s.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    super::jobs::incident_status_changed(&mut tx, &incident_id, status, now).await?;
    tx.commit().await?;
    Ok(incident_id)
}
