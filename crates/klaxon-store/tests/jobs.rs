//! The incident timer hook keeps durable jobs in step with incident status.

// Test support outside #[test] functions may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use klaxon_store::Store;
use klaxon_store::testing::{SeedOptions, seed_incident, seed_service};

async fn store(dir: &std::path::Path) -> (Store, Option<klaxon_store::testing::TestDatabase>) {
    klaxon_store::testing::test_store(dir).await.expect("store")
}

#[tokio::test]
async fn an_acknowledged_incident_has_an_ack_timeout_and_an_auto_resolve_job() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
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
    let (store, _db) = store(dir.path()).await;
    let seeded = seed_service(&store, &SeedOptions::default(), 0).await.unwrap();
    seed_incident(&store, &seeded, "triggered", 0).await.unwrap();
    // (Its escalation step, `incident.escalate`, is pending too: the escalation tests cover it.)
    let auto_resolve = || async {
        let jobs = store.pending_jobs().await.unwrap().into_iter();
        jobs.filter(|j| j.kind == "incident.auto_resolve").map(|j| (j.kind, j.due_at)).collect::<Vec<_>>()
    };
    assert_eq!(auto_resolve().await, vec![("incident.auto_resolve".to_string(), 14_400_000)]);

    let quiet = SeedOptions { auto_resolve_timeout: None, ..SeedOptions::default() };
    let seeded = seed_service(&store, &quiet, 0).await.unwrap();
    seed_incident(&store, &seeded, "triggered", 0).await.unwrap();
    assert_eq!(auto_resolve().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_take_more_jobs_than_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = store(dir.path()).await;
    let mut scheduled = std::collections::HashSet::new();
    for n in 0..60 {
        let spec = klaxon_store::jobs::JobSpec {
            queue: "claims".into(),
            ..klaxon_store::jobs::JobSpec::new("test.claim", &serde_json::json!({"n": n}), 1_000)
        };
        scheduled.insert(store.schedule(&spec, 0).await.unwrap());
    }
    // Six claimers race, one job per claim, as a queue of concurrency 1 on six nodes would.
    let claimers = (0..6).map(|c| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let jobs = store.claim_due_jobs("claims", &format!("node-{c}"), 2_000, 60_000, 1).await.unwrap();
                assert!(jobs.len() <= 1, "one claim of limit 1 took {} jobs", jobs.len());
                if jobs.is_empty() {
                    return claimed;
                }
                claimed.extend(jobs.into_iter().map(|j| j.id));
            }
        })
    });
    let mut claimed = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        claimed.extend(claimer.await.unwrap());
    }
    assert_eq!(claimed.len(), scheduled.len(), "every job claimed once");
    assert_eq!(claimed.into_iter().collect::<std::collections::HashSet<_>>(), scheduled);
}
