//! Every change applies exactly once under concurrency: real requests raced on a real server, on both
//! backends. Racing resolves through a single `PUT`, a bulk `PUT /incidents` and the Events API write
//! exactly one `resolve_log_entry`; racing acknowledgements by two users list each user at most once; and
//! no request is answered with a 5xx.

use crate::common::*;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// Rounds per race: each a fresh incident.
const ROUNDS: usize = 8;

async fn triggered(server: &TestServer, key: &str, dedup: &str) -> String {
    let (status, body) = server.enqueue(v2_trigger(key, dedup)).await;
    assert_eq!(status, 202, "{body}");
    server.events_processed().await;
    let (_, list) = server.get(&format!("/incidents?incident_key={dedup}")).await;
    list["incidents"][0]["id"].as_str().expect("an incident for the trigger").to_string()
}

async fn log_types(server: &TestServer, incident: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/incidents/{incident}/log_entries?limit=100")).await;
    assert_eq!(status, 200, "{body}");
    body["log_entries"].as_array().expect("log entries").clone()
}

fn count(entries: &[Value], kind: &str) -> usize {
    entries.iter().filter(|e| e["type"] == kind).count()
}

#[tokio::test]
async fn racing_resolves_through_put_bulk_put_and_the_events_api_write_one_resolve_log_entry() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    for round in 0..ROUNDS {
        let dedup = format!("race-resolve-{round}");
        let id = triggered(&server, &s.integration_key, &dedup).await;
        let path = format!("/incidents/{id}");
        let single = server.put(&path, json!({"incident": {"type": "incident_reference", "status": "resolved"}}));
        let bulk = server
            .put("/incidents", json!({"incidents": [{"id": id, "type": "incident_reference", "status": "resolved"}]}));
        let event = server.enqueue(v2_action(&s.integration_key, "resolve", &dedup));
        let ((a, a_body), (b, b_body), (c, c_body)) = tokio::join!(single, bulk, event);
        for (status, body) in [(a, &a_body), (b, &b_body), (c, &c_body)] {
            assert!(status < 500, "round {round}: a racing resolve got {status}: {body}");
        }
        assert_eq!(c, 202, "{c_body}");
        for (status, body) in [(a, &a_body), (b, &b_body)] {
            if status != 200 {
                assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(1001)), "{body}");
            }
        }
        server.events_processed().await;
        let entries = log_types(&server, &id).await;
        assert_eq!(count(&entries, "resolve_log_entry"), 1, "round {round}: {entries:#?}");
        let (_, incident) = server.get(&format!("/incidents/{id}")).await;
        assert_eq!(incident["incident"]["status"], "resolved");
    }
}

#[tokio::test]
async fn two_racing_rest_resolves_apply_once_and_the_other_is_error_1001() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    for round in 0..ROUNDS {
        let id = triggered(&server, &s.integration_key, &format!("race-twice-{round}")).await;
        let body = json!({"incident": {"type": "incident_reference", "status": "resolved"}});
        let path = format!("/incidents/{id}");
        let ((a, _), (b, b_body)) = tokio::join!(server.put(&path, body.clone()), server.put(&path, body.clone()));
        let mut statuses = [a, b];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "round {round}: {b_body}");
        assert_eq!(count(&log_types(&server, &id).await, "resolve_log_entry"), 1);
    }
}

#[tokio::test]
async fn racing_acknowledgements_by_two_users_list_each_user_once() {
    let server = TestServer::start().await;
    let s = server.seed_for_events(Default::default()).await;
    let (ada, ada_key) = server.user_with_token("ada@klaxon.test", Role::User).await;
    let (bob, bob_key) = server.user_with_token("bob@klaxon.test", Role::User).await;
    for round in 0..ROUNDS {
        let id = triggered(&server, &s.integration_key, &format!("race-ack-{round}")).await;
        let path = format!("/incidents/{id}");
        let ack = |key: &str| {
            send(
                server
                    .with_key(key, Method::PUT, &path)
                    .json(&json!({"incident": {"type": "incident_reference", "status": "acknowledged"}})),
            )
        };
        let results = tokio::join!(ack(&ada_key), ack(&bob_key), ack(&ada_key), ack(&bob_key));
        for (status, body) in [&results.0, &results.1, &results.2, &results.3] {
            assert_eq!(*status, 200, "round {round}: {body}");
        }
        let (_, incident) = server.get(&format!("/incidents/{id}")).await;
        let mut acknowledgers: Vec<String> = incident["incident"]["acknowledgements"]
            .as_array()
            .expect("acknowledgements")
            .iter()
            .map(|a| a["acknowledger"]["id"].as_str().unwrap_or_default().to_string())
            .collect();
        acknowledgers.sort();
        let mut expected = vec![ada.clone(), bob.clone()];
        expected.sort();
        assert_eq!(acknowledgers, expected, "round {round}");
        let entries = log_types(&server, &id).await;
        for user in [&ada, &bob] {
            let by_user = entries
                .iter()
                .filter(|e| e["type"] == "acknowledge_log_entry" && e["agent"]["id"] == user.as_str())
                .count();
            assert_eq!(by_user, 1, "round {round}: {user} acknowledged {by_user} times in the log");
        }
    }
}
