//! Change events: deploys, config changes and the like, stored per service (written by the Events API's
//! group-commit writer, see [`crate::events`]), never paging, and listed by the REST API.

use crate::{Result, Store, dispatch};
use klaxon_core::page::PageRequest;

/// A stored change event with the names its references need.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChangeEventRow {
    pub id: String,
    pub service_id: String,
    pub service_name: String,
    pub integration_id: Option<String>,
    pub integration_name: Option<String>,
    pub summary: String,
    pub source: Option<String>,
    pub event_timestamp: i64,
    pub custom_details: Option<String>,
    pub links: String,
    pub images: String,
    pub received_at: i64,
}

/// Filters of `GET /change_events` (all optional; lists are "any of").
#[derive(Clone, Debug, Default)]
pub struct ChangeEventFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub service_ids: Vec<String>,
    pub integration_ids: Vec<String>,
    pub team_ids: Vec<String>,
}

impl Store {
    /// One page of change events, newest first (fetches `limit + 1` rows), and the total when asked.
    pub async fn change_events(
        &self,
        filter: &ChangeEventFilter,
        page: &PageRequest,
    ) -> Result<(Vec<ChangeEventRow>, Option<i64>)> {
        dispatch!(self, p => q::change_events::list(p, filter, page))
    }

    pub async fn change_event(&self, id: &str) -> Result<Option<ChangeEventRow>> {
        dispatch!(self, p => q::change_events::by_id(p, id))
    }

    /// `(service_id, created_at)` of an incident, for related change events.
    pub async fn change_events_incident_anchor(&self, incident_id: &str) -> Result<Option<(String, i64)>> {
        dispatch!(self, p => q::change_events::incident_anchor(p, incident_id))
    }

    /// Whether a live service exists.
    pub async fn change_events_service_exists(&self, service_id: &str) -> Result<bool> {
        dispatch!(self, p => q::change_events::service_exists(p, service_id))
    }
}
