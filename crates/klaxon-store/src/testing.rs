//! The test kit's storage half (built only with the `testing` feature, which only test builds enable):
//! a database per test, dropped when the test ends ([`TestDatabase`]), and the fixtures that build a test
//! organisation through the same store calls and the same command layer as production
//! ([`seed_service`], [`seed_incident`]), so tests never create incidents with raw SQL. The few
//! `fixture_*` functions that do write raw rows exist to break things on purpose (failure tests).

use crate::Result;
use klaxon_core::actor::Actor;
use klaxon_core::command::Command;
use klaxon_core::events::{AlertEvent, EventAction, EventsVersion};
use klaxon_core::role::Role;
use rand::Rng;
use sqlx::Connection;

/// A PostgreSQL database of one test's own, dropped (with any connection left to it) when this guard is.
pub struct TestDatabase {
    pub url: String,
    base_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database named `klaxon_test_<random>` on the server `base_url` points at.
    pub async fn create(base_url: &str) -> Result<TestDatabase> {
        let mut conn = sqlx::PgConnection::connect(base_url).await?;
        let suffix: u64 = rand::rng().random();
        let name = format!("klaxon_test_{suffix:016x}");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
        conn.close().await?;
        let mut url = url::Url::parse(base_url).map_err(|e| crate::StoreError::Rejected(e.to_string()))?;
        url.set_path(&name);
        Ok(TestDatabase { url: url.to_string(), base_url: base_url.to_string(), name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside a runtime: the drop gets a thread and a small runtime of its own.
        let (base, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.ok()?;
                conn.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// The store a test suite runs on: SQLite in `dir` by default; a fresh PostgreSQL database when the suite
/// runs with `KLAXON_TEST_BACKEND=postgres` (on the server `KLAXON_TEST_POSTGRES_URL` names), with the
/// guard that drops it. Keep the guard alive as long as the store.
pub async fn test_store(dir: &std::path::Path) -> Result<(crate::Store, Option<TestDatabase>)> {
    if std::env::var("KLAXON_TEST_BACKEND").as_deref() == Ok("postgres") {
        let base = std::env::var("KLAXON_TEST_POSTGRES_URL")
            .map_err(|_| crate::StoreError::Rejected("KLAXON_TEST_POSTGRES_URL is not set".into()))?;
        let db = TestDatabase::create(&base).await?;
        let store = crate::Store::open(crate::Location::Postgres(&db.url)).await?;
        return Ok((store, Some(db)));
    }
    Ok((crate::Store::open(crate::Location::SqliteDir(dir)).await?, None))
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
/// made through the store calls the configuration API makes (for suites that must not depend on HTTP).
pub async fn seed_service(store: &crate::Store, options: &SeedOptions, now_ms: i64) -> Result<Seeded> {
    use crate::escalation_policies::{NewRule, PolicyFields};
    use crate::integrations::IntegrationFields;
    use crate::services::ServiceFields;
    let tag = crate::ids::resource_id();
    let user = crate::users::NewUser::new(
        format!("On-call {tag}"),
        format!("oncall-{}@klaxon.test", tag.to_lowercase()),
        Role::User,
    );
    let user = store.create_user(&user, now_ms).await?;
    let policy = PolicyFields {
        name: format!("Policy {tag}"),
        description: None,
        num_loops: 0,
        on_call_handoff_notifications: "if_has_services".into(),
    };
    let rule = NewRule {
        id: None,
        escalation_delay_in_minutes: 30,
        assignment_strategy: "assign_to_everyone".into(),
        targets: vec![("user".into(), user.id.clone())],
    };
    let escalation_policy_id = store.create_escalation_policy(&policy, &[rule], &[], now_ms).await?;
    let service = ServiceFields {
        name: options.service_name.clone(),
        description: None,
        escalation_policy_id: escalation_policy_id.clone(),
        status: "active".into(),
        acknowledgement_timeout: options.acknowledgement_timeout,
        auto_resolve_timeout: options.auto_resolve_timeout,
        incident_urgency_rule: options.incident_urgency_rule.to_string(),
        support_hours: None,
        scheduled_actions: "[]".into(),
        alert_creation: "create_alerts_and_incidents".into(),
        alert_grouping_parameters: None,
        auto_pause_notifications_parameters: None,
    };
    let service_id = store.create_service(&service, &[], now_ms).await?;
    let fields = IntegrationFields { name: "Events API".into(), vendor_id: None, rate_limit_per_minute: None };
    let integration = store.create_integration(&service_id, &options.integration_type, &fields, now_ms).await?;
    Ok(Seeded {
        user_id: user.id,
        escalation_policy_id,
        service_id,
        integration_id: integration.id,
        integration_key: integration.integration_key,
    })
}

/// Test fixture: an incident on a seeded service in the given status (`triggered` or `acknowledged`),
/// opened by an Events API trigger (one alert, assigned to the seeded user, its timers armed) and, for
/// `acknowledged`, acknowledged by the seeded user through the command layer: the production paths.
pub async fn seed_incident(store: &crate::Store, seeded: &Seeded, status: &str, now_ms: i64) -> Result<String> {
    let key = crate::ids::integration_key();
    let event = AlertEvent {
        version: EventsVersion::V2,
        action: EventAction::Trigger,
        dedup_key: key.clone(),
        summary: Some("Seeded incident".into()),
        source: Some("seed".into()),
        severity: Some("critical".into()),
        timestamp_ms: None,
        component: None,
        group: None,
        class: None,
        custom_details: None,
        contexts: vec![],
        client: None,
        client_url: None,
    };
    let item = crate::events::InboxItem::Alert {
        integration_id: seeded.integration_id.clone(),
        service_id: seeded.service_id.clone(),
        dedup_key: key.clone(),
        body: serde_json::to_string(&event)?,
        event: None,
    };
    store.accept_events(&[item], now_ms).await?;
    let filter = crate::incidents::IncidentFilter { incident_key: Some(key), ..Default::default() };
    let (rows, _) = store.list_incidents(&filter, 1, 0, false).await?;
    let id = rows.into_iter().next().map(|r| r.id).ok_or(crate::StoreError::NotFound("seeded incident"))?;
    if status == "acknowledged" {
        let actor = Actor::user(seeded.user_id.clone(), "On-call", klaxon_core::actor::Channel::Api);
        store.execute_one(&id, vec![Command::Acknowledge], &actor, now_ms).await?;
    }
    Ok(id)
}

/// Test fixture: sets a service's status (`active` or `disabled`).
pub async fn fixture_service_status(store: &crate::Store, service_id: &str, status: &str) -> Result<()> {
    crate::dispatch!(store, p => q::fixtures::fixture_service_status(p, service_id, status))
}

/// Test fixture: sets an integration's own events-per-minute limit (`None` = the server default).
pub async fn fixture_integration_rate_limit(
    store: &crate::Store,
    integration_id: &str,
    per_minute: Option<i64>,
) -> Result<()> {
    crate::dispatch!(store, p => q::fixtures::fixture_integration_rate_limit(p, integration_id, per_minute))
}

/// Test fixture: a maintenance window over one service from `start_ms` to `end_ms`; returns its id.
pub async fn fixture_maintenance_window(
    store: &crate::Store,
    service_id: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<String> {
    crate::dispatch!(store, p => q::fixtures::fixture_maintenance_window(p, service_id, start_ms, end_ms))
}

/// Test fixture: another integration of type `kind` on a service; returns `(integration_id, integration_key)`.
pub async fn fixture_extra_integration(
    store: &crate::Store,
    service_id: &str,
    kind: &str,
    now_ms: i64,
) -> Result<(String, String)> {
    crate::dispatch!(store, p => q::fixtures::fixture_integration(p, service_id, kind, now_ms))
}

/// Test fixture: sets an incident's status directly, leaving its alerts alone (as another code path might).
pub async fn fixture_incident_status(store: &crate::Store, incident_id: &str, status: &str) -> Result<()> {
    crate::dispatch!(store, p => q::fixtures::fixture_incident_status(p, incident_id, status))
}

/// Test fixture: an unprocessed inbox row with an arbitrary (say, undecodable) body.
pub async fn fixture_raw_inbox_row(store: &crate::Store, seeded: &Seeded, body: &str, now_ms: i64) -> Result<()> {
    crate::dispatch!(store, p => q::fixtures::fixture_raw_inbox_row(p, &seeded.integration_id, &seeded.service_id, body, now_ms))
}

/// Test fixture: runs raw SQL on the writer (to break or mend the schema in failure tests).
pub async fn fixture_execute(store: &crate::Store, sql: &str) -> Result<()> {
    crate::dispatch!(store, p => q::fixtures::fixture_execute(p, sql))
}
