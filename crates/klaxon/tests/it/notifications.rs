//! Notification intents: each assignment records, per assigned user, one pending intent per notification
//! rule of the incident's urgency; acknowledging, resolving or unassigning cancels the pending ones; and
//! `GET /notifications` lists them in PagerDuty's shape. Time moves only through the ManualClock.

use crate::common::*;
use jiff::Timestamp;
use klaxon_core::incident::Status;
use klaxon_core::role::Role;
use klaxon_store::testing::{SeedOptions, Seeded, TestOrg};
use serde_json::{Value, json};

fn start_time() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

const WINDOW: &str = "since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z";

/// Two users (each with the default immediate email rule), a policy paging each on its own level 30
/// minutes apart, and a service with an Events API integration.
async fn setup() -> (TestServer, Seeded, [String; 2]) {
    let server = TestServer::start_with_clock(start_time()).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    let a = org.user("Ada Lovelace", Role::User).await.unwrap().id;
    let b = org.user("Bob Level Two", Role::User).await.unwrap().id;
    let policy = org.policy("Two levels", &[&[a.as_str()], &[b.as_str()]]).await.unwrap();
    let (service_id, integration_id, integration_key) = org.service(&policy, &SeedOptions::default()).await.unwrap();
    let seeded =
        Seeded { user_id: a.clone(), escalation_policy_id: policy, service_id, integration_id, integration_key };
    (server, seeded, [a, b])
}

/// Adds an SMS contact method (+1 555 555 1234) and a rule paging it after `delay` minutes at `urgency`.
async fn sms_rule(server: &TestServer, user: &str, delay: i64, urgency: &str) {
    let (status, body) = server
        .post(
            &format!("/users/{user}/contact_methods"),
            json!({"contact_method": {"type": "sms_contact_method", "label": "Mobile", "address": "5555551234",
                                      "country_code": 1}}),
        )
        .await;
    let cm = match status {
        201 => body["contact_method"]["id"].as_str().unwrap().to_string(),
        // Already there (a second rule on the same method).
        _ => {
            let (_, list) = server.get(&format!("/users/{user}/contact_methods")).await;
            list["contact_methods"].as_array().unwrap().iter().find(|c| c["type"] == "sms_contact_method").unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (status, body) = server
        .post(
            &format!("/users/{user}/notification_rules"),
            json!({"notification_rule": {"type": "assignment_notification_rule", "start_delay_in_minutes": delay,
                   "urgency": urgency, "contact_method": {"id": cm, "type": "sms_contact_method"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn trigger(server: &TestServer, seeded: &Seeded, key: &str) -> String {
    let (status, body) = server.enqueue(v2_trigger(&seeded.integration_key, key)).await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    let (_, list) = server.get(&format!("/incidents?incident_key={key}")).await;
    list["incidents"][0]["id"].as_str().expect("the incident").to_string()
}

async fn notifications(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/notifications?{WINDOW}&{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

fn summary(items: &[Value]) -> Vec<(String, String, String, String)> {
    items
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap().to_string(),
                n["user"]["id"].as_str().unwrap().to_string(),
                n["started_at"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn put_status(server: &TestServer, incident: &str, status: &str) {
    let (code, body) = server
        .put(&format!("/incidents/{incident}"), json!({"incident": {"type": "incident", "status": status}}))
        .await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn a_new_incident_records_a_pending_intent_per_rule_of_its_assignee_each_after_its_delay() {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    let incident = trigger(&server, &seeded, "disk").await;

    let items = notifications(&server, "").await;
    assert_eq!(
        summary(&items),
        vec![
            ("email_notification".into(), a.clone(), "2026-03-01T12:00:00Z".into(), "pending".into()),
            ("sms_notification".into(), a.clone(), "2026-03-01T12:05:00Z".into(), "pending".into()),
        ]
    );
    assert_eq!(items[0]["address"], "ada.lovelace@klaxon.test");
    assert_eq!(items[1]["address"], "+15555551234");
    assert_eq!(items[0]["incident"]["id"], incident.as_str());
    assert_eq!(items[0]["incident"]["type"], "incident_reference");
    assert_eq!(items[0]["user"]["type"], "user_reference");
    assert_eq!(items[0]["user"]["summary"], "Ada Lovelace");
    assert_eq!(items[0]["kind"], "assignment");
    assert!(items[0]["failure_reason"].is_null());
}

#[tokio::test]
async fn each_intent_has_a_notify_log_entry_on_the_incident() {
    let (server, seeded, [a, _]) = setup().await;
    let incident = trigger(&server, &seeded, "disk").await;
    let (_, body) = server.get(&format!("/incidents/{incident}/log_entries")).await;
    let notify: Vec<&Value> =
        body["log_entries"].as_array().unwrap().iter().filter(|e| e["type"] == "notify_log_entry").collect();
    assert_eq!(notify.len(), 1);
    assert_eq!(notify[0]["user"]["id"], a.as_str());
    assert_eq!(notify[0]["notification"]["type"], "email_notification");
    assert_eq!(notify[0]["notification"]["status"], "pending");
    assert_eq!(notify[0]["notification"]["address"], "ada.lovelace@klaxon.test");
    assert_eq!(notify[0]["summary"], "Notifying Ada Lovelace by email");
}

#[tokio::test]
async fn acknowledging_cancels_the_pending_intents() {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    let incident = trigger(&server, &seeded, "disk").await;
    server.advance_secs(60);
    put_status(&server, &incident, "acknowledged").await;
    let statuses: Vec<String> = summary(&notifications(&server, "").await).into_iter().map(|s| s.3).collect();
    // The email was due at once (delivered by then); the SMS due in 5 minutes is not sent.
    assert_eq!(statuses, ["pending", "cancelled"]);
}

/// The statuses of the intents after an Events API `action` on a new incident whose user has an SMS rule
/// 5 minutes out (the immediate email is due, the SMS is not).
async fn statuses_after_event(action: &str) -> Vec<String> {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    trigger(&server, &seeded, "disk").await;
    let (status, _) = server.enqueue(v2_action(&seeded.integration_key, action, "disk")).await;
    assert_eq!(status, 202);
    server.events_processed().await;
    summary(&notifications(&server, "").await).into_iter().map(|s| s.3).collect()
}

#[tokio::test]
async fn resolving_through_the_events_api_cancels_the_pending_intents() {
    assert_eq!(statuses_after_event("resolve").await, ["pending", "cancelled"]);
}

#[tokio::test]
async fn acknowledging_through_the_events_api_cancels_the_pending_intents() {
    assert_eq!(statuses_after_event("acknowledge").await, ["pending", "cancelled"]);
}

#[tokio::test]
async fn an_escalation_step_pages_the_next_level_and_cancels_what_was_pending_for_the_previous_one() {
    let (server, seeded, [a, b]) = setup().await;
    sms_rule(&server, &a, 45, "high").await;
    trigger(&server, &seeded, "disk").await;
    server.advance_secs(30 * 60);
    server.run_jobs().await;
    let got = summary(&notifications(&server, "").await);
    // Already due when the incident escalated: the delivery engine's, not cancelled.
    assert!(got.contains(&("email_notification".into(), a.clone(), "2026-03-01T12:00:00Z".into(), "pending".into())));
    assert!(got.contains(&("sms_notification".into(), a.clone(), "2026-03-01T12:45:00Z".into(), "cancelled".into())));
    assert!(got.contains(&("email_notification".into(), b.clone(), "2026-03-01T12:30:00Z".into(), "pending".into())));
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn an_acknowledgement_that_times_out_pages_the_assignee_again() {
    let server = TestServer::start_with_clock(start_time()).await;
    let org = TestOrg::new(&server.store, server.app.now_ms());
    let a = org.user("Ada Lovelace", Role::User).await.unwrap().id;
    let policy = org.policy("One level", &[&[a.as_str()]]).await.unwrap();
    let options = SeedOptions { acknowledgement_timeout: Some(600), ..SeedOptions::default() };
    let (service_id, integration_id, integration_key) = org.service(&policy, &options).await.unwrap();
    let seeded =
        Seeded { user_id: a.clone(), escalation_policy_id: policy, service_id, integration_id, integration_key };
    let incident = org.incident(&seeded, Status::Acknowledged, &a).await.unwrap();
    server.advance_secs(600);
    server.run_jobs().await;
    let (_, body) = server.get(&format!("/incidents/{incident}")).await;
    assert_eq!(body["incident"]["status"], "triggered");
    let got = summary(&notifications(&server, "").await);
    assert_eq!(
        got,
        vec![
            ("email_notification".into(), a.clone(), "2026-03-01T12:00:00Z".into(), "pending".into()),
            ("email_notification".into(), a.clone(), "2026-03-01T12:10:00Z".into(), "pending".into()),
        ]
    );
}

#[tokio::test]
async fn reassigning_pages_the_new_assignee_and_cancels_the_old_ones_pending_intents() {
    let (server, seeded, [a, b]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    let incident = trigger(&server, &seeded, "disk").await;
    server.advance_secs(60);
    let (code, body) = server
        .put(
            &format!("/incidents/{incident}"),
            json!({"incident": {"type": "incident",
                   "assignments": [{"assignee": {"id": b, "type": "user_reference"}}]}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let got = summary(&notifications(&server, "").await);
    assert_eq!(
        got,
        vec![
            ("email_notification".into(), a.clone(), "2026-03-01T12:00:00Z".into(), "pending".into()),
            ("email_notification".into(), b.clone(), "2026-03-01T12:01:00Z".into(), "pending".into()),
            ("sms_notification".into(), a.clone(), "2026-03-01T12:05:00Z".into(), "cancelled".into()),
        ]
    );
}

#[tokio::test]
async fn a_low_urgency_incident_follows_the_low_urgency_rules_only() {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 0, "low").await;
    let (status, body) = server
        .post(
            "/incidents",
            json!({"incident": {"type": "incident", "title": "slow disk", "urgency": "low",
                   "service": {"id": seeded.service_id, "type": "service_reference"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let got = summary(&notifications(&server, "").await);
    assert_eq!(got, vec![("sms_notification".into(), a, "2026-03-01T12:00:00Z".into(), "pending".into())]);
}

#[tokio::test]
async fn a_rule_added_later_does_not_page_for_an_incident_already_assigned() {
    let (server, seeded, [a, _]) = setup().await;
    trigger(&server, &seeded, "disk").await;
    sms_rule(&server, &a, 0, "high").await;
    assert_eq!(notifications(&server, "").await.len(), 1);
}

#[tokio::test]
async fn notifications_filter_by_type_and_expand_users() {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    trigger(&server, &seeded, "disk").await;
    let sms = notifications(&server, "filter=sms_notification&include[]=users").await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["type"], "sms_notification");
    assert_eq!(sms[0]["user"]["type"], "user");
    assert_eq!(sms[0]["user"]["email"], "ada.lovelace@klaxon.test");
}

#[tokio::test]
async fn notifications_print_in_the_requested_time_zone() {
    let (server, seeded, _) = setup().await;
    trigger(&server, &seeded, "disk").await;
    let items = notifications(&server, "time_zone=Europe/Berlin").await;
    assert_eq!(items[0]["started_at"], "2026-03-01T13:00:00+01:00");
}

#[tokio::test]
async fn notifications_are_paged_by_offset_with_a_total() {
    let (server, seeded, [a, _]) = setup().await;
    sms_rule(&server, &a, 5, "high").await;
    trigger(&server, &seeded, "disk").await;
    let (status, body) = server.get(&format!("/notifications?{WINDOW}&limit=1&total=true")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(body["more"], true);
    assert_eq!(body["total"], 2);
    let (_, body) = server.get(&format!("/notifications?{WINDOW}&limit=1&offset=1")).await;
    assert_eq!(body["notifications"][0]["type"], "sms_notification");
    assert_eq!(body["more"], false);
}

#[tokio::test]
async fn the_window_includes_since_and_excludes_until() {
    let (server, seeded, _) = setup().await;
    trigger(&server, &seeded, "disk").await;
    let (_, body) = server.get("/notifications?since=2026-03-01T12:00:00Z&until=2026-03-01T12:00:01Z").await;
    assert_eq!(body["notifications"].as_array().unwrap().len(), 1);
    let (_, body) = server.get("/notifications?since=2026-03-01T11:00:00Z&until=2026-03-01T12:00:00Z").await;
    assert_eq!(body["notifications"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn since_and_until_are_required_and_at_most_three_months_apart() {
    let server = TestServer::start().await;
    for (query, field) in [
        ("until=2026-03-02T00:00:00Z", "since"),
        ("since=2026-03-01T00:00:00Z", "until"),
        ("since=2026-03-01T00:00:00Z&until=2026-06-01T00:00:01Z", "until"),
        ("since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", "until"),
        (&format!("{WINDOW}&filter=fax_notification"), "filter"),
        (&format!("{WINDOW}&time_zone=Mars/Olympus"), "time_zone"),
    ] {
        let (status, body) = server.get(&format!("/notifications?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(error_text(&body).contains(field), "{query}: {body}");
    }
    let (status, body) = server.get("/notifications?since=2026-03-01T00:00:00Z&until=2026-06-01T00:00:00Z").await;
    assert_eq!(status, 200, "exactly three months: {body}");
}
