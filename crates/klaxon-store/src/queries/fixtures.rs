//! SQL of the test fixtures that write raw rows on purpose (see `crate::testing`); built only with the
//! `testing` feature.

use super::{Pools, begin_write};
use crate::{Result, ids};

pub async fn fixture_service_status(p: &Pools, service_id: &str, status: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE services SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(service_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_integration_rate_limit(p: &Pools, integration_id: &str, per_minute: Option<i64>) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE integrations SET rate_limit_per_minute = $1 WHERE id = $2")
        .bind(per_minute)
        .bind(integration_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_maintenance_window(p: &Pools, service_id: &str, start: i64, end: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let (sequence,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'maintenance_window_sequence' RETURNING value",
    )
    .fetch_one(&mut *tx)
    .await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO maintenance_windows (id, sequence_number, description, start_time, end_time, created_by, created_at)
         VALUES ($1, $2, 'fixture', $3, $4, NULL, $3)",
    )
    .bind(&id)
    .bind(sequence)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO maintenance_window_services (maintenance_window_id, service_id) VALUES ($1, $2)")
        .bind(&id)
        .bind(service_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A second integration on the same service; returns `(integration_id, integration_key)`.
pub async fn fixture_integration(p: &Pools, service_id: &str, kind: &str, now: i64) -> Result<(String, String)> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    let key = ids::integration_key();
    sqlx::query(
        "INSERT INTO integrations (id, service_id, type, name, integration_key, vendor_id, rate_limit_per_minute, created_at)
         VALUES ($1, $2, $3, 'Second integration', $4, NULL, NULL, $5)",
    )
    .bind(&id)
    .bind(service_id)
    .bind(kind)
    .bind(&key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, key))
}

pub async fn fixture_incident_status(p: &Pools, incident_id: &str, status: &str) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query("UPDATE incidents SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(incident_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn fixture_raw_inbox_row(
    p: &Pools,
    integration_id: &str,
    service_id: &str,
    body: &str,
    now: i64,
) -> Result<()> {
    let mut tx = begin_write(p).await?;
    sqlx::query(
        "INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body)
         VALUES ($1, 'alert', $2, $3, $4, 'poison', $5)",
    )
    .bind(ids::long_id())
    .bind(now)
    .bind(integration_id)
    .bind(service_id)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs one statement of test-only SQL (to break or mend the schema in failure tests).
pub async fn fixture_execute(p: &Pools, sql: &str) -> Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&p.write).await?;
    Ok(())
}
