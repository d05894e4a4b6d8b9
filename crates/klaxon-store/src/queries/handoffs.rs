//! SQL for on-call handoff notification rules and the handoff intents the scan records.

use super::{Db, Pools, begin_write};
use crate::handoffs::{HandoffPolicyRow, HandoffRuleFields, HandoffRuleRow};
use crate::jobs::{JobSpec, Resolution};
use crate::notifications::NotificationRow;
use crate::{Result, StoreError, ids};
use klaxon_core::handoff::{HandoffIntent, HandoffRule};
use klaxon_core::notification::{NotificationStatus, NotificationType, address_of};
use sqlx::QueryBuilder;

const COLUMNS: &str = "id, user_id, contact_method_id, notify_advance_in_minutes, handoff_type, created_at";

/// The field a foreign contact method is reported under.
const CONTACT_METHOD_FIELD: &str = "oncall_handoff_notification_rule.contact_method.id";

/// Intents per INSERT statement: 16 values each, well under both backends' limits on bound values.
const INSERT_CHUNK: usize = 500;

pub async fn for_user(
    p: &Pools,
    user_id: &str,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<HandoffRuleRow>, Option<i64>)> {
    let sql = format!(
        "SELECT {COLUMNS} FROM oncall_handoff_notification_rules WHERE user_id = $1
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query_as::<Db, HandoffRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&p.read)
        .await?;
    let total = if want_total {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oncall_handoff_notification_rules WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&p.read)
            .await?;
        Some(n)
    } else {
        None
    };
    Ok((rows, total))
}

pub async fn by_id(p: &Pools, user_id: &str, id: &str) -> Result<Option<HandoffRuleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM oncall_handoff_notification_rules WHERE user_id = $1 AND id = $2");
    Ok(sqlx::query_as::<Db, HandoffRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&p.read)
        .await?)
}

pub async fn create(p: &Pools, user_id: &str, fields: &HandoffRuleFields, now: i64) -> Result<HandoffRuleRow> {
    let mut tx = begin_write(p).await?;
    super::notification_rules::check_contact_method(&mut tx, user_id, &fields.contact_method_id, CONTACT_METHOD_FIELD)
        .await?;
    let sql = format!(
        "INSERT INTO oncall_handoff_notification_rules
             (id, user_id, contact_method_id, notify_advance_in_minutes, handoff_type, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, HandoffRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(ids::resource_id())
        .bind(user_id)
        .bind(&fields.contact_method_id)
        .bind(fields.notify_advance_in_minutes)
        .bind(fields.handoff_type.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(p: &Pools, user_id: &str, id: &str, fields: &HandoffRuleFields) -> Result<HandoffRuleRow> {
    let mut tx = begin_write(p).await?;
    super::notification_rules::check_contact_method(&mut tx, user_id, &fields.contact_method_id, CONTACT_METHOD_FIELD)
        .await?;
    let sql = format!(
        "UPDATE oncall_handoff_notification_rules
         SET contact_method_id = $1, notify_advance_in_minutes = $2, handoff_type = $3
         WHERE user_id = $4 AND id = $5 RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, HandoffRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(&fields.contact_method_id)
        .bind(fields.notify_advance_in_minutes)
        .bind(fields.handoff_type.as_str())
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("oncall handoff notification rule"))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, user_id: &str, id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query("DELETE FROM oncall_handoff_notification_rules WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("oncall handoff notification rule"));
    }
    tx.commit().await?;
    Ok(())
}

/// A rule of a live user with its contact method, as the scan reads it.
#[derive(sqlx::FromRow)]
struct ScanRuleRow {
    id: String,
    user_id: String,
    notify_advance_in_minutes: i32,
    #[sqlx(try_from = "String")]
    handoff_type: klaxon_core::handoff::HandoffType,
    contact_method_id: String,
    contact_method_type: String,
    address: String,
    country_code: Option<i32>,
}

pub async fn scan_rules(p: &Pools) -> Result<Vec<HandoffRule>> {
    let rows: Vec<ScanRuleRow> = sqlx::query_as(
        "SELECT r.id, r.user_id, r.notify_advance_in_minutes, r.handoff_type, r.contact_method_id,
                c.type AS contact_method_type, c.address, c.country_code
         FROM oncall_handoff_notification_rules r
         JOIN users u ON u.id = r.user_id AND u.deleted_at IS NULL
         JOIN contact_methods c ON c.id = r.contact_method_id
         ORDER BY r.user_id, r.id",
    )
    .fetch_all(&p.read)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let notification_type = NotificationType::for_contact_method(&r.contact_method_type)?;
            Some(HandoffRule {
                address: address_of(&r.contact_method_type, &r.address, r.country_code),
                id: r.id,
                user_id: r.user_id,
                notify_advance_in_minutes: i64::from(r.notify_advance_in_minutes),
                handoff_type: r.handoff_type,
                contact_method_id: r.contact_method_id,
                notification_type,
            })
        })
        .collect())
}

pub async fn policies(p: &Pools) -> Result<Vec<HandoffPolicyRow>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT p.id, p.on_call_handoff_notifications,
                (SELECT COUNT(*) FROM services s WHERE s.escalation_policy_id = p.id AND s.deleted_at IS NULL)
         FROM escalation_policies p WHERE p.deleted_at IS NULL ORDER BY p.name_lower, p.id",
    )
    .fetch_all(&p.read)
    .await?;
    // The REST API stores only the two values; anything else reads as PagerDuty's default.
    Ok(rows
        .into_iter()
        .map(|(id, setting, services)| HandoffPolicyRow {
            id,
            notifications: setting.parse().unwrap_or_default(),
            has_services: services > 0,
        })
        .collect())
}

pub async fn record(
    p: &Pools,
    job_id: &str,
    owner: &str,
    intents: &[HandoffIntent<'_>],
    next: &JobSpec,
    now: i64,
) -> Result<Option<u64>> {
    let mut tx = begin_write(p).await?;
    if !super::jobs::finish_in_tx(&mut tx, job_id, owner, &Resolution::Done, now).await? {
        return Ok(None);
    }
    let mut recorded = 0;
    for chunk in intents.chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO notifications (id, kind, type, user_id, contact_method_id, address, incident_id, rule_id,
                                        status, failure_reason, started_at, handoff_at, escalation_policy_id,
                                        unique_key, created_at, updated_at) ",
        );
        qb.push_values(chunk, |mut b, intent| {
            b.push_bind(ids::long_id())
                .push_bind(intent.kind().as_str())
                .push_bind(intent.rule.notification_type.as_str())
                .push_bind(intent.rule.user_id.clone())
                .push_bind(intent.rule.contact_method_id.clone())
                .push_bind(intent.rule.address.clone())
                .push("NULL")
                .push_bind(intent.rule.id.clone())
                .push_bind(NotificationStatus::Pending.as_str())
                .push("NULL")
                .push_bind(intent.started_at)
                .push_bind(intent.handoff.at)
                .push_bind(intent.handoff.escalation_policy.clone())
                .push_bind(intent.unique_key())
                .push_bind(now)
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (unique_key) DO NOTHING");
        recorded += qb.build().execute(&mut *tx).await?.rows_affected();
    }
    super::jobs::insert(&mut tx, next, now).await?;
    tx.commit().await?;
    Ok(Some(recorded))
}

pub async fn intents_of_user(p: &Pools, user_id: &str) -> Result<Vec<NotificationRow>> {
    Ok(sqlx::query_as::<Db, NotificationRow>(
        "SELECT id, kind, type, user_id, contact_method_id, address, incident_id, rule_id, status, failure_reason,
                started_at, handoff_at, escalation_policy_id, created_at
         FROM notifications WHERE user_id = $1 AND incident_id IS NULL AND handoff_at IS NOT NULL
         ORDER BY handoff_at, started_at, id",
    )
    .bind(user_id)
    .fetch_all(&p.read)
    .await?)
}
