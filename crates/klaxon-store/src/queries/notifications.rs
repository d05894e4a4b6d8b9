//! SQL of notification intents. Both writers of incidents call [`write_paging`]: the command layer
//! (`commands.rs`, one incident per change) and the events batch (`event_processing.rs`, many at once).
//! Given what `klaxon_core::notification::paging` decided and the paged users' rules (read by
//! [`rules_query`]), it adds to a [`Script`] the stopping of pending intents, the new intents and one
//! `notify_log_entry` per intent: three statements at most, whatever the number of incidents.

use super::log_entries::{self, NewLogEntry};
use super::script::{RowBuilder, Script, Statement};
use super::{Db, Pools};
use crate::Result;
use crate::notifications::{NotificationFilter, NotificationRow};
use klaxon_core::notification::{self, AssignmentRule, IncidentPaging, NotificationKind, NotificationStatus, Stop};
use std::collections::BTreeSet;

/// An assignment notification rule with its contact method and user (a row of [`rules_query`]).
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RuleRow {
    pub id: String,
    pub user_id: String,
    pub user_name: String,
    pub start_delay_in_minutes: i64,
    pub urgency: String,
    pub contact_method_id: String,
    pub contact_method_type: String,
    pub address: String,
    pub country_code: Option<i64>,
}

/// The users whose rules the paging needs, once each.
pub fn paged_users(paging: &[IncidentPaging]) -> Vec<&str> {
    let users: BTreeSet<&str> = paging.iter().flat_map(|p| p.change.page.iter().map(String::as_str)).collect();
    users.into_iter().collect()
}

/// The assignment notification rules of live `users` (one query, whatever their number).
pub fn rules_query(users: &[&str]) -> Statement {
    Script::single(
        "SELECT r.id, r.user_id, u.name AS user_name, CAST(r.start_delay_in_minutes AS BIGINT) AS start_delay_in_minutes,
                r.urgency, c.id AS contact_method_id, c.type AS contact_method_type, c.address,
                CAST(c.country_code AS BIGINT) AS country_code
         FROM notification_rules r JOIN contact_methods c ON c.id = r.contact_method_id
         JOIN users u ON u.id = r.user_id
         WHERE u.deleted_at IS NULL AND r.user_id IN ",
        |b| {
            super::event_processing::push_in_list(b, users.iter().copied());
            b.push(" ORDER BY r.user_id, r.start_delay_in_minutes, r.id");
        },
    )
}

/// The rules as the paging rule takes them; a rule whose contact method receives no notification, or
/// whose urgency does not read, is left out.
pub fn rules_from(rows: Vec<RuleRow>) -> Vec<AssignmentRule> {
    rows.into_iter()
        .filter_map(|r| {
            let notification_type = notification::NotificationType::for_contact_method(&r.contact_method_type)?;
            let urgency = r.urgency.parse().ok()?;
            let country_code = r.country_code.and_then(|c| i32::try_from(c).ok());
            Some(AssignmentRule {
                address: notification::address_of(&r.contact_method_type, &r.address, country_code),
                id: r.id,
                user_id: r.user_id,
                user_name: r.user_name,
                start_delay_in_minutes: r.start_delay_in_minutes,
                urgency,
                contact_method_id: r.contact_method_id,
                notification_type,
            })
        })
        .collect()
}

/// Reads the rules the paging needs through sqlx (none when nobody is paged).
pub async fn load_rules(tx: &mut sqlx::Transaction<'_, Db>, paging: &[IncidentPaging]) -> Result<Vec<AssignmentRule>> {
    let users = paged_users(paging);
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<RuleRow> = super::event_processing::fetch_all(tx, &rules_query(&users)).await?;
    Ok(rules_from(rows))
}

/// Adds the paging's writes to `script`: pending intents not yet due stop (before new ones start; one
/// already due is the delivery engine's), the new intents, and a `notify_log_entry` for each.
pub fn write_paging(script: &mut Script, paging: &[IncidentPaging], rules: &[AssignmentRule]) {
    let everyone: Vec<(&str, i64)> =
        paging.iter().filter(|p| p.change.stop == Stop::Everyone).map(|p| (p.incident_id.as_str(), p.at)).collect();
    script.update_rows(
        "UPDATE notifications SET status = 'cancelled', updated_at = v.column2",
        "WHERE notifications.incident_id = v.column1 AND notifications.status = 'pending'
             AND notifications.started_at > v.column2",
        &everyone,
        |b, (incident, at)| {
            b.push_bind(*incident).push_bind(*at);
        },
    );
    let some: Vec<(&str, &str, i64)> = paging
        .iter()
        .flat_map(|p| match &p.change.stop {
            Stop::Users(users) => users.iter().map(|u| (p.incident_id.as_str(), u.as_str(), p.at)).collect(),
            _ => Vec::new(),
        })
        .collect();
    script.update_rows(
        "UPDATE notifications SET status = 'cancelled', updated_at = v.column3",
        "WHERE notifications.incident_id = v.column1 AND notifications.user_id = v.column2
             AND notifications.status = 'pending' AND notifications.started_at > v.column3",
        &some,
        |b, (incident, user, at)| {
            b.push_bind(*incident).push_bind(*user).push_bind(*at);
        },
    );
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for p in paging {
        for intent in notification::intents(&p.change.page, p.urgency, rules, p.at) {
            let id = crate::ids::long_id();
            let rule = intent.rule;
            let details = serde_json::json!({"notification": {
                "id": id, "type": rule.notification_type.as_str(), "status": NotificationStatus::Pending.as_str(),
                "address": rule.address, "started_at": klaxon_core::time::render_millis(intent.started_at),
            }});
            entries.push(NewLogEntry {
                id: crate::ids::long_id(),
                kind: klaxon_core::log_entry::LogKind::Notify,
                incident_id: Some(p.incident_id.clone()),
                alert_id: None,
                service_id: Some(p.service_id.clone()),
                agent: None,
                channel: r#"{"type":"auto"}"#.to_string(),
                note: None,
                summary: summary(rule, intent.started_at - p.at),
                user_id: Some(rule.user_id.clone()),
                details: Some(details.to_string()),
                created_at: p.at,
            });
            rows.push((id, p, intent));
        }
    }
    script.insert_rows(
        "INSERT INTO notifications (id, kind, type, user_id, contact_method_id, address, incident_id, rule_id, status,
             failure_reason, started_at, handoff_at, escalation_policy_id, unique_key, created_at, updated_at)",
        "",
        &rows,
        |b: &mut RowBuilder<'_>, (id, p, intent)| {
            let rule = intent.rule;
            b.push_bind(id.as_str())
                .push_bind(NotificationKind::Assignment.as_str())
                .push_bind(rule.notification_type.as_str())
                .push_bind(rule.user_id.as_str())
                .push_bind(rule.contact_method_id.as_str())
                .push_bind(rule.address.as_deref())
                .push_bind(p.incident_id.as_str())
                .push_bind(rule.id.as_str())
                .push_bind(NotificationStatus::Pending.as_str())
                .push("NULL")
                .push_bind(intent.started_at)
                .push("NULL")
                .push("NULL")
                .push("NULL")
                .push_bind(p.at)
                .push_bind(p.at);
        },
    );
    log_entries::insert(script, entries);
}

/// The notify log entry's summary: whom, how, and when if not at once.
fn summary(rule: &AssignmentRule, delay_ms: i64) -> String {
    let how = match rule.notification_type {
        notification::NotificationType::Email => "email",
        notification::NotificationType::Sms => "SMS",
        notification::NotificationType::Phone => "phone call",
        notification::NotificationType::Push => "push notification",
    };
    match delay_ms / 60_000 {
        0 => format!("Notifying {} by {how}", rule.user_name),
        1 => format!("Notifying {} by {how} in 1 minute", rule.user_name),
        minutes => format!("Notifying {} by {how} in {minutes} minutes", rule.user_name),
    }
}

/// The intents due in `[since, until)` that match the filter, by due time, one page of them (and how many
/// match, when asked).
pub async fn list(p: &Pools, filter: &NotificationFilter) -> Result<(Vec<NotificationRow>, Option<i64>)> {
    let where_clause = |qb: &mut sqlx::QueryBuilder<Db>| {
        qb.push(" WHERE n.started_at >= ").push_bind(filter.since).push(" AND n.started_at < ").push_bind(filter.until);
        if let Some(t) = filter.notification_type {
            qb.push(" AND n.type = ").push_bind(t.as_str());
        }
        if !filter.user_ids.is_empty() {
            qb.push(" AND n.user_id IN (");
            let mut list = qb.separated(", ");
            for user in &filter.user_ids {
                list.push_bind(user.clone());
            }
            qb.push(")");
        }
        if let Some(incident) = &filter.incident_id {
            qb.push(" AND n.incident_id = ").push_bind(incident.clone());
        }
    };
    let mut qb = sqlx::QueryBuilder::<Db>::new(
        "SELECT n.id, n.kind, n.type, n.user_id, n.contact_method_id, n.address, n.incident_id, n.rule_id, n.status,
                n.failure_reason, n.started_at, n.handoff_at, n.escalation_policy_id, n.created_at
         FROM notifications n",
    );
    where_clause(&mut qb);
    qb.push(" ORDER BY n.started_at, n.id LIMIT ").push_bind(filter.limit).push(" OFFSET ").push_bind(filter.offset);
    let rows: Vec<NotificationRow> = qb.build_query_as().fetch_all(&p.read).await?;
    let total = if filter.total {
        let mut qb = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) FROM notifications n");
        where_clause(&mut qb);
        let (count,): (i64,) = qb.build_query_as().fetch_one(&p.read).await?;
        Some(count)
    } else {
        None
    };
    Ok((rows, total))
}
