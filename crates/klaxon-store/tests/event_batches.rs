//! Set-based event processing against the real databases: many events committed and applied in one
//! `accept_events` call (one group commit) behave exactly as if they had arrived one by one.

// Test support outside #[test] functions may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use klaxon_core::events::{AlertEvent, EventAction, EventsVersion};
use klaxon_store::Store;
use klaxon_store::events::{InboxItem, outcomes};
use klaxon_store::testing::{SeedOptions, Seeded, fixture_execute, fixture_raw_inbox_row, seed_service};

async fn store(dir: &std::path::Path) -> (Store, Option<klaxon_store::testing::TestDatabase>) {
    klaxon_store::testing::test_store(dir).await.expect("store")
}

fn body(action: EventAction, key: &str) -> String {
    let event = AlertEvent {
        version: EventsVersion::V2,
        action,
        dedup_key: key.into(),
        summary: Some(format!("{} {key}", action.as_str())),
        source: Some("db-1".into()),
        severity: (action == EventAction::Trigger).then(|| "critical".to_string()),
        timestamp_ms: None,
        component: None,
        group: None,
        class: None,
        custom_details: Some(serde_json::json!({"disk": "95%"})),
        contexts: vec![],
        client: None,
        client_url: None,
    };
    serde_json::to_string(&event).unwrap()
}

fn item(seeded: &Seeded, action: EventAction, key: &str) -> InboxItem {
    InboxItem::Alert {
        integration_id: seeded.integration_id.clone(),
        service_id: seeded.service_id.clone(),
        dedup_key: key.into(),
        body: body(action, key),
        event: None,
    }
}

async fn outcomes_of(store: &Store) -> Vec<String> {
    store.events_inbox().await.unwrap().into_iter().map(|r| r.outcome.unwrap_or_default()).collect()
}

#[tokio::test]
async fn trigger_resolve_trigger_of_one_key_in_one_batch_makes_two_incidents_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    let batch = [
        item(&seeded, EventAction::Trigger, "disk"),
        item(&seeded, EventAction::Resolve, "disk"),
        item(&seeded, EventAction::Trigger, "disk"),
    ];
    store.accept_events(&batch, 2_000).await.unwrap();

    assert_eq!(outcomes_of(&store).await, vec![outcomes::CREATED, outcomes::RESOLVED, outcomes::CREATED]);
    let incidents = store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[1].incident_number, incidents[0].incident_number + 1);
    assert_eq!((incidents[0].status.as_str(), incidents[0].resolved_at), ("resolved", Some(2_000)));
    assert_eq!(incidents[1].status, "triggered");
    let alerts = store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    let states: Vec<(&str, Option<&str>)> =
        alerts.iter().map(|a| (a.status.as_str(), a.incident_id.as_deref())).collect();
    assert_eq!(
        states,
        vec![("resolved", Some(incidents[0].id.as_str())), ("triggered", Some(incidents[1].id.as_str()))]
    );
    assert!(store.events_incident_assignee_ids(&incidents[0].id).await.unwrap().is_empty());
    assert_eq!(store.events_incident_assignee_ids(&incidents[1].id).await.unwrap(), vec![seeded.user_id.clone()]);
}

#[tokio::test]
async fn a_batch_of_new_keys_opens_incidents_with_consecutive_numbers_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    let batch: Vec<InboxItem> = (0..120).map(|n| item(&seeded, EventAction::Trigger, &format!("k{n:03}"))).collect();
    store.accept_events(&batch, 2_000).await.unwrap();

    let incidents = store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 120);
    for (n, incident) in incidents.iter().enumerate() {
        assert_eq!(incident.incident_key.as_deref(), Some(format!("k{n:03}").as_str()), "numbers follow arrival");
        assert_eq!(incident.incident_number, incidents[0].incident_number + n as i64, "no gaps");
    }
    let types = store.events_incident_log_entry_types(&incidents[7].id).await.unwrap();
    let types: Vec<&str> = types.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, vec!["trigger_log_entry", "assign_log_entry", "notify_log_entry"]);
}

#[tokio::test]
async fn repeats_within_and_across_batches_count_on_the_one_open_alert() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    let three: Vec<InboxItem> = (0..3).map(|_| item(&seeded, EventAction::Trigger, "cpu")).collect();
    store.accept_events(&three, 2_000).await.unwrap();
    let two: Vec<InboxItem> = (0..2).map(|_| item(&seeded, EventAction::Trigger, "cpu")).collect();
    store.accept_events(&two, 3_000).await.unwrap();

    let alerts = store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].trigger_count, alerts[0].last_occurred_at), (5, 3_000));
    assert_eq!(store.events_incidents_of_service(&seeded.service_id).await.unwrap().len(), 1);
    let dedups = outcomes_of(&store).await.iter().filter(|o| o.as_str() == outcomes::DEDUPLICATED).count();
    assert_eq!(dedups, 4);
}

#[tokio::test]
async fn events_waiting_from_before_are_applied_before_a_new_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    // A trigger committed but never processed (say, the server crashed right after its 202).
    fixture_raw_inbox_row(&store, &seeded, &body(EventAction::Trigger, "web"), 1_500).await.unwrap();
    store.accept_events(&[item(&seeded, EventAction::Resolve, "web")], 2_000).await.unwrap();

    assert_eq!(outcomes_of(&store).await, vec![outcomes::CREATED, outcomes::RESOLVED]);
    let incidents = store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!((incidents[0].created_at, incidents[0].status.as_str()), (1_500, "resolved"));
}

#[tokio::test]
async fn an_unreadable_inbox_row_is_stamped_failed_without_failing_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    fixture_raw_inbox_row(&store, &seeded, "{not json", 1_500).await.unwrap();
    store.accept_events(&[item(&seeded, EventAction::Trigger, "api")], 2_000).await.unwrap();

    let outcomes = outcomes_of(&store).await;
    assert!(outcomes[0].starts_with(outcomes::FAILED), "{outcomes:?}");
    assert_eq!(outcomes[1], outcomes::CREATED);
    assert_eq!(store.unprocessed_event_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_batch_whose_processing_fails_is_still_committed_and_applied_once_processing_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    fixture_execute(&store, "ALTER TABLE log_entries RENAME TO log_entries_away").await.unwrap();
    let backlog = store.accept_events(&[item(&seeded, EventAction::Trigger, "db")], 2_000).await.unwrap();

    assert!(backlog, "the writer is told to wake the processor");
    assert_eq!(store.unprocessed_event_count().await.unwrap(), 1, "accepted and stored, not applied");
    assert!(store.events_incidents_of_service(&seeded.service_id).await.unwrap().is_empty());

    fixture_execute(&store, "ALTER TABLE log_entries_away RENAME TO log_entries").await.unwrap();
    assert_eq!(store.process_events(10, 3_000).await.unwrap(), 1);
    assert_eq!(outcomes_of(&store).await, vec![outcomes::CREATED]);
    let incidents = store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!((incidents.len(), incidents[0].created_at), (1, 2_000), "applied at its arrival time");
}
