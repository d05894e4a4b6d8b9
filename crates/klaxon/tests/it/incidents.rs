//! The incidents REST API: manual incidents, status changes, bulk updates, merge, snooze, notes, log
//! entries and alerts, with PagerDuty's shapes and errors.

use crate::common::*;
use klaxon_core::role::Role;
use klaxon_store::testing::{SeedOptions, Seeded, seed_incident, seed_service};
use reqwest::Method;
use serde_json::{Value, json};

async fn seeded(server: &TestServer) -> Seeded {
    seed_service(&server.store, &SeedOptions::default(), server.app.now_ms()).await.unwrap()
}

async fn manual(server: &TestServer, s: &Seeded, title: &str) -> Value {
    let (status, body) = server
        .post(
            "/incidents",
            json!({"incident": {"type": "incident", "title": title,
            "service": {"id": s.service_id, "type": "service_reference"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["incident"].clone()
}

async fn put_status(server: &TestServer, id: &str, status: &str) -> (u16, Value) {
    server.put(&format!("/incidents/{id}"), json!({"incident": {"type": "incident_reference", "status": status}})).await
}

#[tokio::test]
async fn a_manual_incident_is_assigned_through_the_services_policy() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let incident = manual(&server, &s, "Checkout is down").await;
    assert_eq!(incident["type"], "incident");
    assert_eq!(incident["status"], "triggered");
    assert_eq!(incident["urgency"], "high");
    assert_eq!(incident["summary"], format!("[#{}] Checkout is down", incident["incident_number"]));
    assert_eq!(incident["service"]["id"], s.service_id.as_str());
    assert_eq!(incident["service"]["type"], "service_reference");
    assert_eq!(incident["escalation_policy"]["id"], s.escalation_policy_id.as_str());
    assert_eq!(incident["assignments"][0]["assignee"]["id"], s.user_id.as_str());
    assert_eq!(incident["assigned_via"], "escalation_policy");
    assert_eq!(incident["acknowledgements"], json!([]));
    assert!(incident["self"].as_str().unwrap().starts_with(&server.url));
    assert_eq!(incident["first_trigger_log_entry"]["type"], "trigger_log_entry_reference");
}

#[tokio::test]
async fn incident_numbers_increase_without_gaps() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let first = manual(&server, &s, "one").await["incident_number"].as_i64().unwrap();
    let (status, _) =
        server.post("/incidents", json!({"incident": {"title": "bad", "service": {"id": "PNOPE00"}}})).await;
    assert_eq!(status, 400);
    let second = manual(&server, &s, "two").await["incident_number"].as_i64().unwrap();
    assert_eq!(second, first + 1);
}

#[tokio::test]
async fn creating_an_incident_with_an_account_key_needs_from() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let (status, body) = send(
        server
            .with_key(&server.key, Method::POST, "/incidents")
            .json(&json!({"incident": {"title": "x", "service": {"id": s.service_id}}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 2011);
}

#[tokio::test]
async fn creating_an_incident_names_bad_fields() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let (status, body) = server.post("/incidents", json!({"incident": {"service": {"id": s.service_id}}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("incident.title"), "{body}");
    let (status, body) =
        server.post("/incidents", json!({"incident": {"title": "x", "service": {"id": "PNOPE00"}}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("incident.service.id"), "{body}");
    let (status, body) = server
        .post("/incidents", json!({"incident": {"title": "x", "service": {"id": s.service_id}, "urgency": "urgent"}}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("incident.urgency"), "{body}");
}

#[tokio::test]
async fn an_open_incident_key_cannot_be_reused_on_the_same_service() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let body = json!({"incident": {"title": "x", "service": {"id": s.service_id}, "incident_key": "db/down"}});
    assert_eq!(server.post("/incidents", body.clone()).await.0, 201);
    let (status, err) = server.post("/incidents", body).await;
    assert_eq!(status, 400, "{err}");
    assert!(error_text(&err).contains("incident_key"), "{err}");
}

#[tokio::test]
async fn assigning_a_new_incident_only_to_yourself_creates_it_acknowledged() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let (me, token) = server.user_with_token("me@klaxon.test", Role::User).await;
    let (status, body) = send(server.with_key(&token, Method::POST, "/incidents").json(&json!({"incident": {
        "title": "mine", "service": {"id": s.service_id},
        "assignments": [{"assignee": {"id": me, "type": "user_reference"}}]}})))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["incident"]["status"], "acknowledged");
    assert_eq!(body["incident"]["assigned_via"], "direct_assignment");
    assert_eq!(body["incident"]["acknowledgements"][0]["acknowledger"]["id"], me.as_str());
}

#[tokio::test]
async fn incidents_can_be_fetched_by_number() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let incident = manual(&server, &s, "by number").await;
    let (status, body) = server.get(&format!("/incidents/{}", incident["incident_number"])).await;
    assert_eq!(status, 200);
    assert_eq!(body["incident"]["id"], incident["id"]);
    assert_eq!(server.get("/incidents/PNOSUCH").await.0, 404);
}

#[tokio::test]
async fn acknowledging_records_the_acknowledger_and_schedules_the_ack_timeout() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let s = seeded(&server).await;
    let incident = manual(&server, &s, "ack me").await;
    let id = incident["id"].as_str().unwrap();
    let (status, body) = put_status(&server, id, "acknowledged").await;
    assert_eq!(status, 200, "{body}");
    let inc = &body["incident"];
    assert_eq!(inc["status"], "acknowledged");
    assert_eq!(inc["acknowledgements"][0]["acknowledger"]["id"], server.owner_id.as_str());
    assert_eq!(inc["last_status_change_by"]["id"], server.owner_id.as_str());
    let pending: Vec<_> = inc["pending_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["type"].as_str().unwrap(), a["at"].as_str().unwrap()))
        .collect();
    assert!(pending.contains(&("unacknowledge", "2026-01-01T00:30:00Z")), "{pending:?}");
}

#[tokio::test]
async fn resolving_clears_assignments_resolves_alerts_and_cannot_happen_twice() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = seed_incident(&server.store, &s, "triggered", server.app.now_ms()).await.unwrap();
    let (status, body) = server
        .put(
            &format!("/incidents/{id}"),
            json!({"incident": {"type": "incident", "status": "resolved", "resolution": "rolled back"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["status"], "resolved");
    assert_eq!(body["incident"]["assignments"], json!([]));
    assert!(body["incident"]["resolved_at"].is_string());
    assert_eq!(body["incident"]["alert_counts"], json!({"all": 1, "triggered": 0, "resolved": 1}));
    assert_eq!(body["incident"]["pending_actions"], json!([]));
    let (status, body) = put_status(&server, &id, "resolved").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 1001);
    let (_, log) = server.get(&format!("/incidents/{id}/log_entries")).await;
    let resolve = log["log_entries"].as_array().unwrap().iter().find(|e| e["type"] == "resolve_log_entry").unwrap();
    assert_eq!(resolve["note"], "rolled back");
}

#[tokio::test]
async fn a_resolved_incident_reopens_assigned_through_its_policy() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "flappy").await["id"].as_str().unwrap().to_string();
    put_status(&server, &id, "resolved").await;
    let (status, body) = put_status(&server, &id, "triggered").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["status"], "triggered");
    assert!(body["incident"]["resolved_at"].is_null());
    assert_eq!(body["incident"]["assignments"][0]["assignee"]["id"], s.user_id.as_str());
}

#[tokio::test]
async fn an_unknown_status_is_error_1003() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "x").await["id"].as_str().unwrap().to_string();
    let (status, body) = put_status(&server, &id, "snoozed").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 1003);
}

#[tokio::test]
async fn bulk_updates_apply_all_or_nothing() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let a = manual(&server, &s, "a").await["id"].as_str().unwrap().to_string();
    let b = manual(&server, &s, "b").await["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .put(
            "/incidents",
            json!({"incidents": [
            {"id": a, "type": "incident_reference", "status": "acknowledged"},
            {"id": "PNOSUCH", "type": "incident_reference", "status": "acknowledged"}]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("incidents[1].id"), "{body}");
    assert_eq!(server.get(&format!("/incidents/{a}")).await.1["incident"]["status"], "triggered");
    let (status, body) = server
        .put(
            "/incidents",
            json!({"incidents": [
            {"id": a, "type": "incident_reference", "status": "acknowledged"},
            {"id": b, "type": "incident_reference", "status": "resolved"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<_> =
        body["incidents"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["acknowledged", "resolved"]);
}

#[tokio::test]
async fn more_than_250_incidents_in_one_bulk_update_is_a_413() {
    let server = TestServer::start().await;
    let items: Vec<_> = (0..251).map(|i| json!({"id": format!("P{i:06}"), "status": "resolved"})).collect();
    let (status, body) = server.put("/incidents", json!({"incidents": items})).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn listing_filters_by_status_urgency_service_and_key() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let other = seeded(&server).await;
    let a = manual(&server, &s, "a").await;
    let b = manual(&server, &other, "b").await;
    put_status(&server, b["id"].as_str().unwrap(), "acknowledged").await;
    let ids = |body: &Value| {
        body["incidents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (_, body) = server.get("/incidents?statuses[]=acknowledged").await;
    assert_eq!(ids(&body), [b["id"].as_str().unwrap()]);
    let (_, body) = server.get(&format!("/incidents?service_ids[]={}", s.service_id)).await;
    assert_eq!(ids(&body), [a["id"].as_str().unwrap()]);
    let (_, body) = server.get(&format!("/incidents?incident_key={}", a["incident_key"].as_str().unwrap())).await;
    assert_eq!(ids(&body), [a["id"].as_str().unwrap()]);
    let (_, body) = server.get("/incidents?urgencies[]=low").await;
    assert!(ids(&body).is_empty());
    let (_, body) = server.get("/incidents?total=true&limit=1").await;
    assert_eq!((body["total"].as_i64(), body["more"].as_bool()), (Some(2), Some(true)));
    let (status, body) = server.get("/incidents?statuses[]=sleeping").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("statuses[]"), "{body}");
}

#[tokio::test]
async fn listing_defaults_to_the_last_month_unless_date_range_is_all() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let s = seeded(&server).await;
    manual(&server, &s, "old").await;
    server.clock().advance(jiff::SignedDuration::from_hours(24 * 40));
    manual(&server, &s, "new").await;
    let (_, body) = server.get("/incidents").await;
    assert_eq!(body["incidents"].as_array().unwrap().len(), 1);
    let (_, body) = server.get("/incidents?date_range=all").await;
    assert_eq!(body["incidents"].as_array().unwrap().len(), 2);
    let (status, body) = server.get("/incidents?since=2025-01-01&until=2026-01-01").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 2005);
}

#[tokio::test]
async fn merging_moves_alerts_and_resolves_the_sources() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let now = server.app.now_ms();
    let target = seed_incident(&server.store, &s, "triggered", now).await.unwrap();
    let source = seed_incident(&server.store, &s, "triggered", now).await.unwrap();
    let (status, body) = server
        .put(
            &format!("/incidents/{target}/merge"),
            json!({"source_incidents": [{"id": source, "type": "incident_reference"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["alert_counts"]["all"], 2);
    let (_, src) = server.get(&format!("/incidents/{source}")).await;
    assert_eq!(src["incident"]["status"], "resolved");
    assert_eq!(src["incident"]["resolve_reason"]["type"], "merge_resolve_reason");
    assert_eq!(src["incident"]["resolve_reason"]["incident"]["id"], target.as_str());
    let (status, body) = server
        .put(
            &format!("/incidents/{target}/merge"),
            json!({"source_incidents": [{"id": source, "type": "incident_reference"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 1019);
}

#[tokio::test]
async fn snooze_needs_an_acknowledged_incident_and_moves_the_ack_timeout() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let s = seeded(&server).await;
    let id = seed_incident(&server.store, &s, "triggered", server.app.now_ms()).await.unwrap();
    let (status, body) = server.post(&format!("/incidents/{id}/snooze"), json!({"duration": 3600})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 1012);
    put_status(&server, &id, "acknowledged").await;
    let (status, body) = server.post(&format!("/incidents/{id}/snooze"), json!({"duration": 0})).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(1013)));
    let (status, body) = server.post(&format!("/incidents/{id}/snooze"), json!({"duration": 7200})).await;
    assert_eq!(status, 201, "{body}");
    let pending = &body["incident"]["pending_actions"];
    assert!(
        pending.as_array().unwrap().iter().any(|a| a["type"] == "unacknowledge" && a["at"] == "2026-01-01T02:00:00Z"),
        "{pending}"
    );
}

#[tokio::test]
async fn notes_are_added_listed_and_logged() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "noted").await["id"].as_str().unwrap().to_string();
    let (status, body) =
        server.post(&format!("/incidents/{id}/notes"), json!({"note": {"content": "Rolled back 1.2.3"}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["note"]["content"], "Rolled back 1.2.3");
    assert_eq!(body["note"]["user"]["id"], server.owner_id.as_str());
    let (_, list) = server.get(&format!("/incidents/{id}/notes")).await;
    assert_eq!(list["notes"].as_array().unwrap().len(), 1);
    let (status, body) = server.post(&format!("/incidents/{id}/notes"), json!({"note": {}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("note.content"), "{body}");
    let (_, log) = server.get(&format!("/incidents/{id}/log_entries")).await;
    assert_eq!(log["log_entries"][0]["type"], "annotate_log_entry");
}

#[tokio::test]
async fn the_timeline_lists_newest_first_with_agents_and_channels() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "timeline").await["id"].as_str().unwrap().to_string();
    put_status(&server, &id, "acknowledged").await;
    put_status(&server, &id, "resolved").await;
    let (status, body) = server.get(&format!("/incidents/{id}/log_entries")).await;
    assert_eq!(status, 200);
    let types: Vec<_> = body["log_entries"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["resolve_log_entry", "acknowledge_log_entry", "notify_log_entry", "assign_log_entry", "trigger_log_entry"]
    );
    let trigger = &body["log_entries"][4];
    assert_eq!(trigger["agent"]["id"], server.owner_id.as_str());
    assert_eq!(trigger["channel"]["type"], "api");
    let (status, one) = server.get(&format!("/log_entries/{}", trigger["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert_eq!(one["log_entry"]["type"], "trigger_log_entry");
    let (_, all) = server.get("/log_entries?is_overview=true").await;
    assert!(all["log_entries"].as_array().unwrap().len() >= 4);
}

#[tokio::test]
async fn resolving_the_last_alert_resolves_the_incident() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = seed_incident(&server.store, &s, "triggered", server.app.now_ms()).await.unwrap();
    let (status, body) = server.get(&format!("/incidents/{id}/alerts")).await;
    assert_eq!(status, 200);
    let alert = body["alerts"][0].clone();
    assert_eq!(alert["type"], "alert");
    assert_eq!(alert["body"]["type"], "alert_body");
    assert_eq!(alert["trigger_count"], 1);
    let alert_id = alert["id"].as_str().unwrap();
    let (status, body) = server
        .put(&format!("/incidents/{id}/alerts/{alert_id}"), json!({"alert": {"type": "alert", "status": "resolved"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["status"], "resolved");
    assert_eq!(server.get(&format!("/incidents/{id}")).await.1["incident"]["status"], "resolved");
}

#[tokio::test]
async fn priorities_are_set_by_reference_or_by_name_and_cleared_by_null() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "prio").await["id"].as_str().unwrap().to_string();
    let (status, body) =
        server.put(&format!("/incidents/{id}"), json!({"incident": {"type": "incident", "priority": "P2"}})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["priority"]["name"], "P2");
    let (_, body) = server
        .put(
            &format!("/incidents/{id}"),
            json!({"incident": {"priority": {"id": "PPRIOP1", "type": "priority_reference"}}}),
        )
        .await;
    assert_eq!(body["incident"]["priority"]["name"], "P1");
    let (_, body) = server.put(&format!("/incidents/{id}"), json!({"incident": {"priority": null}})).await;
    assert!(body["incident"]["priority"].is_null());
    let (status, body) = server.put(&format!("/incidents/{id}"), json!({"incident": {"priority": "P9"}})).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(1020)));
}

#[tokio::test]
async fn escalating_past_the_last_level_is_error_1006_and_reassigning_is_direct() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "escalate").await["id"].as_str().unwrap().to_string();
    let (status, body) = server.put(&format!("/incidents/{id}"), json!({"incident": {"escalation_level": 2}})).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(1006)));
    let (other, _) = server.user_with_token("other@klaxon.test", Role::User).await;
    let (status, body) = server
        .put(
            &format!("/incidents/{id}"),
            json!({"incident": {"assignments": [{"assignee": {"id": other, "type": "user_reference"}}]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["assigned_via"], "direct_assignment");
    assert_eq!(body["incident"]["assignments"][0]["assignee"]["id"], other.as_str());
}

#[tokio::test]
async fn observers_and_read_only_keys_cannot_act_on_incidents() {
    let server = TestServer::start().await;
    let s = seeded(&server).await;
    let id = manual(&server, &s, "guarded").await["id"].as_str().unwrap().to_string();
    let (_, observer) = server.user_with_token("watcher@klaxon.test", Role::Observer).await;
    let body = json!({"incident": {"status": "acknowledged"}});
    let (status, _) = send(server.with_key(&observer, Method::PUT, &format!("/incidents/{id}")).json(&body)).await;
    assert_eq!(status, 403);
    let ro = server.read_only_key().await;
    let (status, _) =
        send(server.with_key(&ro, Method::PUT, &format!("/incidents/{id}")).header("From", OWNER_EMAIL).json(&body))
            .await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&observer, Method::GET, &format!("/incidents/{id}"))).await;
    assert_eq!(status, 200);
}
