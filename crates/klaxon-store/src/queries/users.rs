//! SQL for users.

use super::{Db, Pools, begin_write};
use crate::users::{NewUser, UserRow};
use crate::{Result, StoreError, ids};

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

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern, and wraps it for a substring match.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list(
    p: &Pools,
    filter: &crate::users::UserFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<UserRow>, Option<i64>)> {
    let mut binds: Vec<String> = Vec::new();
    let mut clauses = vec!["deleted_at IS NULL".to_string()];
    if let Some(query) = filter.query.as_deref().filter(|q| !q.is_empty()) {
        binds.push(like_pattern(query));
        let n = binds.len();
        clauses.push(format!("(LOWER(name) LIKE ${n} ESCAPE '\\' OR email_lower LIKE ${n} ESCAPE '\\')"));
    }
    if !filter.team_ids.is_empty() {
        let mut marks = Vec::new();
        for team in &filter.team_ids {
            binds.push(team.clone());
            marks.push(format!("${}", binds.len()));
        }
        clauses.push(format!("id IN (SELECT user_id FROM team_members WHERE team_id IN ({}))", marks.join(", ")));
    }
    let where_sql = clauses.join(" AND ");
    let n = binds.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE {where_sql} ORDER BY LOWER(name), id LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut query = sqlx::query_as::<Db, UserRow>(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.bind(limit).bind(offset).fetch_all(&p.read).await?;
    let total = if want_total {
        let sql = format!("SELECT COUNT(*) FROM users WHERE {where_sql}");
        let mut query = sqlx::query_scalar::<Db, i64>(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        Some(query.fetch_one(&p.read).await?)
    } else {
        None
    };
    Ok((rows, total))
}

/// Counts live owners, locking their rows on PostgreSQL (`FOR UPDATE`) so that two transactions demoting
/// or deleting different owners cannot both see "another owner remains". SQLite needs no lock: its
/// write transactions (`BEGIN IMMEDIATE`) are already serialized.
async fn live_owner_count(tx: &mut sqlx::Transaction<'static, Db>) -> Result<i64> {
    let lock = if <Db as sqlx::Database>::NAME == "PostgreSQL" { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT id FROM users WHERE role = 'owner' AND deleted_at IS NULL ORDER BY id{lock}");
    let owners: Vec<String> = sqlx::query_scalar::<Db, String>(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
    Ok(owners.len() as i64)
}

pub async fn update(p: &Pools, id: &str, update: &crate::users::UserUpdate, now: i64) -> Result<UserRow> {
    let mut tx = begin_write(p).await?;
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    let Some(current) =
        sqlx::query_as::<Db, UserRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *tx).await?
    else {
        return Err(StoreError::NotFound("user"));
    };
    if let Some(role) = update.role
        && current.role == "owner"
        && role.as_str() != "owner"
        && live_owner_count(&mut tx).await? <= 1
    {
        return Err(StoreError::Rejected("user.role cannot change: this user is the last owner".into()));
    }
    let name = update.name.clone().unwrap_or(current.name);
    let email = update.email.clone().unwrap_or(current.email);
    let role = update.role.map(|r| r.as_str().to_string()).unwrap_or(current.role);
    let time_zone = update.time_zone.clone().unwrap_or(current.time_zone);
    let color = update.color.clone().unwrap_or(current.color);
    let description = update.description.clone().unwrap_or(current.description);
    let job_title = update.job_title.clone().unwrap_or(current.job_title);
    sqlx::query(
        "UPDATE users SET name = $1, email = $2, email_lower = $3, role = $4, time_zone = $5, color = $6,
                          description = $7, job_title = $8, updated_at = $9
         WHERE id = $10",
    )
    .bind(&name)
    .bind(&email)
    .bind(email.to_lowercase())
    .bind(&role)
    .bind(&time_zone)
    .bind(&color)
    .bind(&description)
    .bind(&job_title)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from(e).unique_as("email"))?;
    let row = fetch(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(role) = role else { return Err(StoreError::NotFound("user")) };
    if role == "owner" && live_owner_count(&mut tx).await? <= 1 {
        return Err(StoreError::Rejected("the last owner cannot be deleted".into()));
    }
    // As PagerDuty: a user still in a rotation (a layer that has not ended) of a live schedule stays.
    let schedules: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT s.name, s.id FROM schedule_layer_users lu
         JOIN schedule_layers l ON l.id = lu.layer_id
         JOIN schedules s ON s.id = l.schedule_id
         WHERE lu.user_id = $1 AND s.deleted_at IS NULL AND (l.end_at IS NULL OR l.end_at > $2)
         ORDER BY s.name, s.id",
    )
    .bind(id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if !schedules.is_empty() {
        let names: Vec<String> = schedules.into_iter().map(|(name, _)| name).collect();
        let count = if names.len() == 1 { "1 schedule".to_string() } else { format!("{} schedules", names.len()) };
        return Err(StoreError::Rejected(format!(
            "The user cannot be deleted as they have {count}. Please remove the user from the following schedules \
             to continue: {}",
            names.join(", ")
        )));
    }
    // Their overrides stop: a future one is deleted, one in progress ends now (past ones stay as history).
    sqlx::query("DELETE FROM schedule_overrides WHERE user_id = $1 AND start_at >= $2")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE schedule_overrides SET end_at = $2 WHERE user_id = $1 AND end_at > $2")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET deleted_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM team_members WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
