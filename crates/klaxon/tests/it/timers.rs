//! The service timers: the acknowledgement timeout re-triggers an acknowledged incident, auto-resolve
//! resolves an open one. Both are durable jobs; time moves only through the ManualClock.

use crate::common::*;
use jiff::Timestamp;
use klaxon_core::actor::{Actor, Channel};
use klaxon_core::command::Command;
use klaxon_store::jobs::kinds;
use klaxon_store::testing::{SeedOptions, Seeded, seed_incident, seed_service};
use klaxon_store::timers::TimerOutcome;

fn start_time() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

async fn setup(ack: Option<i64>, resolve: Option<i64>) -> (TestServer, Seeded) {
    let server = TestServer::start_with_clock(start_time()).await;
    let options = SeedOptions { acknowledgement_timeout: ack, auto_resolve_timeout: resolve, ..SeedOptions::default() };
    let seeded = seed_service(&server.store, &options, server.app.now_ms()).await.unwrap();
    (server, seeded)
}

/// The seeded on-call user changes the incident through the command layer (as the REST API would).
async fn act(server: &TestServer, seeded: &Seeded, incident: &str, command: Command) {
    let actor = Actor::user(seeded.user_id.clone(), "On-call", Channel::Api);
    server.store.execute_one(incident, vec![command], &actor, server.app.now_ms()).await.unwrap();
}

async fn status(server: &TestServer, incident: &str) -> String {
    server.store.incident_timer_state(incident).await.unwrap().expect("incident").status
}

fn ack_key(incident: &str) -> String {
    format!("{}:{incident}", kinds::ACK_TIMEOUT)
}

fn resolve_key(incident: &str) -> String {
    format!("{}:{incident}", kinds::AUTO_RESOLVE)
}

#[tokio::test]
async fn an_acknowledged_incident_retriggers_exactly_when_the_ack_timeout_passes() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();

    server.advance_secs(599);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "acknowledged", "re-triggered a second early");

    server.advance_secs(1);
    server.run_jobs().await;
    let state = server.store.incident_timer_state(&incident).await.unwrap().unwrap();
    assert_eq!(state.status, "triggered");
    assert_eq!(state.acknowledgements, 0, "acknowledgements are cleared");
    assert_eq!(state.last_status_change_at, server.app.now_ms());
    assert_eq!(state.last_status_change_by_type, "service_reference");
    assert_eq!(state.last_status_change_by_id, seeded.service_id);
    assert_eq!(state.assignments, 1, "the assignees stay");
}

#[tokio::test]
async fn the_ack_timeout_writes_an_unacknowledge_log_entry_by_the_service_through_the_timeout_channel() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();

    server.advance_secs(600);
    server.run_jobs().await;
    let log = server.store.incident_timer_log(&incident).await.unwrap();
    let entry = log.iter().rfind(|e| e.r#type != "notify_log_entry").expect("a log entry");
    assert_eq!(entry.r#type, "unacknowledge_log_entry");
    assert_eq!(entry.agent_type.as_deref(), Some("service_reference"));
    assert_eq!(entry.agent_id.as_deref(), Some(seeded.service_id.as_str()));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&entry.channel).unwrap(),
        serde_json::json!({"type": "timeout"})
    );
    assert_eq!(entry.created_at, server.app.now_ms());
}

#[tokio::test]
async fn a_null_ack_timeout_never_fires() {
    let (server, seeded) = setup(None, None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();
    assert!(server.store.job_by_key(&ack_key(&incident)).await.unwrap().is_none());

    server.advance_secs(365 * 24 * 3600);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "acknowledged");
}

#[tokio::test]
async fn a_retriggered_incident_starts_its_auto_resolve_timer_from_the_retrigger() {
    let (server, seeded) = setup(Some(600), Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();

    server.advance_secs(600);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered");
    assert!(server.store.job_by_key(&ack_key(&incident)).await.unwrap().is_none(), "the ack timer is spent");
    let resolve = server.store.job_by_key(&resolve_key(&incident)).await.unwrap().expect("auto-resolve armed");
    assert_eq!(resolve.due_at, server.app.now_ms() + 3_600_000);
}

#[tokio::test]
async fn auto_resolve_resolves_the_incident_and_its_alerts_after_the_timeout() {
    let (server, seeded) = setup(None, Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();

    server.advance_secs(3599);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered", "resolved a second early");

    server.advance_secs(1);
    server.run_jobs().await;
    let state = server.store.incident_timer_state(&incident).await.unwrap().unwrap();
    assert_eq!(state.status, "resolved");
    assert_eq!(state.resolved_at, Some(server.app.now_ms()));
    assert_eq!(state.open_alerts, 0, "its alerts resolve too");
    assert_eq!(state.assignments, 0, "a resolved incident has no assignees");
    assert_eq!(state.last_status_change_by_id, seeded.service_id);
}

#[tokio::test]
async fn auto_resolve_writes_a_resolve_log_entry_by_the_service_through_the_timeout_channel() {
    let (server, seeded) = setup(None, Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();

    server.advance_secs(3600);
    server.run_jobs().await;
    let log = server.store.incident_timer_log(&incident).await.unwrap();
    let entry = log.last().expect("a log entry");
    assert_eq!(entry.r#type, "resolve_log_entry");
    assert_eq!(entry.agent_type.as_deref(), Some("service_reference"));
    assert_eq!(entry.agent_id.as_deref(), Some(seeded.service_id.as_str()));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&entry.channel).unwrap(),
        serde_json::json!({"type": "timeout"})
    );
}

#[tokio::test]
async fn an_acknowledged_incident_also_auto_resolves() {
    let (server, seeded) = setup(Some(7200), Some(3600)).await;
    // Triggered at t0 (auto-resolve due t0 + 1 h), acknowledged right away (ack timeout due t0 + 2 h).
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();
    act(&server, &seeded, &incident, Command::Acknowledge).await;

    server.advance_secs(3600);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "resolved");
    assert!(server.pending_jobs().await.is_empty(), "the ack timer went with the resolution");
}

#[tokio::test]
async fn a_reack_restarts_the_ack_timer() {
    let (server, seeded) = setup(Some(600), None).await;
    let t0 = server.app.now_ms();
    let incident = seed_incident(&server.store, &seeded, "acknowledged", t0).await.unwrap();

    server.advance_secs(300);
    // The on-call user acknowledges again.
    act(&server, &seeded, &incident, Command::Acknowledge).await;
    let job = server.store.job_by_key(&ack_key(&incident)).await.unwrap().expect("ack timer");
    assert_eq!(job.due_at, t0 + 900_000, "the timer moved to the new acknowledgement + 600 s");

    server.advance_secs(300);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "acknowledged", "the first acknowledgement's timer fired");

    server.advance_secs(300);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered");
}

#[tokio::test]
async fn a_resolved_incident_has_no_timers() {
    let (server, seeded) = setup(Some(600), Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();
    act(&server, &seeded, &incident, Command::Unacknowledge).await;
    assert!(server.store.job_by_key(&resolve_key(&incident)).await.unwrap().is_some());

    act(&server, &seeded, &incident, Command::Resolve { resolution: None }).await;
    assert!(server.store.job_by_key(&ack_key(&incident)).await.unwrap().is_none());
    assert!(server.store.job_by_key(&resolve_key(&incident)).await.unwrap().is_none());
}

#[tokio::test]
async fn an_ack_timeout_that_fires_after_the_incident_moved_on_changes_nothing() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();
    // A stray ack-timeout job for an incident that is triggered (e.g. left by an older node).
    let now = server.app.now_ms();
    let payload = serde_json::json!({ "incident_id": incident });
    server.store.schedule_job(kinds::ACK_TIMEOUT, Some(&ack_key(&incident)), &payload, now, now).await.unwrap();
    let before = server.store.incident_timer_log(&incident).await.unwrap().len();

    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered");
    assert_eq!(server.store.incident_timer_log(&incident).await.unwrap().len(), before, "no log entry");
    assert!(server.store.job_by_key(&ack_key(&incident)).await.unwrap().is_none(), "the job is done");
}

#[tokio::test]
async fn a_timer_moved_while_its_run_was_in_flight_is_not_applied_by_the_stale_run() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();
    server.advance_secs(600);
    let claimed = server
        .store
        .claim_due_jobs(kinds::INCIDENT_TIMERS_QUEUE, "worker-a", server.app.now_ms(), 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // Meanwhile the incident is acknowledged again, which moves the timer.
    act(&server, &seeded, &incident, Command::Acknowledge).await;

    let outcome =
        server.store.fire_ack_timeout(&claimed[0].id, "worker-a", &incident, server.app.now_ms()).await.unwrap();
    assert_eq!(outcome, TimerOutcome::LeaseLost);
    assert_eq!(status(&server, &incident).await, "acknowledged");
    let job = server.store.job_by_key(&ack_key(&incident)).await.unwrap().expect("the moved timer stays");
    assert_eq!(job.due_at, server.app.now_ms() + 600_000);
}

#[tokio::test]
async fn an_ack_timer_survives_a_restart() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();

    let server = server.restart().await;
    server.advance_secs(600);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered");
}

#[tokio::test]
async fn an_auto_resolve_timeout_of_zero_never_fires() {
    let (server, seeded) = setup(None, Some(0)).await;
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();
    assert!(server.store.job_by_key(&resolve_key(&incident)).await.unwrap().is_none());

    server.advance_secs(365 * 24 * 3600);
    server.run_jobs().await;
    assert_eq!(status(&server, &incident).await, "triggered");
}

#[tokio::test]
async fn moving_a_timer_keeps_its_id_and_its_attempt_count() {
    let (server, seeded) = setup(Some(600), None).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();
    let before = server.store.job_by_key(&ack_key(&incident)).await.unwrap().expect("ack timer");
    // A worker claims it at its due time (the manual clock stays before it) ...
    let due = server.app.now_ms() + 600_000;
    server.store.claim_due_jobs(kinds::INCIDENT_TIMERS_QUEUE, "worker-a", due, 60_000, 10).await.unwrap();
    // ... and a re-acknowledgement moves it.
    server.advance_secs(300);
    act(&server, &seeded, &incident, Command::Acknowledge).await;

    let after = server.store.job_by_key(&ack_key(&incident)).await.unwrap().expect("ack timer");
    assert_eq!(after.id, before.id);
    assert_eq!(after.attempts, 1);
    assert_eq!(after.due_at, server.app.now_ms() + 600_000);
}

#[tokio::test]
async fn the_timers_are_jobs_of_their_own_queue_about_their_incident() {
    let (server, seeded) = setup(Some(600), Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();
    act(&server, &seeded, &incident, Command::Acknowledge).await;

    let jobs = server.store.jobs_of_subject(&format!("incident:{incident}")).await.unwrap();
    let mut kinds_found: Vec<_> = jobs.iter().map(|j| (j.kind.as_str(), j.queue.as_str())).collect();
    kinds_found.sort();
    assert_eq!(
        kinds_found,
        vec![
            (kinds::ACK_TIMEOUT, kinds::INCIDENT_TIMERS_QUEUE),
            (kinds::AUTO_RESOLVE, kinds::INCIDENT_TIMERS_QUEUE),
            // The escalation step, ended by the acknowledgement.
            (kinds::ESCALATE, kinds::INCIDENT_TIMERS_QUEUE),
        ]
    );
    for job in &jobs {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&job.payload).unwrap(),
            serde_json::json!({"incident_id": incident})
        );
    }
}

#[tokio::test]
async fn a_resolved_incidents_timers_are_kept_as_cancelled_jobs() {
    let (server, seeded) = setup(Some(600), Some(3600)).await;
    let incident = seed_incident(&server.store, &seeded, "acknowledged", server.app.now_ms()).await.unwrap();
    act(&server, &seeded, &incident, Command::Resolve { resolution: None }).await;

    let jobs = server.store.jobs_of_subject(&format!("incident:{incident}")).await.unwrap();
    assert!(!jobs.is_empty());
    assert!(jobs.iter().all(|j| j.status == "cancelled" && j.unique_key.is_none()), "{jobs:?}");
}

#[tokio::test]
async fn resolving_through_the_events_api_finishes_the_incidents_timers_at_that_instant() {
    let (server, seeded) = setup(Some(600), Some(3600)).await;
    let (code, _) = server.enqueue(v2_trigger(&seeded.integration_key, "disk")).await;
    assert_eq!(code, 202);
    server.events_processed().await;
    let (_, body) = server.get("/incidents?incident_key=disk").await;
    let incident = body["incidents"][0]["id"].as_str().expect("the incident").to_string();
    assert!(server.store.job_by_key(&resolve_key(&incident)).await.unwrap().is_some(), "auto-resolve armed");

    server.advance_secs(60);
    let (code, _) = server.enqueue(v2_action(&seeded.integration_key, "resolve", "disk")).await;
    assert_eq!(code, 202);
    server.events_processed().await;
    let jobs = server.store.jobs_of_subject(&kinds::incident_subject(&incident)).await.unwrap();
    assert!(!jobs.is_empty());
    for job in &jobs {
        assert_eq!(job.status, "cancelled");
        assert_eq!(job.finished_at, Some(server.app.now_ms()), "finished when the batch resolved it: {job:?}");
        assert_live_exactly_while_unfinished(job);
    }
    assert!(server.pending_jobs().await.is_empty());
}
