//! The durable job runner: claims due jobs from the `jobs` table and runs the handler registered for
//! each job's kind.
//!
//! - A job is claimed with a lease (`LEASE_MS` of clock time) for this app's node id; its
//!   handler then runs, and on success the job is deleted (only while the lease is still ours). A worker
//!   that dies mid-run leaves the lease to expire, and the job is claimed again: handlers must be
//!   idempotent and re-check state in their own transaction (the timers do it with
//!   `queries::jobs::take_lease`, which completes the job in the same transaction as its effect).
//! - A handler error (or a panic, or running past `HANDLER_TIMEOUT`) records `last_error` and reschedules
//!   the job with backoff ([`retry_delay_ms`]); after [`MAX_ATTEMPTS`] the job is parked (kept, never due)
//!   and logged at error level, never silently dropped. A kind with no handler fails the same way
//!   (a newer node may know it).
//! - [`run_due`] claims and runs everything due once, without sleeping: tests call it after advancing a
//!   `ManualClock`. [`spawn_worker`] calls it in a loop, waking every `POLL_INTERVAL` of real time or at
//!   shutdown. Runs with the same owner within one process are serialized, so a test's `run_due` returns
//!   only after a background run in flight has finished.
//! - All instants come from `app.clock`.
//!
//! Handlers are registered by kind in the [`JobRunner`] that each [`App`] owns (no process-wide state):
//! built-in kinds at start, [`JobRunner::register`] for more (the escalation engine's, or a test's).

use crate::app::App;
use futures::StreamExt;
use klaxon_store::jobs::{JobRow, PARKED_DUE_AT};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a claimed job is ours (clock time) before another worker may claim it again.
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// Real time a handler may run before it counts as failed (well inside the lease).
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the background worker looks for due jobs.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Jobs claimed per round, and how many of them run at once.
const BATCH: i64 = 32;
const CONCURRENCY: usize = 8;
/// Rounds per `run_due` call: bounds a handler that keeps scheduling work due at once.
const MAX_ROUNDS: usize = 100;
/// After this many failed attempts a job is parked.
pub const MAX_ATTEMPTS: i32 = 10;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
/// A job handler: gets the app and the claimed job (its `lease_owner` is the claiming owner).
pub type Handler = Arc<dyn Fn(App, JobRow) -> HandlerFuture + Send + Sync>;

/// The job registry and run bookkeeping of one [`App`]: handlers by kind, this node's lease-owner id,
/// and per-owner locks that serialize runs of one owner.
pub struct JobRunner {
    handlers: RwLock<HashMap<String, Handler>>,
    runs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    node_id: String,
}

impl Default for JobRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl JobRunner {
    /// A runner with the built-in handlers and a random node id.
    pub fn new() -> Self {
        use rand::Rng;
        let mut handlers = HashMap::new();
        crate::timers::register_handlers(&mut |kind: &str, handler: Handler| {
            handlers.insert(kind.to_string(), handler);
        });
        let suffix: u64 = rand::rng().random();
        Self { handlers: RwLock::new(handlers), runs: Mutex::default(), node_id: format!("node-{suffix:016x}") }
    }

    /// This node's identity as a lease owner (random per `App`).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Registers (or replaces) the handler for a job kind.
    pub fn register<F, Fut>(&self, kind: &str, handler: F)
    where
        F: Fn(App, JobRow) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |app, job| Box::pin(handler(app, job)));
        self.handlers.write().unwrap_or_else(|p| p.into_inner()).insert(kind.to_string(), handler);
    }

    pub fn handler_for(&self, kind: &str) -> Option<Handler> {
        self.handlers.read().unwrap_or_else(|p| p.into_inner()).get(kind).cloned()
    }

    fn run_lock(&self, owner: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.entry(owner.to_string()).or_default().clone()
    }
}

/// Delay before retrying a job that has failed `attempts` times: 10 s, 30 s, 2 min, 10 min, then 30 min.
pub fn retry_delay_ms(attempts: i32) -> i64 {
    const DELAYS_MS: [i64; 5] = [10_000, 30_000, 120_000, 600_000, 1_800_000];
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(DELAYS_MS.len() - 1);
    DELAYS_MS[index]
}

/// Claims and runs every job due now, as `owner`, and answers how many it ran (succeeded or failed).
/// Never sleeps; returns when nothing due is left (or at shutdown).
pub async fn run_due(app: &App, owner: &str) -> usize {
    let lock = app.jobs.run_lock(owner);
    let _serialized = lock.lock().await;
    let mut ran = 0;
    for _ in 0..MAX_ROUNDS {
        if app.shutdown.is_cancelled() {
            break;
        }
        let now = app.now_ms();
        match app.store.any_job_due(now).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                tracing::warn!(%error, "looking for due jobs failed");
                break;
            }
        }
        let jobs = match app.store.claim_due_jobs(owner, now, LEASE_MS, BATCH).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "claiming due jobs failed");
                break;
            }
        };
        let claimed = jobs.len();
        futures::stream::iter(jobs).for_each_concurrent(CONCURRENCY, |job| run_one(app, owner, job)).await;
        ran += claimed;
        if claimed < BATCH as usize {
            break;
        }
    }
    ran
}

async fn run_one(app: &App, owner: &str, job: JobRow) {
    let result = match app.jobs.handler_for(&job.kind) {
        None => Err(format!("no handler is registered for job kind {:?}", job.kind)),
        Some(handler) => {
            // A task of its own, so a panic fails the job instead of the worker.
            let mut task = tokio::spawn(handler(app.clone(), job.clone()));
            match tokio::time::timeout(HANDLER_TIMEOUT, &mut task).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(error))) => Err(error.to_string()),
                Ok(Err(join)) => Err(format!("handler panicked: {join}")),
                Err(_) => {
                    task.abort();
                    Err(format!("handler ran longer than {} s", HANDLER_TIMEOUT.as_secs()))
                }
            }
        }
    };
    match result {
        Ok(()) => {
            if let Err(error) = app.store.complete_job(&job.id, owner).await {
                tracing::warn!(job = %job.id, kind = %job.kind, %error, "completing a job failed; it will run again");
            }
        }
        Err(message) => {
            let parked = job.attempts >= MAX_ATTEMPTS;
            let retry_at =
                if parked { PARKED_DUE_AT } else { app.now_ms().saturating_add(retry_delay_ms(job.attempts)) };
            if parked {
                tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message,
                    "job failed too often; parked (kept in the jobs table with its last error)");
            } else {
                tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, retry_at,
                    "job failed; will retry");
            }
            if let Err(error) = app.store.fail_job(&job.id, owner, &message, retry_at).await {
                tracing::warn!(job = %job.id, %error, "recording a job failure failed; the lease will expire");
            }
        }
    }
}

/// The background worker: runs due jobs as this app's node until `app.shutdown`.
pub fn spawn_worker(app: &App) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            run_due(&app, app.jobs.node_id()).await;
            tokio::select! {
                () = app.shutdown.cancelled() => break,
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_cap() {
        assert_eq!(retry_delay_ms(1), 10_000);
        assert_eq!(retry_delay_ms(2), 30_000);
        assert_eq!(retry_delay_ms(3), 120_000);
        assert_eq!(retry_delay_ms(4), 600_000);
        assert_eq!(retry_delay_ms(5), 1_800_000);
        assert_eq!(retry_delay_ms(50), 1_800_000);
        assert_eq!(retry_delay_ms(0), 10_000);
    }

    #[test]
    fn the_timer_kinds_have_handlers() {
        let runner = JobRunner::new();
        assert!(runner.handler_for(klaxon_store::jobs::kinds::ACK_TIMEOUT).is_some());
        assert!(runner.handler_for(klaxon_store::jobs::kinds::AUTO_RESOLVE).is_some());
        assert!(runner.handler_for("no.such_kind").is_none());
    }
}
