//! The command layer's rules hold the same whatever the entry point: REST, bulk REST, the Events API and
//! the timers give the same outcome and the same PagerDuty error code for the same broken rule.

use crate::common::*;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn start_time() -> jiff::Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

async fn triggered(server: &TestServer, key: &str, dedup: &str) -> String {
    let (status, body) = server.enqueue(v2_trigger(key, dedup)).await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    let (_, list) = server.get(&format!("/incidents?incident_key={dedup}")).await;
    list["incidents"][0]["id"].as_str().expect("an incident for the trigger").to_string()
}

async fn put_as(server: &TestServer, key: &str, id: &str, status: &str) -> (u16, Value) {
    send(
        server
            .with_key(key, Method::PUT, &format!("/incidents/{id}"))
            .json(&json!({"incident": {"type": "incident_reference", "status": status}})),
    )
    .await
}

#[tokio::test]
async fn acknowledged_by_a_auto_resolved_then_reopened_and_acknowledged_by_b_lists_b_alone() {
    let server = TestServer::start_with_clock(start_time()).await;
    let options = klaxon_store::testing::SeedOptions {
        acknowledgement_timeout: None,
        auto_resolve_timeout: Some(600),
        ..Default::default()
    };
    let s = server.seed_for_events(options).await;
    let (_, ada_key) = server.user_with_token("ada@klaxon.test", Role::User).await;
    let (bob, bob_key) = server.user_with_token("bob@klaxon.test", Role::User).await;
    let id = triggered(&server, &s.integration_key, "disk").await;
    assert_eq!(put_as(&server, &ada_key, &id, "acknowledged").await.0, 200);
    server.advance_secs(600);
    server.run_jobs().await;
    let (_, incident) = server.get(&format!("/incidents/{id}")).await;
    assert_eq!(incident["incident"]["status"], "resolved", "auto-resolved while acknowledged: {incident}");

    let (status, body) = put_as(&server, &bob_key, &id, "acknowledged").await;
    assert_eq!(status, 200, "{body}");
    let acknowledgers: Vec<&str> = body["incident"]["acknowledgements"]
        .as_array()
        .expect("acknowledgements")
        .iter()
        .filter_map(|a| a["acknowledger"]["id"].as_str())
        .collect();
    assert_eq!(acknowledgers, vec![bob.as_str()]);
}

#[tokio::test]
async fn resolving_a_resolved_incident_is_error_1001_through_put_and_bulk_put() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    let id = triggered(&server, &s.integration_key, "twice").await;
    let resolve = json!({"incident": {"type": "incident_reference", "status": "resolved"}});
    assert_eq!(server.put(&format!("/incidents/{id}"), resolve.clone()).await.0, 200);
    let (single, single_body) = server.put(&format!("/incidents/{id}"), resolve).await;
    let (bulk, bulk_body) = server
        .put("/incidents", json!({"incidents": [{"id": id, "type": "incident_reference", "status": "resolved"}]}))
        .await;
    assert_eq!((single, single_body["error"]["code"].as_u64()), (400, Some(1001)), "{single_body}");
    assert_eq!((bulk, bulk_body["error"]["code"].as_u64()), (400, Some(1001)), "{bulk_body}");
    assert!(error_text(&bulk_body).contains("incidents[0]"), "{bulk_body}");
}

#[tokio::test]
async fn a_bulk_update_with_one_broken_rule_changes_nothing() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    let open = triggered(&server, &s.integration_key, "open").await;
    let closed = triggered(&server, &s.integration_key, "closed").await;
    let resolve = json!({"incident": {"type": "incident_reference", "status": "resolved"}});
    assert_eq!(server.put(&format!("/incidents/{closed}"), resolve).await.0, 200);
    let (status, body) = server
        .put(
            "/incidents",
            json!({"incidents": [
                {"id": open, "type": "incident_reference", "status": "acknowledged"},
                {"id": closed, "type": "incident_reference", "escalation_level": 1}
            ]}),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(1001)), "{body}");
    assert!(error_text(&body).contains("incidents[1]"), "{body}");
    let (_, incident) = server.get(&format!("/incidents/{open}")).await;
    assert_eq!(incident["incident"]["status"], "triggered", "the valid half was not applied either");
}

#[tokio::test]
async fn escalating_past_the_last_level_is_error_1006() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    let id = triggered(&server, &s.integration_key, "escalate").await;
    let (status, body) = server
        .put(&format!("/incidents/{id}"), json!({"incident": {"type": "incident_reference", "escalation_level": 2}}))
        .await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(1006)), "{body}");
    assert!(error_text(&body).starts_with("incident.escalation_level"), "names the field: {body}");
}

#[tokio::test]
async fn every_log_entry_records_its_agent_and_channel() {
    let server = TestServer::start_with_clock(start_time()).await;
    let s = server.seed_for_events(Default::default()).await;
    let id = triggered(&server, &s.integration_key, "channels").await;
    let (_, ada_key) = server.user_with_token("ada@klaxon.test", Role::User).await;
    assert_eq!(put_as(&server, &ada_key, &id, "acknowledged").await.0, 200);
    server.advance_secs(1800);
    server.run_jobs().await;
    let (_, body) = server.get(&format!("/incidents/{id}/log_entries?limit=100")).await;
    let seen: Vec<(String, String, String)> = body["log_entries"]
        .as_array()
        .expect("log entries")
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
            (s(&e["type"]), s(&e["agent"]["type"]), s(&e["channel"]["type"]))
        })
        .collect();
    let expect = |t: &str, a: &str, c: &str| (t.to_string(), a.to_string(), c.to_string());
    assert!(seen.contains(&expect("trigger_log_entry", "integration_reference", "api")), "{seen:?}");
    assert!(seen.contains(&expect("assign_log_entry", "service_reference", "auto")), "{seen:?}");
    assert!(seen.contains(&expect("acknowledge_log_entry", "user_reference", "web_trigger")), "{seen:?}");
    assert!(seen.contains(&expect("unacknowledge_log_entry", "service_reference", "timeout")), "{seen:?}");
}
