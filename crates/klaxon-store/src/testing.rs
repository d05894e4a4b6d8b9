//! The test kit's storage half (built only with the `testing` feature, which only test builds enable):
//! a database per test, dropped when the test ends ([`TestDatabase`]), and the fixtures that build a test
//! organisation through the same store calls and the same command layer as production
//! ([`seed_service`], [`seed_incident`]), so tests never create incidents with raw SQL. The few
//! `fixture_*` functions that do write raw rows exist to break things on purpose (failure tests).

use crate::Result;
use klaxon_core::actor::Actor;
use klaxon_core::command::Command;
use klaxon_core::events::{AlertEvent, EventAction, EventsVersion};
use klaxon_core::incident::Status;
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

/// The test organisation builder: users, teams, escalation policies, services with an Events API
/// integration, and incidents in a given state, each made through the store calls the REST API makes
/// and, for incidents, through the Events API's batch and the command layer. Every fixture below is built
/// on it, so a test's data takes the production paths.
pub struct TestOrg<'a> {
    store: &'a crate::Store,
    now_ms: i64,
}

impl<'a> TestOrg<'a> {
    pub fn new(store: &'a crate::Store, now_ms: i64) -> Self {
        Self { store, now_ms }
    }

    /// A user named `name` (email `<name>@klaxon.test`, lower-cased, spaces as dots).
    pub async fn user(&self, name: &str, role: Role) -> Result<crate::users::UserRow> {
        let email = format!("{}@klaxon.test", name.to_lowercase().replace(' ', "."));
        self.store.create_user(&crate::users::NewUser::new(name, email, role), self.now_ms).await
    }

    /// A team with these members (as responders).
    pub async fn team(&self, name: &str, members: &[&str]) -> Result<String> {
        let fields = crate::teams::TeamFields {
            name: name.into(),
            description: None,
            default_role: "manager".into(),
            parent_id: None,
        };
        let team = self.store.create_team(&fields, self.now_ms).await?;
        for user in members {
            self.store.set_team_member(&team.id, user, "responder").await?;
        }
        Ok(team.id)
    }

    /// An escalation policy with one rule per level, each paging those users, 30 minutes apart.
    pub async fn policy(&self, name: &str, levels: &[&[&str]]) -> Result<String> {
        use crate::escalation_policies::{NewRule, PolicyFields};
        let fields = PolicyFields {
            name: name.into(),
            description: None,
            num_loops: 0,
            on_call_handoff_notifications: "if_has_services".into(),
        };
        let rules: Vec<NewRule> = levels
            .iter()
            .map(|users| NewRule {
                id: None,
                escalation_delay_in_minutes: 30,
                assignment_strategy: "assign_to_everyone".into(),
                targets: users.iter().map(|u| ("user".to_string(), u.to_string())).collect(),
            })
            .collect();
        self.store.create_escalation_policy(&fields, &rules, &[], self.now_ms).await
    }

    /// A service on `policy_id` with one integration of `options.integration_type`:
    /// (service id, integration id, integration key).
    pub async fn service(&self, policy_id: &str, options: &SeedOptions) -> Result<(String, String, String)> {
        use crate::integrations::IntegrationFields;
        use crate::services::ServiceFields;
        let service = ServiceFields {
            name: options.service_name.clone(),
            description: None,
            escalation_policy_id: policy_id.into(),
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
        let service_id = self.store.create_service(&service, &[], self.now_ms).await?;
        let fields = IntegrationFields { name: "Events API".into(), vendor_id: None, rate_limit_per_minute: None };
        let integration =
            self.store.create_integration(&service_id, &options.integration_type, &fields, self.now_ms).await?;
        Ok((service_id, integration.id, integration.integration_key))
    }

    /// An incident on the seeded service in `status`: opened by an Events API trigger (one alert, assigned
    /// through the policy, timers armed), then acknowledged or resolved by `by` (a user id) through the
    /// command layer.
    pub async fn incident(&self, seeded: &Seeded, status: Status, by: &str) -> Result<String> {
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
        self.store.accept_events(&[item], self.now_ms).await?;
        let filter = crate::incidents::IncidentFilter { incident_key: Some(key), ..Default::default() };
        let (rows, _) = self.store.list_incidents(&filter, 1, 0, false).await?;
        let id = rows.into_iter().next().map(|r| r.id).ok_or(crate::StoreError::NotFound("seeded incident"))?;
        let actor = Actor::user(by, "Test user", klaxon_core::actor::Channel::Api);
        let command = match status {
            Status::Triggered => None,
            Status::Acknowledged => Some(Command::Acknowledge),
            Status::Resolved => Some(Command::Resolve { resolution: None }),
        };
        if let Some(command) = command {
            self.store.execute_one(&id, vec![command], &actor, self.now_ms).await?;
        }
        Ok(id)
    }
}

/// Test fixture: a user, an escalation policy paging that user, a service on it and one integration
/// (a [`TestOrg`] of one).
pub async fn seed_service(store: &crate::Store, options: &SeedOptions, now_ms: i64) -> Result<Seeded> {
    let org = TestOrg::new(store, now_ms);
    let tag = crate::ids::resource_id();
    let user = org.user(&format!("On-call {tag}"), Role::User).await?;
    let escalation_policy_id = org.policy(&format!("Policy {tag}"), &[&[user.id.as_str()]]).await?;
    let (service_id, integration_id, integration_key) = org.service(&escalation_policy_id, options).await?;
    Ok(Seeded { user_id: user.id, escalation_policy_id, service_id, integration_id, integration_key })
}

/// Test fixture: an incident on a seeded service in the given status (`triggered`, `acknowledged` or
/// `resolved`), changed by the seeded user (see [`TestOrg::incident`]).
pub async fn seed_incident(store: &crate::Store, seeded: &Seeded, status: &str, now_ms: i64) -> Result<String> {
    let status: Status = status.parse().map_err(|e| crate::StoreError::Rejected(format!("{e}")))?;
    TestOrg::new(store, now_ms).incident(seeded, status, &seeded.user_id).await
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
