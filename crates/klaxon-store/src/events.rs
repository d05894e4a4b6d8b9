//! The Events API inbox and its processor.
//!
//! Accepting: [`Store::accept_events`] commits a whole batch of validated events (alert events into the
//! `events` inbox, change events straight into `change_events`) in ONE write transaction: the server's
//! group-commit writer calls it, and only after it returns does any of those requests get its 202.
//!
//! Processing: [`Store::process_events`] takes the oldest unprocessed inbox rows (in `seq`, i.e. arrival,
//! order) and applies each inside one write transaction that also stamps `processed_at` and `outcome`, so
//! an event takes effect exactly once even across crashes: a batch either commits with its stamps or not
//! at all, and a restart resumes at the first unstamped row. On PostgreSQL the batch transaction first takes
//! a transaction-scoped advisory lock, so processors on several nodes never apply events concurrently.
//! (Across nodes, an inbox row may commit with a lower `seq` after a higher one was processed; events with
//! the same dedup key normally come through one node's writer, which commits in order.)
//!
//! Semantics (PagerDuty's, see `klaxon_core::events::decide`): the dedup scope is the integration; a trigger
//! on an open alert is counted on it (with a trigger log entry on its incident); a new trigger opens an alert
//! and an incident (gapless `incident_number`, urgency from the service rule, assigned to the user targets
//! of the policy's first rule); acknowledge and resolve act on the open alert or are dropped; an incident
//! resolves when all its alerts are resolved. Events for a disabled service or a service in an active
//! maintenance window make *suppressed* alerts: no incident, nothing pages. A suppressed alert is open
//! (`status = triggered`, `suppressed = TRUE`) and deduplicates later suppressed triggers, but it never
//! blocks a real one: the open-alert unique index is per `(integration, key, suppressed)` (migration 0004),
//! and a real trigger resolves the suppressed alert it replaces. Resolves also close suppressed alerts.
//!
//! Accepting also processes, on both backends: the accept transaction applies its events set-based
//! (`klaxon_core::alert_batch` plans, `queries/event_processing.rs` writes) before it commits (see
//! [`Store::accept_events`]), so accepting and processing share one fsync and an event's incident exists
//! when its 202 goes out. The 202 still depends only on the inbox insert: a processing failure rolls the
//! transaction back, the batch is committed again as unprocessed rows and the worker retries them. The
//! processor worker handles whatever remains (a backlog after a restart or a failure); while older rows
//! wait, a new batch is stored behind them and the oldest are applied first, so one dedup key's events are
//! always applied in arrival order.
//!
//! Records take the event's `received_at` as their instant (an event processed after a restart still
//! shows when it arrived); timers are scheduled from it too.

use crate::{Result, Store, dispatch};
use klaxon_core::events::ChangeEvent;

/// How many older unprocessed rows an accept transaction may apply besides its own (SQLite).
pub const INLINE_PROCESSING_EXTRA: i64 = 64;

/// What a routing key resolves to.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct IntegrationRoute {
    pub integration_id: String,
    pub service_id: String,
    pub integration_type: String,
    /// NULL = the server default; 0 = unlimited.
    pub rate_limit_per_minute: Option<i64>,
}

/// One accepted event, ready to commit.
#[derive(Clone, Debug)]
pub enum InboxItem {
    /// An alert event: `body` is the normalized `klaxon_core::events::AlertEvent` as JSON (what the inbox
    /// stores); `event` is the same event already parsed, when the caller has it (the writer then does not
    /// parse `body` again).
    Alert {
        integration_id: String,
        service_id: String,
        dedup_key: String,
        body: String,
        event: Option<Box<klaxon_core::events::AlertEvent>>,
    },
    Change {
        integration_id: String,
        service_id: String,
        event: ChangeEvent,
    },
}

/// An inbox row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InboxRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub received_at: i64,
    pub integration_id: String,
    pub service_id: String,
    pub dedup_key: Option<String>,
    pub body: String,
    pub processed_at: Option<i64>,
    pub outcome: Option<String>,
}

/// An alert as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AlertRow {
    pub id: String,
    pub incident_id: Option<String>,
    pub service_id: String,
    pub integration_id: Option<String>,
    pub alert_key: String,
    pub status: String,
    pub suppressed: bool,
    pub severity: String,
    pub summary: String,
    pub source: Option<String>,
    pub component: Option<String>,
    pub group_name: Option<String>,
    pub class: Option<String>,
    pub custom_details: Option<String>,
    pub contexts: String,
    pub client: Option<String>,
    pub client_url: Option<String>,
    pub event_timestamp: Option<i64>,
    pub trigger_count: i64,
    pub first_trigger_log_entry_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_occurred_at: i64,
    pub resolved_at: Option<i64>,
}

/// The parts of an incident the events pipeline sets (the incidents API has the full row).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventIncidentRow {
    pub id: String,
    pub incident_number: i64,
    pub title: String,
    pub service_id: String,
    pub escalation_policy_id: Option<String>,
    pub status: String,
    pub urgency: String,
    pub incident_key: Option<String>,
    pub assigned_via: String,
    pub escalation_level: i32,
    pub first_trigger_log_entry_id: Option<String>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// Processor outcomes stamped on inbox rows.
pub use klaxon_core::alert_batch::outcomes;

impl Store {
    /// The live integration (of a live service) with this integration key.
    pub async fn integration_route(&self, integration_key: &str) -> Result<Option<IntegrationRoute>> {
        dispatch!(self, p => q::events::route(p, integration_key))
    }

    /// Commits a batch of accepted events in one write transaction (group commit), and applies them in the
    /// same transaction (one fsync for both; see `queries::events::accept`). When older events still wait,
    /// up to the batch size plus [`INLINE_PROCESSING_EXTRA`] of the oldest are applied instead. Returns
    /// whether unprocessed events may remain, for the processor worker.
    pub async fn accept_events(&self, items: &[InboxItem], now_ms: i64) -> Result<bool> {
        let limit = items.len() as i64 + INLINE_PROCESSING_EXTRA;
        let (backlog, unassignable) = dispatch!(self, p => q::events::accept(p, items, now_ms, limit))?;
        self.count_unassignable(unassignable);
        Ok(backlog)
    }

    /// Applies up to `limit` unprocessed inbox rows in one transaction; returns how many it processed.
    pub async fn process_events(&self, limit: i64, now_ms: i64) -> Result<usize> {
        let (processed, unassignable) = dispatch!(self, p => q::events::process_batch(p, limit, now_ms))?;
        self.count_unassignable(unassignable);
        Ok(processed)
    }

    /// Stamps the oldest unprocessed row as failed (after it failed repeatedly on its own), so one poisoned
    /// event cannot stall the inbox. Returns its id.
    pub async fn fail_oldest_event(&self, reason: &str, now_ms: i64) -> Result<Option<String>> {
        dispatch!(self, p => q::events::fail_oldest(p, reason, now_ms))
    }

    /// Retention: deletes inbox rows processed before `inbox_before_ms` (their effects live on in alerts,
    /// incidents and log entries) and change events received before `changes_before_ms`.
    pub async fn prune_events(&self, inbox_before_ms: i64, changes_before_ms: i64) -> Result<u64> {
        dispatch!(self, p => q::events::prune(p, inbox_before_ms, changes_before_ms))
    }

    /// How many accepted events are waiting to be processed.
    pub async fn unprocessed_event_count(&self) -> Result<i64> {
        dispatch!(self, p => q::events::unprocessed_count(p))
    }

    /// When the oldest event still waiting to be processed was accepted (`None`: nothing is waiting).
    pub async fn oldest_unprocessed_event_at(&self) -> Result<Option<i64>> {
        dispatch!(self, p => q::events::oldest_unprocessed_at(p))
    }

    /// The inbox rows (diagnostics and tests), oldest first.
    pub async fn events_inbox(&self) -> Result<Vec<InboxRow>> {
        dispatch!(self, p => q::events::inbox(p))
    }

    /// Alerts of an integration, oldest first.
    pub async fn events_alerts_of_integration(&self, integration_id: &str) -> Result<Vec<AlertRow>> {
        dispatch!(self, p => q::events::alerts_of_integration(p, integration_id))
    }

    /// Incidents of a service, by number.
    pub async fn events_incidents_of_service(&self, service_id: &str) -> Result<Vec<EventIncidentRow>> {
        dispatch!(self, p => q::events::incidents_of_service(p, service_id))
    }

    /// User ids assigned to an incident.
    pub async fn events_incident_assignee_ids(&self, incident_id: &str) -> Result<Vec<String>> {
        dispatch!(self, p => q::events::assignee_ids(p, incident_id))
    }

    /// `(type, agent_type)` of an incident's log entries, oldest first.
    pub async fn events_incident_log_entry_types(&self, incident_id: &str) -> Result<Vec<(String, Option<String>)>> {
        dispatch!(self, p => q::events::log_entry_types(p, incident_id))
    }
}
