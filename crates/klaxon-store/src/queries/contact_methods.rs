//! SQL for contact methods.

use super::{Db, Pools, begin_write};
use crate::contact_methods::{ContactMethodFields, ContactMethodRow};
use crate::{Result, StoreError, ids};

const COLUMNS: &str =
    "id, user_id, type, label, address, country_code, send_short_email, blacklisted, device_type, created_at";

pub async fn for_user(p: &Pools, user_id: &str) -> Result<Vec<ContactMethodRow>> {
    let sql = format!("SELECT {COLUMNS} FROM contact_methods WHERE user_id = $1 ORDER BY created_at, id");
    Ok(sqlx::query_as::<Db, ContactMethodRow>(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&p.read).await?)
}

pub async fn by_id(p: &Pools, user_id: &str, id: &str) -> Result<Option<ContactMethodRow>> {
    let sql = format!("SELECT {COLUMNS} FROM contact_methods WHERE user_id = $1 AND id = $2");
    Ok(sqlx::query_as::<Db, ContactMethodRow>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&p.read)
        .await?)
}

async fn check_duplicate(
    tx: &mut sqlx::Transaction<'static, Db>,
    user_id: &str,
    fields: &ContactMethodFields,
    except_id: &str,
) -> Result<()> {
    let existing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM contact_methods WHERE user_id = $1 AND type = $2 AND LOWER(address) = LOWER($3)
         AND id <> $4",
    )
    .bind(user_id)
    .bind(&fields.kind)
    .bind(&fields.address)
    .bind(except_id)
    .fetch_one(&mut **tx)
    .await?;
    if existing > 0 {
        return Err(StoreError::Conflict { field: "contact_method.address" });
    }
    Ok(())
}

pub async fn create(p: &Pools, user_id: &str, fields: &ContactMethodFields, now: i64) -> Result<ContactMethodRow> {
    let mut tx = begin_write(p).await?;
    let live: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if live.is_none() {
        return Err(StoreError::NotFound("user"));
    }
    check_duplicate(&mut tx, user_id, fields, "").await?;
    let sql = format!(
        "INSERT INTO contact_methods (id, user_id, type, label, address, country_code, send_short_email,
                                      blacklisted, device_type, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $9) RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, ContactMethodRow>(sqlx::AssertSqlSafe(sql))
        .bind(ids::resource_id())
        .bind(user_id)
        .bind(&fields.kind)
        .bind(&fields.label)
        .bind(&fields.address)
        .bind(fields.country_code)
        .bind(fields.send_short_email)
        .bind(&fields.device_type)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(p: &Pools, user_id: &str, id: &str, fields: &ContactMethodFields) -> Result<ContactMethodRow> {
    let mut tx = begin_write(p).await?;
    check_duplicate(&mut tx, user_id, fields, id).await?;
    let sql = format!(
        "UPDATE contact_methods SET label = $1, address = $2, country_code = $3, send_short_email = $4,
                                    device_type = $5
         WHERE user_id = $6 AND id = $7 RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, ContactMethodRow>(sqlx::AssertSqlSafe(sql))
        .bind(&fields.label)
        .bind(&fields.address)
        .bind(fields.country_code)
        .bind(fields.send_short_email)
        .bind(&fields.device_type)
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("contact method"))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, user_id: &str, id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    for rules in ["notification_rules", "oncall_handoff_notification_rules"] {
        let sql = format!("DELETE FROM {rules} WHERE user_id = $1 AND contact_method_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(id).execute(&mut *tx).await?;
    }
    let done = sqlx::query("DELETE FROM contact_methods WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("contact method"));
    }
    tx.commit().await?;
    Ok(())
}
