//! On-call handoff notifications: the rules' CRUD (`/users/{id}/oncall_handoff_notification_rules`) and
//! the scan job that records an intent before each handoff. Time moves only through the ManualClock.

use crate::common::*;
use crate::oncalls::create_policy;
use klaxon_core::notification::{NotificationKind, NotificationStatus, NotificationType};
use klaxon_core::role::Role;
use klaxon_store::jobs::kinds;
use klaxon_store::notifications::NotificationRow as HandoffIntentRow;
use klaxon_store::testing::{SeedOptions, TestOrg};
use reqwest::Method;
use serde_json::{Value, json};

/// Every test starts on the Saturday before Berlin's clocks spring forward (2026-03-29, 02:00 → 03:00).
const START: &str = "2026-03-28T12:00:00Z";
/// The first handoff ahead: 09:00 in Berlin on the spring-forward Sunday (07:00 UTC), bob takes over.
const HANDOFF: &str = "2026-03-29T09:00:00+02:00";

fn ms(instant: &str) -> i64 {
    instant.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

async fn start() -> TestServer {
    TestServer::start_with_clock(START.parse().unwrap()).await
}

/// A user made through the REST API (with its default email contact method): (id, that method's id).
async fn user(server: &TestServer, name: &str) -> (String, String) {
    let email = format!("{name}@klaxon.test");
    let (status, body) = server.post("/users", json!({"user": {"name": name, "email": email}})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["user"]["id"].as_str().unwrap().to_string();
    let (_, methods) = server.get(&format!("/users/{id}/contact_methods")).await;
    (id, methods["contact_methods"][0]["id"].as_str().unwrap().to_string())
}

fn rules_path(user: &str) -> String {
    format!("/users/{user}/oncall_handoff_notification_rules")
}

fn rule_body(advance: Value, handoff_type: &str, method: &str) -> Value {
    json!({"oncall_handoff_notification_rule": {"notify_advance_in_minutes": advance, "handoff_type": handoff_type,
        "contact_method": {"id": method, "type": "email_contact_method_reference"}}})
}

/// Adds a rule; answers its id.
async fn add_rule(server: &TestServer, user: &str, method: &str, advance: i64, handoff_type: &str) -> String {
    let (status, body) = server.post(&rules_path(user), rule_body(json!(advance), handoff_type, method)).await;
    assert_eq!(status, 201, "{body}");
    body["oncall_handoff_notification_rule"]["id"].as_str().unwrap().to_string()
}

/// A schedule in Europe/Berlin rotating `users` daily at 09:00 local, the first of them from 2026-03-20.
/// On 2026-03-28 the first user is on call (eight turns later), from 2026-03-29 09:00 the second.
async fn berlin_rotation(server: &TestServer, users: &[&str]) -> String {
    let body = json!({"schedule": {"type": "schedule", "name": "Berlin mornings", "time_zone": "Europe/Berlin",
        "schedule_layers": [{"name": "Daily", "start": "2026-03-20T09:00:00+01:00",
            "rotation_virtual_start": "2026-03-20T09:00:00+01:00", "rotation_turn_length_seconds": 86400,
            "users": users.iter().map(|u| json!({"user": {"id": u, "type": "user_reference"}})).collect::<Vec<_>>()}]}});
    let (status, body) = server.post("/schedules", body).await;
    assert_eq!(status, 201, "{body}");
    body["schedule"]["id"].as_str().unwrap().to_string()
}

/// ann and bob in [`berlin_rotation`], on a server started at [`START`].
struct Rotation {
    server: TestServer,
    ann: String,
    ann_email: String,
    bob: String,
    bob_email: String,
    schedule: String,
}

async fn rotation() -> Rotation {
    let server = start().await;
    let (ann, ann_email) = user(&server, "ann").await;
    let (bob, bob_email) = user(&server, "bob").await;
    let schedule = berlin_rotation(&server, &[&ann, &bob]).await;
    Rotation { server, ann, ann_email, bob, bob_email, schedule }
}

/// A policy whose one level is `schedule`, and a service using it (so `if_has_services` notifies).
async fn policy_with_service(server: &TestServer, name: &str, schedule: &str) -> String {
    let policy = create_policy(server, name, &[json!([{"id": schedule, "type": "schedule_reference"}])]).await;
    TestOrg::new(&server.store, server.app.now_ms()).service(&policy, &SeedOptions::default()).await.unwrap();
    policy
}

/// Moves the clock to `at_ms` and runs what is due then (the scan among it).
async fn scan_at(server: &TestServer, at_ms: i64) {
    let now = server.app.now_ms();
    assert!(at_ms >= now, "the clock only moves forward");
    server.clock().advance(jiff::SignedDuration::from_millis(at_ms - now));
    server.run_jobs().await;
}

async fn intents(server: &TestServer, user: &str) -> Vec<HandoffIntentRow> {
    server.store.handoff_intents_of_user(user).await.unwrap()
}

/// `(kind, handoff, due)` of each intent of a user.
async fn seen(server: &TestServer, user: &str) -> Vec<(NotificationKind, i64, i64)> {
    intents(server, user).await.iter().map(|i| (i.kind, i.handoff_at.unwrap(), i.started_at)).collect()
}

const MIN: i64 = 60_000;

// ---- CRUD ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn handoff_rules_are_created_listed_read_updated_and_deleted_in_pagerdutys_shape() {
    let server = TestServer::start().await;
    let (ann, method) = user(&server, "ann").await;
    let body = json!({"oncall_handoff_notification_rule": {"notify_advance_in_minutes": 180,
        "contact_method": {"id": method, "type": "email_contact_method_reference"}}});
    let (status, created) = server.post(&rules_path(&ann), body).await;
    assert_eq!(status, 201, "{created}");
    let rule = &created["oncall_handoff_notification_rule"];
    let id = rule["id"].as_str().unwrap();
    assert_eq!(rule["type"], "oncall_handoff_notification_rule");
    assert_eq!(rule["notify_advance_in_minutes"], 180);
    assert_eq!(rule["handoff_type"], "both", "PagerDuty's default");
    assert_eq!(
        (&rule["contact_method"]["id"], &rule["contact_method"]["type"]),
        (&json!(method), &json!("email_contact_method_reference"))
    );
    assert_eq!(rule["self"], format!("{}/users/{ann}/oncall_handoff_notification_rules/{id}", server.url));

    let (status, list) = server.get(&format!("{}?total=true", rules_path(&ann))).await;
    assert_eq!(status, 200);
    assert_eq!(list["oncall_handoff_notification_rules"], json!([rule]));
    assert_eq!(
        (&list["limit"], &list["offset"], &list["more"], &list["total"]),
        (&json!(25), &json!(0), &json!(false), &json!(1))
    );

    let path = format!("{}/{id}", rules_path(&ann));
    let (status, got) = server.get(&path).await;
    assert_eq!((status, &got["oncall_handoff_notification_rule"]), (200, rule));

    let (status, updated) =
        server.put(&path, json!({"oncall_handoff_notification_rule": {"handoff_type": "offcall"}})).await;
    assert_eq!(status, 200, "{updated}");
    let updated = &updated["oncall_handoff_notification_rule"];
    assert_eq!((&updated["handoff_type"], &updated["notify_advance_in_minutes"]), (&json!("offcall"), &json!(180)));

    assert_eq!(server.delete(&path).await.0, 204);
    assert_eq!(server.get(&path).await.0, 404);
    assert_eq!(server.delete(&path).await.0, 404);
}

#[tokio::test]
async fn handoff_rules_page_with_limit_and_offset() {
    let server = TestServer::start().await;
    let (ann, method) = user(&server, "ann").await;
    let ids = [
        add_rule(&server, &ann, &method, 0, "both").await,
        add_rule(&server, &ann, &method, 5, "oncall").await,
        add_rule(&server, &ann, &method, 10, "offcall").await,
    ];
    let page = |body: &Value| -> Vec<String> {
        body["oncall_handoff_notification_rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, first) = server.get(&format!("{}?limit=2", rules_path(&ann))).await;
    assert_eq!((page(&first), &first["more"]), (ids[..2].to_vec(), &json!(true)));
    let (_, second) = server.get(&format!("{}?limit=2&offset=2", rules_path(&ann))).await;
    assert_eq!((page(&second), &second["more"]), (ids[2..].to_vec(), &json!(false)));
}

#[tokio::test]
async fn handoff_rule_fields_are_validated_naming_the_field() {
    let server = TestServer::start().await;
    let (ann, method) = user(&server, "ann").await;
    let reference = json!({"id": method});
    let cases = [
        (
            json!({"contact_method": reference}),
            "oncall_handoff_notification_rule.notify_advance_in_minutes is required",
        ),
        (
            json!({"notify_advance_in_minutes": -1, "contact_method": reference}),
            "notify_advance_in_minutes must be from 0 to 10080",
        ),
        (
            json!({"notify_advance_in_minutes": 10081, "contact_method": reference}),
            "notify_advance_in_minutes must be from 0 to 10080",
        ),
        (
            json!({"notify_advance_in_minutes": "soon", "contact_method": reference}),
            "oncall_handoff_notification_rule.notify_advance_in_minutes",
        ),
        (
            json!({"notify_advance_in_minutes": 5, "handoff_type": "sometimes", "contact_method": reference}),
            "oncall_handoff_notification_rule.handoff_type must be both, oncall or offcall",
        ),
        (json!({"notify_advance_in_minutes": 5}), "oncall_handoff_notification_rule.contact_method is required"),
    ];
    for (rule, expected) in cases {
        let (status, body) =
            server.post(&rules_path(&ann), json!({"oncall_handoff_notification_rule": rule.clone()})).await;
        assert_eq!(status, 400, "{rule}: {body}");
        assert!(error_text(&body).contains(expected), "{rule}: {body}");
    }
    let (status, body) = server.post(&rules_path(&ann), json!({"rule": {}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("oncall_handoff_notification_rule is required"), "{body}");
    let (status, body) = server.post(&rules_path(&ann), rule_body(json!(10080), "oncall", &method)).await;
    assert_eq!(status, 201, "a week ahead is allowed: {body}");
    assert!(intents(&server, &ann).await.is_empty(), "a rejected rule writes nothing, and rules alone record nothing");
}

#[tokio::test]
async fn a_handoff_rule_must_use_one_of_the_users_own_contact_methods() {
    let server = TestServer::start().await;
    let (ann, method) = user(&server, "ann").await;
    let (_, foreign) = user(&server, "bob").await;
    let (status, body) = server.post(&rules_path(&ann), rule_body(json!(5), "both", &foreign)).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("oncall_handoff_notification_rule.contact_method.id"), "{body}");
    let id = add_rule(&server, &ann, &method, 5, "both").await;
    let (status, body) = server
        .put(
            &format!("{}/{id}", rules_path(&ann)),
            json!({"oncall_handoff_notification_rule": {"contact_method": {"id": foreign}}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("oncall_handoff_notification_rule.contact_method.id"), "{body}");
}

#[tokio::test]
async fn a_user_may_change_their_own_handoff_rules_but_not_another_users() {
    let server = TestServer::start().await;
    let (me, token) = server.user_with_token("me@klaxon.test", Role::User).await;
    let (_, mine) = server.get(&format!("/users/{me}/contact_methods")).await;
    let my_method = mine["contact_methods"][0]["id"].as_str().unwrap().to_string();
    let (other, other_method) = user(&server, "other").await;
    let (status, _) = send(server.with_key(&token, Method::POST, &rules_path(&other)).json(&rule_body(
        json!(5),
        "both",
        &other_method,
    )))
    .await;
    assert_eq!(status, 403);
    let (status, body) =
        send(server.with_key(&token, Method::POST, &rules_path(&me)).json(&rule_body(json!(5), "both", &my_method)))
            .await;
    assert_eq!(status, 201, "{body}");
    let id = body["oncall_handoff_notification_rule"]["id"].as_str().unwrap();
    let theirs = add_rule(&server, &other, &other_method, 5, "both").await;
    let (status, _) = send(server.with_key(&token, Method::DELETE, &format!("{}/{theirs}", rules_path(&other)))).await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&token, Method::GET, &format!("{}/{theirs}", rules_path(&other)))).await;
    assert_eq!(status, 200, "reading needs no permission to edit");
    let (status, _) = send(server.with_key(&token, Method::DELETE, &format!("{}/{id}", rules_path(&me)))).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn deleting_a_contact_method_deletes_the_handoff_rules_that_use_it() {
    let server = TestServer::start().await;
    let (ann, email) = user(&server, "ann").await;
    let sms = json!({"contact_method": {"type": "sms_contact_method", "label": "Mobile", "address": "15550100", "country_code": 49}});
    let (status, body) = server.post(&format!("/users/{ann}/contact_methods"), sms).await;
    assert_eq!(status, 201, "{body}");
    let sms = body["contact_method"]["id"].as_str().unwrap().to_string();
    add_rule(&server, &ann, &sms, 5, "both").await;
    let kept = add_rule(&server, &ann, &email, 5, "both").await;
    assert_eq!(server.delete(&format!("/users/{ann}/contact_methods/{sms}")).await.0, 204);
    let (_, list) = server.get(&rules_path(&ann)).await;
    let ids: Vec<&str> = list["oncall_handoff_notification_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [kept.as_str()]);
}

#[tokio::test]
async fn unknown_users_have_no_handoff_rules() {
    let server = TestServer::start().await;
    let (status, body) = server.get(&rules_path("PNOBODY")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = server.post(&rules_path("PNOBODY"), rule_body(json!(5), "both", "PX")).await;
    assert_eq!(status, 404);
}

// ---- Recording intents ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_server_keeps_one_scan_job_in_its_own_queue_rescheduled_a_minute_after_each_run() {
    let server = start().await;
    let job = server.store.job_by_key(kinds::HANDOFF_SCAN_KEY).await.unwrap().expect("scheduled at start");
    assert_eq!((job.kind.as_str(), job.queue.as_str()), (kinds::HANDOFF_SCAN, kinds::HANDOFF_QUEUE));
    server.advance_secs(60);
    server.run_jobs().await;
    let next = server.store.job_by_key(kinds::HANDOFF_SCAN_KEY).await.unwrap().expect("rescheduled");
    assert_eq!(next.due_at, server.app.now_ms() + MIN);
    let live: Vec<_> =
        server.store.pending_jobs().await.unwrap().into_iter().filter(|j| j.kind == kinds::HANDOFF_SCAN).collect();
    assert_eq!(live.len(), 1, "one live scan");
}

#[tokio::test]
async fn intents_are_recorded_before_a_daily_09_00_berlin_handoff_for_the_outgoing_and_the_incoming_user() {
    let Rotation { server, ann, ann_email, bob, bob_email, schedule } = rotation().await;
    let policy = policy_with_service(&server, "Mornings", &schedule).await;
    let ann_rule = add_rule(&server, &ann, &ann_email, 15, "both").await;
    let bob_rule = add_rule(&server, &bob, &bob_email, 15, "both").await;
    let handoff = ms(HANDOFF);
    assert_eq!(handoff, ms("2026-03-29T07:00:00Z"), "09:00 in summer time");

    // Seventeen minutes ahead nothing is due yet.
    scan_at(&server, handoff - 17 * MIN).await;
    assert!(intents(&server, &ann).await.is_empty());
    // The next scan, within a minute of the intents' due time, records both.
    scan_at(&server, handoff - 15 * MIN - 30_000).await;
    let outgoing = intents(&server, &ann).await;
    assert_eq!(outgoing.len(), 1, "{outgoing:?}");
    let i = &outgoing[0];
    assert_eq!(
        (i.kind, i.handoff_at, i.started_at),
        (NotificationKind::OffcallHandoff, Some(handoff), handoff - 15 * MIN)
    );
    assert_eq!((i.rule_id.as_str(), i.escalation_policy_id.as_deref()), (ann_rule.as_str(), Some(policy.as_str())));
    assert_eq!((i.notification_type, i.status), (NotificationType::Email, NotificationStatus::Pending));
    assert_eq!((i.contact_method_id.as_str(), i.address.as_deref()), (ann_email.as_str(), Some("ann@klaxon.test")));
    assert!(i.id.starts_with('Q'));
    let incoming = intents(&server, &bob).await;
    assert_eq!(incoming.len(), 1, "{incoming:?}");
    assert_eq!(
        (incoming[0].kind, incoming[0].handoff_at, incoming[0].started_at, incoming[0].rule_id.as_str()),
        (NotificationKind::OncallHandoff, Some(handoff), handoff - 15 * MIN, bob_rule.as_str())
    );
}

#[tokio::test]
async fn handoff_type_chooses_which_handoffs_a_rule_notifies_about() {
    let Rotation { server, ann, ann_email, bob, bob_email, schedule } = rotation().await;
    policy_with_service(&server, "Mornings", &schedule).await;
    // ann goes off call at the handoff, bob on call.
    add_rule(&server, &ann, &ann_email, 0, "oncall").await;
    let ann_offcall = add_rule(&server, &ann, &ann_email, 0, "offcall").await;
    add_rule(&server, &bob, &bob_email, 0, "offcall").await;
    scan_at(&server, ms(HANDOFF) - 30_000).await;
    let ann_intents = intents(&server, &ann).await;
    assert_eq!(
        ann_intents.iter().map(|i| (i.kind, i.rule_id.as_str())).collect::<Vec<_>>(),
        [(NotificationKind::OffcallHandoff, ann_offcall.as_str())]
    );
    assert!(intents(&server, &bob).await.is_empty(), "bob's rule is for going off call only");
}

#[tokio::test]
async fn a_policy_without_services_notifies_only_when_set_to_always() {
    let Rotation { server, ann, ann_email, schedule, .. } = rotation().await;
    let idle = create_policy(&server, "Idle", &[json!([{"id": schedule, "type": "schedule_reference"}])]).await;
    let path = format!("/escalation_policies/{idle}");
    let (_, got) = server.get(&path).await;
    assert_eq!(got["escalation_policy"]["on_call_handoff_notifications"], "if_has_services");
    let always = create_policy(&server, "Always", &[json!([{"id": schedule, "type": "schedule_reference"}])]).await;
    let body = json!({"escalation_policy": {"on_call_handoff_notifications": "always"}});
    let (status, body) = server.put(&format!("/escalation_policies/{always}"), body).await;
    assert_eq!(status, 200, "{body}");
    add_rule(&server, &ann, &ann_email, 15, "both").await;

    scan_at(&server, ms(HANDOFF) - 15 * MIN).await;
    let got = intents(&server, &ann).await;
    let policies: Vec<Option<&str>> = got.iter().map(|i| i.escalation_policy_id.as_deref()).collect();
    assert_eq!(policies, [Some(always.as_str())], "only the policy set to always");
}

#[tokio::test]
async fn a_rescan_on_the_same_or_another_node_records_nothing_twice() {
    let Rotation { server, ann, ann_email, bob, bob_email, schedule } = rotation().await;
    // Two policies on the same schedule: one intent per policy, each recorded once.
    policy_with_service(&server, "Mornings", &schedule).await;
    policy_with_service(&server, "Mornings too", &schedule).await;
    add_rule(&server, &ann, &ann_email, 15, "both").await;
    add_rule(&server, &bob, &bob_email, 15, "both").await;

    let due = ms(HANDOFF) - 15 * MIN;
    scan_at(&server, due - 50_000).await;
    let first = (intents(&server, &ann).await, intents(&server, &bob).await);
    assert_eq!((first.0.len(), first.1.len()), (2, 2));
    // A restart moves the scan to now: it scans again, 30 seconds later, over the same intents.
    server.advance_secs(30);
    klaxon_server::handoffs::ensure_scan(&server.app).await.unwrap();
    server.run_jobs().await;
    // The next scan, a minute later, still sees them due within its period; two nodes race for it.
    let other = server.second_app().await;
    server.advance_secs(60);
    let owner = server.app.jobs.node_id().to_string();
    tokio::join!(klaxon_server::jobs::run_due(&other, "node-b"), klaxon_server::jobs::run_due(&server.app, &owner));
    other.store.close().await;
    let job = server.store.job_by_key(kinds::HANDOFF_SCAN_KEY).await.unwrap().unwrap();
    assert_eq!(job.due_at, server.app.now_ms() + MIN, "a scan ran at {due} + 40 s");
    assert_eq!((intents(&server, &ann).await, intents(&server, &bob).await), first, "nothing recorded twice");
}

#[tokio::test]
async fn an_override_placed_before_the_scan_decides_who_is_notified() {
    let Rotation { server, ann, ann_email, bob, bob_email, schedule } = rotation().await;
    let (cat, cat_email) = user(&server, "cat").await;
    policy_with_service(&server, "Mornings", &schedule).await;
    for (user, method) in [(&ann, &ann_email), (&bob, &bob_email), (&cat, &cat_email)] {
        add_rule(&server, user, method, 15, "both").await;
    }
    // cat takes bob's whole Sunday turn.
    let body = json!({"overrides": [{"start": HANDOFF, "end": "2026-03-30T09:00:00+02:00",
        "user": {"id": cat, "type": "user_reference"}}]});
    let (status, body) = server.post(&format!("/schedules/{schedule}/overrides"), body).await;
    assert_eq!(status, 201, "{body}");

    let handoff = ms(HANDOFF);
    scan_at(&server, handoff - 15 * MIN).await;
    assert_eq!(seen(&server, &ann).await, [(NotificationKind::OffcallHandoff, handoff, handoff - 15 * MIN)]);
    assert_eq!(seen(&server, &cat).await, [(NotificationKind::OncallHandoff, handoff, handoff - 15 * MIN)]);
    assert!(intents(&server, &bob).await.is_empty(), "bob is not on call this Sunday");
}

#[tokio::test]
async fn a_deleted_users_rules_do_not_fire() {
    let Rotation { server, ann, ann_email, bob, bob_email, schedule } = rotation().await;
    policy_with_service(&server, "Mornings", &schedule).await;
    add_rule(&server, &ann, &ann_email, 0, "both").await;
    add_rule(&server, &bob, &bob_email, 0, "both").await;
    // The REST API refuses to delete a user still in a rotation; the row is marked deleted directly, so
    // that bob stays on the schedule and only the scan's own rule (live users only) keeps him silent.
    let sql = format!("UPDATE users SET deleted_at = {} WHERE id = '{bob}'", server.app.now_ms());
    klaxon_store::testing::fixture_execute(&server.store, &sql).await.unwrap();
    scan_at(&server, ms(HANDOFF) - 30_000).await;
    assert_eq!(intents(&server, &ann).await.len(), 1, "ann, alive, is told she goes off call");
    assert!(intents(&server, &bob).await.is_empty());
}
