//! The Events API (v2 and v1): response shapes, validation, and what events do to alerts and incidents.

use crate::common::{TestServer, v2_action, v2_trigger};
use klaxon_store::testing::{self, SeedOptions};
use serde_json::{Value, json};

fn errors(body: &Value) -> Vec<String> {
    body["errors"].as_array().expect("errors array").iter().map(|e| e.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_trigger_is_accepted_with_202_and_its_dedup_key() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server.enqueue(v2_trigger(&seeded.integration_key, "srv01/mysql")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}));
}

#[tokio::test]
async fn a_trigger_without_dedup_key_gets_a_generated_one() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let mut event = v2_trigger(&seeded.integration_key, "x");
    event.as_object_mut().unwrap().remove("dedup_key");
    let (status, body) = server.enqueue(event).await;
    assert_eq!(status, 202);
    let key = body["dedup_key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    server.events_processed().await;
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts[0].alert_key, key);
}

#[tokio::test]
async fn an_invalid_event_gets_one_reason_per_bad_field() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server
        .enqueue(json!({"routing_key": seeded.integration_key, "event_action": "trigger",
            "payload": {"summary": "", "severity": "Info", "timestamp": "yesterday"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["message"], "Event object is invalid");
    let errors = errors(&body);
    assert!(errors.contains(&"'payload.summary' is missing or blank".to_string()), "{errors:?}");
    assert!(errors.contains(&"'payload.source' is missing or blank".to_string()), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("'payload.severity' is invalid")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("'payload.timestamp' is invalid")), "{errors:?}");
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[tokio::test]
async fn an_unknown_event_action_is_invalid() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server.enqueue(v2_action(&seeded.integration_key, "explode", "k")).await;
    assert_eq!(status, 400);
    assert!(errors(&body)[0].starts_with("'event_action' is invalid"), "{body}");
}

#[tokio::test]
async fn unparseable_json_is_an_unrecognized_object() {
    let server = TestServer::start().await;
    let response = server
        .anon(reqwest::Method::POST, "/v2/enqueue")
        .header("Content-Type", "application/json")
        .body("{\"routing_key\": nope")
        .send()
        .await
        .unwrap();
    let (status, body) = crate::common::read(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"status": "Unrecognized object", "message": "Event object format is unrecognized",
               "errors": ["JSON parse error"]})
    );
}

#[tokio::test]
async fn a_routing_key_of_the_wrong_length_is_refused_with_the_reason() {
    let server = TestServer::start().await;
    let (status, body) = server.enqueue(v2_trigger("abc123", "k")).await;
    assert_eq!(status, 400);
    assert_eq!(errors(&body), vec!["'routing_key' is the wrong length (should be 32 characters)".to_string()]);
}

#[tokio::test]
async fn an_unknown_routing_key_is_refused_with_the_reason() {
    let server = TestServer::start().await;
    let (status, body) = server.enqueue(v2_trigger("0123456789abcdef0123456789abcdef", "k")).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "invalid event");
    assert_eq!(errors(&body), vec!["Invalid routing key".to_string()]);
}

#[tokio::test]
async fn the_routing_key_may_come_in_an_x_routing_key_header() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let mut event = v2_trigger("", "k");
    event.as_object_mut().unwrap().remove("routing_key");
    let response = server
        .anon(reqwest::Method::POST, "/v2/enqueue")
        .header("X-Routing-Key", &seeded.integration_key)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
}

#[tokio::test]
async fn every_timestamp_format_senders_use_is_accepted() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    for (i, ts) in [
        "2015-07-17T08:42:58.315+0000",
        "2024-05-01T12:00:00.123456Z",
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T12:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let mut event = v2_trigger(&seeded.integration_key, &format!("k{i}"));
        event["payload"]["timestamp"] = json!(ts);
        let (status, body) = server.enqueue(event).await;
        assert_eq!(status, 202, "{ts}: {body}");
    }
    server.events_processed().await;
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    let first = alerts.iter().find(|a| a.alert_key == "k0").unwrap();
    assert_eq!(first.event_timestamp, Some(1_437_122_578_315));
}

#[tokio::test]
async fn a_trigger_opens_an_assigned_incident_with_its_alert_and_log_entries() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let mut event = v2_trigger(&seeded.integration_key, "disk");
    event["payload"]["component"] = json!("mysql");
    event["payload"]["custom_details"] = json!({"free": "1%", "nested": {"a": [1, 2]}});
    event["links"] = json!([{"href": "https://example.com", "text": "runbook"}, {"href": ""}]);
    event["images"] = json!([{"src": "https://example.com/i.png"}]);
    event["client"] = json!("Zabbix");
    assert_eq!(server.enqueue(event).await.0, 202);
    server.events_processed().await;

    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident.title, "disk is on fire");
    assert_eq!(incident.status, "triggered");
    assert_eq!(incident.urgency, "high");
    assert_eq!(incident.incident_key.as_deref(), Some("disk"));
    assert_eq!(incident.escalation_policy_id.as_deref(), Some(seeded.escalation_policy_id.as_str()));
    assert_eq!(incident.assigned_via, "escalation_policy");
    assert_eq!(incident.escalation_level, 1);
    assert_eq!(server.store.events_incident_assignee_ids(&incident.id).await.unwrap(), vec![seeded.user_id.clone()]);
    let types = server.store.events_incident_log_entry_types(&incident.id).await.unwrap();
    assert_eq!(
        types,
        vec![
            ("trigger_log_entry".to_string(), Some("integration_reference".to_string())),
            ("assign_log_entry".to_string(), Some("service_reference".to_string())),
            ("notify_log_entry".to_string(), None),
        ]
    );
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.incident_id.as_deref(), Some(incident.id.as_str()));
    assert_eq!(alert.first_trigger_log_entry_id, incident.first_trigger_log_entry_id);
    assert!(alert.first_trigger_log_entry_id.is_some());
    assert_eq!(alert.severity, "critical");
    assert_eq!(alert.component.as_deref(), Some("mysql"));
    assert_eq!(alert.client.as_deref(), Some("Zabbix"));
    let contexts: Value = serde_json::from_str(&alert.contexts).unwrap();
    assert_eq!(contexts.as_array().unwrap().len(), 2, "the link without href is dropped: {contexts}");
    let details: Value = serde_json::from_str(alert.custom_details.as_deref().unwrap()).unwrap();
    assert_eq!(details["nested"]["a"][1], 2);
    let jobs = server.store.pending_jobs().await.unwrap();
    assert!(jobs.iter().any(|j| j.kind == "incident.auto_resolve"), "the auto-resolve timer is scheduled");
}

#[tokio::test]
async fn a_repeated_trigger_is_deduplicated_onto_the_open_alert() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    for _ in 0..3 {
        assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "same")).await.0, 202);
    }
    server.events_processed().await;
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].trigger_count, 3);
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    let triggers = server.store.events_incident_log_entry_types(&incidents[0].id).await.unwrap();
    assert_eq!(triggers.iter().filter(|(t, _)| t == "trigger_log_entry").count(), 3);
}

#[tokio::test]
async fn acknowledge_and_resolve_of_unknown_keys_are_accepted_and_create_nothing() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    for verb in ["acknowledge", "resolve"] {
        let (status, body) = server.enqueue(v2_action(&seeded.integration_key, verb, "never-triggered")).await;
        assert_eq!(status, 202);
        assert_eq!(body, json!({"status": "success", "message": "Event processed", "dedup_key": "never-triggered"}));
    }
    server.events_processed().await;
    assert!(server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap().is_empty());
    assert!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty());
    let outcomes: Vec<_> = server.store.events_inbox().await.unwrap().into_iter().map(|r| r.outcome.unwrap()).collect();
    assert_eq!(outcomes, vec!["dropped", "dropped"]);
}

#[tokio::test]
async fn acknowledge_acknowledges_the_incident_of_the_open_alert() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.enqueue(v2_action(&seeded.integration_key, "acknowledge", "k")).await;
    server.events_processed().await;
    let incident = &server.store.events_incidents_of_service(&seeded.service_id).await.unwrap()[0];
    assert_eq!(incident.status, "acknowledged");
    let types = server.store.events_incident_log_entry_types(&incident.id).await.unwrap();
    assert_eq!(types.last().unwrap().0, "acknowledge_log_entry");
    let jobs = server.store.pending_jobs().await.unwrap();
    assert!(jobs.iter().any(|j| j.kind == "incident.ack_timeout"), "the ack timeout is scheduled");
}

#[tokio::test]
async fn resolve_resolves_the_alert_and_its_incident() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.enqueue(v2_action(&seeded.integration_key, "resolve", "k")).await;
    server.events_processed().await;
    let incident = &server.store.events_incidents_of_service(&seeded.service_id).await.unwrap()[0];
    assert_eq!(incident.status, "resolved");
    assert!(incident.resolved_at.is_some());
    assert!(server.store.events_incident_assignee_ids(&incident.id).await.unwrap().is_empty());
    assert_eq!(
        server.store.events_incident_log_entry_types(&incident.id).await.unwrap().last().unwrap().0,
        "resolve_log_entry"
    );
    let alert = &server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap()[0];
    assert_eq!(alert.status, "resolved");
    assert!(server.pending_jobs().await.is_empty(), "a resolved incident has no timers");
}

#[tokio::test]
async fn a_trigger_after_resolve_opens_a_new_alert_and_incident() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.enqueue(v2_action(&seeded.integration_key, "resolve", "k")).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.iter().map(|i| i.status.as_str()).collect::<Vec<_>>(), vec!["resolved", "triggered"]);
    assert_eq!(server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_dedup_key_through_another_integration_is_a_separate_alert() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (other_id, other_key) = testing::fixture_extra_integration(
        &server.store,
        &seeded.service_id,
        "events_api_v2_inbound_integration",
        server.app.now_ms(),
    )
    .await
    .unwrap();
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.enqueue(v2_trigger(&other_key, "k")).await;
    // A resolve through the other key leaves the first alert open: dedup scope is the routing key.
    server.enqueue(v2_action(&other_key, "resolve", "k")).await;
    server.events_processed().await;
    assert_eq!(server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap()[0].status, "triggered");
    assert_eq!(server.store.events_alerts_of_integration(&other_id).await.unwrap()[0].status, "resolved");
    assert_eq!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn severity_based_urgency_makes_warnings_low_and_errors_high() {
    let server = TestServer::start().await;
    let seeded = server
        .seed_for_events(SeedOptions {
            incident_urgency_rule: json!({"type": "constant", "urgency": "severity_based"}),
            ..Default::default()
        })
        .await;
    for (key, severity) in [("a", "warning"), ("b", "error"), ("c", "info"), ("d", "critical")] {
        let mut event = v2_trigger(&seeded.integration_key, key);
        event["payload"]["severity"] = json!(severity);
        server.enqueue(event).await;
    }
    server.events_processed().await;
    let urgencies: Vec<_> = server
        .store
        .events_incidents_of_service(&seeded.service_id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.incident_key.unwrap(), i.urgency))
        .collect();
    let expect = |k: &str, u: &str| assert!(urgencies.contains(&(k.to_string(), u.to_string())), "{urgencies:?}");
    expect("a", "low");
    expect("b", "high");
    expect("c", "low");
    expect("d", "high");
}

#[tokio::test]
async fn events_for_a_disabled_service_are_suppressed_without_an_incident() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    testing::fixture_service_status(&server.store, &seeded.service_id, "disabled").await.unwrap();
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "k")).await.0, 202);
    server.events_processed().await;
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].suppressed);
    assert!(alerts[0].incident_id.is_none());
    assert!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_maintenance_window_suppresses_and_a_later_real_trigger_still_pages() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let now = server.app.now_ms();
    testing::fixture_maintenance_window(&server.store, &seeded.service_id, now - 1000, now + 3_600_000).await.unwrap();
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    assert!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty());
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.len(), 1, "suppressed triggers deduplicate among themselves");
    assert_eq!(alerts[0].trigger_count, 2);

    server.clock().advance(jiff::SignedDuration::from_hours(2));
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1, "the window is over: the trigger pages");
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.iter().filter(|a| a.status == "triggered").count(), 1, "the suppressed alert was replaced");
}

#[tokio::test]
async fn incident_numbers_increase_without_gaps() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let sends = (0..20).map(|i| server.enqueue(v2_trigger(&seeded.integration_key, &format!("k{}", i % 10))));
    for (status, _) in futures::future::join_all(sends).await {
        assert_eq!(status, 202);
    }
    server.events_processed().await;
    let numbers: Vec<i64> = server
        .store
        .events_incidents_of_service(&seeded.service_id)
        .await
        .unwrap()
        .iter()
        .map(|i| i.incident_number)
        .collect();
    assert_eq!(numbers, (1..=10).collect::<Vec<i64>>());
}

#[tokio::test]
async fn an_accepted_event_is_processed_within_a_second() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let started = std::time::Instant::now();
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "fast")).await.0, 202);
    loop {
        if !server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty() {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "no incident a second after the 202");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn an_exhausted_rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    testing::fixture_integration_rate_limit(&server.store, &seeded.integration_id, Some(2)).await.unwrap();
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "a")).await.0, 202);
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "b")).await.0, 202);
    let response = server
        .anon(reqwest::Method::POST, "/v2/enqueue")
        .json(&v2_trigger(&seeded.integration_key, "c"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let (_, body) = crate::common::read(response).await;
    assert!(body["status"].is_string() && body["message"].is_string() && body["errors"].is_array(), "{body}");
    let metrics = server.app.metrics.render();
    assert!(metrics.contains("outcome=\"rate_limited\""), "{metrics}");
}

#[tokio::test]
async fn an_exhausted_rate_limit_answers_403_on_v1() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    testing::fixture_integration_rate_limit(&server.store, &seeded.integration_id, Some(1)).await.unwrap();
    let event = json!({"service_key": seeded.integration_key, "event_type": "trigger", "description": "d"});
    assert_eq!(server.send_event("/generic/2010-04-15/create_event.json", event.clone()).await.0, 200);
    let (status, body) = server.send_event("/generic/2010-04-15/create_event.json", event).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn a_rate_limited_key_is_let_through_again_as_the_manual_clock_refills_its_bucket() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    testing::fixture_integration_rate_limit(&server.store, &seeded.integration_id, Some(2)).await.unwrap();
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "a")).await.0, 202);
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "b")).await.0, 202);
    let retry_after =
        |response: &reqwest::Response| -> u64 { response.headers()["retry-after"].to_str().unwrap().parse().unwrap() };
    let send = || server.anon(reqwest::Method::POST, "/v2/enqueue").json(&v2_trigger(&seeded.integration_key, "c"));
    let response = send().send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(retry_after(&response), 30, "2 a minute: the next token comes 30 s later");
    // No real time passes in this test: only the manual clock refills the bucket.
    server.advance_secs(29);
    let response = send().send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(retry_after(&response), 1);
    server.advance_secs(1);
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "c")).await.0, 202);
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "d")).await.0, 429);
}

#[tokio::test]
async fn a_deleted_integrations_key_works_until_its_cache_entry_expires_on_the_manual_clock() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "a")).await.0, 202, "caches the route");
    server.store.delete_integration(&seeded.service_id, &seeded.integration_id, server.app.now_ms()).await.unwrap();
    let ttl_secs = i64::try_from(klaxon_server::events::ingest::ROUTE_TTL.as_secs()).unwrap();
    server.advance_secs(ttl_secs - 1);
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "b")).await.0, 202, "still cached");
    server.advance_secs(1);
    let (status, body) = server.enqueue(v2_trigger(&seeded.integration_key, "c")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(errors(&body), ["Invalid routing key"]);
}

#[tokio::test]
async fn a_body_over_512_kb_is_a_413_in_the_events_shape() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let mut event = v2_trigger(&seeded.integration_key, "big");
    event["payload"]["custom_details"] = json!({"blob": "x".repeat(600 * 1024)});
    let (status, body) = server.enqueue(event).await;
    assert_eq!(status, 413);
    assert_eq!(body["status"], "invalid event");
    assert!(errors(&body)[0].contains("524288"), "{body}");
    // The connection was not reset: the same client keeps working.
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "small")).await.0, 202);
}

#[tokio::test]
async fn v1_trigger_answers_200_with_the_incident_key_and_ignores_stray_fields() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server
        .send_event(
            "/generic/2010-04-15/create_event.json",
            json!({"service_key": seeded.integration_key, "event_type": "trigger", "incident_key": "v1key",
                   "description": "[FIRING:1] DiskFull", "details": {"firing": "..."}, "client": "Alertmanager",
                   "event_action": "", "payload": null}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"status": "success", "message": "Event processed", "incident_key": "v1key"}));
    let (status, _) = server
        .send_event(
            "/generic/2010-04-15/create_event.json",
            json!({"service_key": seeded.integration_key, "event_type": "resolve", "incident_key": "v1key"}),
        )
        .await;
    assert_eq!(status, 200);
    server.events_processed().await;
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].title, "[FIRING:1] DiskFull");
    assert_eq!(incidents[0].status, "resolved");
}

#[tokio::test]
async fn v1_rejects_a_bad_event_type_in_its_400_shape() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server
        .send_event(
            "/generic/2010-04-15/create_event.json",
            json!({"service_key": seeded.integration_key, "event_type": "explode"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"status": "invalid event", "message": "Event object is invalid",
               "errors": ["event_type is invalid (must be one of: trigger acknowledge resolve)"]})
    );
}

#[tokio::test]
async fn alertmanagers_trigger_repeat_and_resolve_make_one_incident() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let key = "5b0c0a8f3b1a9e0e6f3c1d2a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c";
    let event = |action: &str| {
        json!({"routing_key": seeded.integration_key, "event_action": action, "dedup_key": key,
               "payload": {"summary": "[FIRING:1] DiskFull (db)", "source": "Alertmanager", "severity": "error",
                           "custom_details": {"firing": "Labels:\n - alertname = DiskFull\n", "num_firing": "1",
                                              "num_resolved": "0", "resolved": ""}},
               "client": "Alertmanager", "client_url": "http://am:9093/#/alerts?receiver=pd",
               "links": [{"href": "http://am:9093", "text": ""}], "images": [{"src": "", "alt": ""}]})
    };
    assert_eq!(server.enqueue(event("trigger")).await.0, 202);
    assert_eq!(server.enqueue(event("trigger")).await.0, 202);
    assert_eq!(server.enqueue(event("resolve")).await.0, 202);
    server.events_processed().await;
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].status, "resolved");
}

#[tokio::test]
async fn zabbix_acknowledge_without_payload_acknowledges() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let mut event = v2_trigger(&seeded.integration_key, "12345");
    event["client"] = json!("Zabbix");
    event["client_url"] = json!("https://zabbix.example/");
    event["links"] = json!([{"href": "https://zabbix.example/tr_events.php?eventid=12345", "text": "Event link"}]);
    server.enqueue(event).await;
    let (status, body) = server.enqueue(v2_action(&seeded.integration_key, "acknowledge", "12345")).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("success")));
    server.events_processed().await;
    assert_eq!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap()[0].status, "acknowledged");
}

#[tokio::test]
async fn processed_inbox_rows_are_pruned_after_their_retention_and_alerts_stay() {
    let server = TestServer::start_with_clock("2026-01-01T00:00:00Z".parse().unwrap()).await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    let now = server.app.now_ms();
    assert_eq!(server.store.prune_events(now - 1, 0).await.unwrap(), 0, "nothing is old enough yet");
    assert_eq!(server.store.prune_events(now + 1, 0).await.unwrap(), 1);
    assert!(server.store.events_inbox().await.unwrap().is_empty());
    assert_eq!(server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_trigger_on_an_alert_whose_incident_was_resolved_elsewhere_opens_a_new_incident() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    let first = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap()[0].id.clone();
    testing::fixture_incident_status(&server.store, &first, "resolved").await.unwrap();
    server.enqueue(v2_trigger(&seeded.integration_key, "k")).await;
    server.events_processed().await;
    let incidents = server.store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 2);
    let alerts = server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    let mut statuses: Vec<_> = alerts.iter().map(|a| a.status.as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, vec!["resolved", "triggered"]);
}

#[tokio::test]
async fn a_poisoned_inbox_row_is_set_aside_and_later_events_still_take_effect() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    testing::fixture_raw_inbox_row(&server.store, &seeded, "{not an event", server.app.now_ms()).await.unwrap();
    assert_eq!(server.enqueue(v2_trigger(&seeded.integration_key, "after")).await.0, 202);
    server.events_processed().await;
    assert_eq!(server.store.events_incidents_of_service(&seeded.service_id).await.unwrap().len(), 1);
    let inbox = server.store.events_inbox().await.unwrap();
    assert!(inbox[0].outcome.as_deref().unwrap().starts_with("failed"), "{:?}", inbox[0].outcome);
    assert_eq!(inbox[1].outcome.as_deref(), Some("created"));
}

#[tokio::test]
async fn grafanas_contact_point_payload_is_accepted() {
    let server = TestServer::start().await;
    let seeded = server.seed_for_events(SeedOptions::default()).await;
    let (status, body) = server
        .enqueue(json!({"routing_key": seeded.integration_key, "event_action": "trigger",
            "dedup_key": "f0c5d5c0e5e2b1e7d1d47f1a8d0bb1a7c5a5f2b51a4f0a4b7e7f0d5c1b9e3a21",
            "payload": {"summary": "[FIRING:1]  (HighCPU)", "source": "grafana-host", "severity": "critical",
                        "class": "default", "component": "Grafana", "group": "default",
                        "custom_details": {"firing": "Value: A=97", "num_firing": "1", "num_resolved": "0", "resolved": ""}},
            "images": [{"src": "https://grafana.example/render/1.png"}],
            "links": [{"href": "https://grafana.example/", "text": "External URL"}],
            "client": "Grafana", "client_url": "https://grafana.example/"}))
        .await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    let alert = &server.store.events_alerts_of_integration(&seeded.integration_id).await.unwrap()[0];
    assert_eq!(alert.class.as_deref(), Some("default"));
    assert_eq!(alert.group_name.as_deref(), Some("default"));
}

#[tokio::test]
async fn a_use_support_hours_service_pages_high_inside_its_hours_and_low_outside() {
    use crate::escalation_policies::create_policy;
    use crate::services::{create_integration, service_body};
    // Wednesday 2027-03-03, 10:00 in New York (EST, UTC-5).
    let server = TestServer::start_with_clock("2027-03-03T15:00:00Z".parse().unwrap()).await;
    let ep = create_policy(&server, "EP").await;
    let mut body = service_body("Office hours", &ep);
    body["service"]["incident_urgency_rule"] = json!({"type": "use_support_hours",
        "during_support_hours": {"type": "constant", "urgency": "high"},
        "outside_support_hours": {"type": "constant", "urgency": "low"}});
    body["service"]["support_hours"] = json!({"type": "fixed_time_per_day", "time_zone": "America/New_York",
        "days_of_week": [1, 2, 3, 4, 5], "start_time": "09:00:00", "end_time": "17:00:00"});
    let (status, created) = server.post("/services", body).await;
    assert_eq!(status, 201, "{created}");
    let service_id = created["service"]["id"].as_str().unwrap().to_string();
    let (_, key) = create_integration(&server, &service_id).await;

    server.enqueue(v2_trigger(&key, "morning")).await;
    server.events_processed().await;
    server.advance_secs(10 * 3_600); // 20:00 in New York
    server.enqueue(v2_trigger(&key, "evening")).await;
    server.events_processed().await;

    let mut urgencies: Vec<(String, String)> = server
        .store
        .events_incidents_of_service(&service_id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.incident_key.unwrap(), i.urgency))
        .collect();
    urgencies.sort();
    assert_eq!(urgencies, vec![("evening".into(), "low".into()), ("morning".into(), "high".into())]);
}
