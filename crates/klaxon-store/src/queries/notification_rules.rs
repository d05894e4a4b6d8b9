//! SQL for notification rules.

use super::{Db, Pools, begin_write};
use crate::notification_rules::{NotificationRuleFields, NotificationRuleRow};
use crate::{Result, StoreError, ids};

const COLUMNS: &str = "id, user_id, contact_method_id, start_delay_in_minutes, urgency, created_at";

/// The field a foreign contact method is reported under.
const CONTACT_METHOD_FIELD: &str = "notification_rule.contact_method.id";

pub async fn for_user(p: &Pools, user_id: &str, urgency: Option<&str>) -> Result<Vec<NotificationRuleRow>> {
    let rows = match urgency {
        Some(urgency) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM notification_rules WHERE user_id = $1 AND urgency = $2
                 ORDER BY start_delay_in_minutes, created_at, id"
            );
            sqlx::query_as::<Db, NotificationRuleRow>(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .bind(urgency)
                .fetch_all(&p.read)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM notification_rules WHERE user_id = $1
                 ORDER BY start_delay_in_minutes, created_at, id"
            );
            sqlx::query_as::<Db, NotificationRuleRow>(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&p.read).await?
        }
    };
    Ok(rows)
}

pub async fn by_id(p: &Pools, user_id: &str, id: &str) -> Result<Option<NotificationRuleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM notification_rules WHERE user_id = $1 AND id = $2");
    Ok(sqlx::query_as::<Db, NotificationRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&p.read)
        .await?)
}

/// Refuses (`Rejected`, naming `field`) a contact method that is not the user's.
pub(crate) async fn check_contact_method(
    tx: &mut sqlx::Transaction<'static, Db>,
    user_id: &str,
    contact_method_id: &str,
    field: &str,
) -> Result<()> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM contact_methods WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(contact_method_id)
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        return Err(StoreError::Rejected(format!(
            "{field} {contact_method_id} not found among this user's contact methods"
        )));
    }
    Ok(())
}

pub async fn create(
    p: &Pools,
    user_id: &str,
    fields: &NotificationRuleFields,
    now: i64,
) -> Result<NotificationRuleRow> {
    let mut tx = begin_write(p).await?;
    check_contact_method(&mut tx, user_id, &fields.contact_method_id, CONTACT_METHOD_FIELD).await?;
    let sql = format!(
        "INSERT INTO notification_rules (id, user_id, contact_method_id, start_delay_in_minutes, urgency, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, NotificationRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(ids::resource_id())
        .bind(user_id)
        .bind(&fields.contact_method_id)
        .bind(fields.start_delay_in_minutes)
        .bind(&fields.urgency)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    p: &Pools,
    user_id: &str,
    id: &str,
    fields: &NotificationRuleFields,
) -> Result<NotificationRuleRow> {
    let mut tx = begin_write(p).await?;
    check_contact_method(&mut tx, user_id, &fields.contact_method_id, CONTACT_METHOD_FIELD).await?;
    let sql = format!(
        "UPDATE notification_rules SET contact_method_id = $1, start_delay_in_minutes = $2, urgency = $3
         WHERE user_id = $4 AND id = $5 RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, NotificationRuleRow>(sqlx::AssertSqlSafe(sql))
        .bind(&fields.contact_method_id)
        .bind(fields.start_delay_in_minutes)
        .bind(&fields.urgency)
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("notification rule"))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, user_id: &str, id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query("DELETE FROM notification_rules WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("notification rule"));
    }
    tx.commit().await?;
    Ok(())
}
