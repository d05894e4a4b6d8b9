//! The durable job runner: claiming with leases, exactly-once runs across runners, retries with backoff,
//! parking, and survival across restarts. Time moves only through the ManualClock.

use crate::common::*;
use jiff::Timestamp;
use klaxon_server::jobs::{BoxError, MAX_ATTEMPTS, run_due};
use klaxon_store::jobs::{JobRow, PARKED_DUE_AT};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

fn start_time() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

/// Runs of test jobs, by job id.
static RUNS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

fn runs_of(id: &str) -> usize {
    RUNS.lock().unwrap().get(id).copied().unwrap_or(0)
}

/// A job kind whose handler counts its runs (yielding a few times so concurrent runners interleave).
fn register_counting(app: &klaxon_server::App, kind: &str) {
    app.jobs.register(kind, |_app, job: JobRow| async move {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        *RUNS.lock().unwrap().entry(job.id.clone()).or_default() += 1;
        Ok::<(), BoxError>(())
    });
}

/// A job kind whose handler counts its runs and takes a little real time, so that runners racing for the
/// same jobs would overlap (widens the window a double claim would need).
fn register_slow_counting(app: &klaxon_server::App, kind: &str) {
    app.jobs.register(kind, |_app, job: JobRow| async move {
        *RUNS.lock().unwrap().entry(job.id.clone()).or_default() += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok::<(), BoxError>(())
    });
}

/// A job kind whose handler counts its runs and always fails.
fn register_failing(app: &klaxon_server::App, kind: &str) {
    app.jobs.register(kind, |_app, job: JobRow| async move {
        *RUNS.lock().unwrap().entry(job.id.clone()).or_default() += 1;
        Err::<(), BoxError>("the downstream said no".into())
    });
}

/// Schedules a job of `kind` with a unique key, due `in_secs` from now; returns its id. (A job due at once
/// may be run, and removed, by the background worker before its id is read: such tests schedule ahead
/// and advance the clock.)
async fn schedule(server: &TestServer, kind: &str, key: &str, in_secs: i64) -> String {
    let now = server.app.now_ms();
    server.store.schedule_job(kind, Some(key), &json!({"n": key}), now + in_secs * 1000, now).await.unwrap();
    server.store.job_by_key(key).await.unwrap().expect("scheduled").id
}

#[tokio::test]
async fn a_job_runs_when_due_and_not_a_moment_before() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_counting(&server.app, "test.count");
    let id = schedule(&server, "test.count", "job-1", 60).await;

    server.clock().advance(jiff::SignedDuration::from_millis(59_999));
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 0, "ran before it was due");

    server.clock().advance(jiff::SignedDuration::from_millis(1));
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 1);
    assert!(server.store.job_by_id(&id).await.unwrap().is_none(), "a finished job is removed");
}

#[tokio::test]
async fn a_job_whose_lease_expired_is_claimed_again_and_runs_once() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_counting(&server.app, "test.count");
    // Due in 10 s: the background worker (on the same manual clock) leaves it alone until then.
    let id = schedule(&server, "test.count", "job-1", 10).await;
    // A worker claims it at its due time and dies without finishing; its lease runs until +70 s.
    let due = server.app.now_ms() + 10_000;
    let claimed = server.store.claim_due_jobs("dead-worker", due, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);

    server.advance_secs(69);
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 0, "claimed while its lease was live");

    server.advance_secs(2);
    server.run_jobs().await;
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 1);
    assert!(server.store.job_by_id(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn completing_a_job_needs_the_lease_still_held() {
    let server = TestServer::start_with_clock(start_time()).await;
    // Claims are made at explicit instants past the due time; the manual clock (and so the background
    // worker) stays before it.
    let id = schedule(&server, "test.unused", "job-1", 10).await;
    let due = server.app.now_ms() + 10_000;
    server.store.claim_due_jobs("worker-a", due, 1_000, 10).await.unwrap();
    let reclaimed = server.store.claim_due_jobs("worker-b", due + 2_000, 60_000, 10).await.unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].attempts, 2);

    assert!(!server.store.complete_job(&id, "worker-a").await.unwrap(), "a lost lease completed the job");
    assert!(server.store.job_by_id(&id).await.unwrap().is_some());
    assert!(server.store.complete_job(&id, "worker-b").await.unwrap());
    assert!(server.store.job_by_id(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn rescheduling_a_claimed_job_releases_its_lease() {
    let server = TestServer::start_with_clock(start_time()).await;
    let id = schedule(&server, "test.unused", "job-1", 10).await;
    let claimed = server.store.claim_due_jobs("worker-a", server.app.now_ms() + 10_000, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let moved = schedule(&server, "test.unused", "job-1", 600).await;
    assert_eq!(moved, id, "the same unique_key keeps one job");

    assert!(!server.store.complete_job(&id, "worker-a").await.unwrap(), "the old run completed the moved job");
    let job = server.store.job_by_id(&id).await.unwrap().expect("still scheduled");
    assert_eq!(job.due_at, server.app.now_ms() + 600_000);
    assert_eq!(job.lease_owner, None);
}

#[tokio::test]
async fn two_runners_on_one_database_never_run_the_same_job_twice() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_slow_counting(&server.app, "test.slow");
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(schedule(&server, "test.slow", &format!("job-{n}"), 10).await);
    }
    let other = server.second_app().await;
    register_slow_counting(&other, "test.slow");
    server.advance_secs(10);

    let (a, b, c) =
        tokio::join!(run_due(&server.app, "runner-a"), run_due(&other, "runner-b"), run_due(&server.app, "runner-c"),);
    server.run_jobs().await;

    for id in &ids {
        assert_eq!(runs_of(id), 1, "job {id} ran {} times", runs_of(id));
    }
    assert!(a + b + c <= ids.len());
    assert!(server.store.pending_jobs().await.unwrap().is_empty());
    other.store.close().await;
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_and_its_error_recorded() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_failing(&server.app, "test.fail");
    let id = schedule(&server, "test.fail", "job-1", 0).await;

    server.run_jobs().await;
    assert_eq!(runs_of(&id), 1);
    let job = server.store.job_by_id(&id).await.unwrap().expect("kept after failing");
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("the downstream said no"));
    assert_eq!(job.lease_owner, None);
    assert_eq!(job.due_at, server.app.now_ms() + 10_000, "first retry after 10 s");

    server.advance_secs(9);
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 1, "retried before its backoff");

    server.advance_secs(1);
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 2);
    let job = server.store.job_by_id(&id).await.unwrap().expect("kept after failing");
    assert_eq!(job.attempts, 2);
    assert_eq!(job.due_at, server.app.now_ms() + 30_000, "second retry after 30 s");
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_parked_with_its_error_not_dropped() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_failing(&server.app, "test.fail");
    let id = schedule(&server, "test.fail", "job-1", 0).await;

    for _ in 0..MAX_ATTEMPTS {
        server.run_jobs().await;
        server.advance_secs(3600);
    }
    assert_eq!(runs_of(&id), MAX_ATTEMPTS as usize);
    let job = server.store.job_by_id(&id).await.unwrap().expect("a parked job stays in the table");
    assert_eq!(job.due_at, PARKED_DUE_AT);
    assert_eq!(job.attempts, MAX_ATTEMPTS);
    assert_eq!(job.last_error.as_deref(), Some("the downstream said no"));

    server.advance_secs(365 * 24 * 3600);
    server.run_jobs().await;
    assert_eq!(runs_of(&id), MAX_ATTEMPTS as usize, "a parked job ran again");
}

#[tokio::test]
async fn a_job_of_an_unknown_kind_fails_with_a_clear_error() {
    let server = TestServer::start_with_clock(start_time()).await;
    let id = schedule(&server, "test.nobody_handles_this", "job-1", 0).await;

    server.run_jobs().await;
    let job = server.store.job_by_id(&id).await.unwrap().expect("kept");
    let error = job.last_error.unwrap_or_default();
    assert!(error.contains("no handler") && error.contains("test.nobody_handles_this"), "{error}");
    assert!(job.due_at > server.app.now_ms());
}

#[tokio::test]
async fn a_panicking_handler_fails_its_job_and_the_runner_goes_on() {
    let server = TestServer::start_with_clock(start_time()).await;
    server.app.jobs.register("test.panic", |_app, _job: JobRow| async move {
        if true {
            panic!("handler bug");
        }
        Ok::<(), BoxError>(())
    });
    register_counting(&server.app, "test.count");
    let bad = schedule(&server, "test.panic", "job-bad", 10).await;
    let good = schedule(&server, "test.count", "job-good", 10).await;
    server.advance_secs(10);

    server.run_jobs().await;
    let job = server.store.job_by_id(&bad).await.unwrap().expect("kept");
    assert!(job.last_error.unwrap_or_default().contains("panicked"));
    assert_eq!(runs_of(&good), 1);
}

#[tokio::test]
async fn a_due_job_survives_a_restart() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_counting(&server.app, "test.count");
    let id = schedule(&server, "test.count", "job-1", 300).await;

    let server = server.restart().await;
    register_counting(&server.app, "test.count");
    assert_eq!(runs_of(&id), 0);
    server.advance_secs(300);
    server.run_jobs().await;
    assert_eq!(runs_of(&id), 1);
    assert!(server.store.pending_jobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_background_worker_runs_due_jobs_without_being_asked() {
    let server = TestServer::start_with_clock(start_time()).await;
    register_counting(&server.app, "test.count");
    let id = schedule(&server, "test.count", "job-1", 10).await;
    server.advance_secs(10);
    // The worker polls on real time; wait for it (bounded), never calling run_due ourselves.
    for _ in 0..100 {
        if server.store.job_by_id(&id).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(runs_of(&id), 1);
}
