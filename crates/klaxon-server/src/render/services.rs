//! Services and their integrations, as `/services` renders them and as escalation policies and
//! maintenance windows embed them (`include[]=services`).

use crate::error::ApiResult;
use crate::render::vendors::vendor_ref;
use crate::render::{Reference, opt_time, team_object, team_ref, time, to_value};
use crate::state::App;
use klaxon_store::integrations::IntegrationRow;
use klaxon_store::services::Service;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub status: &'static str,
    pub auto_resolve_timeout: Option<i64>,
    pub acknowledgement_timeout: Option<i64>,
    /// A reference, or the full policy with `include[]=escalation_policies`.
    #[schema(value_type = Object)]
    pub escalation_policy: Value,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub integrations: Vec<Value>,
    #[schema(value_type = Object)]
    pub incident_urgency_rule: Value,
    #[schema(value_type = Option<Object>)]
    pub support_hours: Value,
    #[schema(value_type = Vec<Object>)]
    pub scheduled_actions: Value,
    pub alert_creation: String,
    #[schema(value_type = Object)]
    pub alert_grouping_parameters: Value,
    pub alert_grouping: Option<String>,
    pub alert_grouping_timeout: Option<i64>,
    #[schema(value_type = Object)]
    pub auto_pause_notifications_parameters: Value,
    #[schema(value_type = Option<Object>)]
    pub response_play: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub addons: Vec<Value>,
    pub last_incident_timestamp: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Copy, Default)]
pub struct ServiceIncludes {
    pub escalation_policies: bool,
    pub teams: bool,
    pub integrations: bool,
}

pub fn parse_doc(text: &Option<String>) -> Value {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// Renders a service; `include` expands the policy, teams and integrations into full objects.
pub async fn render_service(app: &App, s: Service, include: ServiceIncludes) -> ApiResult<ServiceOut> {
    let status = s.rendered_status();
    let row = s.row;
    let escalation_policy = match include.escalation_policies {
        true => match app.store.escalation_policy(&row.escalation_policy_id, true).await? {
            Some(p) => {
                to_value(Box::pin(crate::render::escalation_policies::render_policy(app, p, Default::default())).await?)
            }
            None => Value::Null,
        },
        false => {
            let name = app.store.escalation_policy_name(&row.escalation_policy_id).await?.map(|(_, n)| n);
            let summary = name.unwrap_or_else(|| row.escalation_policy_id.clone());
            to_value(app.reference("escalation_policy", "escalation_policies", &row.escalation_policy_id, summary))
        }
    };
    let teams = s
        .teams
        .iter()
        .map(|(id, name)| if include.teams { team_object(app, id, name) } else { to_value(team_ref(app, id, name)) })
        .collect();
    let integrations = s
        .integrations
        .into_iter()
        .map(|i| {
            if include.integrations {
                to_value(render_integration(app, i, &row.name))
            } else {
                to_value(integration_ref(app, &i))
            }
        })
        .collect();
    let grouping = match parse_doc(&row.alert_grouping_parameters) {
        Value::Null => json!({"type": null}),
        v => v,
    };
    let auto_pause = match parse_doc(&row.auto_pause_notifications_parameters) {
        Value::Null => json!({"enabled": false, "timeout": null}),
        v => v,
    };
    let scheduled = match serde_json::from_str::<Value>(&row.scheduled_actions) {
        Ok(v @ Value::Array(_)) => v,
        _ => json!([]),
    };
    Ok(ServiceOut {
        self_url: app.self_url("services", &row.id),
        html_url: Some(app.html_url("services", &row.id)),
        kind: "service",
        summary: row.name.clone(),
        status,
        auto_resolve_timeout: row.auto_resolve_timeout,
        acknowledgement_timeout: row.acknowledgement_timeout,
        escalation_policy,
        teams,
        integrations,
        incident_urgency_rule: parse_doc(&Some(row.incident_urgency_rule.clone())),
        support_hours: parse_doc(&row.support_hours),
        scheduled_actions: scheduled,
        alert_creation: row.alert_creation.clone(),
        alert_grouping_parameters: grouping,
        alert_grouping: None,
        alert_grouping_timeout: None,
        auto_pause_notifications_parameters: auto_pause,
        response_play: None,
        addons: Vec::new(),
        last_incident_timestamp: opt_time(row.last_incident_timestamp),
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
        id: row.id,
        name: row.name,
        description: row.description,
    })
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IntegrationOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub service: Reference,
    pub created_at: String,
    pub vendor: Option<Reference>,
    pub integration_key: String,
    pub rate_limit_per_minute: Option<i64>,
}

pub fn integrations_collection(service_id: &str) -> String {
    format!("services/{service_id}/integrations")
}

pub fn integration_ref(app: &App, i: &IntegrationRow) -> Reference {
    let kind = i.kind.clone();
    app.reference(&kind, &integrations_collection(&i.service_id), &i.id, i.name.clone())
}

pub fn render_integration(app: &App, i: IntegrationRow, service_name: &str) -> IntegrationOut {
    let collection = integrations_collection(&i.service_id);
    IntegrationOut {
        self_url: app.self_url(&collection, &i.id),
        html_url: Some(app.html_url(&collection, &i.id)),
        summary: i.name.clone(),
        service: app.reference("service", "services", &i.service_id, service_name),
        created_at: time(i.created_at),
        vendor: i.vendor_id.as_deref().map(|v| vendor_ref(app, v)),
        id: i.id,
        kind: i.kind,
        name: i.name,
        integration_key: i.integration_key,
        rate_limit_per_minute: i.rate_limit_per_minute,
    }
}
