//! The escalation engine: each step a durable `incident.escalate` job, each change a command of the
//! command layer. Time moves only through the ManualClock.

use crate::common::*;
use jiff::Timestamp;
use klaxon_core::actor::{Actor, Channel};
use klaxon_core::command::Command;
use klaxon_core::incident::Status;
use klaxon_core::role::Role;
use klaxon_store::testing::{SeedOptions, Seeded, TestOrg};

fn start_time() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

/// Two users, a policy paging each on its own level 30 minutes apart, a service, and a triggered
/// incident opened by the Events API.
async fn setup(num_loops: i32) -> (TestServer, Seeded, [String; 2], String) {
    let server = TestServer::start_with_clock(start_time()).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    let a = org.user("Level One", Role::User).await.unwrap().id;
    let b = org.user("Level Two", Role::User).await.unwrap().id;
    let policy = org.policy("Two levels", &[&[a.as_str()], &[b.as_str()]]).await.unwrap();
    if num_loops > 0 {
        klaxon_store::testing::fixture_execute(
            &server.store,
            &format!("UPDATE escalation_policies SET num_loops = {num_loops} WHERE id = '{policy}'"),
        )
        .await
        .unwrap();
    }
    let (service_id, integration_id, integration_key) = org.service(&policy, &SeedOptions::default()).await.unwrap();
    let seeded =
        Seeded { user_id: a.clone(), escalation_policy_id: policy, service_id, integration_id, integration_key };
    let incident = org.incident(&seeded, Status::Triggered, &a).await.unwrap();
    (server, seeded, [a, b], incident)
}

async fn assignees(server: &TestServer, incident: &str) -> Vec<String> {
    let (status, body) = server.get(&format!("/incidents/{incident}")).await;
    assert_eq!(status, 200, "{body}");
    body["incident"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["assignee"]["id"].as_str().unwrap().to_string())
        .collect()
}

async fn log_types(server: &TestServer, incident: &str) -> Vec<String> {
    server.store.incident_timer_log(incident).await.unwrap().into_iter().map(|e| e.r#type).collect()
}

#[tokio::test]
async fn escalates_to_level_two_exactly_at_the_delay() {
    let (server, _seeded, [a, b], incident) = setup(0).await;
    assert_eq!(assignees(&server, &incident).await, vec![a.clone()]);

    server.advance_secs(30 * 60 - 1);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a], "escalated a second early");

    server.advance_secs(1);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b.clone()]);
    let log = server.store.incident_timer_log(&incident).await.unwrap();
    let escalate = log.iter().find(|e| e.r#type == "escalate_log_entry").expect("escalate_log_entry");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&escalate.channel).unwrap()["type"], "timeout");

    // The last level of the last loop: the path is exhausted, the incident stays with level 2.
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
    assert!(log_types(&server, &incident).await.contains(&"exhaust_escalation_path_log_entry".to_string()));
    let key = format!("{}:{incident}", klaxon_store::jobs::kinds::ESCALATE);
    assert!(server.store.job_by_key(&key).await.unwrap().is_none(), "no more steps");
}

#[tokio::test]
async fn loops_back_num_loops_times_then_exhausts() {
    let (server, _seeded, [a, b], incident) = setup(1).await;
    for expected in [&b, &a, &b] {
        server.advance_secs(30 * 60);
        server.run_jobs().await;
        assert_eq!(&assignees(&server, &incident).await, &vec![expected.clone()]);
    }
    let types = log_types(&server, &incident).await;
    assert_eq!(types.iter().filter(|t| *t == "repeat_escalation_path_log_entry").count(), 1);
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    let types = log_types(&server, &incident).await;
    assert_eq!(types.iter().filter(|t| *t == "exhaust_escalation_path_log_entry").count(), 1);
    assert_eq!(assignees(&server, &incident).await, vec![b]);
}

#[tokio::test]
async fn acknowledgement_stops_escalation_and_the_ack_timeout_restarts_the_delay() {
    let (server, seeded, [a, b], incident) = setup(0).await;
    klaxon_store::testing::fixture_execute(
        &server.store,
        &format!("UPDATE services SET acknowledgement_timeout = 600 WHERE id = '{}'", seeded.service_id),
    )
    .await
    .unwrap();
    server.advance_secs(20 * 60);
    let actor = Actor::user(a.clone(), "Level One", Channel::Api);
    server.store.execute_one(&incident, vec![Command::Acknowledge], &actor, server.app.now_ms()).await.unwrap();
    // The ack timeout (10 minutes) re-triggers; the level's 30 minutes start again then.
    server.advance_secs(10 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a.clone()]);
    server.advance_secs(30 * 60 - 1);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    server.advance_secs(1);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
}

#[tokio::test]
async fn reassigning_to_users_stops_escalation_and_a_level_jump_restarts_it() {
    let (server, _seeded, [a, b], incident) = setup(0).await;
    let actor = Actor::user(a.clone(), "Level One", Channel::Api);
    let now = server.app.now_ms();
    server.store.execute_one(&incident, vec![Command::Reassign { users: vec![a.clone()] }], &actor, now).await.unwrap();
    server.advance_secs(3600);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a.clone()], "direct assignment does not escalate");

    let (status, body) = server
        .put(
            &format!("/incidents/{incident}"),
            serde_json::json!({"incident": {"type": "incident_reference", "escalation_level": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(assignees(&server, &incident).await, vec![b]);
}

#[tokio::test]
async fn low_urgency_does_not_escalate_and_raising_it_does() {
    let (server, _seeded, [a, b], incident) = setup(0).await;
    let actor = Actor::user(a.clone(), "Level One", Channel::Api);
    let now = server.app.now_ms();
    server
        .store
        .execute_one(&incident, vec![Command::SetUrgency(klaxon_core::incident::Urgency::Low)], &actor, now)
        .await
        .unwrap();
    server.advance_secs(3600);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a.clone()]);
    let now = server.app.now_ms();
    server
        .store
        .execute_one(&incident, vec![Command::SetUrgency(klaxon_core::incident::Urgency::High)], &actor, now)
        .await
        .unwrap();
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
}
