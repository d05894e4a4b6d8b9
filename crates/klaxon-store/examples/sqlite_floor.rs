//! The SQLite floor of the events write path: what the rows of one new-key event cost the database alone.
//!
//! Run by `scripts/bench-sqlite-floor`, which makes DB (a fresh `klaxon.db` holding one escalation policy,
//! one service, one Events v2 integration and one user). For each batch size it copies DB and writes, in
//! batches of that size, the rows the server's write path writes for an event with a new dedup key (see
//! `queries/event_processing.rs`), with the server's pragmas (WAL, `synchronous=FULL`, foreign keys on): the
//! backlog check and the three fact queries, the counter and service updates, one inbox row, one incident,
//! one alert, a trigger and an assign log entry, one assignment, then `COMMIT`. No HTTP, no JSON parsing,
//! no sqlx: each statement prepared once per batch and stepped once per row, as the server's SQLite path does. It prints
//! microseconds of database time per event (best of five runs), the mean `COMMIT` time and the WAL pages
//! each commit wrote; then, at one batch size, the same without each kind of row.
//!
//! ```text
//! cargo run --release -p klaxon-store --example sqlite_floor -- DB [--events 20000] [--batches 16,32,64,128] [--split-batch 32]
//! ```

// A benchmark, not production code: it measures real elapsed time and fails loudly on setup errors.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use rusqlite::{Connection, params};
use std::time::Instant;

#[derive(Clone, Copy, Default)]
struct Without {
    inbox: bool,
    log_entries: bool,
    assignment: bool,
    alert: bool,
}

struct Figures {
    us_per_event: f64,
    commit_us: f64,
    wal_pages_per_commit: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let template = args.first().expect("usage: sqlite_floor DB [--events N] [--batches 16,32] [--split-batch 32]");
    let option = |name: &str, default: &str| -> String {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or(default.into())
    };
    let events: usize = option("--events", "20000").parse().expect("--events is a number");
    let batches: Vec<usize> =
        option("--batches", "16,32,64,128").split(',').map(|b| b.parse().expect("--batches are numbers")).collect();
    let split: usize = option("--split-batch", "32").parse().expect("--split-batch is a number");

    println!("SQLite {} (rusqlite, the server's build), {events} new-key events per run", rusqlite::version());
    println!("{:>6} {:>9} {:>9} {:>10} {:>17}", "batch", "us/event", "events/s", "commit us", "WAL pages/commit");
    for batch in batches {
        let f = best(template, batch, events, Without::default());
        println!(
            "{batch:>6} {:>9.1} {:>9.0} {:>10.0} {:>17.1}",
            f.us_per_event,
            1e6 / f.us_per_event,
            f.commit_us,
            f.wal_pages_per_commit
        );
    }
    println!("\nat batch {split}, what each kind of row costs (us/event saved when it is left out;");
    println!("on a shared VM, differences of a few us either way are noise):");
    let all = best(template, split, events, Without::default()).us_per_event;
    println!("  {:<30} {all:>6.1}", "all rows");
    let cases = [
        ("inbox row (events)", Without { inbox: true, ..Without::default() }),
        ("2 log entries", Without { log_entries: true, ..Without::default() }),
        ("assignment", Without { assignment: true, ..Without::default() }),
        ("alert", Without { alert: true, ..Without::default() }),
    ];
    for (label, without) in cases {
        let us = best(template, split, events, without).us_per_event;
        println!("  {label:<30} {:>6.1}", all - us);
    }
}

/// Best of five runs: noise on a shared machine only ever adds time.
fn best(template: &str, batch: usize, events: usize, without: Without) -> Figures {
    (0..5)
        .map(|_| run(template, batch, events, without))
        .min_by(|a, b| a.us_per_event.total_cmp(&b.us_per_event))
        .expect("five runs")
}

fn run(template: &str, batch: usize, events: usize, without: Without) -> Figures {
    let dir = std::env::temp_dir().join(format!("klaxon-floor-{}-{batch}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("klaxon.db");
    std::fs::copy(template, &path).expect("copy the template database");
    let c = Connection::open(&path).expect("open");
    for (name, value) in [
        ("journal_mode", "WAL"),
        ("synchronous", "FULL"),
        ("foreign_keys", "ON"),
        ("cache_size", "-16000"),
        ("temp_store", "memory"),
        // Checkpoints below, every ~4000 WAL pages, counting the pages each commit wrote.
        ("wal_autocheckpoint", "0"),
    ] {
        c.pragma_update(None, name, value).expect("pragma");
    }
    let one = |sql: &str| -> String { c.query_row(sql, [], |r| r.get(0)).expect("seeded row") };
    let (svc, integ, user, ep) = (
        one("SELECT id FROM services"),
        one("SELECT id FROM integrations"),
        one("SELECT id FROM users"),
        one("SELECT id FROM escalation_policies"),
    );
    let mut counter = 0u64;
    let mut new_id = || {
        counter += 1;
        format!("Q{counter:013}")
    };
    let (mut secs, mut commit_secs, mut written, mut commits, mut frames) = (0.0, 0.0, 0usize, 0u64, 0i64);
    while written < events {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
        // Rows are built first: only database time is measured.
        let rows: Vec<[String; 8]> = (0..batch)
            .map(|i| {
                let key = format!("new-{}", written + i);
                let body = format!(
                    r#"{{"routing_key":"{}","event_action":"trigger","dedup_key":"{key}","client":"wrk","payload":{{"summary":"bench: {key}","source":"bench-host-1","severity":"error","component":"bench","custom_details":{{"n":{},"mode":"new"}}}}}}"#,
                    "r".repeat(32),
                    written + i
                );
                let channel = format!(
                    r#"{{"type":"api","summary":"bench: {key}","incident_key":"{key}","details":{{"n":1,"mode":"new"}},"description":"bench: {key}","cef_details":{{"severity":"error","source_origin":"bench-host-1","source_component":"bench","client":"wrk","contexts":[]}}}}"#
                );
                [new_id(), new_id(), new_id(), new_id(), new_id(), key, body, channel]
            })
            .collect();
        let started = Instant::now();
        c.execute_batch("BEGIN IMMEDIATE").expect("begin");
        let mut waiting =
            c.prepare("SELECT seq FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT 1").expect("prepare");
        let _ = waiting.query_map([], |r| r.get::<_, i64>(0)).expect("query").count();
        let mut services = c.prepare("SELECT s.id, s.status, s.incident_urgency_rule FROM services s WHERE s.deleted_at IS NULL AND s.id IN (?1)").expect("prepare");
        let _ = services.query_map([&svc], |r| r.get::<_, String>(0)).expect("query").count();
        let mut windows = c.prepare("SELECT mws.service_id FROM maintenance_window_services mws JOIN maintenance_windows mw ON mw.id = mws.maintenance_window_id WHERE mw.start_time <= ?1 AND mw.end_time > ?1 AND mws.service_id IN (?2)").expect("prepare");
        let _ = windows.query_map(params![now, svc], |r| r.get::<_, String>(0)).expect("query").count();
        let keys: Vec<&str> = rows.iter().map(|r| r[5].as_str()).collect();
        let open_sql = format!(
            "SELECT a.id FROM alerts a WHERE a.status = 'triggered' AND a.integration_id IN (?) AND a.alert_key IN ({})",
            vec!["?"; keys.len()].join(", ")
        );
        let mut open = c.prepare(&open_sql).expect("prepare");
        let open_args = std::iter::once(integ.as_str()).chain(keys.iter().copied());
        let _ =
            open.query_map(rusqlite::params_from_iter(open_args), |r| r.get::<_, String>(0)).expect("query").count();
        c.execute("UPDATE counters SET value = value + ?1 WHERE name = 'incident_number'", [batch as i64])
            .expect("counter");
        let mut incident = c.prepare("INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id, status, urgency, priority_id, incident_key, assigned_via, escalation_level, body_details, first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type, last_status_change_by_id, created_at, updated_at, resolved_at) VALUES (?1, (SELECT value FROM counters WHERE name = 'incident_number') - ?2, ?3, ?3, ?4, ?5, 'triggered', 'high', NULL, ?6, 'escalation_policy', 1, ?7, ?8, ?9, 'integration_reference', ?10, ?9, ?9, NULL)").expect("prepare");
        let mut alert = c.prepare("INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity, summary, source, component, group_name, class, custom_details, contexts, client, client_url, event_timestamp, trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at, resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, 'triggered', 0, 'error', ?6, 'bench-host-1', 'bench', NULL, NULL, ?7, '[]', 'wrk', NULL, NULL, 1, ?8, ?9, ?9, ?9, NULL)").expect("prepare");
        let mut entry = c.prepare("INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note, summary, user_id, details, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, NULL, ?11)").expect("prepare");
        let mut assignment = c.prepare("INSERT INTO incident_assignments (incident_id, user_id, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING").expect("prepare");
        let mut inbox = c.prepare("INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body, processed_at, outcome) VALUES (?1, 'alert', ?2, ?3, ?4, ?5, ?6, ?2, 'created')").expect("prepare");
        for (i, [inc, alert_id, trigger, assign, inbox_id, key, body, channel]) in rows.iter().enumerate() {
            let title = format!("bench: {key}");
            let details = r#"{"n":1,"mode":"new"}"#;
            incident
                .execute(params![inc, (batch - 1 - i) as i64, title, svc, ep, key, details, trigger, now, integ])
                .expect("incident");
            if !without.alert {
                alert.execute(params![alert_id, inc, svc, integ, key, title, details, trigger, now]).expect("alert");
            }
            if !without.log_entries {
                let alert_ref = (!without.alert).then_some(alert_id);
                entry
                    .execute(params![
                        trigger,
                        "trigger_log_entry",
                        inc,
                        alert_ref,
                        svc,
                        "integration_reference",
                        integ,
                        channel,
                        "Triggered through the API",
                        None::<String>,
                        now
                    ])
                    .expect("trigger entry");
                entry
                    .execute(params![
                        assign,
                        "assign_log_entry",
                        inc,
                        None::<String>,
                        svc,
                        "service_reference",
                        svc,
                        r#"{"type":"auto"}"#,
                        "Assigned via escalation policy",
                        user,
                        now
                    ])
                    .expect("assign entry");
            }
            if !without.assignment {
                assignment.execute(params![inc, user, now]).expect("assignment");
            }
            if !without.inbox {
                inbox.execute(params![inbox_id, now, integ, svc, key, body]).expect("inbox");
            }
        }
        c.execute("UPDATE services SET last_incident_timestamp = ?1 WHERE id = ?2", params![now, svc])
            .expect("service");
        drop((waiting, services, windows, open, incident, alert, entry, assignment, inbox));
        let committing = Instant::now();
        c.execute_batch("COMMIT").expect("commit");
        commit_secs += committing.elapsed().as_secs_f64();
        secs += started.elapsed().as_secs_f64();
        written += batch;
        commits += 1;
        if commits % (4000 / batch).max(1) as u64 == 0 {
            let checkpointing = Instant::now();
            frames += c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(1)).expect("checkpoint");
            secs += checkpointing.elapsed().as_secs_f64();
        }
    }
    frames += c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(1)).expect("checkpoint");
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
    Figures {
        us_per_event: secs / written as f64 * 1e6,
        commit_us: commit_secs / commits as f64 * 1e6,
        wal_pages_per_commit: frames as f64 / commits as f64,
    }
}
