//! SQL for API keys.

use super::{Db, Pools, begin_write};
use crate::tokens::{ApiKeyRow, NewApiKey, ResolvedKey};
use crate::{Result, StoreError, ids};

const COLUMNS: &str = "id, kind, read_only, user_id, token_last4, description, created_at, revoked_at";

fn last4(secret: &str) -> String {
    secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect()
}

pub async fn insert(p: &Pools, kind: &NewApiKey, secret: &str, description: &str, now: i64) -> Result<ApiKeyRow> {
    let (kind_name, read_only, user_id) = match kind {
        NewApiKey::Account { read_only } => ("account", *read_only, None),
        NewApiKey::User { user_id } => ("user", false, Some(user_id.as_str())),
    };
    let sql = format!(
        "INSERT INTO api_keys (id, kind, read_only, user_id, token_hash, token_last4, description, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    );
    let mut tx = begin_write(p).await?;
    let row = sqlx::query_as::<Db, ApiKeyRow>(sqlx::AssertSqlSafe(sql))
        .bind(ids::resource_id())
        .bind(kind_name)
        .bind(read_only)
        .bind(user_id)
        .bind(ids::hash_secret(secret))
        .bind(last4(secret))
        .bind(description)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn ensure_account(p: &Pools, secret: &str, description: &str, now: i64) -> Result<ApiKeyRow> {
    let hash = ids::hash_secret(secret);
    let mut tx = begin_write(p).await?;
    sqlx::query(
        "INSERT INTO api_keys (id, kind, read_only, user_id, token_hash, token_last4, description, created_at)
         VALUES ($1, 'account', FALSE, NULL, $2, $3, $4, $5)
         ON CONFLICT (token_hash) DO UPDATE SET kind = 'account', read_only = FALSE, user_id = NULL, revoked_at = NULL",
    )
    .bind(ids::resource_id())
    .bind(&hash)
    .bind(last4(secret))
    .bind(description)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE token_hash = $1");
    let row = sqlx::query_as::<Db, ApiKeyRow>(sqlx::AssertSqlSafe(sql)).bind(&hash).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn resolve(p: &Pools, hash: &str) -> Result<Option<ResolvedKey>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL");
    let Some(key) =
        sqlx::query_as::<Db, ApiKeyRow>(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&p.read).await?
    else {
        return Ok(None);
    };
    let user = match &key.user_id {
        Some(user_id) => match super::users::by_id(p, user_id, false).await? {
            Some(user) => Some(user),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(ResolvedKey { key, user }))
}

pub async fn list(p: &Pools) -> Result<Vec<ApiKeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id");
    Ok(sqlx::query_as::<Db, ApiKeyRow>(sqlx::AssertSqlSafe(sql)).fetch_all(&p.read).await?)
}

pub async fn revoke(p: &Pools, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("api key"));
    }
    Ok(())
}
