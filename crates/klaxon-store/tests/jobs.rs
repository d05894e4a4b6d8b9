//! The incident timer hook keeps durable jobs in step with incident status.

use klaxon_store::testing::{SeedOptions, seed_incident, seed_service};
use klaxon_store::{Location, Store};

/// SQLite by default; PostgreSQL when the suite runs with `KLAXON_TEST_BACKEND=postgres`.
async fn store(dir: &std::path::Path) -> Store {
    if std::env::var("KLAXON_TEST_BACKEND").as_deref() == Ok("postgres") {
        let base = std::env::var("KLAXON_TEST_POSTGRES_URL").expect("KLAXON_TEST_POSTGRES_URL");
        let url = klaxon_store::testing::fresh_postgres_database(&base).await.expect("fresh database");
        return Store::open(Location::Postgres(&url)).await.expect("store");
    }
    Store::open(Location::SqliteDir(dir)).await.expect("store")
}

#[tokio::test]
async fn an_acknowledged_incident_has_an_ack_timeout_and_an_auto_resolve_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 1_000).await.unwrap();
    let incident = seed_incident(&store, &seeded, "acknowledged", 1_000).await.unwrap();
    let jobs = store.pending_jobs().await.unwrap();
    let ack = jobs.iter().find(|j| j.kind == "incident.ack_timeout").expect("ack timeout job");
    assert_eq!(ack.due_at, 1_000 + 1800 * 1000);
    assert_eq!(ack.unique_key.as_deref(), Some(format!("incident.ack_timeout:{incident}").as_str()));
}

#[tokio::test]
async fn a_triggered_incident_schedules_auto_resolve_only_when_the_service_has_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 0).await.unwrap();
    seed_incident(&store, &seeded, "triggered", 0).await.unwrap();
    let kinds: Vec<_> = store.pending_jobs().await.unwrap().into_iter().map(|j| (j.kind, j.due_at)).collect();
    assert_eq!(kinds, vec![("incident.auto_resolve".to_string(), 14_400_000)]);

    let quiet = SeedOptions { auto_resolve_timeout: None, ..SeedOptions::default() };
    let seeded = seed_service(&store, &quiet, 0).await.unwrap();
    seed_incident(&store, &seeded, "triggered", 0).await.unwrap();
    assert_eq!(store.pending_jobs().await.unwrap().len(), 1);
}
