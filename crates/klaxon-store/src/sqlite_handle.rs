//! SQLite's write path on the write connection's own handle.
//!
//! sqlx runs every SQLite statement on the connection's worker thread: each query is a hop there and back,
//! and each hop waits for a busy core. The events accept path made about seven per batch (begin, the
//! backlog check, three fact queries, the writes, commit), and the hops, not SQLite, were most of each
//! commit's time. Here the writer locks the handle away from that thread once per batch
//! (`lock_handle`) and runs the whole transaction itself, synchronously, through `rusqlite`: each
//! statement is prepared once and stepped once per row. That work (a few milliseconds per batch, the
//! database's own time, which sqlx's thread used to spend) runs on the calling task's thread: the one
//! events writer task, and the rare callers of `run_script`.
//!
//! Only the execution differs from PostgreSQL's path. The SQL, the planning and the writes come from the
//! shared `queries` code: `queries::events` (items, pending events, change events), and
//! `queries::event_processing` (parsing, fact queries, facts, plan, writes). Rare paths stay on sqlx: a
//! batch that finds older events waiting behind it goes through `queries::events::accept_in_transaction`.
//!
//! This module holds the workspace's one `unsafe` block (see ARCHITECTURE.md, "unsafe").

use crate::events::InboxItem;
use crate::sqlite::Pools;
use crate::sqlite::q::event_processing::{self as ep, OpenRow, ServiceRow};
use crate::sqlite::q::events as inbox;
use crate::sqlite::q::notifications;
use crate::sqlite::q::script::{Arg, Script, Statement};
use crate::{Result, StoreError};
use klaxon_core::alert_batch::{BatchEvent, Facts};
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use sqlx::sqlite::SqliteConnection;

/// Runs `work` on `conn`'s own handle, locked away from sqlx's worker thread until it returns.
#[allow(unsafe_code)]
async fn on_handle<T>(conn: &mut SqliteConnection, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: `handle` keeps the connection locked away from its worker thread until it is dropped, after
    // `db`; `from_handle` wraps the pointer without owning it (dropping `db` finalizes only the statements
    // prepared through it, and never closes the database).
    let db = unsafe { Connection::from_handle(raw.as_ptr()) }.map_err(sqlite_error)?;
    let result = work(&db);
    drop(db);
    drop(handle);
    result
}

/// Runs a script inside an open sqlx transaction.
pub async fn run_script(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, script: &Script) -> Result<()> {
    on_handle(tx, |db| run_statements(db, script)).await
}

/// `queries::events::accept` on SQLite.
pub async fn accept_events(p: &Pools, items: &[InboxItem], now: i64, process_limit: i64) -> Result<(bool, u64)> {
    let mut conn = p.write.acquire().await?;
    let accepted = on_handle(&mut conn, |db| {
        let _guard = RollbackOnDrop(db);
        accept_on(db, items, now)
    });
    match accepted.await? {
        Some(backlog) => Ok(backlog),
        None => {
            drop(conn);
            inbox::accept_in_transaction(p, items, now, process_limit).await
        }
    }
}

/// Commits and applies the batch in one transaction; `None` when older events wait (the caller then takes
/// the backlog path). A failure to apply rolls back and commits the batch unprocessed, for the processor.
fn accept_on(db: &Connection, items: &[InboxItem], now: i64) -> Result<Option<(bool, u64)>> {
    let split = inbox::split(items);
    let pending = inbox::pending(&split, now);
    let changes = inbox::change_events_script(&split.changes, now);
    execute(db, "BEGIN IMMEDIATE")?;
    let stored = run_statements(db, &changes).and_then(|()| {
        if pending.is_empty() {
            return Ok(false);
        }
        let waiting: Option<i64> = query(db, &Script::single(inbox::FIRST_WAITING, |_| {}), |r| r.get(0))?.pop();
        Ok(waiting.is_some())
    });
    match stored {
        Err(e) => {
            execute(db, "ROLLBACK")?;
            return Err(e);
        }
        Ok(true) => {
            execute(db, "ROLLBACK")?;
            return Ok(None);
        }
        Ok(false) if pending.is_empty() => {
            execute(db, "COMMIT")?;
            return Ok(Some((false, 0)));
        }
        Ok(false) => {}
    }
    match apply(db, &pending, now) {
        Ok(unassignable) => {
            execute(db, "COMMIT")?;
            Ok(Some((false, unassignable)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "applying accepted events failed; storing them for the processor to retry");
            execute(db, "ROLLBACK")?;
            execute(db, "BEGIN IMMEDIATE")?;
            let stored =
                run_statements(db, &changes).and_then(|()| run_statements(db, &ep::unprocessed_script(&pending, now)));
            match stored {
                Ok(()) => {
                    execute(db, "COMMIT")?;
                    Ok(Some((true, 0)))
                }
                Err(e) => {
                    execute(db, "ROLLBACK")?;
                    Err(e)
                }
            }
        }
    }
}

/// Rolls back a transaction still open when the accept ends (an error path that could not, or a panic), so
/// the connection never goes back to the pool inside one.
struct RollbackOnDrop<'a>(&'a Connection);

impl Drop for RollbackOnDrop<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// A statement without parameters or rows (transaction control). A failed `COMMIT` leaves the transaction
/// open in SQLite, so it is rolled back before the error is answered.
fn execute(db: &Connection, sql: &str) -> Result<()> {
    db.execute_batch(sql).map_err(|e| {
        if sql == "COMMIT" && !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
        sqlite_error(e)
    })
}

/// `queries::event_processing::apply`, on the handle.
fn apply(db: &Connection, pending: &[ep::Pending<'_>], now: i64) -> Result<u64> {
    let parsed = ep::parse(pending);
    let events = ep::batch_events(pending, &parsed);
    let facts = load_facts(db, &events, now)?;
    let plan = ep::plan_batch(&events, &facts);
    let users = plan.as_ref().map(|p| notifications::paged_users(&p.paging)).unwrap_or_default();
    let rules = if users.is_empty() {
        Vec::new()
    } else {
        let rows = query(db, &notifications::rules_query(&users), |r| {
            Ok(notifications::RuleRow {
                id: r.get(0)?,
                user_id: r.get(1)?,
                user_name: r.get(2)?,
                start_delay_in_minutes: r.get(3)?,
                urgency: r.get(4)?,
                contact_method_id: r.get(5)?,
                contact_method_type: r.get(6)?,
                address: r.get(7)?,
                country_code: r.get(8)?,
            })
        })?;
        notifications::rules_from(rows)
    };
    let (script, unassignable) = ep::plan_writes(pending, &parsed, &events, plan, &rules, now);
    run_statements(db, &script)?;
    Ok(unassignable)
}

fn load_facts(db: &Connection, events: &[BatchEvent<'_>], now: i64) -> Result<Facts> {
    if events.is_empty() {
        return Ok(Facts::default());
    }
    let queries = ep::fact_queries(events);
    let services = query(db, &queries.services, |r| {
        Ok(ServiceRow {
            id: r.get(0)?,
            status: r.get(1)?,
            incident_urgency_rule: r.get(2)?,
            escalation_policy_id: r.get(3)?,
            acknowledgement_timeout: r.get(4)?,
            auto_resolve_timeout: r.get(5)?,
            target_id: r.get(6)?,
            support_hours: r.get(7)?,
            rule_id: r.get(8)?,
            escalation_delay_in_minutes: r.get(9)?,
            assignment_strategy: r.get(10)?,
            num_loops: r.get(11)?,
            pointer: r.get(12)?,
            target_type: r.get(13)?,
        })
    })?;
    if services.is_empty() {
        return Ok(Facts::default());
    }
    let windows = query(db, &queries.windows, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let open = query(db, &queries.open, |r| {
        Ok(OpenRow {
            id: r.get(0)?,
            integration_id: r.get(1)?,
            alert_key: r.get(2)?,
            incident_id: r.get(3)?,
            suppressed: r.get(4)?,
            status: r.get(5)?,
            service_id: r.get(6)?,
            acknowledgement_timeout: r.get(7)?,
            auto_resolve_timeout: r.get(8)?,
            open_alerts: r.get(9)?,
        })
    })?;
    let schedule_ids = ep::schedule_targets(&services);
    let schedules = if schedule_ids.is_empty() {
        ep::Schedules::new()
    } else {
        let [layers, restrictions, overrides] = ep::schedule_queries(&schedule_ids, now);
        let layers = query(db, &layers, |r| {
            Ok(ep::LayerUserRow {
                schedule_id: r.get(0)?,
                time_zone: r.get(1)?,
                layer_id: r.get(2)?,
                start_at: r.get(3)?,
                end_at: r.get(4)?,
                rotation_virtual_start: r.get(5)?,
                rotation_turn_length_seconds: r.get(6)?,
                user_id: r.get(7)?,
            })
        })?;
        let restrictions = query(db, &restrictions, |r| {
            Ok(ep::RestrictionRow {
                layer_id: r.get(0)?,
                kind: r.get(1)?,
                start_time_of_day: r.get(2)?,
                start_day_of_week: r.get(3)?,
                duration_seconds: r.get(4)?,
            })
        })?;
        let overrides = query(db, &overrides, |r| {
            Ok(ep::OverrideRow {
                schedule_id: r.get(0)?,
                id: r.get(1)?,
                user_id: r.get(2)?,
                start_at: r.get(3)?,
                end_at: r.get(4)?,
                seq: r.get(5)?,
            })
        })?;
        ep::schedules_from(layers, restrictions, overrides)
    };
    Ok(ep::facts_from(services, windows, open, &schedules, now))
}

/// The rows of a one-row statement (a query).
fn query<T>(
    db: &Connection,
    statement: &Statement,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut prepared = db.prepare(&statement.single_row_sql()).map_err(sqlite_error)?;
    let args = statement.rows.first().map(Vec::as_slice).unwrap_or_default();
    let rows = prepared.query_map(rusqlite::params_from_iter(args.iter().map(SqlArg)), row).map_err(sqlite_error)?;
    rows.collect::<rusqlite::Result<Vec<T>>>().map_err(sqlite_error)
}

/// Each statement prepared once, then stepped once per row.
fn run_statements(db: &Connection, script: &Script) -> Result<()> {
    for statement in &script.statements {
        let mut prepared = db.prepare(&statement.single_row_sql()).map_err(sqlite_error)?;
        for values in &statement.rows {
            prepared.execute(rusqlite::params_from_iter(values.iter().map(SqlArg))).map_err(sqlite_error)?;
        }
    }
    Ok(())
}

struct SqlArg<'a>(&'a Arg);

impl rusqlite::ToSql for SqlArg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Arg::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Arg::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(*v))),
            Arg::Int(None) | Arg::Text(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e.to_string())
}
