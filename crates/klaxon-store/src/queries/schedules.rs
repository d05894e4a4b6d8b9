//! SQL for schedules, their layers (users, restrictions), teams and overrides.

use super::config_filter::{Filter, like_pattern, live_names};
use super::{Db, Pools, begin_write};
use crate::schedules::{
    LayerRow, LayerUserRow, NewLayer, NewOverride, OverrideRemoval, OverrideRow, RestrictionRow, Schedule,
    ScheduleFields, ScheduleFilter, ScheduleRow, StoredLayer,
};
use crate::{Result, StoreError, ids};

type Tx<'a> = sqlx::Transaction<'a, Db>;

const COLUMNS: &str = "id, name, description, time_zone, created_at, updated_at, deleted_at";

const OVERRIDE_COLUMNS: &str = "o.seq, o.id, o.schedule_id, o.user_id, u.name AS user_name, o.start_at, o.end_at,
                                o.created_at";

pub async fn create(
    p: &Pools,
    f: &ScheduleFields,
    layers: &[NewLayer],
    team_ids: &[String],
    now: i64,
) -> Result<String> {
    let mut tx = begin_write(p).await?;
    let id = ids::resource_id();
    sqlx::query(
        "INSERT INTO schedules (id, name, name_lower, description, time_zone, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(&f.time_zone)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    write_layers(&mut tx, &id, layers).await?;
    write_teams(&mut tx, &id, team_ids).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(
    p: &Pools,
    id: &str,
    f: &ScheduleFields,
    layers: Option<&[NewLayer]>,
    team_ids: Option<&[String]>,
    now: i64,
) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let done = sqlx::query(
        "UPDATE schedules SET name = $2, name_lower = $3, description = $4, time_zone = $5, updated_at = $6
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(&f.name)
    .bind(f.name.to_lowercase())
    .bind(&f.description)
    .bind(&f.time_zone)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("schedule"));
    }
    if let Some(layers) = layers {
        for table in ["schedule_layer_users", "schedule_layer_restrictions"] {
            let sql = format!(
                "DELETE FROM {table} WHERE layer_id IN (SELECT id FROM schedule_layers WHERE schedule_id = $1)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM schedule_layers WHERE schedule_id = $1").bind(id).execute(&mut *tx).await?;
        write_layers(&mut tx, id, layers).await?;
    }
    if let Some(team_ids) = team_ids {
        sqlx::query("DELETE FROM schedule_teams WHERE schedule_id = $1").bind(id).execute(&mut *tx).await?;
        write_teams(&mut tx, id, team_ids).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn write_layers(tx: &mut Tx<'_>, schedule_id: &str, layers: &[NewLayer]) -> Result<()> {
    for (position, layer) in layers.iter().enumerate() {
        let layer_id = layer.id.clone().unwrap_or_else(ids::resource_id);
        sqlx::query(
            "INSERT INTO schedule_layers (id, schedule_id, position, name, start_at, end_at, rotation_virtual_start,
                                          rotation_turn_length_seconds)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&layer_id)
        .bind(schedule_id)
        .bind(position as i32)
        .bind(&layer.name)
        .bind(layer.start)
        .bind(layer.end)
        .bind(layer.rotation_virtual_start)
        .bind(layer.rotation_turn_length_seconds)
        .execute(&mut **tx)
        .await?;
        for (upos, user_id) in layer.users.iter().enumerate() {
            sqlx::query("INSERT INTO schedule_layer_users (layer_id, position, user_id) VALUES ($1, $2, $3)")
                .bind(&layer_id)
                .bind(upos as i32)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        for (rpos, r) in layer.restrictions.iter().enumerate() {
            sqlx::query(
                "INSERT INTO schedule_layer_restrictions (layer_id, position, kind, start_time_of_day,
                                                          start_day_of_week, duration_seconds)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&layer_id)
            .bind(rpos as i32)
            .bind(&r.kind)
            .bind(&r.start_time_of_day)
            .bind(r.start_day_of_week)
            .bind(r.duration_seconds)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn write_teams(tx: &mut Tx<'_>, schedule_id: &str, team_ids: &[String]) -> Result<()> {
    for team_id in team_ids {
        sqlx::query(
            "INSERT INTO schedule_teams (schedule_id, team_id) VALUES ($1, $2)
             ON CONFLICT (schedule_id, team_id) DO NOTHING",
        )
        .bind(schedule_id)
        .bind(team_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The live escalation policies with a rule targeting the schedule, by name.
const POLICIES_TARGETING: &str = "SELECT DISTINCT p.id, p.name, p.name_lower FROM escalation_targets t
     JOIN escalation_rules r ON r.id = t.escalation_rule_id
     JOIN escalation_policies p ON p.id = r.escalation_policy_id
     WHERE t.target_type = 'schedule' AND t.target_id = $1 AND p.deleted_at IS NULL
     ORDER BY p.name_lower, p.id";

pub async fn delete(p: &Pools, id: &str, now: i64) -> Result<()> {
    let mut tx = begin_write(p).await?;
    let users: Vec<(String, String, String)> = sqlx::query_as(POLICIES_TARGETING).bind(id).fetch_all(&mut *tx).await?;
    let done = sqlx::query("UPDATE schedules SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("schedule"));
    }
    if !users.is_empty() {
        let names: Vec<String> = users.into_iter().map(|(_, name, _)| name).collect();
        return Err(StoreError::Rejected(format!(
            "Schedule can't be deleted if it's being used by escalation policies: {}",
            names.join(", ")
        )));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(p: &Pools, id: &str, include_deleted: bool) -> Result<Option<Schedule>> {
    let sql = if include_deleted {
        format!("SELECT {COLUMNS} FROM schedules WHERE id = $1")
    } else {
        format!("SELECT {COLUMNS} FROM schedules WHERE id = $1 AND deleted_at IS NULL")
    };
    let row = sqlx::query_as::<Db, ScheduleRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?;
    match row {
        Some(row) => Ok(Some(details(p, row).await?)),
        None => Ok(None),
    }
}

async fn details(p: &Pools, row: ScheduleRow) -> Result<Schedule> {
    details_many(p, vec![row]).await?.pop().ok_or(StoreError::NotFound("schedule"))
}

/// The schedules of `rows` with their layers, teams and policies, in the order of `rows`: a fixed number
/// of queries whatever the number of schedules.
pub async fn details_many(p: &Pools, rows: Vec<ScheduleRow>) -> Result<Vec<Schedule>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut w = Filter::default();
    w.set("l.schedule_id IN ({})", &ids);
    let layers: Vec<LayerRow> = fetch(
        p,
        &w,
        "SELECT l.id, l.schedule_id, l.position, l.name, l.start_at, l.end_at, l.rotation_virtual_start,
                l.rotation_turn_length_seconds
         FROM schedule_layers l",
        "l.schedule_id, l.position",
    )
    .await?;
    let users: Vec<LayerUserRow> = fetch(
        p,
        &w,
        "SELECT lu.layer_id, lu.position, lu.user_id, u.name AS user_name
         FROM schedule_layer_users lu
         JOIN schedule_layers l ON l.id = lu.layer_id
         LEFT JOIN users u ON u.id = lu.user_id",
        "l.schedule_id, l.position, lu.position",
    )
    .await?;
    let restrictions: Vec<(String, String, String, Option<i32>, i64)> = fetch(
        p,
        &w,
        "SELECT r.layer_id, r.kind, r.start_time_of_day, r.start_day_of_week, r.duration_seconds
         FROM schedule_layer_restrictions r
         JOIN schedule_layers l ON l.id = r.layer_id",
        "l.schedule_id, l.position, r.position",
    )
    .await?;
    let mut w = Filter::default();
    w.set("st.schedule_id IN ({})", &ids);
    let teams: Vec<(String, String, String)> = fetch(
        p,
        &w,
        "SELECT st.schedule_id, t.id, t.name FROM schedule_teams st JOIN teams t ON t.id = st.team_id",
        "t.name_lower, t.id",
    )
    .await?;
    let mut w = Filter::default();
    w.raw("t.target_type = 'schedule' AND p.deleted_at IS NULL");
    w.set("t.target_id IN ({})", &ids);
    let policies: Vec<(String, String, String)> = fetch(
        p,
        &w,
        "SELECT DISTINCT t.target_id, p.id, p.name, p.name_lower FROM escalation_targets t
         JOIN escalation_rules r ON r.id = t.escalation_rule_id
         JOIN escalation_policies p ON p.id = r.escalation_policy_id",
        "p.name_lower, p.id",
    )
    .await
    .map(|rows: Vec<(String, String, String, String)>| {
        rows.into_iter().map(|(s, id, name, _)| (s, id, name)).collect()
    })?;
    let pairs = |list: &[(String, String, String)], schedule_id: &str| -> Vec<(String, String)> {
        list.iter().filter(|(s, _, _)| s == schedule_id).map(|(_, id, name)| (id.clone(), name.clone())).collect()
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let layers = layers
                .iter()
                .filter(|l| l.schedule_id == row.id)
                .map(|l| StoredLayer {
                    users: users
                        .iter()
                        .filter(|u| u.layer_id == l.id)
                        .map(|u| (u.user_id.clone(), u.user_name.clone()))
                        .collect(),
                    restrictions: restrictions
                        .iter()
                        .filter(|r| r.0 == l.id)
                        .map(|(_, kind, start_time_of_day, start_day_of_week, duration_seconds)| RestrictionRow {
                            kind: kind.clone(),
                            start_time_of_day: start_time_of_day.clone(),
                            start_day_of_week: *start_day_of_week,
                            duration_seconds: *duration_seconds,
                        })
                        .collect(),
                    row: l.clone(),
                })
                .collect();
            Schedule { teams: pairs(&teams, &row.id), escalation_policies: pairs(&policies, &row.id), layers, row }
        })
        .collect())
}

/// Every row of `select` under `w`, in `order`.
async fn fetch<O>(p: &Pools, w: &Filter, select: &str, order: &str) -> Result<Vec<O>>
where
    O: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    let sql = format!("{select}{} ORDER BY {order}", w.where_sql());
    Ok(w.bind_as(sqlx::query_as::<Db, O>(sqlx::AssertSqlSafe(sql))).fetch_all(&p.read).await?)
}

/// The live schedules among `ids` with their layers, teams and policies (order not guaranteed).
pub async fn live_many(p: &Pools, ids: &[String]) -> Result<Vec<Schedule>> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    w.set("id IN ({})", ids);
    let select = format!("SELECT {COLUMNS} FROM schedules");
    let rows: Vec<ScheduleRow> = fetch(p, &w, &select, "id").await?;
    details_many(p, rows).await
}

/// The overrides of the schedules `ids` that overlap `[since, until)`, oldest first.
pub async fn overrides_of_many(p: &Pools, ids: &[String], since: i64, until: i64) -> Result<Vec<OverrideRow>> {
    let mut w = Filter::default();
    w.int("o.start_at < {}", until);
    w.int("o.end_at > {}", since);
    w.set("o.schedule_id IN ({})", ids);
    let select = format!("SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides o LEFT JOIN users u ON u.id = o.user_id");
    fetch(p, &w, &select, "o.seq").await
}

pub async fn list(
    p: &Pools,
    filter: &ScheduleFilter,
    limit: i64,
    offset: i64,
    want_total: bool,
) -> Result<(Vec<Schedule>, Option<i64>)> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    if let Some(query) = &filter.query {
        w.one("name_lower LIKE {} ESCAPE '\\'", like_pattern(query));
    }
    if !filter.team_ids.is_empty() {
        w.set("id IN (SELECT schedule_id FROM schedule_teams WHERE team_id IN ({}))", &filter.team_ids);
    }
    let select = format!("SELECT {COLUMNS} FROM schedules");
    let rows: Vec<ScheduleRow> = w.fetch_page(&p.read, &select, "name_lower, id", limit, offset).await?;
    let total = w.total(&p.read, "schedules", want_total).await?;
    Ok((details_many(p, rows).await?, total))
}

pub async fn live_named(p: &Pools, schedule_ids: &[String]) -> Result<Vec<(String, String)>> {
    live_names(&p.read, "schedules", schedule_ids).await
}

pub async fn overrides(p: &Pools, schedule_id: &str, since: i64, until: i64) -> Result<Vec<OverrideRow>> {
    let sql = format!(
        "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides o LEFT JOIN users u ON u.id = o.user_id
         WHERE o.schedule_id = $1 AND o.start_at < $3 AND o.end_at > $2 ORDER BY o.seq"
    );
    Ok(sqlx::query_as::<Db, OverrideRow>(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id)
        .bind(since)
        .bind(until)
        .fetch_all(&p.read)
        .await?)
}

async fn override_in(tx: &mut Tx<'_>, schedule_id: &str, override_id: &str) -> Result<Option<OverrideRow>> {
    let sql = format!(
        "SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides o LEFT JOIN users u ON u.id = o.user_id
         WHERE o.schedule_id = $1 AND o.id = $2"
    );
    Ok(sqlx::query_as::<Db, OverrideRow>(sqlx::AssertSqlSafe(sql))
        .bind(schedule_id)
        .bind(override_id)
        .fetch_optional(&mut **tx)
        .await?)
}

pub async fn create_overrides(
    p: &Pools,
    schedule_id: &str,
    overrides: &[NewOverride],
    now: i64,
) -> Result<Vec<OverrideRow>> {
    let mut tx = begin_write(p).await?;
    let live: Option<(String,)> = sqlx::query_as("SELECT id FROM schedules WHERE id = $1 AND deleted_at IS NULL")
        .bind(schedule_id)
        .fetch_optional(&mut *tx)
        .await?;
    if live.is_none() {
        return Err(StoreError::NotFound("schedule"));
    }
    let mut out = Vec::with_capacity(overrides.len());
    for o in overrides {
        let id = ids::long_id();
        sqlx::query(
            "INSERT INTO schedule_overrides (id, schedule_id, user_id, start_at, end_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(schedule_id)
        .bind(&o.user_id)
        .bind(o.start)
        .bind(o.end)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        out.push(override_in(&mut tx, schedule_id, &id).await?.ok_or(StoreError::NotFound("override"))?);
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn remove_override(p: &Pools, schedule_id: &str, override_id: &str, now: i64) -> Result<OverrideRemoval> {
    let mut tx = begin_write(p).await?;
    let Some(found) = override_in(&mut tx, schedule_id, override_id).await? else {
        return Err(StoreError::NotFound("override"));
    };
    if found.end_at <= now {
        return Ok(OverrideRemoval::Past(found));
    }
    let removal = if found.start_at < now {
        sqlx::query("UPDATE schedule_overrides SET end_at = $2 WHERE id = $1")
            .bind(override_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        OverrideRemoval::Truncated(OverrideRow { end_at: now, ..found })
    } else {
        sqlx::query("DELETE FROM schedule_overrides WHERE id = $1").bind(override_id).execute(&mut *tx).await?;
        OverrideRemoval::Deleted
    };
    tx.commit().await?;
    Ok(removal)
}

/// The live schedules in which `user_id` is in a layer's rotation or has an override, by name.
pub async fn of_user(p: &Pools, user_id: &str) -> Result<Vec<Schedule>> {
    let mut w = Filter::default();
    w.raw("deleted_at IS NULL");
    w.one(
        "(id IN (SELECT l.schedule_id FROM schedule_layers l JOIN schedule_layer_users lu ON lu.layer_id = l.id
                 WHERE lu.user_id = {}) OR id IN (SELECT schedule_id FROM schedule_overrides WHERE user_id = {}))",
        user_id.to_string(),
    );
    let select = format!("SELECT {COLUMNS} FROM schedules");
    let rows: Vec<ScheduleRow> = fetch(p, &w, &select, "name_lower, id").await?;
    details_many(p, rows).await
}
