//! Change events: `POST /v2/change/enqueue` and the REST read side.

use crate::common::TestServer;
use klaxon_store::testing::SeedOptions;
use serde_json::{Value, json};

fn change(routing_key: &str, summary: &str, timestamp: &str) -> Value {
    json!({"routing_key": routing_key,
           "payload": {"summary": summary, "source": "ci", "timestamp": timestamp, "custom_details": {"build": 42}},
           "links": [{"href": "https://ci.example/42", "text": "Build 42"}]})
}

#[tokio::test]
async fn a_change_event_is_accepted_with_202() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server
        .send_event("/v2/change/enqueue", change(&seeded.integration_key, "Deploy", "2026-01-01T00:00:00Z"))
        .await;
    assert_eq!(status, 202);
    assert_eq!(body, json!({"status": "success", "message": "Change event processed"}));
    assert!(
        server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty(),
        "change events never page"
    );
}

#[tokio::test]
async fn a_change_event_without_summary_is_invalid() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) =
        server.send_event("/v2/change/enqueue", json!({"routing_key": seeded.integration_key, "payload": {}})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"], json!(["'payload.summary' is missing or blank"]));
}

#[tokio::test]
async fn change_events_are_listed_newest_first_with_references() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    for (summary, ts) in [("Old", "2026-01-01T00:00:00Z"), ("New", "2026-01-02T00:00:00Z")] {
        assert_eq!(server.send_event("/v2/change/enqueue", change(&seeded.integration_key, summary, ts)).await.0, 202);
    }
    let (status, body) = server.get("/change_events?limit=1&total=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["more"], true);
    assert_eq!(body["total"], 2);
    let event = &body["change_events"][0];
    assert_eq!(event["summary"], "New");
    assert_eq!(event["type"], "change_event");
    assert_eq!(event["timestamp"], "2026-01-02T00:00:00Z");
    assert_eq!(event["custom_details"]["build"], 42);
    assert_eq!(event["links"], json!([{"href": "https://ci.example/42", "text": "Build 42"}]));
    assert_eq!(event["services"][0]["id"], seeded.service_id.as_str());
    assert_eq!(event["services"][0]["type"], "service_reference");
    assert_eq!(event["integration"]["id"], seeded.integration_id.as_str());

    let id = event["id"].as_str().unwrap();
    let (status, one) = server.get(&format!("/change_events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["change_event"]["summary"], "New");
}

#[tokio::test]
async fn change_events_filter_by_time_and_integration() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    for (summary, ts) in [("Old", "2026-01-01T00:00:00Z"), ("New", "2026-01-02T00:00:00Z")] {
        server.send_event("/v2/change/enqueue", change(&seeded.integration_key, summary, ts)).await;
    }
    let (_, body) = server.get("/change_events?since=2026-01-01T12:00:00Z").await;
    assert_eq!(body["change_events"].as_array().unwrap().len(), 1);
    let (_, body) = server.get("/change_events?integration_ids[]=PNOPE00").await;
    assert!(body["change_events"].as_array().unwrap().is_empty());
    let (status, body) = server.get("/change_events?since=soon").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn unknown_change_events_and_services_are_404() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/change_events/PNOPE00").await.0, 404);
    assert_eq!(server.get("/services/PNOPE00/change_events").await.0, 404);
    assert_eq!(server.get("/incidents/PNOPE00/related_change_events").await.0, 404);
}

#[tokio::test]
async fn a_services_change_events_are_listed_under_it() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let other = server.seed_for_events(SeedOptions::default()).await;
    server.send_event("/v2/change/enqueue", change(&seeded.integration_key, "Mine", "2026-01-01T00:00:00Z")).await;
    server.send_event("/v2/change/enqueue", change(&other.integration_key, "Theirs", "2026-01-01T00:00:00Z")).await;
    let (status, body) = server.get(&format!("/services/{}/change_events", seeded.service_id)).await;
    assert_eq!(status, 200);
    let summaries: Vec<_> = body["change_events"].as_array().unwrap().iter().map(|e| e["summary"].clone()).collect();
    assert_eq!(summaries, vec![json!("Mine")]);
}

#[tokio::test]
async fn an_incidents_related_change_events_are_its_services_recent_changes() {
    let server = TestServer::start_with_clock("2026-01-01T12:00:00Z".parse().unwrap()).await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.send_event("/v2/change/enqueue", change(&seeded.integration_key, "Recent", "2026-01-01T11:00:00Z")).await;
    server.send_event("/v2/change/enqueue", change(&seeded.integration_key, "Ancient", "2025-12-01T11:00:00Z")).await;
    let incident =
        klaxon_store::testing::seed_incident(&server.store, &seeded, "triggered", server.app.now_ms()).await.unwrap();
    let (status, body) = server.get(&format!("/incidents/{incident}/related_change_events")).await;
    assert_eq!(status, 200, "{body}");
    let events = body["change_events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["summary"], "Recent");
    assert_eq!(events[0]["correlation_reason"]["reason"], "same_service");
}

#[tokio::test]
async fn change_events_rest_needs_an_api_key() {
    let server = TestServer::start().await;
    let (status, _) = crate::common::send(server.anon(reqwest::Method::GET, "/change_events")).await;
    assert_eq!(status, 401);
}
