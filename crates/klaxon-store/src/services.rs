//! Services: what incidents are opened against. JSON documents (urgency rule, support hours, ...) are
//! stored as TEXT. The rendered status (`critical`, `warning`, `maintenance`) is derived from open
//! incidents and maintenance windows; the row only stores `active` or `disabled`.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub escalation_policy_id: String,
    pub status: String,
    pub acknowledgement_timeout: Option<i64>,
    pub auto_resolve_timeout: Option<i64>,
    pub incident_urgency_rule: String,
    pub support_hours: Option<String>,
    pub scheduled_actions: String,
    pub alert_creation: String,
    pub alert_grouping_parameters: Option<String>,
    pub auto_pause_notifications_parameters: Option<String>,
    pub last_incident_timestamp: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// The writable fields of a service (JSON documents already serialized).
#[derive(Clone, Debug)]
pub struct ServiceFields {
    pub name: String,
    pub description: Option<String>,
    pub escalation_policy_id: String,
    pub status: String,
    pub acknowledgement_timeout: Option<i64>,
    pub auto_resolve_timeout: Option<i64>,
    pub incident_urgency_rule: String,
    pub support_hours: Option<String>,
    pub scheduled_actions: String,
    pub alert_creation: String,
    pub alert_grouping_parameters: Option<String>,
    pub auto_pause_notifications_parameters: Option<String>,
}

impl ServiceRow {
    pub fn fields(&self) -> ServiceFields {
        ServiceFields {
            name: self.name.clone(),
            description: self.description.clone(),
            escalation_policy_id: self.escalation_policy_id.clone(),
            status: self.status.clone(),
            acknowledgement_timeout: self.acknowledgement_timeout,
            auto_resolve_timeout: self.auto_resolve_timeout,
            incident_urgency_rule: self.incident_urgency_rule.clone(),
            support_hours: self.support_hours.clone(),
            scheduled_actions: self.scheduled_actions.clone(),
            alert_creation: self.alert_creation.clone(),
            alert_grouping_parameters: self.alert_grouping_parameters.clone(),
            auto_pause_notifications_parameters: self.auto_pause_notifications_parameters.clone(),
        }
    }
}

/// A service with what it renders: teams `(id, name)`, live integrations, and the facts behind the
/// derived status.
#[derive(Clone, Debug)]
pub struct Service {
    pub row: ServiceRow,
    pub teams: Vec<(String, String)>,
    pub integrations: Vec<crate::integrations::IntegrationRow>,
    pub triggered_incidents: i64,
    pub acknowledged_incidents: i64,
    pub in_maintenance: bool,
}

impl Service {
    /// The status PagerDuty renders: disabled, maintenance, critical, warning or active.
    pub fn rendered_status(&self) -> &'static str {
        if self.row.status == "disabled" {
            "disabled"
        } else if self.in_maintenance {
            "maintenance"
        } else if self.triggered_incidents > 0 {
            "critical"
        } else if self.acknowledged_incidents > 0 {
            "warning"
        } else {
            "active"
        }
    }
}

/// Filters of `GET /services`.
#[derive(Clone, Debug, Default)]
pub struct ServiceFilter {
    pub query: Option<String>,
    pub name: Option<String>,
    pub team_ids: Vec<String>,
    pub descending: bool,
}

impl Store {
    /// Creates a service with its teams. A live service with the same name (case-insensitively) is
    /// `Conflict { field: "service.name" }`.
    pub async fn create_service(&self, fields: &ServiceFields, team_ids: &[String], now_ms: i64) -> Result<String> {
        dispatch!(self, p => q::services::create(p, fields, team_ids, now_ms))
    }

    /// Replaces a live service's fields and, when given, its teams.
    pub async fn update_service(
        &self,
        id: &str,
        fields: &ServiceFields,
        team_ids: Option<&[String]>,
        now_ms: i64,
    ) -> Result<()> {
        dispatch!(self, p => q::services::update(p, id, fields, team_ids, now_ms))
    }

    /// Soft-deletes a live service and its integrations (their routing keys stop working), atomically.
    pub async fn delete_service(&self, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::services::delete(p, id, now_ms))
    }

    /// A service with its details as of `now_ms`. `include_deleted` also finds deleted ones.
    pub async fn service(&self, id: &str, include_deleted: bool, now_ms: i64) -> Result<Option<Service>> {
        dispatch!(self, p => q::services::get(p, id, include_deleted, now_ms))
    }

    /// `(id, name)` of a service, deleted ones included (for references).
    pub async fn service_name(&self, id: &str) -> Result<Option<(String, String)>> {
        dispatch!(self, p => q::services::name_of(p, id))
    }

    /// The live services among `ids`, as `(id, name)`.
    pub async fn live_services_named(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        dispatch!(self, p => q::services::live_named(p, ids))
    }

    /// One page of live services, and the total count when `want_total`.
    pub async fn list_services(
        &self,
        filter: &ServiceFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
        now_ms: i64,
    ) -> Result<(Vec<Service>, Option<i64>)> {
        dispatch!(self, p => q::services::list(p, filter, limit, offset, want_total, now_ms))
    }
}
