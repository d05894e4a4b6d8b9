//! Maintenance windows: `/maintenance_windows`, `/maintenance_windows/{id}`, and their effect on a
//! service's rendered status.

use crate::common::*;
use crate::escalation_policies::{create_policy, insert_team};
use crate::services::{create_service, service_body};
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

const NOW: &str = "2026-03-01T12:00:00Z";

async fn setup() -> (TestServer, String) {
    let server = TestServer::start_with_clock(NOW.parse::<Timestamp>().unwrap()).await;
    let ep = create_policy(&server, "EP").await;
    let service = create_service(&server, "Web", &ep).await;
    (server, service)
}

fn window(start: &str, end: &str, service: &str) -> Value {
    json!({"maintenance_window": {"type": "maintenance_window", "start_time": start, "end_time": end,
        "description": "Deploy", "services": [{"id": service, "type": "service_reference"}]}})
}

async fn create(server: &TestServer, start: &str, end: &str, service: &str) -> Value {
    let (status, body) = server.post("/maintenance_windows", window(start, end, service)).await;
    assert_eq!(status, 201, "{body}");
    body["maintenance_window"].clone()
}

#[tokio::test]
async fn creating_a_window_renders_it_with_its_creator_and_services() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-03-02T00:00:00Z", "2026-03-02T02:00:00+00:00", &service).await;
    let id = w["id"].as_str().unwrap();
    assert_eq!(w["type"], "maintenance_window");
    assert_eq!(w["self"], format!("{}/maintenance_windows/{id}", server.url));
    assert_eq!(w["start_time"], "2026-03-02T00:00:00Z");
    assert_eq!(w["end_time"], "2026-03-02T02:00:00Z");
    assert_eq!(w["description"], "Deploy");
    assert_eq!(w["sequence_number"], 1);
    assert_eq!(w["created_by"]["id"], server.owner_id.as_str());
    assert_eq!(w["created_by"]["type"], "user_reference");
    assert_eq!(w["services"][0]["id"], service.as_str());
    assert_eq!(w["services"][0]["summary"], "Web");
    assert_eq!(w["teams"], json!([]));
    let (status, body) = server.get(&format!("/maintenance_windows/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["maintenance_window"], w);
    let second = create(&server, "2026-03-03T00:00:00Z", "2026-03-03T02:00:00Z", &service).await;
    assert_eq!(second["sequence_number"], 2);
}

#[tokio::test]
async fn creating_a_window_needs_a_from_header_with_account_keys() {
    let (server, service) = setup().await;
    let (status, body) = send(server.with_key(&server.key, Method::POST, "/maintenance_windows").json(&window(
        "2026-03-02T00:00:00Z",
        "2026-03-02T02:00:00Z",
        &service,
    )))
    .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("From"), "{body}");
}

#[tokio::test]
async fn a_start_in_the_past_becomes_now() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-02-01T00:00:00Z", "2026-03-01T13:00:00Z", &service).await;
    assert_eq!(w["start_time"], NOW);
}

#[tokio::test]
async fn the_end_must_be_in_the_future_and_after_the_start() {
    let (server, service) = setup().await;
    let (status, body) =
        server.post("/maintenance_windows", window("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", &service)).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("maintenance_window.end_time must be in the future"), "{body}");
    let (status, body) =
        server.post("/maintenance_windows", window("2026-03-05T10:00:00Z", "2026-03-04T11:00:00Z", &service)).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("maintenance_window.end_time must be after start_time"), "{body}");
    let (status, body) =
        server.post("/maintenance_windows", window("tomorrow", "2026-03-04T11:00:00Z", &service)).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("maintenance_window.start_time is not an ISO 8601 date-time"), "{body}");
}

#[tokio::test]
async fn services_are_required_and_must_exist() {
    let (server, service) = setup().await;
    let mut body = window("2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z", &service);
    body["maintenance_window"]["services"] = json!([]);
    let (status, resp) = server.post("/maintenance_windows", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("maintenance_window.services must have at least one service"));
    body["maintenance_window"]["services"] =
        json!([{"id": service, "type": "service_reference"}, {"id": "PGHOST1", "type": "service"}]);
    let (status, resp) = server.post("/maintenance_windows", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("maintenance_window.services[1].id PGHOST1 not found"), "{resp}");
    body["maintenance_window"].as_object_mut().unwrap().remove("services");
    let (status, resp) = server.post("/maintenance_windows", body).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("maintenance_window.services is required"));
    let (_, list) = server.get("/maintenance_windows?total=true").await;
    assert_eq!(list["total"], 0, "nothing was written");
}

#[tokio::test]
async fn an_ongoing_window_puts_its_service_in_maintenance() {
    let (server, service) = setup().await;
    assert!(!server.store.services_in_maintenance(&service, server.app.now_ms()).await.unwrap());
    create(&server, "2026-03-01T13:00:00Z", "2026-03-01T14:00:00Z", &service).await;
    let (_, body) = server.get(&format!("/services/{service}")).await;
    assert_eq!(body["service"]["status"], "active", "a future window does not count yet");
    server.clock().advance(SignedDuration::from_mins(90));
    assert!(server.store.services_in_maintenance(&service, server.app.now_ms()).await.unwrap());
    let (_, body) = server.get(&format!("/services/{service}")).await;
    assert_eq!(body["service"]["status"], "maintenance");
    server.clock().advance(SignedDuration::from_mins(60));
    let (_, body) = server.get(&format!("/services/{service}")).await;
    assert_eq!(body["service"]["status"], "active");
}

#[tokio::test]
async fn a_disabled_service_renders_disabled_even_in_maintenance() {
    let (server, service) = setup().await;
    create(&server, "2026-03-01T12:00:00Z", "2026-03-01T14:00:00Z", &service).await;
    let (_, body) = server.put(&format!("/services/{service}"), json!({"service": {"status": "disabled"}})).await;
    assert_eq!(body["service"]["status"], "disabled");
}

#[tokio::test]
async fn listing_filters_by_time_service_team_and_query() {
    let (server, service) = setup().await;
    let ep = create_policy(&server, "EP2").await;
    let team = insert_team(&server, "Ops").await;
    let mut other = service_body("DB", &ep);
    other["service"]["teams"] = json!([{"id": team, "type": "team_reference"}]);
    let (_, resp) = server.post("/services", other).await;
    let db = resp["service"]["id"].as_str().unwrap().to_string();
    let past = create(&server, "2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z", &service).await;
    let ongoing = create(&server, "2026-03-01T13:30:00Z", "2026-03-01T16:00:00Z", &db).await;
    let future = create(&server, "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z", &service).await;
    server.clock().advance(SignedDuration::from_hours(2)); // now 14:00
    let ids = |body: &Value| -> Vec<String> {
        body["maintenance_windows"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_string()).collect()
    };
    let id = |w: &Value| w["id"].as_str().unwrap().to_string();
    let (_, body) = server.get("/maintenance_windows").await;
    assert_eq!(ids(&body), [id(&past), id(&ongoing), id(&future)]);
    let (_, body) = server.get("/maintenance_windows?filter=past").await;
    assert_eq!(ids(&body), [id(&past)]);
    let (_, body) = server.get("/maintenance_windows?filter=ongoing").await;
    assert_eq!(ids(&body), [id(&ongoing)]);
    let (_, body) = server.get("/maintenance_windows?filter=future").await;
    assert_eq!(ids(&body), [id(&future)]);
    let (_, body) = server.get("/maintenance_windows?filter=open").await;
    assert_eq!(ids(&body), [id(&ongoing), id(&future)]);
    let (_, body) = server.get(&format!("/maintenance_windows?service_ids[]={service}")).await;
    assert_eq!(ids(&body), [id(&past), id(&future)]);
    let (_, body) =
        server.get(&format!("/maintenance_windows?team_ids[]={team}&include[]=teams&include[]=users")).await;
    assert_eq!(ids(&body), [id(&ongoing)]);
    assert_eq!(body["maintenance_windows"][0]["teams"][0]["type"], "team");
    assert_eq!(body["maintenance_windows"][0]["created_by"]["email"], OWNER_EMAIL);
    let (_, body) = server.get("/maintenance_windows?query=deploy&limit=2").await;
    assert_eq!(body["more"], true);
    let (_, body) = server.get("/maintenance_windows?query=nothing").await;
    assert_eq!(ids(&body), Vec::<String>::new());
    let (status, _) = server.get("/maintenance_windows?filter=someday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn deleting_a_future_window_removes_it() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z", &service).await;
    let path = format!("/maintenance_windows/{}", w["id"].as_str().unwrap());
    let (status, _) = server.delete(&path).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deleting_an_ongoing_window_ends_it_now() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-03-01T12:00:00Z", "2026-03-01T18:00:00Z", &service).await;
    server.clock().advance(SignedDuration::from_mins(30));
    let path = format!("/maintenance_windows/{}", w["id"].as_str().unwrap());
    let (status, _) = server.delete(&path).await;
    assert_eq!(status, 204);
    let (_, body) = server.get(&path).await;
    assert_eq!(body["maintenance_window"]["end_time"], "2026-03-01T12:30:00Z");
    let (_, body) = server.get(&format!("/services/{service}")).await;
    assert_eq!(body["service"]["status"], "active");
}

#[tokio::test]
async fn deleting_a_past_window_is_refused_with_5003() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z", &service).await;
    server.clock().advance(SignedDuration::from_hours(2));
    let (status, body) = server.delete(&format!("/maintenance_windows/{}", w["id"].as_str().unwrap())).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 5003);
    assert!(error_text(&body).contains("Cannot cancel a maintenance window from the past"));
}

#[tokio::test]
async fn a_window_can_be_updated() {
    let (server, service) = setup().await;
    let w = create(&server, "2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z", &service).await;
    let path = format!("/maintenance_windows/{}", w["id"].as_str().unwrap());
    let (status, body) = server
        .put(&path, json!({"maintenance_window": {"end_time": "2026-03-02T04:00:00Z", "description": "Longer"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let updated = &body["maintenance_window"];
    assert_eq!(updated["start_time"], "2026-03-02T00:00:00Z");
    assert_eq!(updated["end_time"], "2026-03-02T04:00:00Z");
    assert_eq!(updated["description"], "Longer");
    assert_eq!(updated["services"][0]["id"], service.as_str());
    let (status, body) = server.put(&path, json!({"maintenance_window": {"end_time": "2026-03-01T23:00:00Z"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("maintenance_window.end_time must be after start_time"));
    let (status, _) = server.put("/maintenance_windows/PNOPE00", json!({"maintenance_window": {}})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn window_writes_need_the_configure_permission() {
    let (server, service) = setup().await;
    let (_, limited) = server.user_with_token("limited@klaxon.test", klaxon_core::role::Role::LimitedUser).await;
    let body = window("2026-03-02T00:00:00Z", "2026-03-02T02:00:00Z", &service);
    let (status, _) = send(server.with_key(&limited, Method::POST, "/maintenance_windows").json(&body)).await;
    assert_eq!(status, 403);
    let read_only = server.read_only_key().await;
    let (status, _) = send(server.with_key(&read_only, Method::POST, "/maintenance_windows").json(&body)).await;
    assert_eq!(status, 403);
    let (_, user) = server.user_with_token("user@klaxon.test", klaxon_core::role::Role::User).await;
    let (status, resp) = send(server.with_key(&user, Method::POST, "/maintenance_windows").json(&body)).await;
    assert_eq!(status, 201, "a user token is its own requester: {resp}");
}
