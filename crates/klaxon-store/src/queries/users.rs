//! SQL for users.

use super::{Db, Pools, begin_write};
use crate::users::{NewUser, UserRow};
use crate::{Result, ids};

const COLUMNS: &str = "id, name, email, time_zone, color, role, description, job_title, avatar_url, \
                       created_at, updated_at, deleted_at";

pub async fn create(p: &Pools, user: &NewUser, now: i64) -> Result<UserRow> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO users (id, name, email, email_lower, time_zone, color, role, description, job_title,
                            avatar_url, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $10)",
    )
    .bind(&id)
    .bind(&user.name)
    .bind(&user.email)
    .bind(user.email.to_lowercase())
    .bind(&user.time_zone)
    .bind(&user.color)
    .bind(user.role.as_str())
    .bind(&user.description)
    .bind(&user.job_title)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| crate::StoreError::from(e).unique_as("email"))?;
    let cm_id = ids::resource_id();
    sqlx::query(
        "INSERT INTO contact_methods (id, user_id, type, label, address, send_short_email, blacklisted, created_at)
         VALUES ($1, $2, 'email_contact_method', 'Default', $3, FALSE, FALSE, $4)",
    )
    .bind(&cm_id)
    .bind(&id)
    .bind(&user.email)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO notification_rules (id, user_id, contact_method_id, start_delay_in_minutes, urgency, created_at)
         VALUES ($1, $2, $3, 0, 'high', $4)",
    )
    .bind(ids::resource_id())
    .bind(&id)
    .bind(&cm_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let row = fetch(&mut *tx, &id).await?;
    tx.commit().await?;
    Ok(row)
}

async fn fetch<'e, E>(executor: E, id: &str) -> Result<UserRow>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(sqlx::query_as::<Db, UserRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(executor).await?)
}

pub async fn by_id(p: &Pools, id: &str, include_deleted: bool) -> Result<Option<UserRow>> {
    let sql = if include_deleted {
        format!("SELECT {COLUMNS} FROM users WHERE id = $1")
    } else {
        format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL")
    };
    Ok(sqlx::query_as::<Db, UserRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

pub async fn by_email(p: &Pools, email: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email_lower = $1 AND deleted_at IS NULL");
    Ok(sqlx::query_as::<Db, UserRow>(sqlx::AssertSqlSafe(sql))
        .bind(email.to_lowercase())
        .fetch_optional(&p.read)
        .await?)
}
