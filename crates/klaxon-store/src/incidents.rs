//! Incidents as the REST API sees them: reading (with filters and everything an incident renders), manual
//! creation, status changes and the other PUT fields (one incident or a bulk of them in one transaction),
//! merge, snooze, notes, log entries and alerts. The Events API writes the same tables (see `events.rs`).
//! Every status change keeps the incident's durable timers in step (`queries/jobs.rs`) in the same transaction.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: String,
    pub incident_number: i64,
    pub title: String,
    pub description: Option<String>,
    pub service_id: String,
    pub escalation_policy_id: Option<String>,
    pub status: String,
    pub urgency: String,
    pub priority_id: Option<String>,
    pub incident_key: Option<String>,
    pub assigned_via: String,
    pub escalation_level: i32,
    pub body_details: Option<String>,
    pub conference_number: Option<String>,
    pub conference_url: Option<String>,
    pub resolve_reason: Option<String>,
    pub merged_into_id: Option<String>,
    pub first_trigger_log_entry_id: Option<String>,
    pub last_status_change_at: i64,
    pub last_status_change_by_type: String,
    pub last_status_change_by_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

/// Filters of `GET /incidents`.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub statuses: Vec<String>,
    pub service_ids: Vec<String>,
    pub team_ids: Vec<String>,
    pub user_ids: Vec<String>,
    pub urgencies: Vec<String>,
    pub incident_key: Option<String>,
    /// Created at or after (ms).
    pub since: Option<i64>,
    /// Created before (ms).
    pub until: Option<i64>,
    /// `ORDER BY` terms, already validated: (column, descending).
    pub sort: Vec<(&'static str, bool)>,
}

/// Related rows rendered with an incident.
#[derive(Clone, Debug, Default)]
pub struct IncidentDetails {
    pub assignments: Vec<(String, i64)>,
    /// (acknowledger type, acknowledger id, at).
    pub acknowledgements: Vec<(String, String, i64)>,
    pub alerts_triggered: i64,
    pub alerts_resolved: i64,
    /// (job kind, due at) of the incident's pending timers.
    pub pending: Vec<(String, i64)>,
}

/// A manual incident (`POST /incidents`).
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    pub service_id: String,
    pub escalation_policy_id: Option<String>,
    pub urgency: String,
    pub priority_id: Option<String>,
    pub incident_key: Option<String>,
    pub body_details: Option<String>,
    pub assignees: Vec<String>,
    pub assigned_via: &'static str,
    pub conference_number: Option<String>,
    pub conference_url: Option<String>,
    /// Created acknowledged by the requester (they assigned it only to themselves).
    pub acknowledged: bool,
    pub requester_id: String,
    /// Log entry channel type: `web_trigger` for people, `api` for keys.
    pub channel: &'static str,
}

/// One incident's changes in a `PUT`. Absent fields are left alone.
#[derive(Clone, Debug, Default)]
pub struct IncidentUpdate {
    pub id: String,
    /// The status change the core allowed (acknowledge, resolve, reopen, ...), as the target status.
    pub status: Option<String>,
    pub resolution: Option<String>,
    pub title: Option<String>,
    pub priority_id: Option<Option<String>>,
    pub urgency: Option<String>,
    /// Escalate to this level: assignees are that level's user targets.
    pub escalate_to: Option<(i32, Vec<String>)>,
    /// Reassign directly to these users.
    pub assignees: Option<Vec<String>>,
    /// Delegate to this policy (with its first level's users).
    pub delegate_to: Option<(String, Vec<String>)>,
    pub conference: Option<(Option<String>, Option<String>)>,
}

/// Who acts, for log entries and `last_status_change_by`.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub channel: &'static str,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogEntryRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub incident_id: Option<String>,
    pub alert_id: Option<String>,
    pub service_id: Option<String>,
    pub agent_type: Option<String>,
    pub agent_id: Option<String>,
    pub channel: String,
    pub note: Option<String>,
    pub summary: String,
    pub user_id: Option<String>,
    pub details: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, Default)]
pub struct LogEntryFilter {
    pub incident_id: Option<String>,
    pub team_ids: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub overview: bool,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NoteRow {
    pub id: String,
    pub incident_id: String,
    pub user_id: Option<String>,
    pub content: String,
    pub channel_summary: String,
    pub created_at: i64,
    pub updated_at: i64,
}

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

impl Store {
    /// One page of incidents, and the total when asked for.
    pub async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<IncidentRow>, Option<i64>)> {
        dispatch!(self, p => q::incidents::list(p, filter, limit, offset, want_total))
    }

    /// An incident by id, or by its number when `id_or_number` is all digits.
    pub async fn incident(&self, id_or_number: &str) -> Result<Option<IncidentRow>> {
        dispatch!(self, p => q::incidents::get(p, id_or_number))
    }

    /// Assignments, acknowledgements, alert counts and pending timers of each incident.
    pub async fn incident_details(&self, ids: &[String]) -> Result<std::collections::HashMap<String, IncidentDetails>> {
        dispatch!(self, p => q::incidents::details(p, ids))
    }

    /// The user targets of a policy's rule at `level` (1-based), or `None` past the last rule.
    pub async fn policy_level_users(&self, policy_id: &str, level: i32) -> Result<Option<Vec<String>>> {
        dispatch!(self, p => q::incidents::level_users(p, policy_id, level))
    }

    /// How many rules a policy has.
    pub async fn policy_levels(&self, policy_id: &str) -> Result<i64> {
        dispatch!(self, p => q::incidents::level_count(p, policy_id))
    }

    pub async fn create_incident(&self, incident: &NewIncident, now_ms: i64) -> Result<IncidentRow> {
        dispatch!(self, p => q::incidents::create(p, incident, now_ms))
    }

    /// Applies every update in one transaction: all of them or none.
    pub async fn update_incidents(&self, updates: &[IncidentUpdate], actor: &Actor, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::incidents::update(p, updates, actor, now_ms))
    }

    /// Moves the sources' alerts to the target and resolves the sources as merged.
    pub async fn merge_incidents(&self, target: &str, sources: &[String], actor: &Actor, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::incidents::merge(p, target, sources, actor, now_ms))
    }

    /// Keeps an acknowledged incident quiet for `seconds`, then it triggers again (the ack-timeout job).
    pub async fn snooze_incident(&self, id: &str, seconds: i64, actor: &Actor, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::incidents::snooze(p, id, seconds, actor, now_ms))
    }

    pub async fn notes(&self, incident_id: &str) -> Result<Vec<NoteRow>> {
        dispatch!(self, p => q::incidents::notes(p, incident_id))
    }

    pub async fn add_note(&self, incident_id: &str, content: &str, actor: &Actor, now_ms: i64) -> Result<NoteRow> {
        dispatch!(self, p => q::incidents::add_note(p, incident_id, content, actor, now_ms))
    }

    pub async fn update_note(&self, incident_id: &str, note_id: &str, content: &str, now_ms: i64) -> Result<NoteRow> {
        dispatch!(self, p => q::incidents::update_note(p, incident_id, note_id, content, now_ms))
    }

    pub async fn delete_note(&self, incident_id: &str, note_id: &str) -> Result<()> {
        dispatch!(self, p => q::incidents::delete_note(p, incident_id, note_id))
    }

    pub async fn list_log_entries(
        &self,
        filter: &LogEntryFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<LogEntryRow>, Option<i64>)> {
        dispatch!(self, p => q::incidents::log_entries(p, filter, limit, offset, want_total))
    }

    pub async fn log_entry(&self, id: &str) -> Result<Option<LogEntryRow>> {
        dispatch!(self, p => q::incidents::log_entry(p, id))
    }

    pub async fn incident_alerts(
        &self,
        incident_id: &str,
        statuses: &[String],
        alert_key: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AlertRow>, i64)> {
        dispatch!(self, p => q::incidents::alerts(p, incident_id, statuses, alert_key, limit, offset))
    }

    pub async fn alert(&self, incident_id: &str, alert_id: &str) -> Result<Option<AlertRow>> {
        dispatch!(self, p => q::incidents::alert(p, incident_id, alert_id))
    }

    /// Resolves alerts (and their incident once none is open) and/or moves them to another open incident.
    pub async fn update_alerts(
        &self,
        incident_id: &str,
        changes: &[(String, Option<String>, Option<String>)],
        actor: &Actor,
        now_ms: i64,
    ) -> Result<()> {
        dispatch!(self, p => q::incidents::update_alerts(p, incident_id, changes, actor, now_ms))
    }
}
