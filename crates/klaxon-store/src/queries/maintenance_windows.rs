//! SQL for maintenance windows.

use super::config_filter::{Filter, like_pattern};
use super::{Db, Pools, begin_write};
use crate::maintenance_windows::{
    MaintenanceWindow, MaintenanceWindowRow, WindowDeletion, WindowFields, WindowFilter, WindowTime,
};
use crate::{Result, StoreError, ids};

type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str = "id, sequence_number, description, start_time, end_time, created_by, created_at";

pub async fn create(p: &Pools, f: &WindowFields, created_by: Option<&str>, now: i64) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let (sequence,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'maintenance_window_sequence' RETURNING value",
    )
    .fetch_one(&mut *tx)
    .await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO maintenance_windows (id, sequence_number, description, start_time, end_time, created_by,
                                          created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(sequence)
    .bind(&f.description)
    .bind(f.start_time)
    .bind(f.end_time)
    .bind(created_by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    write_services(&mut tx, &id, &f.service_ids).await?;
    tx.commit().await?;
    Ok(id)
}

async fn write_services(tx: &mut Tx<'_>, window_id: &str, service_ids: &[String]) -> Result<()> {
    for service_id in service_ids {
        let (live,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM services WHERE id = $1 AND deleted_at IS NULL")
            .bind(service_id)
            .fetch_one(&mut **tx)
            .await?;
        if live == 0 {
            return Err(StoreError::Rejected(format!("maintenance_window.services id {service_id} not found")));
        }
        sqlx::query(
            "INSERT INTO maintenance_window_services (maintenance_window_id, service_id) VALUES ($1, $2)
             ON CONFLICT (maintenance_window_id, service_id) DO NOTHING",
        )
        .bind(window_id)
        .bind(service_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub async fn get(p: &Pools, id: &str) -> Result<Option<MaintenanceWindow>> {
    let sql = format!("SELECT {COLUMNS} FROM maintenance_windows WHERE id = $1");
    let row =
        sqlx::query_as::<Db, MaintenanceWindowRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?;
    match row {
        Some(row) => Ok(Some(details(p, row).await?)),
        None => Ok(None),
    }
}

async fn details(p: &Pools, row: MaintenanceWindowRow) -> Result<MaintenanceWindow> {
    let services: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.id, s.name FROM maintenance_window_services ms JOIN services s ON s.id = ms.service_id
         WHERE ms.maintenance_window_id = $1 ORDER BY s.name_lower, s.id",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await?;
    let teams: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT t.id, t.name, t.name_lower FROM maintenance_window_services ms
         JOIN service_teams st ON st.service_id = ms.service_id JOIN teams t ON t.id = st.team_id
         WHERE ms.maintenance_window_id = $1 ORDER BY t.name_lower, t.id",
    )
    .bind(&row.id)
    .fetch_all(&p.read)
    .await
    .map(|rows: Vec<(String, String, String)>| rows.into_iter().map(|(id, name, _)| (id, name)).collect())?;
    let created_by_name = match &row.created_by {
        Some(user_id) => sqlx::query_as::<Db, (String,)>("SELECT name FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&p.read)
            .await?
            .map(|(n,)| n),
        None => None,
    };
    Ok(MaintenanceWindow { row, services, teams, created_by_name })
}

pub async fn update(p: &Pools, id: &str, f: &WindowFields) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done =
        sqlx::query("UPDATE maintenance_windows SET description = $2, start_time = $3, end_time = $4 WHERE id = $1")
            .bind(id)
            .bind(&f.description)
            .bind(f.start_time)
            .bind(f.end_time)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("maintenance window"));
    }
    sqlx::query("DELETE FROM maintenance_window_services WHERE maintenance_window_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    write_services(&mut tx, id, &f.service_ids).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<WindowDeletion> {
    let mut tx = begin_write(p).await?;
    let span: Option<(i64, i64)> = sqlx::query_as("SELECT start_time, end_time FROM maintenance_windows WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((start, end)) = span else {
        return Err(StoreError::NotFound("maintenance window"));
    };
    let outcome = if end <= now {
        WindowDeletion::Past
    } else if start <= now {
        sqlx::query("UPDATE maintenance_windows SET end_time = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        WindowDeletion::Ended
    } else {
        sqlx::query("DELETE FROM maintenance_window_services WHERE maintenance_window_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM maintenance_windows WHERE id = $1").bind(id).execute(&mut *tx).await?;
        WindowDeletion::Deleted
    };
    tx.commit().await?;
    Ok(outcome)
}

pub async fn list(
    p: &Pools,
    filter: &WindowFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
    now: i64,
) -> Result<(Vec<MaintenanceWindow>, Option<i64>)> {
    let mut w = Filter::default();
    match filter.time {
        WindowTime::Past => w.int("end_time <= {}", now),
        WindowTime::Future => w.int("start_time > {}", now),
        WindowTime::Ongoing => w.int("(start_time <= {} AND end_time > {})", now),
        WindowTime::Open => w.int("end_time > {}", now),
        WindowTime::All => {}
    }
    if let Some(query) = &filter.query {
        w.one("LOWER(COALESCE(description, '')) LIKE {} ESCAPE '\\'", like_pattern(query));
    }
    if !filter.service_ids.is_empty() {
        w.set(
            "id IN (SELECT maintenance_window_id FROM maintenance_window_services WHERE service_id IN ({}))",
            &filter.service_ids,
        );
    }
    if !filter.team_ids.is_empty() {
        w.set(
            "id IN (SELECT ms.maintenance_window_id FROM maintenance_window_services ms
                    JOIN service_teams st ON st.service_id = ms.service_id WHERE st.team_id IN ({}))",
            &filter.team_ids,
        );
    }
    let select = format!("SELECT {COLUMNS} FROM maintenance_windows");
    let rows: Vec<MaintenanceWindowRow> =
        w.fetch_page(&p.read, &select, "start_time, sequence_number", limit, offset).await?;
    let total = w.total(&p.read, "maintenance_windows", want_total).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(details(p, row).await?);
    }
    Ok((out, total))
}

pub async fn covers(p: &Pools, service_id: &str, now: i64) -> Result<bool> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM maintenance_windows w JOIN maintenance_window_services ms
             ON ms.maintenance_window_id = w.id
         WHERE ms.service_id = $1 AND w.start_time <= $2 AND w.end_time > $2",
    )
    .bind(service_id)
    .bind(now)
    .fetch_one(&p.read)
    .await?;
    Ok(n > 0)
}
