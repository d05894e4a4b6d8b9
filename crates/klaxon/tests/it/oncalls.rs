//! On-calls: `GET /oncalls` (who is on call for which escalation policy and level).

use crate::common::*;
use klaxon_core::role::Role;
use serde_json::{Value, json};

/// Every test runs at this instant (a Saturday).
const NOW: &str = "2025-03-01T12:00:00Z";

/// A server with a UTC schedule rotating ada and bob daily at midnight (ada has 1 March), and a policy
/// "Primary" whose level 1 is that schedule and level 2 the owner directly.
struct Fixture {
    server: TestServer,
    ada: String,
    bob: String,
    schedule: String,
    policy: String,
}

async fn fixture() -> Fixture {
    let server = TestServer::start_with_clock(NOW.parse().unwrap()).await;
    let ada = server.user_with_token("ada@klaxon.test", Role::User).await.0;
    let bob = server.user_with_token("bob@klaxon.test", Role::User).await.0;
    let schedule = create_schedule(&server, "Rotation", &[&ada, &bob]).await;
    let policy =
        create_policy(&server, "Primary", &[json!([schedule_ref(&schedule)]), json!([user_ref(&server.owner_id)])])
            .await;
    Fixture { server, ada, bob, schedule, policy }
}

pub async fn create_schedule(server: &TestServer, name: &str, users: &[&str]) -> String {
    let body = json!({"schedule": {"type": "schedule", "name": name, "time_zone": "UTC", "schedule_layers": [{
        "name": "Daily", "start": "2025-02-01T00:00:00Z", "rotation_virtual_start": "2025-02-01T00:00:00Z",
        "rotation_turn_length_seconds": 86400,
        "users": users.iter().map(|u| json!({"user": {"id": u, "type": "user"}})).collect::<Vec<_>>(),
    }]}});
    let (status, body) = server.post("/schedules", body).await;
    assert_eq!(status, 201, "{body}");
    body["schedule"]["id"].as_str().unwrap().to_string()
}

fn schedule_ref(id: &str) -> Value {
    json!({"id": id, "type": "schedule_reference"})
}

fn user_ref(id: &str) -> Value {
    json!({"id": id, "type": "user_reference"})
}

/// Creates a policy whose levels target `levels` (each a JSON array of target references).
pub async fn create_policy(server: &TestServer, name: &str, levels: &[Value]) -> String {
    let rules: Vec<Value> =
        levels.iter().map(|targets| json!({"escalation_delay_in_minutes": 30, "targets": targets})).collect();
    let body = json!({"escalation_policy": {"type": "escalation_policy", "name": name, "escalation_rules": rules}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201, "{body}");
    body["escalation_policy"]["id"].as_str().unwrap().to_string()
}

/// `(level, schedule id or "-", user id, start or "-", end or "-")` of each entry.
fn rows(body: &Value) -> Vec<(u64, String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    body["oncalls"]
        .as_array()
        .unwrap_or_else(|| panic!("no oncalls: {body}"))
        .iter()
        .map(|e| {
            (
                e["escalation_level"].as_u64().unwrap(),
                if e["schedule"].is_null() { "-".into() } else { text(&e["schedule"]["id"]) },
                text(&e["user"]["id"]),
                text(&e["start"]),
                text(&e["end"]),
            )
        })
        .collect()
}

fn row(level: u64, schedule: &str, user: &str, start: &str, end: &str) -> (u64, String, String, String, String) {
    (level, schedule.into(), user.into(), start.into(), end.into())
}

#[tokio::test]
async fn direct_user_targets_are_permanent_and_schedule_targets_give_their_shifts_from_level_one() {
    let f = fixture().await;
    let (status, body) = f.server.get(&format!("/oncalls?escalation_policy_ids[]={}", f.policy)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        rows(&body),
        [
            row(1, &f.schedule, &f.ada, "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"),
            row(2, "-", &f.server.owner_id, "-", "-"),
        ]
    );
    let first = &body["oncalls"][0];
    assert_eq!(first["escalation_policy"]["type"], "escalation_policy_reference");
    assert_eq!(first["escalation_policy"]["summary"], "Primary");
    assert_eq!(first["escalation_policy"]["self"], format!("{}/escalation_policies/{}", f.server.url, f.policy));
    assert_eq!(first["schedule"]["type"], "schedule_reference");
    assert_eq!(first["schedule"]["summary"], "Rotation");
    assert_eq!(first["user"]["type"], "user_reference");
    assert!(body["oncalls"][1]["schedule"].is_null());
    assert!(body["oncalls"][1]["start"].is_null() && body["oncalls"][1]["end"].is_null());
    assert_eq!((body["limit"].as_u64(), body["offset"].as_u64(), &body["more"]), (Some(25), Some(0), &json!(false)));
    assert!(body["total"].is_null());
}

#[tokio::test]
async fn a_shift_ending_exactly_at_since_is_excluded_and_whole_shifts_overlapping_are_listed() {
    let f = fixture().await;
    let path = format!(
        "/oncalls?escalation_policy_ids[]={}&schedule_ids[]={}&since=2025-03-02T00:00:00Z&until=2025-03-03T06:00:00Z",
        f.policy, f.schedule
    );
    let (status, body) = f.server.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        rows(&body),
        [
            row(1, &f.schedule, &f.bob, "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"),
            row(1, &f.schedule, &f.ada, "2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn earliest_keeps_each_users_first_entry_per_level() {
    let f = fixture().await;
    let base = format!("/oncalls?escalation_policy_ids[]={}&until=2025-03-04T12:00:00Z", f.policy);
    let (_, all) = f.server.get(&base).await;
    assert_eq!(rows(&all).len(), 5, "{all}");
    let (status, body) = f.server.get(&format!("{base}&earliest=true")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        rows(&body),
        [
            row(1, &f.schedule, &f.ada, "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"),
            row(1, &f.schedule, &f.bob, "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"),
            row(2, "-", &f.server.owner_id, "-", "-"),
        ]
    );
}

#[tokio::test]
async fn filters_select_users_schedules_direct_targets_and_policies() {
    let f = fixture().await;
    let other = create_policy(&f.server, "Another", &[json!([user_ref(&f.bob)])]).await;
    let (_, everything) = f.server.get("/oncalls").await;
    let policies: Vec<&str> = everything["oncalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["escalation_policy"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(policies, ["Another", "Primary", "Primary"], "by policy name, then level");

    let (_, body) = f.server.get(&format!("/oncalls?user_ids[]={}", f.bob)).await;
    assert_eq!(rows(&body), [row(1, "-", &f.bob, "-", "-")]);
    let (_, body) = f.server.get("/oncalls?schedule_ids[]=null").await;
    let users: Vec<String> = rows(&body).into_iter().map(|r| r.2).collect();
    assert_eq!(users, [f.bob.clone(), f.server.owner_id.clone()]);
    let (_, body) = f.server.get(&format!("/oncalls?schedule_ids[]={}", f.schedule)).await;
    assert_eq!(rows(&body), [row(1, &f.schedule, &f.ada, "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")]);
    let (_, body) = f.server.get(&format!("/oncalls?escalation_policy_ids[]={other}")).await;
    assert_eq!(rows(&body), [row(1, "-", &f.bob, "-", "-")]);
    let (_, body) =
        f.server.get(&format!("/oncalls?escalation_policy_ids[]={}&time_zone=America/New_York", f.policy)).await;
    assert_eq!(body["oncalls"][0]["start"], "2025-02-28T19:00:00-05:00");
}

#[tokio::test]
async fn until_is_at_most_90_days_ahead_and_not_before_since() {
    let f = fixture().await;
    let (status, _) = f.server.get("/oncalls?until=2025-05-30T12:00:00Z").await;
    assert_eq!(status, 200, "exactly 90 days ahead is allowed");
    let (status, body) = f.server.get("/oncalls?until=2025-05-30T12:00:01Z").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("until"), "{body}");
    let (status, body) = f.server.get("/oncalls?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("until must not be before since"), "{body}");
    let (status, body) = f.server.get("/oncalls?since=yesterday").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("since"), "{body}");
    let (status, body) = f.server.get("/oncalls?time_zone=Mars/Olympus").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("time_zone"), "{body}");
    let (status, body) = f.server.get("/oncalls?include[]=services").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("include[]"), "{body}");
}

#[tokio::test]
async fn include_expands_policies_users_and_schedules_into_full_objects() {
    let f = fixture().await;
    let path = format!(
        "/oncalls?escalation_policy_ids[]={}&include[]=escalation_policies&include[]=users&include[]=schedules",
        f.policy
    );
    let (status, body) = f.server.get(&path).await;
    assert_eq!(status, 200, "{body}");
    let first = &body["oncalls"][0];
    assert_eq!(first["escalation_policy"]["type"], "escalation_policy");
    assert_eq!(first["escalation_policy"]["escalation_rules"].as_array().unwrap().len(), 2);
    assert_eq!(first["user"]["type"], "user");
    assert_eq!(first["user"]["email"], "ada@klaxon.test");
    assert_eq!(first["schedule"]["type"], "schedule");
    assert_eq!(first["schedule"]["time_zone"], "UTC");
    assert_eq!(body["oncalls"][1]["user"]["email"], OWNER_EMAIL);
    assert!(body["oncalls"][1]["schedule"].is_null());
}

#[tokio::test]
async fn oncalls_are_paginated_with_offset_and_total() {
    let f = fixture().await;
    let base = format!("/oncalls?escalation_policy_ids[]={}&until=2025-03-04T12:00:00Z", f.policy);
    let (_, all) = f.server.get(&base).await;
    let all = rows(&all);
    let (status, page) = f.server.get(&format!("{base}&limit=2&total=true")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!((page["more"].clone(), page["total"].clone()), (json!(true), json!(5)));
    assert_eq!(rows(&page), all[..2]);
    let (_, last) = f.server.get(&format!("{base}&limit=2&offset=4")).await;
    assert_eq!(last["more"], false);
    assert_eq!(rows(&last), all[4..]);
}

#[tokio::test]
async fn the_openapi_document_describes_oncalls() {
    let f = fixture().await;
    let (status, doc) = send(f.server.anon(reqwest::Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/oncalls"]["get"].is_object());
}
