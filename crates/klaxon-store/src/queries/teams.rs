//! SQL for teams, team members and team escalation policies.

use super::users::like_pattern;
use super::{Db, Pools, begin_write};
use crate::teams::{TeamDeletion, TeamFields, TeamMember, TeamRow};
use crate::users::UserRow;
use crate::{Result, StoreError, ids};

const COLUMNS: &str = "id, name, description, default_role, parent_id, created_at, deleted_at";

type Tx = sqlx::Transaction<'static, Db>;

pub async fn list(
    p: &Pools,
    query: Option<&str>,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<TeamRow>, Option<i64>)> {
    let pattern = like_pattern(query.unwrap_or(""));
    let sql = format!(
        "SELECT {COLUMNS} FROM teams WHERE deleted_at IS NULL AND name_lower LIKE $1 ESCAPE '\\'
         ORDER BY name_lower, id LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query_as::<Db, TeamRow>(sqlx::AssertSqlSafe(sql))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&p.read)
        .await?;
    let total = if want_total {
        Some(
            sqlx::query_scalar::<Db, i64>(
                "SELECT COUNT(*) FROM teams WHERE deleted_at IS NULL AND name_lower LIKE $1 ESCAPE '\\'",
            )
            .bind(&pattern)
            .fetch_one(&p.read)
            .await?,
        )
    } else {
        None
    };
    Ok((rows, total))
}

pub async fn by_id(p: &Pools, id: &str, include_deleted: bool) -> Result<Option<TeamRow>> {
    let sql = if include_deleted {
        format!("SELECT {COLUMNS} FROM teams WHERE id = $1")
    } else {
        format!("SELECT {COLUMNS} FROM teams WHERE id = $1 AND deleted_at IS NULL")
    };
    Ok(sqlx::query_as::<Db, TeamRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

async fn team_is_live(tx: &mut Tx, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

async fn user_is_live(tx: &mut Tx, id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

async fn check_parent(tx: &mut Tx, parent: Option<&str>) -> Result<()> {
    if let Some(parent) = parent
        && !team_is_live(tx, parent).await?
    {
        return Err(StoreError::Rejected(format!("team.parent.id {parent} not found")));
    }
    Ok(())
}

pub async fn create(p: &Pools, fields: &TeamFields, now: i64) -> Result<TeamRow> {
    let mut tx = begin_write(p).await?;
    check_parent(&mut tx, fields.parent_id.as_deref()).await?;
    let sql = format!(
        "INSERT INTO teams (id, name, name_lower, description, default_role, parent_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, TeamRow>(sqlx::AssertSqlSafe(sql))
        .bind(ids::resource_id())
        .bind(&fields.name)
        .bind(fields.name.to_lowercase())
        .bind(&fields.description)
        .bind(&fields.default_role)
        .bind(&fields.parent_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::from(e).unique_as("team.name"))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(p: &Pools, id: &str, fields: &TeamFields) -> Result<TeamRow> {
    let mut tx = begin_write(p).await?;
    if !team_is_live(&mut tx, id).await? {
        return Err(StoreError::NotFound("team"));
    }
    if fields.parent_id.as_deref() == Some(id) {
        return Err(StoreError::Rejected("team.parent.id cannot be the team itself".into()));
    }
    check_parent(&mut tx, fields.parent_id.as_deref()).await?;
    let sql = format!(
        "UPDATE teams SET name = $1, name_lower = $2, description = $3, default_role = $4, parent_id = $5
         WHERE id = $6 RETURNING {COLUMNS}"
    );
    let row = sqlx::query_as::<Db, TeamRow>(sqlx::AssertSqlSafe(sql))
        .bind(&fields.name)
        .bind(fields.name.to_lowercase())
        .bind(&fields.description)
        .bind(&fields.default_role)
        .bind(&fields.parent_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::from(e).unique_as("team.name"))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<TeamDeletion> {
    let mut tx = begin_write(p).await?;
    if !team_is_live(&mut tx, id).await? {
        return Err(StoreError::NotFound("team"));
    }
    let associations: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM escalation_policy_teams t JOIN escalation_policies e
                   ON e.id = t.escalation_policy_id WHERE t.team_id = $1 AND e.deleted_at IS NULL)
              + (SELECT COUNT(*) FROM service_teams t JOIN services s
                   ON s.id = t.service_id WHERE t.team_id = $1 AND s.deleted_at IS NULL)
              + (SELECT COUNT(*) FROM teams WHERE parent_id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if associations > 0 {
        return Ok(TeamDeletion::HasAssociations);
    }
    sqlx::query("UPDATE teams SET deleted_at = $1 WHERE id = $2").bind(now).bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM team_members WHERE team_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(TeamDeletion::Deleted)
}

pub async fn of_user(p: &Pools, user_id: &str) -> Result<Vec<TeamRow>> {
    let sql = "SELECT t.id, t.name, t.description, t.default_role, t.parent_id, t.created_at, t.deleted_at
               FROM teams t JOIN team_members m ON m.team_id = t.id
               WHERE m.user_id = $1 AND t.deleted_at IS NULL ORDER BY t.name_lower, t.id";
    Ok(sqlx::query_as::<Db, TeamRow>(sql).bind(user_id).fetch_all(&p.read).await?)
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    member_role: String,
}

pub async fn members(
    p: &Pools,
    team_id: &str,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<TeamMember>, Option<i64>)> {
    let sql = "SELECT u.id, u.name, u.email, u.time_zone, u.color, u.role, u.description, u.job_title,
                      u.avatar_url, u.created_at, u.updated_at, u.deleted_at, m.role AS member_role
               FROM team_members m JOIN users u ON u.id = m.user_id
               WHERE m.team_id = $1 AND u.deleted_at IS NULL
               ORDER BY LOWER(u.name), u.id LIMIT $2 OFFSET $3";
    let rows = sqlx::query_as::<Db, MemberRow>(sql).bind(team_id).bind(limit).bind(offset).fetch_all(&p.read).await?;
    let total = if want_total {
        Some(
            sqlx::query_scalar::<Db, i64>(
                "SELECT COUNT(*) FROM team_members m JOIN users u ON u.id = m.user_id
                 WHERE m.team_id = $1 AND u.deleted_at IS NULL",
            )
            .bind(team_id)
            .fetch_one(&p.read)
            .await?,
        )
    } else {
        None
    };
    Ok((rows.into_iter().map(|r| TeamMember { user: r.user, role: r.member_role }).collect(), total))
}

pub async fn set_member(p: &Pools, team_id: &str, user_id: &str, role: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    if !team_is_live(&mut tx, team_id).await? {
        return Err(StoreError::NotFound("team"));
    }
    if !user_is_live(&mut tx, user_id).await? {
        return Err(StoreError::NotFound("user"));
    }
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = $3",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(role)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_member(p: &Pools, team_id: &str, user_id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    if !team_is_live(&mut tx, team_id).await? {
        return Err(StoreError::NotFound("team"));
    }
    if !user_is_live(&mut tx, user_id).await? {
        return Err(StoreError::NotFound("user"));
    }
    sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn check_team_and_policy(tx: &mut Tx, team_id: &str, policy_id: &str) -> Result<()> {
    if !team_is_live(tx, team_id).await? {
        return Err(StoreError::NotFound("team"));
    }
    let policy: Option<String> =
        sqlx::query_scalar("SELECT id FROM escalation_policies WHERE id = $1 AND deleted_at IS NULL")
            .bind(policy_id)
            .fetch_optional(&mut **tx)
            .await?;
    if policy.is_none() {
        return Err(StoreError::NotFound("escalation policy"));
    }
    Ok(())
}

pub async fn add_policy(p: &Pools, team_id: &str, policy_id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    check_team_and_policy(&mut tx, team_id, policy_id).await?;
    sqlx::query(
        "INSERT INTO escalation_policy_teams (escalation_policy_id, team_id) VALUES ($1, $2)
         ON CONFLICT (escalation_policy_id, team_id) DO NOTHING",
    )
    .bind(policy_id)
    .bind(team_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_policy(p: &Pools, team_id: &str, policy_id: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    check_team_and_policy(&mut tx, team_id, policy_id).await?;
    sqlx::query("DELETE FROM escalation_policy_teams WHERE escalation_policy_id = $1 AND team_id = $2")
        .bind(policy_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
