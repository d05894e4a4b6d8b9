//! Durable, precise escalation timers, on the real binary: an incident escalates through a three-level
//! policy (one minute per level) while the server is killed with SIGKILL twice. Level 2 falls due while a
//! restarted server runs: it is assigned within a second of its due time. Level 3 falls due while the
//! server is down: it is assigned within a second of the restarted server being healthy. Never twice:
//! one escalation (one `escalate_log_entry`, one `assign_log_entry`, one attempt of its job) per level.
//! Real time throughout (about 2 minutes 10 seconds: the REST API's shortest delay is one minute).

use crate::binary::{Served, Storage};
use crate::common::{open_same_store, v2_trigger};
use klaxon_store::Store;
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "escalationDurabilitySecret1";
const OWNER: &str = "owner@escalation.test";
/// Each level's `escalation_delay_in_minutes` (the minimum) in milliseconds.
const DELAY_MS: i64 = 60_000;
/// The contract: a step is assigned within this long of when it could first run.
const WITHIN_MS: i64 = 1_000;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The REST API of one running server, as the bootstrap account key and its owner.
struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    fn new(served: &Served) -> Api {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        Api { http, url: served.url.clone() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", format!("Token token={SECRET}"))
            .header("Accept", "application/vnd.pagerduty+json;version=2")
            .header("From", OWNER);
        if let Some(body) = body {
            request = request.json(&body);
        }
        crate::common::send(request).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(status == 201 || status == 202, "POST {path}: {status} {answer}");
        answer
    }

    /// The ids of the incident's assignees.
    async fn assignees(&self, incident: &str) -> Vec<String> {
        let body = self.get(&format!("/incidents/{incident}")).await;
        let assignments = body["incident"]["assignments"].as_array().unwrap();
        assignments.iter().map(|a| a["assignee"]["id"].as_str().unwrap().to_string()).collect()
    }

    /// Polls (every 100 ms, for at most `for_ms`) until `user` is the incident's only assignee; answers
    /// the wall-clock instant the test first saw it.
    async fn await_assignee(&self, incident: &str, user: &str, for_ms: i64) -> i64 {
        let deadline = now_ms() + for_ms;
        loop {
            let assignees = self.assignees(incident).await;
            if assignees == [user] {
                return now_ms();
            }
            assert!(now_ms() < deadline, "{user} was not assigned within {for_ms} ms; assignees {assignees:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The escalation step's live job of the incident (its due time is what the server wrote).
async fn step_due_at(store: &Store, incident: &str) -> i64 {
    let key = format!("{}:{incident}", klaxon_store::jobs::kinds::ESCALATE);
    store.job_by_key(&key).await.unwrap().expect("a live escalation step").due_at
}

/// The instants (ms, as the server wrote them) of the incident's log entries of `kind`, oldest first.
async fn logged_at(store: &Store, incident: &str, kind: &str) -> Vec<i64> {
    let log = store.incident_timer_log(incident).await.unwrap();
    log.into_iter().filter(|e| e.r#type == kind).map(|e| e.created_at).collect()
}

async fn start(storage: &Storage) -> Served {
    let env = [("KLAXON_BOOTSTRAP_TOKEN", SECRET), ("KLAXON_BOOTSTRAP_EMAIL", OWNER), ("KLAXON_LOG_LEVEL", "info")];
    Served::start(storage, &env, &[]).await
}

/// SIGKILL, and wait until the process is gone.
fn kill(mut served: Served) {
    served.signal("KILL");
    let _ = served.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_steps_fire_on_time_and_once_across_sigkills() {
    tokio::time::timeout(Duration::from_secs(240), scenario())
        .await
        .expect("the escalation durability test took over 240 s");
}

async fn scenario() {
    let storage = Storage::new().await;
    let served = start(&storage).await;
    let api = Api::new(&served);

    // Three users, a policy paging each on a level of its own one minute apart, a service with an
    // Events API v2 integration: all through the REST API.
    let mut users = Vec::new();
    for n in 1..=3 {
        let body = json!({"user": {"name": format!("Level {n}"), "email": format!("level{n}@escalation.test")}});
        users.push(api.post("/users", body).await["user"]["id"].as_str().unwrap().to_string());
    }
    let rules: Vec<Value> = users
        .iter()
        .map(|u| json!({"escalation_delay_in_minutes": 1, "targets": [{"id": u, "type": "user_reference"}]}))
        .collect();
    let policy = api
        .post("/escalation_policies", json!({"escalation_policy": {"name": "Three levels", "escalation_rules": rules}}))
        .await;
    let policy = policy["escalation_policy"]["id"].as_str().unwrap().to_string();
    let service = api
        .post(
            "/services",
            json!({"service": {"type": "service", "name": "Durable",
                   "escalation_policy": {"id": policy, "type": "escalation_policy_reference"}}}),
        )
        .await;
    let service = service["service"]["id"].as_str().unwrap().to_string();
    let integration = api
        .post(
            &format!("/services/{service}/integrations"),
            json!({"integration": {"type": "events_api_v2_inbound_integration"}}),
        )
        .await;
    let routing_key = integration["integration"]["integration_key"].as_str().unwrap().to_string();
    api.post("/v2/enqueue", v2_trigger(&routing_key, "disk-full")).await;

    let incidents = api.get(&format!("/incidents?service_ids[]={service}")).await;
    let incidents = incidents["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let incident = incidents[0]["id"].as_str().unwrap().to_string();
    assert_eq!(api.assignees(&incident).await, [users[0].as_str()]);

    // What the server wrote: the incident opened (its trigger entry) and level 2 due one delay later.
    let store = open_same_store(&storage.dir.path().join("data"), storage.database_url.as_deref()).await;
    let opened_at = logged_at(&store, &incident, "trigger_log_entry").await[0];
    let level_2_due = step_due_at(&store, &incident).await;
    assert_eq!(level_2_due, opened_at + DELAY_MS, "level 2 is due one delay after the incident opened");

    // Kill the server well before level 2 is due and start it again at once.
    tokio::time::sleep(Duration::from_millis(u64::try_from(level_2_due - 15_000 - now_ms()).unwrap_or(0))).await;
    kill(served);
    let served = start(&storage).await;
    let healthy_at = now_ms();
    let api = Api::new(&served);
    let first_run = level_2_due.max(healthy_at);
    let seen = api.await_assignee(&incident, &users[1], first_run + 10_000 - now_ms()).await;
    let escalated = logged_at(&store, &incident, "escalate_log_entry").await;
    assert_eq!(escalated.len(), 1, "one escalation so far: {escalated:?}");
    let level_2_at = escalated[0];
    eprintln!(
        "level 2: due {level_2_due}, restarted healthy {} ms before it; assigned {} ms after the due time \
         (escalate_log_entry), seen {} ms after",
        level_2_due - healthy_at,
        level_2_at - level_2_due,
        seen - level_2_due
    );
    assert!(level_2_at >= level_2_due, "level 2 escalated {} ms early", level_2_due - level_2_at);
    assert!(level_2_at - first_run < WITHIN_MS, "level 2 escalated {} ms after it could", level_2_at - first_run);
    assert!(seen - first_run < WITHIN_MS, "level 2 seen {} ms after it could run", seen - first_run);

    // Kill it again and keep it down until after level 3 fell due, then start it again.
    let level_3_due = step_due_at(&store, &incident).await;
    assert_eq!(level_3_due, level_2_at + DELAY_MS, "level 3 is due one delay after level 2 was assigned");
    kill(served);
    tokio::time::sleep(Duration::from_millis(u64::try_from(level_3_due + 2_000 - now_ms()).unwrap_or(0))).await;
    let served = start(&storage).await;
    let healthy_at = now_ms();
    assert!(healthy_at > level_3_due, "level 3 fell due while the server was down");
    let api = Api::new(&served);
    let seen = api.await_assignee(&incident, &users[2], 10_000).await;
    let escalated = logged_at(&store, &incident, "escalate_log_entry").await;
    assert_eq!(escalated.len(), 2, "two escalations so far: {escalated:?}");
    let level_3_at = escalated[1];
    eprintln!(
        "level 3: due {level_3_due}, restarted healthy {} ms after it; assigned {} ms after the restart was \
         healthy (escalate_log_entry), seen {} ms after",
        healthy_at - level_3_due,
        level_3_at - healthy_at,
        seen - healthy_at
    );
    assert!(level_3_at - healthy_at < WITHIN_MS, "level 3 escalated {} ms after the restart", level_3_at - healthy_at);
    assert!(seen - healthy_at < WITHIN_MS, "level 3 seen {} ms after the restart", seen - healthy_at);

    // Never twice: a few seconds on, one escalate and one assign entry per step, through the REST API
    // too, and each step's job ran exactly once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = api.get(&format!("/incidents/{incident}/log_entries?limit=100")).await;
    let types: Vec<&str> = log["log_entries"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    let count = |kind: &str| types.iter().filter(|t| **t == kind).count();
    assert_eq!(count("escalate_log_entry"), 2, "{types:?}");
    assert_eq!(logged_at(&store, &incident, "escalate_log_entry").await, [level_2_at, level_3_at]);
    let assigned = logged_at(&store, &incident, "assign_log_entry").await;
    for at in [level_2_at, level_3_at] {
        assert_eq!(assigned.iter().filter(|a| **a == at).count(), 1, "one assignment at {at}: {assigned:?}");
    }
    assert_eq!(api.assignees(&incident).await, [users[2].as_str()]);
    let subject = klaxon_store::jobs::kinds::incident_subject(&incident);
    let steps: Vec<_> = store
        .jobs_of_subject(&subject)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == klaxon_store::jobs::kinds::ESCALATE && j.finished_at.is_some())
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    for step in &steps {
        assert_eq!((step.status.as_str(), step.attempts), ("done", 1), "{step:?}");
    }
    store.close().await;

    let (status, log) = served.terminate();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
}
