//! Helpers for test suites that run against PostgreSQL: each test gets a database of its own.

use crate::Result;
use rand::Rng;
use sqlx::Connection;

/// Creates an empty database named `klaxon_test_<random>` on the server `base_url` points at and
/// returns a URL for it.
pub async fn fresh_postgres_database(base_url: &str) -> Result<String> {
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    let suffix: u64 = rand::rng().random();
    let name = format!("klaxon_test_{suffix:016x}");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    conn.close().await?;
    let mut url = url::Url::parse(base_url).map_err(|e| crate::StoreError::Rejected(e.to_string()))?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// The store a test suite runs on: SQLite in `dir` by default; a fresh PostgreSQL database when the suite
/// runs with `KLAXON_TEST_BACKEND=postgres` (on the server `KLAXON_TEST_POSTGRES_URL` names).
pub async fn test_store(dir: &std::path::Path) -> Result<crate::Store> {
    if std::env::var("KLAXON_TEST_BACKEND").as_deref() == Ok("postgres") {
        let base = std::env::var("KLAXON_TEST_POSTGRES_URL")
            .map_err(|_| crate::StoreError::Rejected("KLAXON_TEST_POSTGRES_URL is not set".into()))?;
        let url = fresh_postgres_database(&base).await?;
        return crate::Store::open(crate::Location::Postgres(&url)).await;
    }
    crate::Store::open(crate::Location::SqliteDir(dir)).await
}

/// What [`seed_service`] should create.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub service_name: String,
    /// Seconds; `None` disables the timer.
    pub acknowledgement_timeout: Option<i64>,
    pub auto_resolve_timeout: Option<i64>,
    /// The service's `incident_urgency_rule` JSON.
    pub incident_urgency_rule: serde_json::Value,
    pub integration_type: String,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            service_name: format!("Service {}", crate::ids::resource_id()),
            acknowledgement_timeout: Some(1800),
            auto_resolve_timeout: Some(14400),
            incident_urgency_rule: serde_json::json!({"type": "constant", "urgency": "high"}),
            integration_type: "events_api_v2_inbound_integration".into(),
        }
    }
}

/// Ids of what [`seed_service`] created.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub user_id: String,
    pub escalation_policy_id: String,
    pub service_id: String,
    pub integration_id: String,
    pub integration_key: String,
}

/// Test fixture: a user, an escalation policy paging that user, a service on it and one integration,
/// written straight to the database (for suites that must not depend on the configuration API).
pub async fn seed_service(store: &crate::Store, options: &SeedOptions, now_ms: i64) -> Result<Seeded> {
    crate::dispatch!(store, p => q::seed::service(p, options, now_ms))
}

/// Test fixture: an incident on a seeded service in the given status (`triggered` or `acknowledged`),
/// with one alert, assigned to the seeded user; its timers are scheduled as the status requires.
pub async fn seed_incident(store: &crate::Store, seeded: &Seeded, status: &str, now_ms: i64) -> Result<String> {
    crate::dispatch!(store, p => q::seed::incident(p, seeded, status, now_ms))
}

/// Test fixture: sets a service's status (`active` or `disabled`).
pub async fn fixture_service_status(store: &crate::Store, service_id: &str, status: &str) -> Result<()> {
    crate::dispatch!(store, p => q::events::fixture_service_status(p, service_id, status))
}

/// Test fixture: sets an integration's own events-per-minute limit (`None` = the server default).
pub async fn fixture_integration_rate_limit(
    store: &crate::Store,
    integration_id: &str,
    per_minute: Option<i64>,
) -> Result<()> {
    crate::dispatch!(store, p => q::events::fixture_integration_rate_limit(p, integration_id, per_minute))
}

/// Test fixture: a maintenance window over one service from `start_ms` to `end_ms`; returns its id.
pub async fn fixture_maintenance_window(
    store: &crate::Store,
    service_id: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<String> {
    crate::dispatch!(store, p => q::events::fixture_maintenance_window(p, service_id, start_ms, end_ms))
}

/// Test fixture: another integration of type `kind` on a service; returns `(integration_id, integration_key)`.
pub async fn fixture_extra_integration(
    store: &crate::Store,
    service_id: &str,
    kind: &str,
    now_ms: i64,
) -> Result<(String, String)> {
    crate::dispatch!(store, p => q::events::fixture_integration(p, service_id, kind, now_ms))
}

/// Test fixture: sets an incident's status directly, leaving its alerts alone (as another code path might).
pub async fn fixture_incident_status(store: &crate::Store, incident_id: &str, status: &str) -> Result<()> {
    crate::dispatch!(store, p => q::events::fixture_incident_status(p, incident_id, status))
}

/// Test fixture: an unprocessed inbox row with an arbitrary (say, undecodable) body.
pub async fn fixture_raw_inbox_row(store: &crate::Store, seeded: &Seeded, body: &str, now_ms: i64) -> Result<()> {
    crate::dispatch!(store, p => q::events::fixture_raw_inbox_row(p, &seeded.integration_id, &seeded.service_id, body, now_ms))
}

/// Test fixture: runs raw SQL on the writer (to break or mend the schema in failure tests).
pub async fn fixture_execute(store: &crate::Store, sql: &str) -> Result<()> {
    crate::dispatch!(store, p => q::events::fixture_execute(p, sql))
}
