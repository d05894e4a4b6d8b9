//! SQL for integrations.

use super::{Db, Pools, begin_write};
use crate::integrations::{IntegrationFields, IntegrationRow};
use crate::{Result, StoreError, ids};

const COLUMNS: &str =
    "id, service_id, type, name, integration_key, vendor_id, rate_limit_per_minute, created_at, deleted_at";

pub async fn create(
    p: &Pools,
    service_id: &str,
    kind: &str,
    f: &IntegrationFields,
    now: i64,
) -> Result<IntegrationRow> {
    let mut tx = begin_write(p).await?;
    let (live,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM services WHERE id = $1 AND deleted_at IS NULL")
        .bind(service_id)
        .fetch_one(&mut *tx)
        .await?;
    if live == 0 {
        return Err(StoreError::NotFound("service"));
    }
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO integrations (id, service_id, type, name, integration_key, vendor_id, rate_limit_per_minute,
                                   created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(service_id)
    .bind(kind)
    .bind(&f.name)
    .bind(ids::integration_key())
    .bind(&f.vendor_id)
    .bind(f.rate_limit_per_minute)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = $1");
    let row = sqlx::query_as::<Db, IntegrationRow>(sqlx::AssertSqlSafe(sql)).bind(&id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(p: &Pools, service_id: &str, id: &str) -> Result<Option<IntegrationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM integrations WHERE id = $1 AND service_id = $2 AND deleted_at IS NULL
         AND service_id IN (SELECT id FROM services WHERE deleted_at IS NULL)"
    );
    Ok(sqlx::query_as::<Db, IntegrationRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(service_id)
        .fetch_optional(&p.read)
        .await?)
}

/// Live integrations of a service, oldest first.
pub async fn for_service(p: &Pools, service_id: &str) -> Result<Vec<IntegrationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM integrations WHERE service_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    Ok(sqlx::query_as::<Db, IntegrationRow>(sqlx::AssertSqlSafe(sql)).bind(service_id).fetch_all(&p.read).await?)
}

pub async fn update(p: &Pools, service_id: &str, id: &str, f: &IntegrationFields) -> Result<IntegrationRow> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query(
        "UPDATE integrations SET name = $3, vendor_id = $4, rate_limit_per_minute = $5
         WHERE id = $1 AND service_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(service_id)
    .bind(&f.name)
    .bind(&f.vendor_id)
    .bind(f.rate_limit_per_minute)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("integration"));
    }
    let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = $1");
    let row = sqlx::query_as::<Db, IntegrationRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(p: &Pools, service_id: &str, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done =
        sqlx::query("UPDATE integrations SET deleted_at = $3 WHERE id = $1 AND service_id = $2 AND deleted_at IS NULL")
            .bind(id)
            .bind(service_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("integration"));
    }
    tx.commit().await?;
    Ok(())
}
