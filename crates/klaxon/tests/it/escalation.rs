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

// ---- Schedules, edits, skipped levels, round robin, concurrency ------------------------------------------

/// A daily rotation of `users` in America/New_York from 1 February 2026 (on 1 March at 12:00 UTC the first
/// user is on call, the day before the second), created through `POST /schedules`.
async fn rotation(server: &TestServer, name: &str, users: &[&str], start: &str) -> String {
    let layer = serde_json::json!({
        "name": "Layer 1", "start": start, "end": null, "rotation_virtual_start": start,
        "rotation_turn_length_seconds": 86400,
        "users": users.iter().map(|u| serde_json::json!({"user": {"id": u, "type": "user"}})).collect::<Vec<_>>(),
        "restrictions": [],
    });
    let body = serde_json::json!({"schedule": {"type": "schedule", "name": name, "time_zone": "America/New_York",
                                  "schedule_layers": [layer]}});
    let (status, body) = server.post("/schedules", body).await;
    assert_eq!(status, 201, "{body}");
    body["schedule"]["id"].as_str().unwrap().to_string()
}

const FEB_1: &str = "2026-02-01T00:00:00-05:00";
/// A layer that starts after the tests' instant: nobody is on call through it now.
const APRIL: &str = "2026-04-01T00:00:00-04:00";

/// A policy through `POST /escalation_policies`; each level a list of `(type, id)` targets, 30 minutes
/// apart.
async fn rest_policy(server: &TestServer, strategy: &str, levels: &[&[(&str, &str)]]) -> String {
    let rules: Vec<serde_json::Value> = levels
        .iter()
        .map(|targets| {
            serde_json::json!({"escalation_delay_in_minutes": 30, "escalation_rule_assignment_strategy": strategy,
                "targets": targets.iter().map(|(t, id)| serde_json::json!({"id": id, "type": format!("{t}_reference")}))
                    .collect::<Vec<_>>()})
        })
        .collect();
    let body = serde_json::json!({"escalation_policy": {"type": "escalation_policy", "name": "Escalating",
                                  "escalation_rules": rules}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201, "{body}");
    body["escalation_policy"]["id"].as_str().unwrap().to_string()
}

/// A server at the tests' instant with two users and a service (no acknowledgement timeout) on the policy
/// `make` builds from them.
async fn org_with<F, Fut>(make: F) -> (TestServer, Seeded, [String; 2])
where
    F: FnOnce(TestServer, [String; 2]) -> Fut,
    Fut: std::future::Future<Output = (TestServer, String)>,
{
    let server = TestServer::start_with_clock(start_time()).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    let a = org.user("First Responder", Role::User).await.unwrap().id;
    let b = org.user("Second Responder", Role::User).await.unwrap().id;
    let (server, policy) = make(server, [a.clone(), b.clone()]).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    // No acknowledgement timeout: an acknowledged incident stays so.
    let options = SeedOptions { acknowledgement_timeout: None, ..SeedOptions::default() };
    let (service_id, integration_id, integration_key) = org.service(&policy, &options).await.unwrap();
    let seeded =
        Seeded { user_id: a.clone(), escalation_policy_id: policy, service_id, integration_id, integration_key };
    (server, seeded, [a, b])
}

/// Triggers `dedup_key` through `POST /v2/enqueue`; answers the incident's id.
async fn trigger(server: &TestServer, event: serde_json::Value) -> String {
    let key = event["dedup_key"].as_str().unwrap().to_string();
    let (status, body) = server.enqueue(event).await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    let filter = klaxon_store::incidents::IncidentFilter { incident_key: Some(key), ..Default::default() };
    let (rows, _) = server.store.list_incidents(&filter, 1, 0, false).await.unwrap();
    rows.into_iter().next().expect("the event's incident").id
}

/// Opens an incident through `POST /incidents`; answers its id.
async fn rest_incident(server: &TestServer, seeded: &Seeded, title: &str) -> String {
    let (status, body) = server
        .post(
            "/incidents",
            serde_json::json!({"incident": {"type": "incident", "title": title,
                "service": {"id": seeded.service_id, "type": "service_reference"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["incident"]["id"].as_str().unwrap().to_string()
}

async fn schedule_policy(server: TestServer, [a, b]: [String; 2]) -> (TestServer, String) {
    let schedule = rotation(&server, "Primary", &[&a, &b], FEB_1).await;
    let policy = rest_policy(&server, "assign_to_everyone", &[&[("schedule", &schedule)]]).await;
    (server, policy)
}

#[tokio::test]
async fn level_one_is_assigned_from_a_schedule_at_creation_through_the_events_api() {
    let (server, seeded, [a, _]) = org_with(schedule_policy).await;
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "schedule/events")).await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
}

#[tokio::test]
async fn level_one_is_assigned_from_a_schedule_at_creation_through_rest() {
    let (server, seeded, [a, _]) = org_with(schedule_policy).await;
    let incident = rest_incident(&server, &seeded, "schedule/rest").await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
}

#[tokio::test]
async fn the_user_on_call_at_creation_not_at_the_event_timestamp_is_assigned() {
    let (server, seeded, [a, b]) = org_with(schedule_policy).await;
    let mut event = v2_trigger(&seeded.integration_key, "schedule/yesterday");
    // A day earlier the second user was on call.
    event["payload"]["timestamp"] = serde_json::json!("2026-02-28T12:00:00Z");
    let incident = trigger(&server, event).await;
    let assigned = assignees(&server, &incident).await;
    assert_eq!(assigned, vec![a]);
    assert!(!assigned.contains(&b));
}

#[tokio::test]
async fn a_policy_edited_mid_incident_applies_its_last_level_when_the_step_runs() {
    let server = TestServer::start_with_clock(start_time()).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    let [a, b, c] = [
        org.user("Level A", Role::User).await.unwrap().id,
        org.user("Level B", Role::User).await.unwrap().id,
        org.user("Level C", Role::User).await.unwrap().id,
    ];
    let policy = rest_policy(&server, "assign_to_everyone", &[&[("user", &a)], &[("user", &b)], &[("user", &c)]]).await;
    let (service_id, integration_id, integration_key) = org.service(&policy, &SeedOptions::default()).await.unwrap();
    let seeded = Seeded {
        user_id: a.clone(),
        escalation_policy_id: policy.clone(),
        service_id,
        integration_id,
        integration_key,
    };
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "edited")).await;
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b.clone()]);

    // Levels 2 and 3 removed: the incident's level 2 no longer exists.
    let (status, body) = server
        .put(
            &format!("/escalation_policies/{policy}"),
            serde_json::json!({"escalation_policy": {"escalation_rules": [
                {"escalation_delay_in_minutes": 30, "targets": [{"id": a, "type": "user_reference"}]},
            ]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The step runs against the policy as it is now: its last level.
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
}

#[tokio::test]
async fn reassigning_to_an_escalation_policy_restarts_at_its_level_one() {
    let (server, _seeded, [a, b], incident) = setup(0).await;
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b.clone()]);
    let other = TestOrg::new(&server.store, server.app.now_ms())
        .policy("Other", &[&[a.as_str()], &[b.as_str()]])
        .await
        .unwrap();
    let (status, body) = server
        .put(
            &format!("/incidents/{incident}"),
            serde_json::json!({"incident": {"type": "incident_reference",
                "escalation_policy": {"id": other, "type": "escalation_policy_reference"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    let (_, body) = server.get(&format!("/incidents/{incident}")).await;
    assert_eq!(body["incident"]["escalation_level"], 1);
    // Its level 1's delay starts now.
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
}

#[tokio::test]
async fn a_level_where_nobody_is_on_call_is_skipped_with_a_log_entry() {
    let (server, seeded, [a, b]) = org_with(|server, [a, b]: [String; 2]| async move {
        let gap = rotation(&server, "Not yet", &[&a], APRIL).await;
        let policy =
            rest_policy(&server, "assign_to_everyone", &[&[("user", &a)], &[("schedule", &gap)], &[("user", &b)]])
                .await;
        (server, policy)
    })
    .await;
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "gap")).await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
    let log = server.store.incident_timer_log(&incident).await.unwrap();
    assert!(log.iter().any(|e| e.summary.contains("Skipped level 2")), "{log:?}");
    let (_, body) = server.get(&format!("/incidents/{incident}")).await;
    assert_eq!(body["incident"]["escalation_level"], 3);
}

#[tokio::test]
async fn nobody_on_call_at_any_level_logs_it_and_the_incident_keeps_its_assignees() {
    let (server, seeded, [a, _]) = org_with(|server, [a, b]: [String; 2]| async move {
        let gap = rotation(&server, "Not yet", &[&b], APRIL).await;
        let policy = rest_policy(&server, "assign_to_everyone", &[&[("user", &a)], &[("schedule", &gap)]]).await;
        (server, policy)
    })
    .await;
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "nobody")).await;
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    let log = server.store.incident_timer_log(&incident).await.unwrap();
    assert!(log.iter().any(|e| e.r#type == "annotate_log_entry" && e.summary.contains("Nobody could be assigned")));
}

async fn round_robin_policy(server: TestServer, [a, b]: [String; 2]) -> (TestServer, String) {
    let policy = rest_policy(&server, "round_robin", &[&[("user", &a), ("user", &b)]]).await;
    (server, policy)
}

#[tokio::test]
async fn round_robin_rotates_across_consecutive_incidents_through_rest() {
    let (server, seeded, [a, b]) = org_with(round_robin_policy).await;
    let mut seen = Vec::new();
    for n in 0..3 {
        let incident = rest_incident(&server, &seeded, &format!("rr {n}")).await;
        seen.push(assignees(&server, &incident).await);
    }
    assert_eq!(seen, vec![vec![a.clone()], vec![b], vec![a]]);
}

#[tokio::test]
async fn round_robin_rotates_across_consecutive_incidents_through_the_events_api() {
    let (server, seeded, [a, b]) = org_with(round_robin_policy).await;
    let mut seen = Vec::new();
    for n in 0..3 {
        let incident = trigger(&server, v2_trigger(&seeded.integration_key, &format!("rr/{n}"))).await;
        seen.push(assignees(&server, &incident).await);
    }
    assert_eq!(seen, vec![vec![a.clone()], vec![b], vec![a]]);
}

#[tokio::test]
async fn a_step_applies_exactly_once_with_two_runners_on_one_database() {
    let (server, _seeded, [_, b], incident) = setup(0).await;
    let other = server.second_app().await;
    server.advance_secs(30 * 60);
    tokio::join!(
        klaxon_server::jobs::run_due(&server.app, "runner-a"),
        klaxon_server::jobs::run_due(&other, "runner-b"),
    );
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![b]);
    let types = log_types(&server, &incident).await;
    assert_eq!(types.iter().filter(|t| *t == "escalate_log_entry").count(), 1, "{types:?}");
    other.store.close().await;
}

#[tokio::test]
async fn an_events_api_acknowledge_makes_the_pending_step_a_no_op() {
    let (server, seeded, [a, _]) = org_with(|server, [a, b]: [String; 2]| async move {
        let policy = rest_policy(&server, "assign_to_everyone", &[&[("user", &a)], &[("user", &b)]]).await;
        (server, policy)
    })
    .await;
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "acked")).await;
    let (status, body) = server.enqueue(v2_action(&seeded.integration_key, "acknowledge", "acked")).await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    assert!(!log_types(&server, &incident).await.contains(&"escalate_log_entry".to_string()));
    let (_, body) = server.get(&format!("/incidents/{incident}")).await;
    assert_eq!(body["incident"]["status"], "acknowledged");
}

/// `klaxon_incidents_unassignable_total` as `/metrics` reads it.
async fn unassignable_metric(server: &TestServer) -> u64 {
    let text = server.anon(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with("klaxon_incidents_unassignable_total ")).expect("the counter");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn nobody_on_call_policy(server: TestServer, [a, _]: [String; 2]) -> (TestServer, String) {
    let gap = rotation(&server, "Not yet", &[&a], APRIL).await;
    let policy = rest_policy(&server, "assign_to_everyone", &[&[("schedule", &gap)]]).await;
    (server, policy)
}

#[tokio::test]
async fn an_incident_nobody_can_be_assigned_to_through_the_events_api_counts_in_the_metric() {
    let (server, seeded, _) = org_with(nobody_on_call_policy).await;
    assert_eq!(unassignable_metric(&server).await, 0);
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "nobody/events")).await;
    assert!(assignees(&server, &incident).await.is_empty());
    assert_eq!(unassignable_metric(&server).await, 1);
}

#[tokio::test]
async fn an_incident_nobody_can_be_assigned_to_through_rest_counts_in_the_metric() {
    let (server, seeded, _) = org_with(nobody_on_call_policy).await;
    let incident = rest_incident(&server, &seeded, "nobody/rest").await;
    assert!(assignees(&server, &incident).await.is_empty());
    assert_eq!(unassignable_metric(&server).await, 1);
}

#[tokio::test]
async fn a_step_that_finds_nobody_on_call_counts_in_the_metric() {
    let (server, seeded, [a, _]) = org_with(|server, [a, b]: [String; 2]| async move {
        let gap = rotation(&server, "Not yet", &[&b], APRIL).await;
        let policy = rest_policy(&server, "assign_to_everyone", &[&[("user", &a)], &[("schedule", &gap)]]).await;
        (server, policy)
    })
    .await;
    let incident = trigger(&server, v2_trigger(&seeded.integration_key, "nobody/step")).await;
    assert_eq!(unassignable_metric(&server).await, 0);
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    assert_eq!(assignees(&server, &incident).await, vec![a]);
    assert_eq!(unassignable_metric(&server).await, 1);
}
