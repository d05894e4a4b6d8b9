//! Incidents as the REST API reads them: lists with filters, everything an incident renders, notes, log
//! entries and alerts; and the edits of notes, which are no change of the incident. Every change of an
//! incident goes through the command layer (`commands.rs`); the Events API's batch writes the same tables
//! through the same rules (`events.rs`).

use crate::{Result, Store, dispatch};
use klaxon_core::incident::{AlertStatus, AssignedVia, Status, Urgency};
use klaxon_core::log_entry::LogKind;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: String,
    pub incident_number: i64,
    pub title: String,
    pub description: Option<String>,
    pub service_id: String,
    pub escalation_policy_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub priority_id: Option<String>,
    pub incident_key: Option<String>,
    #[sqlx(try_from = "String")]
    pub assigned_via: AssignedVia,
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

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogEntryRow {
    pub id: String,
    #[sqlx(rename = "type", try_from = "String")]
    pub kind: LogKind,
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
    #[sqlx(try_from = "String")]
    pub status: AlertStatus,
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

    pub async fn notes(&self, incident_id: &str) -> Result<Vec<NoteRow>> {
        dispatch!(self, p => q::incidents::notes(p, incident_id))
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
}
