//! SQL for change events.

use super::{Db, Pools};
use crate::Result;
use crate::change_events::{ChangeEventFilter, ChangeEventRow};
use klaxon_core::page::PageRequest;

const SELECT: &str = "SELECT c.id, c.service_id, s.name AS service_name, c.integration_id, \
     i.name AS integration_name, c.summary, c.source, c.event_timestamp, c.custom_details, c.links, c.images, \
     c.received_at FROM change_events c JOIN services s ON s.id = c.service_id \
     LEFT JOIN integrations i ON i.id = c.integration_id";

/// Appends `AND column IN ($n, …)` for a non-empty list, binding later.
fn in_list(sql: &mut String, column: &str, values: &[String], next: &mut usize) {
    if values.is_empty() {
        return;
    }
    let placeholders: Vec<String> = values
        .iter()
        .map(|_| {
            *next += 1;
            format!("${}", *next - 1)
        })
        .collect();
    sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
}

fn where_clause(filter: &ChangeEventFilter) -> String {
    let mut next = 1;
    let mut sql = String::from(" WHERE 1 = 1");
    if filter.since_ms.is_some() {
        sql.push_str(&format!(" AND c.event_timestamp >= ${next}"));
        next += 1;
    }
    if filter.until_ms.is_some() {
        sql.push_str(&format!(" AND c.event_timestamp < ${next}"));
        next += 1;
    }
    in_list(&mut sql, "c.service_id", &filter.service_ids, &mut next);
    in_list(&mut sql, "c.integration_id", &filter.integration_ids, &mut next);
    if !filter.team_ids.is_empty() {
        let mut inner = String::new();
        in_list(&mut inner, "st.team_id", &filter.team_ids, &mut next);
        sql.push_str(&format!(" AND c.service_id IN (SELECT st.service_id FROM service_teams st WHERE 1 = 1{inner})"));
    }
    sql
}

macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {{
        let mut q = $query;
        if let Some(v) = $filter.since_ms {
            q = q.bind(v);
        }
        if let Some(v) = $filter.until_ms {
            q = q.bind(v);
        }
        for v in &$filter.service_ids {
            q = q.bind(v.clone());
        }
        for v in &$filter.integration_ids {
            q = q.bind(v.clone());
        }
        for v in &$filter.team_ids {
            q = q.bind(v.clone());
        }
        q
    }};
}

pub async fn list(
    p: &Pools,
    filter: &ChangeEventFilter,
    page: &PageRequest,
) -> Result<(Vec<ChangeEventRow>, Option<i64>)> {
    let clause = where_clause(filter);
    let sql = format!(
        "{SELECT}{clause} ORDER BY c.event_timestamp DESC, c.id LIMIT {} OFFSET {}",
        page.fetch_limit(),
        page.offset
    );
    let rows =
        bind_filter!(sqlx::query_as::<Db, ChangeEventRow>(sqlx::AssertSqlSafe(sql)), filter).fetch_all(&p.read).await?;
    let total = if page.want_total {
        let sql = format!("SELECT COUNT(*) FROM change_events c{clause}");
        let (n,): (i64,) =
            bind_filter!(sqlx::query_as::<Db, (i64,)>(sqlx::AssertSqlSafe(sql)), filter).fetch_one(&p.read).await?;
        Some(n)
    } else {
        None
    };
    Ok((rows, total))
}

pub async fn by_id(p: &Pools, id: &str) -> Result<Option<ChangeEventRow>> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    Ok(sqlx::query_as::<Db, ChangeEventRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&p.read).await?)
}

pub async fn incident_anchor(p: &Pools, incident_id: &str) -> Result<Option<(String, i64)>> {
    Ok(sqlx::query_as("SELECT service_id, created_at FROM incidents WHERE id = $1")
        .bind(incident_id)
        .fetch_optional(&p.read)
        .await?)
}

pub async fn service_exists(p: &Pools, service_id: &str) -> Result<bool> {
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM services WHERE id = $1 AND deleted_at IS NULL")
        .bind(service_id)
        .fetch_optional(&p.read)
        .await?;
    Ok(found.is_some())
}
