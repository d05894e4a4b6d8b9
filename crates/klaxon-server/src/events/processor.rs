//! The processor worker: turns committed inbox rows into alerts and incidents.
//!
//! It applies the oldest unprocessed rows in batches ([`klaxon_store::Store::process_events`]: one write
//! transaction per batch, which also stamps each row, so the effect is exactly once and a restart resumes
//! the backlog). It is woken right after each commit that may have left unprocessed rows and also polls,
//! so events committed by another node (PostgreSQL) or left over from a crash are picked up. The accept
//! transaction normally processes its own events already (see `klaxon_store::events`), so this worker
//! handles backlogs: after a restart, or after a batch whose processing failed. A row that keeps failing on its
//! own is stamped `failed: <reason>` after a few attempts, so one poisoned event cannot stall the inbox.
//!
//! Retention, every [`PRUNE_EVERY`]: processed inbox rows are kept [`INBOX_RETENTION_DAYS`] days (for
//! diagnostics; their effects live on in alerts, incidents and log entries) and change events
//! [`CHANGE_EVENT_RETENTION_DAYS`] days, as on PagerDuty.

use crate::state::App;
use std::time::Duration;

/// Rows applied per transaction.
pub const BATCH: i64 = 64;
/// How often the inbox is checked without a wake-up.
pub const POLL: Duration = Duration::from_millis(250);
/// How often old inbox rows and change events are deleted.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);
pub const INBOX_RETENTION_DAYS: i64 = 7;
pub const CHANGE_EVENT_RETENTION_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

/// Attempts of a single failing row before it is stamped failed.
const MAX_SINGLE_ATTEMPTS: u32 = 3;

/// Measures how long the oldest waiting event has waited and how many wait, for the accept path's
/// overload guard.
async fn measure_lag(app: &App) {
    match app.store.oldest_unprocessed_event_at().await {
        Ok(Some(at)) => app.events.set_processing_lag(app.now_ms() - at),
        Ok(None) => app.events.set_processing_lag(0),
        Err(e) => tracing::warn!(error = %e, "measuring the processing lag failed"),
    }
    match app.store.unprocessed_event_count().await {
        Ok(n) => app.events.set_processing_backlog(n),
        Err(e) => tracing::warn!(error = %e, "measuring the processing backlog failed"),
    }
}

pub fn spawn(app: &App) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move { run(app).await })
}

async fn run(app: App) {
    let wakeup = app.events.wakeup.clone();
    let mut single_failures = 0u32;
    // Monotonic reading (`app.clock.monotonic()`) of the last prune.
    let mut last_prune: Option<Duration> = None;
    loop {
        if app.shutdown.is_cancelled() {
            break;
        }
        let monotonic = app.clock.monotonic();
        if last_prune.is_none_or(|at| monotonic.saturating_sub(at) >= PRUNE_EVERY) {
            last_prune = Some(monotonic);
            let now = app.now_ms();
            let (inbox, changes) = (now - INBOX_RETENTION_DAYS * DAY_MS, now - CHANGE_EVENT_RETENTION_DAYS * DAY_MS);
            match app.store.prune_events(inbox, changes).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned old events"),
                Err(e) => tracing::warn!(error = %e, "pruning old events failed"),
            }
        }
        match app.store.process_events(BATCH, app.now_ms()).await {
            Ok(n) => {
                single_failures = 0;
                if n as i64 == BATCH {
                    measure_lag(&app).await;
                    tokio::task::yield_now().await;
                    continue;
                }
                app.events.set_processing_lag(0);
                app.events.set_processing_backlog(0);
            }
            Err(e) => {
                tracing::warn!(error = %e, "event batch failed; retrying the oldest event alone");
                match app.store.process_events(1, app.now_ms()).await {
                    Ok(_) => {
                        single_failures = 0;
                        continue;
                    }
                    Err(e) => {
                        single_failures += 1;
                        if single_failures >= MAX_SINGLE_ATTEMPTS {
                            match app.store.fail_oldest_event(&e.to_string(), app.now_ms()).await {
                                Ok(id) => tracing::error!(error = %e, event = ?id, "event failed repeatedly; skipped"),
                                Err(e2) => tracing::error!(error = %e2, "cannot mark a failing event"),
                            }
                            single_failures = 0;
                        }
                    }
                }
            }
        }
        tokio::select! {
            () = wakeup.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            () = app.shutdown.cancelled() => break,
        }
    }
}
