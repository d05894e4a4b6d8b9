//! Schedules: `GET|POST /schedules`, `POST /schedules/preview`, `GET|PUT|DELETE /schedules/{id}`,
//! `GET /schedules/{id}/users`, and overrides (`GET|POST /schedules/{id}/overrides`,
//! `DELETE /schedules/{id}/overrides/{override_id}`).

use crate::common::*;
use crate::escalation_policies::insert_team;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// Every test runs at this instant (a Saturday), before the 2025 DST change of America/New_York (9 March).
const NOW: &str = "2025-03-01T12:00:00Z";

async fn server() -> TestServer {
    TestServer::start_with_clock(NOW.parse().unwrap()).await
}

fn layer(name: &str, users: &[&str]) -> Value {
    json!({
        "name": name, "start": "2025-02-01T09:00:00-05:00", "end": null,
        "rotation_virtual_start": "2025-02-01T09:00:00-05:00", "rotation_turn_length_seconds": 86400,
        "users": users.iter().map(|u| json!({"user": {"id": u, "type": "user"}})).collect::<Vec<_>>(),
        "restrictions": [],
    })
}

fn schedule_body(name: &str, layers: Vec<Value>) -> Value {
    json!({"schedule": {"type": "schedule", "name": name, "time_zone": "America/New_York",
                        "description": "who answers", "schedule_layers": layers}})
}

/// Creates a schedule with one daily layer of `users`; returns its id.
pub async fn create_schedule(server: &TestServer, name: &str, users: &[&str]) -> String {
    let (status, body) = server.post("/schedules", schedule_body(name, vec![layer("Layer 1", users)])).await;
    assert_eq!(status, 201, "{body}");
    body["schedule"]["id"].as_str().unwrap().to_string()
}

async fn user(server: &TestServer, email: &str) -> String {
    server.user_with_token(email, Role::User).await.0
}

async fn schedule_count(server: &TestServer) -> i64 {
    let (_, list) = server.get("/schedules?total=true").await;
    list["total"].as_i64().unwrap()
}

fn layer_names(schedule: &Value) -> Vec<String> {
    schedule["schedule_layers"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_string()).collect()
}

/// `(start, end, user id)` of rendered entries.
fn entries(part: &Value) -> Vec<(String, String, String)> {
    part["rendered_schedule_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
                e["user"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entry(start: &str, end: &str, user: &str) -> (String, String, String) {
    (start.to_string(), end.to_string(), user.to_string())
}

fn override_item(start: &str, end: &str, user: &str) -> Value {
    json!({"start": start, "end": end, "user": {"id": user, "type": "user_reference"}})
}

#[tokio::test]
async fn creating_a_schedule_renders_it_with_layers_in_the_order_sent() {
    let server = server().await;
    let ada = user(&server, "ada@klaxon.test").await;
    let body = schedule_body(
        "Primary",
        vec![layer("Weekdays", &[&ada]), layer("Nights", &[&server.owner_id]), layer("Backup", &[&ada])],
    );
    let (status, created) = server.post("/schedules", body).await;
    assert_eq!(status, 201, "{created}");
    let s = &created["schedule"];
    let id = s["id"].as_str().unwrap();
    assert!(id.starts_with('P'));
    assert_eq!(s["type"], "schedule");
    assert_eq!(s["summary"], "Primary");
    assert_eq!(s["description"], "who answers");
    assert_eq!(s["time_zone"], "America/New_York");
    assert_eq!(s["self"], format!("{}/schedules/{id}", server.url));
    assert_eq!(s["html_url"], format!("{}/schedules/{id}", server.url));
    assert_eq!(layer_names(s), ["Weekdays", "Nights", "Backup"]);
    let users: Vec<&str> = s["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(users, [ada.as_str(), server.owner_id.as_str()], "layer users once each, in order");
    assert_eq!(s["escalation_policies"], json!([]));
    assert_eq!(s["teams"], json!([]));
    assert_eq!(s["final_schedule"]["name"], "Final Schedule");
    assert_eq!(s["overrides_subschedule"]["name"], "Overrides");
    let (status, fetched) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(layer_names(&fetched["schedule"]), ["Weekdays", "Nights", "Backup"]);
}

#[tokio::test]
async fn a_created_schedule_reads_back_the_layer_fields_it_was_sent() {
    // Terraform's round trip: what it sends (any offset, users as {"user":{id,type:"user"}}) is what it reads.
    let server = server().await;
    let ada = user(&server, "ada@klaxon.test").await;
    let sent = json!({
        "name": "Night Shift", "start": "2025-02-01T20:00:00-05:00", "end": "2025-06-01T00:00:00-04:00",
        "rotation_virtual_start": "2025-02-02T01:00:00Z", "rotation_turn_length_seconds": 604800,
        "users": [{"user": {"id": ada, "type": "user"}}, {"user": {"id": server.owner_id, "type": "user_reference"}}],
        "restrictions": [
            {"type": "daily_restriction", "start_time_of_day": "08:00:00", "duration_seconds": 32400},
            {"type": "weekly_restriction", "start_day_of_week": 5, "start_time_of_day": "17:30:00",
             "duration_seconds": 7200}],
    });
    let (status, created) = server.post("/schedules", schedule_body("Rotation", vec![sent])).await;
    assert_eq!(status, 201, "{created}");
    let id = created["schedule"]["id"].as_str().unwrap();
    let (_, fetched) = server.get(&format!("/schedules/{id}")).await;
    let got = &fetched["schedule"]["schedule_layers"][0];
    assert!(got["id"].as_str().unwrap().starts_with('P'));
    assert_eq!(got["name"], "Night Shift");
    assert_eq!(got["start"], "2025-02-01T20:00:00-05:00");
    assert_eq!(got["end"], "2025-06-01T00:00:00-04:00");
    assert_eq!(got["rotation_virtual_start"], "2025-02-01T20:00:00-05:00", "the same instant, in the zone");
    assert_eq!(got["rotation_turn_length_seconds"], 604800);
    assert_eq!(got["users"][0]["user"]["id"], ada.as_str());
    assert_eq!(got["users"][0]["user"]["type"], "user_reference");
    assert_eq!(got["users"][1]["user"]["id"], server.owner_id.as_str());
    assert_eq!(
        got["restrictions"],
        json!([
            {"type": "daily_restriction", "start_time_of_day": "08:00:00", "duration_seconds": 32400},
            {"type": "weekly_restriction", "start_day_of_week": 5, "start_time_of_day": "17:30:00",
             "duration_seconds": 7200}])
    );
    assert_eq!(created["schedule"]["schedule_layers"][0], *got, "create answers what a read gives");
}

#[tokio::test]
async fn updating_layers_keeps_sent_layer_ids_and_gives_new_layers_new_ids() {
    let server = server().await;
    let id = create_schedule(&server, "Primary", &[&server.owner_id]).await;
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    let first = s["schedule"]["schedule_layers"][0]["id"].as_str().unwrap().to_string();
    let mut kept = layer("Renamed", &[&server.owner_id]);
    kept["id"] = json!(first);
    let mut foreign = layer("Second", &[&server.owner_id]);
    foreign["id"] = json!("PFOREIGN");
    let (status, updated) =
        server.put(&format!("/schedules/{id}"), json!({"schedule": {"schedule_layers": [foreign, kept]}})).await;
    assert_eq!(status, 200, "{updated}");
    let s = &updated["schedule"];
    assert_eq!(layer_names(s), ["Second", "Renamed"]);
    assert_eq!(s["schedule_layers"][1]["id"], first.as_str());
    assert_ne!(s["schedule_layers"][0]["id"], "PFOREIGN");
    assert_eq!(s["name"], "Primary", "fields not sent are kept");
    let (status, updated) =
        server.put(&format!("/schedules/{id}"), json!({"schedule": {"name": "Renamed schedule"}})).await;
    assert_eq!(status, 200);
    assert_eq!(layer_names(&updated["schedule"]), ["Second", "Renamed"], "layers kept when not sent");
}

#[tokio::test]
async fn deleting_a_schedule_makes_it_404() {
    let server = server().await;
    let id = create_schedule(&server, "Primary", &[&server.owner_id]).await;
    let (status, _) = server.delete(&format!("/schedules/{id}")).await;
    assert_eq!(status, 204);
    let (status, body) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(status, 404);
    error_text(&body);
    let (status, _) = server.delete(&format!("/schedules/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(schedule_count(&server).await, 0);
}

#[tokio::test]
async fn schedule_validation_names_every_field_and_writes_nothing() {
    let server = server().await;
    let bad_layer = json!({
        "start": "not a time", "rotation_turn_length_seconds": 86400, "users": [],
        "restrictions": [{"type": "monthly_restriction", "start_time_of_day": "25:00", "duration_seconds": 60},
                         {"type": "weekly_restriction", "start_time_of_day": "08:00:00", "duration_seconds": 60}],
    });
    let body = json!({"schedule": {"time_zone": "Mars/Olympus", "schedule_layers": [layer("ok", &[&server.owner_id]), bad_layer]}});
    let (status, resp) = server.post("/schedules", body).await;
    assert_eq!(status, 400);
    assert_eq!(resp["error"]["code"], 2001);
    let text = error_text(&resp);
    for expected in [
        "schedule.name is required",
        "schedule.time_zone Mars/Olympus is not a known IANA time zone",
        "schedule.schedule_layers[1].start is not an ISO 8601 date-time",
        "schedule.schedule_layers[1].rotation_virtual_start is required",
        "schedule.schedule_layers[1].users must have at least one user",
        "schedule.schedule_layers[1].restrictions[0].type must be daily_restriction or weekly_restriction",
        "schedule.schedule_layers[1].restrictions[0].start_time_of_day",
        "schedule.schedule_layers[1].restrictions[1].start_day_of_week is required",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in: {text}");
    }
    let (status, resp) = server.post("/schedules", json!({"schedule": {"name": "x", "time_zone": "UTC"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("schedule.schedule_layers is required"));
    let (status, resp) = server.post("/schedules", json!({"name": "unwrapped"})).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("schedule is required"));
    assert_eq!(schedule_count(&server).await, 0, "nothing was written");
}

#[tokio::test]
async fn layer_rules_are_refused_naming_the_field() {
    let server = server().await;
    let mut bad = layer("L", &[&server.owner_id]);
    bad["rotation_turn_length_seconds"] = json!(0);
    bad["end"] = json!("2025-01-01T00:00:00Z");
    bad["restrictions"] =
        json!([{"type": "daily_restriction", "start_time_of_day": "08:00:00", "duration_seconds": 90000}]);
    let (status, resp) =
        server.post("/schedules", schedule_body("S", vec![layer("ok", &[&server.owner_id]), bad])).await;
    assert_eq!(status, 400);
    let text = error_text(&resp);
    for expected in [
        "schedule.schedule_layers[1].rotation_turn_length_seconds must be positive",
        "schedule.schedule_layers[1].end must be after start",
        "schedule.schedule_layers[1].restrictions[0].duration_seconds must be at most 86400",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in: {text}");
    }
    assert_eq!(schedule_count(&server).await, 0);
}

#[tokio::test]
async fn overflow_renders_whole_turns_instead_of_clipping_them_to_the_window() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let window = "since=2025-03-03T12:00:00-05:00&until=2025-03-03T14:00:00-05:00";
    let (_, s) = server.get(&format!("/schedules/{id}?{window}")).await;
    let owner = server.owner_id.as_str();
    assert_eq!(
        entries(&s["schedule"]["schedule_layers"][0]),
        vec![entry("2025-03-03T12:00:00-05:00", "2025-03-03T14:00:00-05:00", owner)]
    );
    let (_, s) = server.get(&format!("/schedules/{id}?{window}&overflow=true")).await;
    assert_eq!(
        entries(&s["schedule"]["schedule_layers"][0]),
        vec![entry("2025-03-03T09:00:00-05:00", "2025-03-04T09:00:00-05:00", owner)]
    );
}

#[tokio::test]
async fn a_layer_naming_an_unknown_user_is_refused_naming_the_field() {
    let server = server().await;
    let body = schedule_body("S", vec![layer("L", &[&server.owner_id, "PNOBODY"])]);
    let (status, resp) = server.post("/schedules", body).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("schedule.schedule_layers[0].users[1].user.id PNOBODY not found"), "{resp}");
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let (status, resp) = server
        .put(&format!("/schedules/{id}"), json!({"schedule": {"schedule_layers": [layer("L", &["PNOBODY"])]}}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("schedule.schedule_layers[0].users[0].user.id PNOBODY not found"));
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(s["schedule"]["schedule_layers"][0]["users"][0]["user"]["id"], server.owner_id.as_str(), "unchanged");
}

#[tokio::test]
async fn schedule_teams_are_validated_listed_and_cleared_by_null() {
    let server = server().await;
    let team = insert_team(&server, "Alpha").await;
    let mut body = schedule_body("S", vec![layer("L", &[&server.owner_id])]);
    body["schedule"]["teams"] = json!([{"id": "PNOTEAM", "type": "team_reference"}]);
    let (status, resp) = server.post("/schedules", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("schedule.teams[0].id PNOTEAM not found"), "{resp}");
    body["schedule"]["teams"] = json!([{"id": team, "type": "team_reference"}]);
    let (status, resp) = server.post("/schedules", body).await;
    assert_eq!(status, 201, "{resp}");
    let id = resp["schedule"]["id"].as_str().unwrap().to_string();
    assert_eq!(resp["schedule"]["teams"][0]["summary"], "Alpha");
    create_schedule(&server, "Other", &[&server.owner_id]).await;
    let (_, list) = server.get(&format!("/schedules?team_ids[]={team}")).await;
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1);
    assert_eq!(list["schedules"][0]["id"], id.as_str());
    let (status, resp) = server.put(&format!("/schedules/{id}"), json!({"schedule": {"teams": null}})).await;
    assert_eq!(status, 200);
    assert_eq!(resp["schedule"]["teams"], json!([]));
}

#[tokio::test]
async fn listing_schedules_searches_names_pages_and_includes_parts_on_request() {
    let server = server().await;
    create_schedule(&server, "Bravo", &[&server.owner_id]).await;
    create_schedule(&server, "alpha ops", &[&server.owner_id]).await;
    let (status, list) = server.get("/schedules").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["schedules"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha ops", "Bravo"]);
    assert!(list["schedules"][0].get("schedule_layers").is_none(), "layers only with include[]");
    assert_eq!(list["more"], false);
    let (_, list) = server.get("/schedules?query=ALPHA&include[]=schedule_layers&include[]=final_schedule").await;
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1);
    assert!(list["schedules"][0]["schedule_layers"].is_array());
    assert_eq!(list["schedules"][0]["final_schedule"]["name"], "Final Schedule");
    assert!(list["schedules"][0].get("overrides_subschedule").is_none());
    let (_, list) = server.get("/schedules?limit=1").await;
    assert_eq!((list["schedules"].as_array().unwrap().len(), list["more"].as_bool()), (1, Some(true)));
    let (status, _) = server.get("/schedules?include[]=services").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_time_zone_parameter_changes_the_printed_offsets() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(s["schedule"]["schedule_layers"][0]["start"], "2025-02-01T09:00:00-05:00");
    let (status, s) = server.get(&format!("/schedules/{id}?time_zone=Europe/Berlin")).await;
    assert_eq!(status, 200);
    assert_eq!(s["schedule"]["schedule_layers"][0]["start"], "2025-02-01T15:00:00+01:00");
    assert_eq!(s["schedule"]["time_zone"], "America/New_York", "the schedule's own zone is unchanged");
    let (_, s) = server.get(&format!("/schedules/{id}?time_zone=UTC")).await;
    assert_eq!(s["schedule"]["schedule_layers"][0]["start"], "2025-02-01T14:00:00Z");
    let (status, resp) = server.get(&format!("/schedules/{id}?time_zone=Nowhere/Land")).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("time_zone"));
}

#[tokio::test]
async fn coverage_is_null_unless_since_or_until_is_given() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(s["schedule"]["schedule_layers"][0]["rendered_coverage_percentage"], Value::Null);
    assert_eq!(s["schedule"]["final_schedule"]["rendered_coverage_percentage"], Value::Null);
    let (_, s) = server.get(&format!("/schedules/{id}?since=2025-03-02T00:00:00Z")).await;
    assert!(s["schedule"]["final_schedule"]["rendered_coverage_percentage"].is_number(), "{s}");
    let (status, resp) =
        server.get(&format!("/schedules/{id}?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z")).await;
    assert_eq!(status, 400);
    assert_eq!(resp["error"]["code"], 2004);
}

#[tokio::test]
async fn a_preview_renders_the_schedule_and_saves_nothing() {
    let server = server().await;
    let body = schedule_body("Draft", vec![layer("L", &[&server.owner_id])]);
    let (status, resp) =
        server.post("/schedules/preview?since=2025-03-02T00:00:00-05:00&until=2025-03-03T00:00:00-05:00", body).await;
    assert_eq!(status, 200, "{resp}");
    let s = &resp["schedule"];
    assert_eq!(s["id"], Value::Null);
    assert_eq!(s["name"], "Draft");
    assert_eq!(layer_names(s), ["L"]);
    assert_eq!(s["final_schedule"]["name"], "Final Schedule");
    assert_eq!(schedule_count(&server).await, 0);
    let (status, resp) = server.post("/schedules/preview", json!({"schedule": {"name": "x"}})).await;
    assert_eq!(status, 400, "validated as a create is");
    assert!(error_text(&resp).contains("schedule.time_zone is required"));
}

#[tokio::test]
async fn bulk_overrides_answer_a_result_per_item_and_create_the_valid_ones() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let ada = user(&server, "ada@klaxon.test").await;
    let body = json!({"overrides": [
        override_item("2025-03-03T09:00:00-05:00", "2025-03-03T17:00:00-05:00", &ada),
        override_item("2025-03-05T00:00:00Z", "2025-03-04T00:00:00Z", &ada),
        override_item("2025-03-06T00:00:00Z", "2025-03-07T00:00:00Z", "PNOBODY"),
    ]});
    let (status, resp) = server.post(&format!("/schedules/{id}/overrides"), body).await;
    assert_eq!(status, 201, "{resp}");
    let results = resp.as_array().expect("a top-level array");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["status"], 201);
    let created = &results[0]["override"];
    assert!(created["id"].as_str().unwrap().starts_with('Q'));
    assert_eq!(created["start"], "2025-03-03T09:00:00-05:00");
    assert_eq!(created["end"], "2025-03-03T17:00:00-05:00");
    assert_eq!(created["user"]["id"], ada.as_str());
    assert_eq!(created["user"]["type"], "user_reference");
    assert_eq!(results[1]["status"], 400);
    assert_eq!(results[1]["errors"], json!(["Override must end after its start"]));
    assert_eq!(results[1]["override"]["start"], "2025-03-05T00:00:00Z", "the item as sent");
    assert_eq!(results[2]["status"], 400);
    assert!(results[2]["errors"][0].as_str().unwrap().contains("overrides[2].user.id PNOBODY not found"));
    let (_, list) =
        server.get(&format!("/schedules/{id}/overrides?since=2025-03-01T00:00:00Z&until=2025-04-01T00:00:00Z")).await;
    assert_eq!(list["overrides"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn the_legacy_single_override_form_answers_with_the_override() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let body = json!({"override": override_item("2025-03-03T14:00:00Z", "2025-03-03T22:00:00Z", &server.owner_id)});
    let (status, resp) = server.post(&format!("/schedules/{id}/overrides"), body).await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(resp["override"]["start"], "2025-03-03T09:00:00-05:00", "printed in the schedule's zone");
    assert_eq!(resp["override"]["user"]["id"], server.owner_id.as_str());
    let bad = json!({"override": {"start": "2025-03-03T14:00:00Z", "user": {"id": server.owner_id, "type": "user"}}});
    let (status, resp) = server.post(&format!("/schedules/{id}/overrides"), bad).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("override.end is required"), "{resp}");
}

#[tokio::test]
async fn overrides_are_listed_over_a_window_clipped_unless_overflow() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let items = json!({"overrides": [
        override_item("2025-03-03T00:00:00Z", "2025-03-05T00:00:00Z", &server.owner_id),
        override_item("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", &server.owner_id),
    ]});
    let (status, _) = server.post(&format!("/schedules/{id}/overrides"), items).await;
    assert_eq!(status, 201);
    let path = format!("/schedules/{id}/overrides?since=2025-03-04T00:00:00Z&until=2025-03-06T00:00:00Z&time_zone=UTC");
    let (status, list) = server.get(&path).await;
    assert_eq!(status, 200);
    let overrides = list["overrides"].as_array().unwrap();
    assert_eq!(overrides.len(), 1);
    assert_eq!(
        (overrides[0]["start"].as_str(), overrides[0]["end"].as_str()),
        (Some("2025-03-04T00:00:00Z"), Some("2025-03-05T00:00:00Z"))
    );
    let (_, list) = server.get(&format!("{path}&overflow=true")).await;
    assert_eq!(list["overrides"][0]["start"], "2025-03-03T00:00:00Z");
    let (status, resp) = server.get(&format!("/schedules/{id}/overrides")).await;
    assert_eq!(status, 400);
    let text = error_text(&resp);
    assert!(text.contains("since is required") && text.contains("until is required"), "{text}");
}

#[tokio::test]
async fn removing_an_override_deletes_a_future_one_truncates_a_current_one_and_refuses_a_past_one() {
    let server = server().await;
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let items = json!({"overrides": [
        override_item("2025-02-27T00:00:00Z", "2025-02-28T00:00:00Z", &server.owner_id),
        override_item("2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z", &server.owner_id),
        override_item("2025-03-05T00:00:00Z", "2025-03-06T00:00:00Z", &server.owner_id),
    ]});
    let (_, resp) = server.post(&format!("/schedules/{id}/overrides"), items).await;
    let ids: Vec<String> =
        resp.as_array().unwrap().iter().map(|r| r["override"]["id"].as_str().unwrap().to_string()).collect();
    let (status, resp) = server.delete(&format!("/schedules/{id}/overrides/{}", ids[0])).await;
    assert_eq!(status, 400, "a past override stays");
    error_text(&resp);
    let (status, resp) = server.delete(&format!("/schedules/{id}/overrides/{}", ids[1])).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["override"]["end"], "2025-03-01T07:00:00-05:00", "ends now");
    let (status, _) = server.delete(&format!("/schedules/{id}/overrides/{}", ids[2])).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/schedules/{id}/overrides/{}", ids[2])).await;
    assert_eq!(status, 404);
    let (_, list) = server
        .get(&format!("/schedules/{id}/overrides?since=2025-02-01T00:00:00Z&until=2025-04-01T00:00:00Z&time_zone=UTC"))
        .await;
    let ends: Vec<&str> = list["overrides"].as_array().unwrap().iter().map(|o| o["end"].as_str().unwrap()).collect();
    assert_eq!(ends, ["2025-02-28T00:00:00Z", "2025-03-01T12:00:00Z"]);
}

#[tokio::test]
async fn a_schedule_used_by_a_policy_cannot_be_deleted() {
    let server = server().await;
    let id = create_schedule(&server, "Primary", &[&server.owner_id]).await;
    let body = json!({"escalation_policy": {"name": "Ops", "escalation_rules": [{"escalation_delay_in_minutes": 5,
        "targets": [{"id": id, "type": "schedule_reference"}]}]}});
    let (status, ep) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201, "{ep}");
    let ep_id = ep["escalation_policy"]["id"].as_str().unwrap().to_string();
    let (status, resp) = server.delete(&format!("/schedules/{id}")).await;
    assert_eq!(status, 400);
    assert_eq!(resp["error"]["code"], 2001);
    let text = error_text(&resp);
    assert!(text.contains("Schedule can't be deleted if it's being used by escalation policies"), "{text}");
    assert!(text.contains("Ops"), "{text}");
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(s["schedule"]["escalation_policies"][0]["id"], ep_id.as_str());
    assert_eq!(s["schedule"]["escalation_policies"][0]["type"], "escalation_policy_reference");
    let (status, _) = server.delete(&format!("/escalation_policies/{ep_id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/schedules/{id}")).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_user_in_a_schedule_rotation_cannot_be_deleted() {
    let server = server().await;
    let ada = user(&server, "ada@klaxon.test").await;
    let id = create_schedule(&server, "Primary", &[&ada]).await;
    let (status, resp) = server.delete(&format!("/users/{ada}")).await;
    assert_eq!(status, 400);
    let text = error_text(&resp);
    assert!(text.contains("The user cannot be deleted as they have 1 schedule") && text.contains("Primary"), "{text}");
    let mut ended = layer("L", &[&ada]);
    ended["end"] = json!("2025-03-01T00:00:00Z");
    let (status, _) = server
        .put(
            &format!("/schedules/{id}"),
            json!({"schedule": {"schedule_layers": [ended, layer("Now", &[&server.owner_id])]}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, resp) = server.delete(&format!("/users/{ada}")).await;
    assert_eq!(status, 204, "a layer that ended does not hold the user: {resp}");
    let (_, s) = server.get(&format!("/schedules/{id}")).await;
    assert_eq!(s["schedule"]["schedule_layers"][0]["users"][0]["user"]["id"], ada.as_str(), "history still renders");
}

#[tokio::test]
async fn schedule_writes_need_the_configure_permission() {
    let server = server().await;
    let body = schedule_body("S", vec![layer("L", &[&server.owner_id])]);
    let read_only = server.read_only_key().await;
    let (status, _) = send(server.with_key(&read_only, Method::POST, "/schedules").json(&body)).await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&read_only, Method::GET, "/schedules")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_openapi_document_describes_the_schedule_endpoints() {
    let server = server().await;
    let (status, doc) = send(server.anon(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/schedules", &["get", "post"][..]),
        ("/schedules/preview", &["post"][..]),
        ("/schedules/{id}", &["get", "put", "delete"][..]),
        ("/schedules/{id}/users", &["get"][..]),
        ("/schedules/{id}/overrides", &["get", "post"][..]),
        ("/schedules/{id}/overrides/{override_id}", &["delete"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} is documented");
        }
    }
}

// ---- rendering through the API (the rules are klaxon_core::schedule's) -------------------------------------

#[tokio::test]
async fn a_daily_rotation_keeps_its_9am_handoff_across_the_dst_change() {
    let server = server().await;
    let (a, b) = (user(&server, "a@klaxon.test").await, user(&server, "b@klaxon.test").await);
    let mut daily = layer("Daily", &[&a, &b]);
    daily["start"] = json!("2025-03-07T09:00:00-05:00");
    daily["rotation_virtual_start"] = json!("2025-03-07T09:00:00-05:00");
    let (status, created) = server.post("/schedules", schedule_body("Daily", vec![daily])).await;
    assert_eq!(status, 201, "{created}");
    let id = created["schedule"]["id"].as_str().unwrap();
    let window = "since=2025-03-08T00:00:00-05:00&until=2025-03-11T00:00:00-04:00";
    let (_, s) = server.get(&format!("/schedules/{id}?{window}")).await;
    let expected = vec![
        entry("2025-03-08T00:00:00-05:00", "2025-03-08T09:00:00-05:00", &a),
        entry("2025-03-08T09:00:00-05:00", "2025-03-09T09:00:00-04:00", &b),
        entry("2025-03-09T09:00:00-04:00", "2025-03-10T09:00:00-04:00", &a),
        entry("2025-03-10T09:00:00-04:00", "2025-03-11T00:00:00-04:00", &b),
    ];
    assert_eq!(entries(&s["schedule"]["schedule_layers"][0]), expected);
    assert_eq!(entries(&s["schedule"]["final_schedule"]), expected);
    assert_eq!(s["schedule"]["final_schedule"]["rendered_coverage_percentage"].as_f64(), Some(100.0));
}

#[tokio::test]
async fn the_newest_override_wins_in_the_final_schedule() {
    let server = server().await;
    let (a, b) = (user(&server, "a@klaxon.test").await, user(&server, "b@klaxon.test").await);
    let id = create_schedule(&server, "S", &[&server.owner_id]).await;
    let older = json!({"overrides": [override_item("2025-03-03T00:00:00Z", "2025-03-03T12:00:00Z", &a)]});
    let (status, _) = server.post(&format!("/schedules/{id}/overrides"), older).await;
    assert_eq!(status, 201);
    let newer = json!({"overrides": [override_item("2025-03-03T06:00:00Z", "2025-03-03T18:00:00Z", &a),
                                     override_item("2025-03-03T06:00:00Z", "2025-03-03T09:00:00Z", &b)]});
    let (status, _) = server.post(&format!("/schedules/{id}/overrides"), newer).await;
    assert_eq!(status, 201);
    let (_, s) = server
        .get(&format!("/schedules/{id}?since=2025-03-03T00:00:00Z&until=2025-03-04T00:00:00Z&time_zone=UTC"))
        .await;
    let owner = server.owner_id.as_str();
    assert_eq!(
        entries(&s["schedule"]["final_schedule"]),
        vec![
            entry("2025-03-03T00:00:00Z", "2025-03-03T06:00:00Z", &a),
            entry("2025-03-03T06:00:00Z", "2025-03-03T09:00:00Z", &b),
            entry("2025-03-03T09:00:00Z", "2025-03-03T18:00:00Z", &a),
            entry("2025-03-03T18:00:00Z", "2025-03-04T00:00:00Z", owner),
        ],
        "the later item of one request is newer than the earlier one"
    );
}

#[tokio::test]
async fn schedule_users_are_the_final_schedules_users_in_the_window() {
    let server = server().await;
    let (a, b) = (user(&server, "a@klaxon.test").await, user(&server, "b@klaxon.test").await);
    let id = create_schedule(&server, "S", &[&a]).await;
    let items = json!({"overrides": [override_item("2025-03-20T00:00:00Z", "2025-03-21T00:00:00Z", &b)]});
    let (status, _) = server.post(&format!("/schedules/{id}/overrides"), items).await;
    assert_eq!(status, 201);
    let ids = |body: &Value| -> Vec<String> {
        body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect()
    };
    let (status, body) =
        server.get(&format!("/schedules/{id}/users?since=2025-03-02T00:00:00Z&until=2025-03-04T00:00:00Z")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), vec![a.clone()]);
    assert_eq!(body["users"][0]["type"], "user");
    assert_eq!(body["users"][0]["email"], "a@klaxon.test");
    let (_, body) =
        server.get(&format!("/schedules/{id}/users?since=2025-03-19T00:00:00Z&until=2025-03-22T00:00:00Z")).await;
    assert_eq!(ids(&body), [a.clone(), b.clone()]);
}
