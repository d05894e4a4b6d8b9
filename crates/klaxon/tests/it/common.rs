//! The test harness: [`TestServer`] starts Klaxon in-process on `127.0.0.1:0` against a fresh database
//! and hands out an authenticated HTTP client.

#![allow(dead_code)]

use jiff::Timestamp;
use klaxon_core::clock::ManualClock;
use klaxon_core::role::Role;
use klaxon_server::App;
use klaxon_store::testing::TestDatabase;
use klaxon_store::tokens::NewApiKey;
use klaxon_store::users::NewUser;
use klaxon_store::{Location, Store};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;

pub const OWNER_EMAIL: &str = "owner@klaxon.test";

/// Which database the suite runs on.
pub fn backend_is_postgres() -> bool {
    std::env::var("KLAXON_TEST_BACKEND").map(|b| b == "postgres").unwrap_or(false)
}

/// A fresh, migrated store for one test, and the guard that drops its PostgreSQL database.
pub async fn fresh_store(dir: &std::path::Path) -> (Store, Option<Arc<TestDatabase>>) {
    let (store, database) = klaxon_store::testing::test_store(dir).await.expect("open the test store");
    (store, database.map(Arc::new))
}

pub struct TestServer {
    pub url: String,
    pub app: App,
    pub store: Store,
    /// Present when the server runs on a manual clock.
    pub clock: Option<ManualClock>,
    /// A full-access account key.
    pub key: String,
    /// The owner user created at start.
    pub owner_id: String,
    pub http: reqwest::Client,
    pub database_url: Option<String>,
    pub dir: tempfile::TempDir,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Drops the PostgreSQL database when the test ends.
    database: Option<Arc<TestDatabase>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_inner(None).await
    }

    /// Starts on a manual clock set to `start`; advance it with `server.clock()`.
    pub async fn start_with_clock(start: Timestamp) -> TestServer {
        Self::start_inner(Some(ManualClock::new(start))).await
    }

    async fn start_inner(clock: Option<ManualClock>) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, database) = fresh_store(dir.path()).await;
        let database_url = database.as_ref().map(|d| d.url.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}");
        let mut builder = App::builder(store.clone(), url.clone());
        if let Some(clock) = &clock {
            builder = builder.clock(Arc::new(clock.clone()));
        }
        let app = builder.build();
        let now = app.now_ms();
        let owner = store.create_user(&NewUser::new("Owner", OWNER_EMAIL, Role::Owner), now).await.expect("owner");
        let (_, key) = store.create_api_key(&NewApiKey::Account { read_only: false }, "test", now).await.expect("key");
        let handle = tokio::spawn(klaxon_server::serve(app.clone(), listener, std::future::pending()));
        app.jobs.started().await;
        // The scan the server schedules at start has run before the test begins (no race with its jobs).
        klaxon_server::jobs::run_due(&app, app.jobs.node_id()).await;
        TestServer {
            url,
            app,
            store,
            clock,
            key,
            owner_id: owner.id,
            http: reqwest::Client::new(),
            database_url,
            dir,
            handle,
            database,
        }
    }

    pub fn clock(&self) -> &ManualClock {
        self.clock.as_ref().expect("server started with start_with_clock")
    }

    pub fn now(&self) -> Timestamp {
        self.app.clock.now()
    }

    /// A request with the account key and `From: <owner>`.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.url, path))
            .header("Authorization", format!("Token token={}", self.key))
            .header("Accept", "application/vnd.pagerduty+json;version=2")
            .header("From", OWNER_EMAIL)
    }

    /// A request with no credentials at all.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.url, path))
    }

    /// A request with a specific key and no `From` header.
    pub fn with_key(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.url, path)).header("Authorization", format!("Token token={key}"))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.req(Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.req(Method::PUT, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        send(self.req(Method::DELETE, path)).await
    }

    /// Creates a user directly in the store with a user token; returns (user id, token).
    pub async fn user_with_token(&self, email: &str, role: Role) -> (String, String) {
        let now = self.app.now_ms();
        let user = self.store.create_user(&NewUser::new(email, email, role), now).await.expect("user");
        let (_, token) =
            self.store.create_api_key(&NewApiKey::User { user_id: user.id.clone() }, "test", now).await.expect("token");
        (user.id, token)
    }

    /// A read-only account key.
    pub async fn read_only_key(&self) -> String {
        let (_, key) = self
            .store
            .create_api_key(&NewApiKey::Account { read_only: true }, "ro", self.app.now_ms())
            .await
            .expect("key");
        key
    }

    pub async fn stop(self) {
        self.app.shutdown.cancel();
        let _ = self.handle.await;
    }
}

/// Sends a request and returns the status and the JSON body (`Value::Null` when empty or not JSON).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request sent");
    read(response).await
}

pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a PagerDuty-shaped error body and returns its `errors` joined.
pub fn error_text(body: &Value) -> String {
    let error = body.get("error").unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(error["message"].is_string(), "{body}");
    assert!(error["code"].is_number(), "{body}");
    error["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .unwrap_or_default()
}

// ---- Events API helpers -------------------------------------------------------------------------------

impl TestServer {
    /// Seeds a service (user, policy, service, one integration) straight into the store.
    pub async fn seed_for_events(&self, options: klaxon_store::testing::SeedOptions) -> klaxon_store::testing::Seeded {
        klaxon_store::testing::seed_service(&self.store, &options, self.app.now_ms()).await.expect("seed service")
    }

    /// POSTs a JSON body to an Events API path without any credentials; returns (status, body).
    pub async fn send_event(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.anon(Method::POST, path).json(&body)).await
    }

    /// POSTs to `/v2/enqueue`.
    pub async fn enqueue(&self, body: Value) -> (u16, Value) {
        self.send_event("/v2/enqueue", body).await
    }

    /// Waits (up to 5 s) until every accepted event has been processed.
    pub async fn events_processed(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if self.store.unprocessed_event_count().await.expect("count") == 0 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "events still unprocessed after 5 s");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

/// A valid Events API v2 trigger.
pub fn v2_trigger(routing_key: &str, dedup_key: &str) -> Value {
    serde_json::json!({
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": format!("{dedup_key} is on fire"), "source": "host-1", "severity": "critical"}
    })
}

/// An Events API v2 acknowledge or resolve.
pub fn v2_action(routing_key: &str, event_action: &str, dedup_key: &str) -> Value {
    serde_json::json!({"routing_key": routing_key, "event_action": event_action, "dedup_key": dedup_key})
}

// ---- Durable jobs and timers (helpers for `jobs.rs` and `timers.rs`) ----

/// Opens another store on the same data as `server` (the same SQLite file or PostgreSQL database).
pub async fn open_same_store(dir: &std::path::Path, database_url: Option<&str>) -> Store {
    match database_url {
        Some(url) => Store::open(Location::Postgres(url)).await.expect("reopen postgres store"),
        None => Store::open(Location::SqliteDir(dir)).await.expect("reopen sqlite store"),
    }
}

impl TestServer {
    /// Runs every job due now, as this process's node (waits for a background run in flight first).
    pub async fn run_jobs(&self) -> usize {
        klaxon_server::jobs::run_due(&self.app, self.app.jobs.node_id()).await
    }

    /// The live jobs, soonest first, other than the on-call handoff scan every server keeps scheduled.
    pub async fn pending_jobs(&self) -> Vec<klaxon_store::jobs::JobRow> {
        let jobs = self.store.pending_jobs().await.expect("pending jobs");
        jobs.into_iter().filter(|j| j.kind != klaxon_store::jobs::kinds::HANDOFF_SCAN).collect()
    }

    /// Advances the manual clock by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.clock().advance(jiff::SignedDuration::from_secs(secs));
    }

    /// A second `App` (not serving HTTP) on the same database and clock, as a second node would be.
    pub async fn second_app(&self) -> App {
        let store = open_same_store(self.dir.path(), self.database_url.as_deref()).await;
        let mut builder = App::builder(store, self.url.clone());
        if let Some(clock) = &self.clock {
            builder = builder.clock(Arc::new(clock.clone()));
        }
        builder.build()
    }

    /// Stops the server (workers and database closed) and starts a new one on the same data and clock,
    /// as a process restart would; the key and the owner stay valid.
    pub async fn restart(self) -> TestServer {
        let TestServer { app, clock, key, owner_id, http, database_url, dir, handle, database, .. } = self;
        app.shutdown.cancel();
        let _ = handle.await;
        let store = open_same_store(dir.path(), database_url.as_deref()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let mut builder = App::builder(store.clone(), url.clone());
        if let Some(clock) = &clock {
            builder = builder.clock(Arc::new(clock.clone()));
        }
        let app = builder.build();
        let handle = tokio::spawn(klaxon_server::serve(app.clone(), listener, std::future::pending()));
        // The job worker has taken over the old process's leases (SQLite) before the test goes on.
        app.jobs.started().await;
        TestServer { url, app, store, clock, key, owner_id, http, database_url, dir, handle, database }
    }
}

/// A job is live (scheduled, running, retrying) exactly while its `finished_at` is NULL: every statement
/// that finishes a job stamps it, and the claim index and every "live" query rely on it.
pub fn assert_live_exactly_while_unfinished(job: &klaxon_store::jobs::JobRow) {
    let live = matches!(job.status.as_str(), "scheduled" | "running" | "retrying");
    assert_eq!(live, job.finished_at.is_none(), "live exactly while finished_at is NULL: {job:?}");
}
